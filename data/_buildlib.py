"""Helpers shared by the scripts that rebuild the frozen data in ``data/``.

The build scripts are run by hand, rarely (see ``data/README.md``); the book and the tests
only read what they wrote. Everything here is deterministic: the same inputs and the same
tool versions give the same bytes, so a rebuild reproduces the digests in ``SHA256SUMS``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import platform
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

DATA_ROOT = Path(__file__).resolve().parent
SAMPLE_RATE = 16_000
"""The one sample rate of every audio file in ``data/`` (Hz)."""

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip file can hold: no build timestamps


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` whose bytes depend only on the arrays.

    ``numpy.savez_compressed`` stamps each member with the current time, so two runs give
    different files. This writes the same format with a fixed date. Object arrays are
    refused, so the file loads with ``allow_pickle=False``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise ValueError(f"array {name!r} has dtype object; store strings as a unicode array")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window, beta = 5).

    The filter is a low-pass at the lower of the two Nyquist frequencies, so going up from
    8 kHz adds no content above 4 kHz, and going down removes what is above 8 kHz.
    """
    g = math.gcd(rate_in, rate_out)
    return resample_poly(np.asarray(x, dtype=np.float64), rate_out // g, rate_in // g)


def trim_silence(x: np.ndarray, rate: int, threshold_db: float = -40.0, margin_ms: float = 20.0) -> np.ndarray:
    """Cut leading and trailing silence.

    The signal is cut into 10 ms frames. A frame is "sound" when its RMS is within
    ``threshold_db`` of the loudest frame. The clip keeps everything from the first to the
    last sound frame, plus ``margin_ms`` of context on each side.
    """
    frame = rate // 100
    n_frames = max(1, len(x) // frame)
    frames = x[: n_frames * frame].reshape(n_frames, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (threshold_db / 20))
    margin = int(rate * margin_ms / 1000)
    start = max(0, loud[0] * frame - margin)
    stop = min(len(x), (loud[-1] + 1) * frame + margin)
    return x[start:stop]


def peak_normalise(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale ``x`` so that its largest absolute sample is ``peak``."""
    top = np.abs(x).max()
    if top == 0:
        raise ValueError("cannot normalise a silent clip")
    return x * (peak / top)


def clean_clip(x: np.ndarray, rate: int) -> np.ndarray:
    """A recorded or synthesised clip at ``rate`` Hz, resampled to 16 kHz, trimmed and peak-normalised."""
    return peak_normalise(trim_silence(resample(x, rate), SAMPLE_RATE))


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to 16-bit integers (rounded, clipped)."""
    return np.clip(np.round(np.asarray(x) * 32767.0), -32768, 32767).astype(np.int16)


def write_flac(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 mono samples as a 16-bit FLAC file."""
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError("samples must be a 1-D int16 array")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, subtype="PCM_16", format="FLAC")


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def update_sha256sums(paths: list[Path], root: Path = DATA_ROOT) -> None:
    """Replace the lines of ``paths`` in ``root/SHA256SUMS`` (``sha256sum -c`` format)."""
    sums_file = root / "SHA256SUMS"
    lines = {}
    if sums_file.exists():
        for line in sums_file.read_text(encoding="utf-8").splitlines():
            digest, name = line.split(maxsplit=1)
            lines[name.lstrip("*")] = digest
    for path in paths:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        lines[rel] = sha256_of(path)
        print(f"{lines[rel]}  {rel}  ({path.stat().st_size:,} bytes)")
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(lines.items()))
    sums_file.write_text(text, encoding="utf-8")


def versions(*distributions: str) -> dict[str, str]:
    """Versions of Python and of the named installed distributions."""
    found = {"python": platform.python_version()}
    for name in distributions:
        found[name] = metadata.version(name)
    return found


def write_json(path: Path, obj: object) -> None:
    """Write JSON with sorted keys and a trailing newline, so the bytes are stable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def write_clips(out: Path, stem: str, clips: list[np.ndarray], rows: list[dict]) -> list[Path]:
    """Concatenate clips into ``stem.flac`` (16-bit) and write their table, with start and length, to ``stem.tsv``."""
    samples = [to_int16(c) for c in clips]
    start = 0
    for row, s in zip(rows, samples, strict=True):
        row["start"], row["length"] = start, len(s)
        start += len(s)
    write_flac(out / f"{stem}.flac", np.concatenate(samples))
    with open(out / f"{stem}.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return [out / f"{stem}.flac", out / f"{stem}.tsv"]
