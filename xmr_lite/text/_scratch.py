"""What the from-scratch word-vector models of chapter 4 share (GloVe and Word2Vec).

Their settings, the loop over epochs with its progress bar and loss history, one optimiser
step, and the trained vectors handed back as gensim ``KeyedVectors``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from gensim.models import KeyedVectors
from tqdm.auto import tqdm

from xmr_lite._checks import check_int
from xmr_lite._runtime import get_device
from xmr_lite.text.tokens import Vocabulary
from xmr_lite.text.vectors import keyed_vectors


def _train_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One gradient step on a scalar ``loss``; returns its value as a float."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


class _ScratchWordModel:
    """Base of :class:`GloVeScratch` and :class:`Word2VecScratch`: what they keep and do alike."""

    def _set_common(
        self,
        vector_size: int,
        min_count: int,
        learning_rate: float,
        batch_size: int,
        seed: int,
        device: torch.device | str | None,
    ) -> None:
        """Check and store the settings both models take; no vocabulary and no loss yet."""
        self.vector_size = check_int(vector_size, "vector_size")
        self.batch_size = check_int(batch_size, "batch_size")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        self.min_count = min_count
        self.learning_rate = learning_rate
        self.seed = seed
        self.device = torch.device(device) if device is not None else get_device()
        self.vocabulary: Vocabulary | None = None
        self.loss_history: list[float] = []

    @property
    def dimension(self) -> int:
        """The width of the word vectors (the constructor's ``vector_size``, gensim's name)."""
        return self.vector_size

    def _run_epochs(self, epochs: int, desc: str, progress: bool, digits: int, run_epoch: Callable[[], float]) -> None:
        """Call ``run_epoch`` ``epochs`` times, keeping the mean loss it returns in ``loss_history``.

        A tqdm bar named ``desc`` (hidden unless ``progress``) shows the last loss to ``digits`` decimals.
        """
        self.loss_history = []
        bar = tqdm(total=epochs, desc=desc, disable=not progress)
        for _ in range(epochs):
            self.loss_history.append(run_epoch())
            bar.update(1)
            bar.set_postfix(loss=f"{self.loss_history[-1]:.{digits}f}")
        bar.close()

    def _keyed_vectors(self, *parts: torch.Tensor | None) -> KeyedVectors:
        """The vocabulary's words with the sum of the (V, D) ``parts``; raises before ``fit``."""
        if self.vocabulary is None or any(part is None for part in parts):
            raise ValueError("the model is not trained yet: call fit(sentences) first")
        matrix = parts[0]
        for part in parts[1:]:
            matrix = matrix + part  # type: ignore[operator]
        return keyed_vectors(self.vocabulary.words, matrix)  # type: ignore[arg-type]
