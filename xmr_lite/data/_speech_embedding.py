"""Cached speech embeddings of every XMR-Digits clip (chapters 6 and 9).

Built by ``data/xmr_digits_speech_embedding/build.py`` with :class:`xmr_lite.audio.SpeechEmbedding`
at :data:`SPEECH_EMBEDDING_SETTINGS`, so that chapters 6 and 9 need not each run the network
over 2,581 clips. The file is checked against its sha256 digest in the registry before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmr_lite.data._datasets import _readonly
from xmr_lite.data._registry import _DATA_REBUILD, Asset, DataIntegrityError, _register, _repo_file, asset_path

_register(
    Asset(
        name="xmr_digits_speech_embedding",
        title=(
            "Google's speech embedding (96-d, mean over windows) of the 2,500 synthetic and 81 human XMR-Digits clips"
        ),
        files=(
            _repo_file("embeddings.npz", "4ce766e2e76daf7e72ee96c99297318a9857cacd44bf6055763d99448eb03262", 893835),
        ),
        source=(
            "computed by data/xmr_digits_speech_embedding/build.py from data/xmr_digits, data/xmr_digits_voices "
            "and data/speech_embedding"
        ),
        licence="derived from XMR-Digits' speech (see xmr_digits, xmr_digits_voices) and Apache-2.0 weights",
        citation="lin2020training",
        subdir="xmr_digits_speech_embedding",
        rebuild=_DATA_REBUILD.format(subdir="xmr_digits_speech_embedding"),
    )
)

SPEECH_EMBEDDING_SETTINGS = {"hop": 8, "padding": 0.4}
"""The :class:`xmr_lite.audio.SpeechEmbedding` settings the cached vectors were computed with."""


@dataclass(frozen=True)
class DigitSpeechEmbeddings:
    """The speech embedding of every XMR-Digits clip (read-only float32 arrays).

    Rows follow ``load_xmr_digits(languages="all", more_voices=True)``: row ``i`` of
    ``speech`` is clip ``i`` of its ``speech`` array, and likewise for ``real_speech``.

    Attributes
    ----------
    speech : (2500, 96) float32 array
        The synthetic clips (espeak-ng in five languages, then Festival and Flite).
    real_speech : (81, 96) float32 array
        The human recordings.
    """

    speech: np.ndarray
    real_speech: np.ndarray


def _check_embeddings(
    speech: np.ndarray,
    real: np.ndarray,
    speech_labels: np.ndarray,
    real_labels: np.ndarray,
    expected_speech_labels: np.ndarray,
    expected_real_labels: np.ndarray,
) -> None:
    """Raise DataIntegrityError unless the stored arrays fit XMR-Digits' clips row for row."""
    rebuild = "rebuild with python data/xmr_digits_speech_embedding/build.py"
    if speech.shape != (len(expected_speech_labels), 96) or real.shape != (len(expected_real_labels), 96):
        raise DataIntegrityError(
            f"embeddings.npz: expected embeddings of shape ({len(expected_speech_labels)}, 96) and "
            f"({len(expected_real_labels)}, 96), got {speech.shape} and {real.shape}; {rebuild}"
        )
    if not (np.isfinite(speech).all() and np.isfinite(real).all()):
        raise DataIntegrityError(f"embeddings.npz: the embeddings hold NaN or inf; {rebuild}")
    if not (
        np.array_equal(speech_labels, expected_speech_labels) and np.array_equal(real_labels, expected_real_labels)
    ):
        raise DataIntegrityError(
            f"embeddings.npz: its rows are not XMR-Digits' clips in order (labels differ); {rebuild}"
        )


def load_xmr_digits_speech_embeddings() -> DigitSpeechEmbeddings:
    """The cached speech embeddings of XMR-Digits' clips (chapters 6 and 9).

    Returns
    -------
    DigitSpeechEmbeddings

    Raises
    ------
    DataIntegrityError
        If the file is missing, altered, or its arrays do not have the documented shapes or
        do not line up with XMR-Digits' labels.
    """
    from xmr_lite.data._datasets import _REAL_SPEECH_STEMS, _speech_labels, _speech_stems

    path = asset_path("xmr_digits_speech_embedding", "embeddings.npz")
    with np.load(path, allow_pickle=False) as npz:
        speech, real = npz["speech"].astype(np.float32), npz["real_speech"].astype(np.float32)
        speech_labels, real_labels = npz["speech_labels"], npz["real_speech_labels"]
    # the digits of load_xmr_digits(languages="all", more_voices=True), read from its tables without decoding the audio
    expected_speech = _speech_labels(_speech_stems(more_voices=True))
    expected_real = _speech_labels(_REAL_SPEECH_STEMS)
    _check_embeddings(speech, real, speech_labels, real_labels, expected_speech, expected_real)
    _readonly(speech, real)
    return DigitSpeechEmbeddings(speech, real)


__all__ = ["SPEECH_EMBEDDING_SETTINGS", "DigitSpeechEmbeddings", "load_xmr_digits_speech_embeddings"]
