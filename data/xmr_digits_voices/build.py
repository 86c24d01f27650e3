"""Rebuild XMR-Digits' extra training voices: the digits spoken by Festival and Flite voices.

Run from the repository root (about a minute)::

    apt-get install festival flite festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts \\
        festvox-italp16k festvox-itapc16k festvox-ru
    python data/xmr_digits_voices/build.py     # writes data/xmr_digits_voices/, updates data/SHA256SUMS

then copy the printed digests into the registry in ``xmr_lite/data/_registry.py``. The bytes are the same on
every rebuild with the package versions recorded in ``build_info.json``.

Why
---
XMR-Digits' synthetic speech comes from espeak-ng, a formant synthesiser: every voice is
the same machine with other settings. Festival's diphone and unit-selection voices and
Flite's are cut from recordings of real people (one person each), so they sound more like a
person. Debian packages them for English, Italian and Russian only; chapter 9 measures what
they add for the real recordings of those languages, and what they cannot add for Spanish
and French.

What it writes
--------------
speech.flac, speech.tsv
    300 clips: "zero" ... "nine" in English (7 voices), Italian (2) and Russian (1), each at
    three speaking rates (Festival's ``Duration_Stretch``, Flite's ``duration_stretch``:
    0.85, 1.0 and 1.2), concatenated into one 16 kHz 16-bit mono FLAC file. Every clip is in
    the training split: these voices add to the training set, and the synthetic validation
    and test voices stay espeak-ng's. Columns: label, word, language, voice (synthesiser,
    voice and rate: one "speaker"), synthesizer, variant (the voice), speed (the rate),
    split, package, licence, start and length in samples.

Every clip goes through the steps of ``data/xmr_digits/build.py``: resample to 16 kHz, cut the
silence before and after the word, scale to a peak of 0.9, round to 16 bits.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import (
    SAMPLE_RATE,
    clean_clip,
    update_sha256sums,
    versions,
    write_clips,
    write_json,
)

HERE = Path(__file__).resolve().parent
WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    "ru": ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"),
}
# (language, synthesiser, voice, Debian package, licence of the voice data)
VOICES = (
    ("en", "festival", "kal_diphone", "festvox-kallpc16k", "BSD-style (Festvox)"),
    ("en", "festival", "ked_diphone", "festvox-kdlpc16k", "BSD-style (Festvox)"),
    ("en", "festival", "cmu_us_slt_arctic_hts", "festvox-us-slt-hts", "EST-2003 (BSD-style)"),
    ("en", "flite", "kal16", "flite", "BSD-style (CMU Flite)"),
    ("en", "flite", "awb", "flite", "BSD-style (CMU Flite)"),
    ("en", "flite", "rms", "flite", "BSD-style (CMU Flite)"),
    ("en", "flite", "slt", "flite", "BSD-style (CMU Flite)"),
    ("it", "festival", "lp_diphone", "festvox-italp16k", "GPL-2+"),
    ("it", "festival", "pc_diphone", "festvox-itapc16k", "GPL-2+"),
    ("ru", "festival", "msu_ru_nsh_clunits", "festvox-ru", "BSD-like (Festvox)"),
)
RATES = (0.85, 1.0, 1.2)
PACKAGES = sorted({v[3] for v in VOICES} | {"festival"})


def synthesise(word: str, synthesizer: str, voice: str, rate: float, workdir: Path) -> np.ndarray:
    """One word in one voice, as float64 samples at 16 kHz, trimmed and normalised."""
    wav = workdir / "word.wav"
    if synthesizer == "festival":
        text = workdir / "word.txt"
        text.write_text(word, encoding="utf-8")
        command = ["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {rate})"]
        command += [str(text), "-o", str(wav)]
    else:
        command = ["flite", "-voice", voice, "--setf", f"duration_stretch={rate}", "-t", word, "-o", str(wav)]
    subprocess.run(command, check=True, capture_output=True)
    x, sample_rate = sf.read(wav, dtype="float64")
    if x.ndim != 1:
        raise RuntimeError(f"{synthesizer} {voice} is expected to write mono audio")
    return clean_clip(x, sample_rate)


def package_version(package: str) -> str:
    """The installed Debian version of ``package``."""
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], check=True, capture_output=True, text=True
    ).stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    clips, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for language, synthesizer, voice, package, licence in VOICES:
            for rate in RATES:
                for digit, word in enumerate(WORDS[language]):
                    clips.append(synthesise(word, synthesizer, voice, rate, Path(tmp)))
                    rows.append(
                        {
                            "label": digit,
                            "word": word,
                            "language": language,
                            "voice": f"{synthesizer}:{voice}/x{rate}",
                            "synthesizer": synthesizer,
                            "variant": voice,
                            "speed": rate,
                            "split": "train",
                            "package": package,
                            "licence": licence,
                        }
                    )
    written = write_clips(args.out, "speech", clips, rows)
    info = {
        "sample_rate": SAMPLE_RATE,
        "debian": {package: package_version(package) for package in PACKAGES},
        "versions": versions("numpy", "scipy", "soundfile"),
        "n_clips": len(rows),
    }
    write_json(args.out / "build_info.json", info)
    if args.out.resolve() == HERE:
        update_sha256sums(written)
    for path in written:
        print(path.name, path.stat().st_size)


if __name__ == "__main__":
    main()
