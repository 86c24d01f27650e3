"""Cache Google's speech embedding of every XMR-Digits clip (chapters 6 and 9).

Run from the repository root (about half a minute on one CPU core; reads ``data/xmr_digits``,
``data/xmr_digits_voices`` and ``data/speech_embedding``)::

    python data/xmr_digits_speech_embedding/build.py   # writes embeddings.npz, build_info.json

then copy the printed digest into ``xmr_lite/data/_speech_embedding.py`` and ``data/SHA256SUMS``.

Why cached
----------
Chapters 6 and 9 put a classifier and the towers of the shared space on top of the frozen
speech embedding (:class:`xmr_lite.audio.SpeechEmbedding`). Running the network over the
2,581 clips takes about half a minute on one core, and two chapters would each spend it, so
it runs once here. Chapter 6 embeds a few clips in front of the reader and checks that they
agree with this file, and ``tests/test_data_speech_embedding.py`` checks a sample of rows.

What it computes
----------------
Every clip of ``load_xmr_digits(languages="all", more_voices=True)``, in its row order: the
2,500 synthetic clips (espeak-ng in five languages, then Festival and Flite) and the 81 human
recordings, each embedded with ``SpeechEmbedding(hop=8, padding=0.4)`` and the mean of its
window vectors (the class defaults).

What it writes
--------------
``embeddings.npz`` with ``speech`` (2500, 96) float32 and ``real_speech`` (81, 96) float32,
and, to check the alignment, ``speech_labels`` (2500,) and ``real_speech_labels`` (81,) int64.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT))

from _buildlib import sha256_of, update_sha256sums, versions, write_json, write_npz  # noqa: E402

from xmr_lite.audio import SpeechEmbedding  # noqa: E402
from xmr_lite.data import load_xmr_digits  # noqa: E402
from xmr_lite.data._speech_embedding import SPEECH_EMBEDDING_SETTINGS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "xmr_digits_speech_embedding")
    args = parser.parse_args()
    start = time.perf_counter()
    digits = load_xmr_digits(languages="all", more_voices=True)
    encoder = SpeechEmbedding(**SPEECH_EMBEDDING_SETTINGS, threads=1)
    arrays = {
        "speech": encoder.embed(digits.speech, digits.speech_lengths, progress=True),
        "real_speech": encoder.embed(digits.real_speech, digits.real_speech_lengths),
        "speech_labels": digits.speech_labels.copy(),
        "real_speech_labels": digits.real_speech_labels.copy(),
    }
    path = args.out / "embeddings.npz"
    write_npz(path, arrays)
    info = {
        "params": {**SPEECH_EMBEDDING_SETTINGS, "pooling": "mean", "threads": 1},
        "build_seconds": round(time.perf_counter() - start, 1),
        "versions": versions("numpy", "onnxruntime"),
    }
    write_json(args.out / "build_info.json", info)
    if args.out.resolve() == (ROOT / "data" / "xmr_digits_speech_embedding").resolve():
        update_sha256sums([path])
    print(f"{path.name}: sha256 {sha256_of(path)}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
