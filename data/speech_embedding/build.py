"""Freeze Google's speech embedding model: the two ONNX files of the openWakeWord 0.5.1 wheel.

Run from the repository root (a few seconds; needs the PyPI index, nothing else)::

    python data/speech_embedding/build.py   # writes the two .onnx files, build_info.json, SHA256SUMS

then copy the printed digests into the registry (``xmr_lite/data/_registry.py``).

What it is
----------
The speech embedding of Lin et al. (2020), "Training keyword spotters with limited and
synthesized speech data": a stack of convolutions that turns 76 frames (12,512 samples, 0.782 s) of a 32-band
log-mel spectrogram into a 96-d vector. Google trained it on a large corpus of real speech
and published it on TensorFlow Hub (``google/speech_embedding``, Apache-2.0); the
openWakeWord project re-implemented it as ONNX and ships it, with the log-mel front end that
feeds it, inside its PyPI wheel.

Why the files are frozen here, and not read from the installed package
--------------------------------------------------------------------
Installing ``openwakeword`` pulls in ``tflite-runtime`` on Linux, which has no wheels for
recent Pythons (Colab's included); newer releases no longer ship the models in the wheel at
all. The two files together are about 2.4 MB, so they are copied out of the one wheel that
holds them, checked against the wheel's digest, and kept in ``data/``. Only these two files
are taken: openWakeWord's own wake-word models are under a non-commercial licence and are not
used by the book.

What it writes
--------------
melspectrogram.onnx
    16 kHz samples (batch, samples), scaled like 16-bit integers, to log-mel frames
    (batch, 1, frames, 32), one frame every 10 ms.
embedding_model.onnx
    (windows, 76, 32, 1) log-mel windows to (windows, 1, 1, 96) embeddings.
build_info.json
    The wheel's name, URL and sha256, and the Python version.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _buildlib import sha256_of, update_sha256sums, versions, write_json  # noqa: E402

WHEEL = "openwakeword-0.5.1-py3-none-any.whl"
WHEEL_SHA256 = "015467e49f08b0ef8efa433690ce70566abb72f7c36501a6fa893762b4ddc559"
"""The digest PyPI publishes for the wheel (checked before anything is read from it)."""

MODELS = ("melspectrogram.onnx", "embedding_model.onnx")
INSIDE_WHEEL = "openwakeword/resources/models/"


def fetch_wheel(folder: Path) -> Path:
    """Download the wheel from the package index into ``folder`` and check its digest."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(folder),
            "openwakeword==0.5.1",
        ],
        check=True,
    )
    wheel = folder / WHEEL
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{WHEEL} has sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    parser.add_argument("--wheel", type=Path, help="a local copy of the wheel, instead of downloading it")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel if args.wheel is not None else fetch_wheel(Path(tmp))
        if sha256_of(wheel) != WHEEL_SHA256:
            raise SystemExit(f"{wheel} is not {WHEEL} (its sha256 differs)")
        written = []
        with zipfile.ZipFile(wheel) as archive:
            for name in MODELS:
                target = args.out / name
                target.write_bytes(archive.read(INSIDE_WHEEL + name))
                written.append(target)
    info = {
        "wheel": WHEEL,
        "wheel_sha256": WHEEL_SHA256,
        "wheel_url": "https://pypi.org/project/openwakeword/0.5.1/#files",
        "files": {name: INSIDE_WHEEL + name for name in MODELS},
        "versions": versions(),
    }
    write_json(args.out / "build_info.json", info)
    if args.out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
