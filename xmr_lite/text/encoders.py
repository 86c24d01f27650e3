"""A pretrained transformer sentence encoder, all-MiniLM-L6-v2 (taught in chapter 4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.functional import normalize
from tqdm.auto import tqdm

from xmr_lite._checks import check_int
from xmr_lite._runtime import get_device


class MiniLMEncoder:
    """Encode sentences with all-MiniLM-L6-v2, in batches, on one device.

    The model (Wang et al. 2020; fine-tuned for sentence similarity by sentence-transformers)
    is a 6-layer, 384-wide BERT-style transformer. A sentence becomes word-piece tokens
    (at most 256), the transformer gives one 384-d vector per token, and the sentence vector
    is their mean over the real (non-padding) tokens, scaled to unit length. It is loaded
    offline through the data registry (:func:`xmr_lite.data.load_minilm`).

    Parameters
    ----------
    device : torch.device or str, optional
        Default: :func:`xmr_lite.get_device`.
    batch_size : int
        Sentences per forward pass. Padding is per batch, so :meth:`encode` batches the
        sentences in order of length (and returns them in the order given): a batch of short
        names is not padded to the length of the one long sentence among them.

    Attributes
    ----------
    model : sentence_transformers.SentenceTransformer
        The packaged pipeline (transformer, mean pooling, normalisation); :meth:`encode`
        writes the last two steps out itself and gives the same vectors as ``model.encode``.
    tokenizer : the model's word-piece tokenizer
    transformer : torch.nn.Module
        The BERT-style network, returning one vector per token.
    max_length : int
        Longer inputs are truncated to this many word pieces (256).
    dimension : int
        384.

    Notes
    -----
    Taught in chapter 4.
    """

    def __init__(self, device: torch.device | str | None = None, batch_size: int = 64) -> None:
        from xmr_lite.data import load_minilm

        batch_size = check_int(batch_size, "batch_size")
        self.device = torch.device(device) if device is not None else get_device()
        self.batch_size = batch_size
        self.model = load_minilm(self.device)
        self.tokenizer = self.model.tokenizer
        self.transformer = self.model[0].auto_model
        self.max_length = int(self.model.max_seq_length)
        self.dimension = int(self.transformer.config.hidden_size)

    def encode(self, sentences: Sequence[str], progress: bool = False) -> torch.Tensor:
        """Encode N sentences.

        Parameters
        ----------
        sentences : sequence of N str (raw text: the model has its own tokenizer)
        progress : bool
            Show a tqdm bar over the batches.

        Returns
        -------
        (N, 384) float32 tensor on :attr:`device`, rows of unit length.
        """
        if isinstance(sentences, str):
            raise ValueError("sentences must be a list of str, not a single str")
        sentences = list(sentences)
        if not sentences:
            raise ValueError("sentences is empty")
        for i, s in enumerate(sentences):
            if not isinstance(s, str):
                raise ValueError(f"sentences[{i}] must be a str, got {type(s).__name__}")
        by_length = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        batches = []
        starts = range(0, len(sentences), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="MiniLM", disable=not progress):
                batch = self.tokenizer(
                    [sentences[i] for i in by_length[start : start + self.batch_size]],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                tokens = self.transformer(**batch).last_hidden_state  # (B, T, 384)
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)  # (B, T, 1): 0 on padding
                mean = (tokens * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # (B, 384)
                batches.append(normalize(mean, dim=1))
        vectors = torch.empty(len(sentences), self.dimension, device=self.device)
        vectors[torch.tensor(by_length, device=self.device)] = torch.cat(batches).float()
        return vectors


__all__ = ["MiniLMEncoder"]
