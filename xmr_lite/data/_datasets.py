"""Loaders for the frozen datasets in ``data/`` (chapter 3 looks at each of them).

Every loader goes through :func:`~xmr_lite.data.asset_path`, so the files are checked
against their sha256 digests before they are read.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from xmr_lite._checks import check_index
from xmr_lite.data._registry import DataIntegrityError, asset_path

SAMPLE_RATE = 16_000
"""Sample rate (Hz) of every audio clip in ``data/``: synthesised and real speech, animals."""

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""English name of each digit class; ``DIGIT_WORDS[label]``."""

SPLITS = ("train", "val", "test")

SPOKEN_LANGUAGES = ("en", "es", "fr", "it", "ru")
"""Languages of XMR-Digits' speech (ISO 639-1): English, Spanish, French, Italian, Russian."""

_ENGLISH_SPEAKER = "Allison Smith"
_MORE_SPEECH = ("speech_multilingual",)
_MORE_REAL_SPEECH = ("real_speech_more", "real_speech_gpl")
_MORE_VOICES = (("xmr_digits_voices", "speech"),)
_REAL_SPEECH_STEMS = ("real_speech", *_MORE_REAL_SPEECH)
_ESPEAK = "espeak-ng"


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _read_audio(path: Path) -> np.ndarray:
    """A mono 16 kHz file as float32 samples in [-1, 1]."""
    samples, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE or samples.ndim != 1:
        raise DataIntegrityError(f"{path} should be mono at {SAMPLE_RATE} Hz, got {rate} Hz, shape {samples.shape}")
    return samples


def _cut_clips(samples: np.ndarray, rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Cut concatenated clips into a zero-padded (N, L) float32 array and (N,) int64 lengths."""
    starts = np.array([int(r["start"]) for r in rows], dtype=np.int64)
    lengths = np.array([int(r["length"]) for r in rows], dtype=np.int64)
    padded = np.zeros((len(rows), int(lengths.max())), dtype=np.float32)
    for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        padded[i, :length] = samples[start : start + length]
    return padded, lengths


def _pad_to(clips: list[np.ndarray]) -> np.ndarray:
    """Stack (N_i, L_i) padded blocks into one (sum N_i, max L_i) zero-padded array."""
    width = max(c.shape[1] for c in clips)
    return np.concatenate([np.pad(c, ((0, 0), (0, width - c.shape[1]))) for c in clips])


def _speech_stems(more_voices: bool) -> tuple[str | tuple[str, str], ...]:
    """The files of the synthetic clips, in the order ``load_xmr_digits`` stacks them."""
    return ("speech", *_MORE_SPEECH, *(_MORE_VOICES if more_voices else ()))


def _speech_file(entry: str | tuple[str, str], suffix: str) -> Path:
    """The ``.tsv`` or ``.flac`` file of a stem: a name in ``data/xmr_digits``, or a ``(subdir, stem)`` pair."""
    subdir, stem = entry if isinstance(entry, tuple) else ("xmr_digits", entry)
    return asset_path(subdir, f"{stem}{suffix}")


def _speech_tables(
    stems: tuple[str | tuple[str, str], ...], languages: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, list]:
    """Clips, lengths and table rows of the files ``stems``, keeping rows in ``languages``."""
    blocks, lengths, rows = [], [], []
    for entry in stems:
        keep = [r for r in _read_tsv(_speech_file(entry, ".tsv")) if r.get("language", "en") in languages]
        if not keep:
            continue
        clips, clip_lengths = _cut_clips(_read_audio(_speech_file(entry, ".flac")), keep)
        blocks.append(clips)
        lengths.append(clip_lengths)
        rows += keep
    return _pad_to(blocks), np.concatenate(lengths), rows


def _speech_labels(stems: tuple[str | tuple[str, str], ...]) -> np.ndarray:
    """The digit of every clip of the files ``stems`` (every language), from their tables alone."""
    rows = [row for entry in stems for row in _read_tsv(_speech_file(entry, ".tsv"))]
    return np.array([int(row["label"]) for row in rows], dtype=np.int64)


def _check_languages(languages: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"all"``, one language code or a sequence of them, as a tuple in ``SPOKEN_LANGUAGES`` order."""
    if isinstance(languages, str):
        languages = SPOKEN_LANGUAGES if languages == "all" else (languages,)
    languages = tuple(languages)
    unknown = sorted(set(languages) - set(SPOKEN_LANGUAGES))
    if not languages or unknown:
        raise ValueError(f"languages must be 'all' or codes from {SPOKEN_LANGUAGES}, got {languages!r}")
    return tuple(code for code in SPOKEN_LANGUAGES if code in languages)


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


@dataclass(frozen=True)
class XMRDigits:
    """XMR-Digits: the same ten classes (the digits 0-9) as images, speech and text.

    Split arrays hold the strings ``"train"``, ``"val"`` or ``"test"``; a boolean mask is
    ``data.image_split == "train"``. All arrays are read-only; copy one to change it.

    The default ``load_xmr_digits()`` holds English speech only (``N = 600`` synthesised
    clips, ``N_real = 11`` recordings); ``load_xmr_digits(languages="all")`` adds Spanish,
    French, Italian and Russian (``N = 2200``, ``N_real = 81``). English rows come first.
    ``more_voices=True`` appends the Festival and Flite training clips of the loaded
    languages after the espeak-ng ones (English, Italian and Russian only: ``N = 2500``
    with ``languages="all"``).

    Attributes
    ----------
    images : (5000, 28, 28) uint8 array
        MNIST digits, 0 = background, 255 = ink.
    image_labels : (5000,) int64 array
        Digit of each image, 0-9, 500 images each.
    image_split : (5000,) str array
        350 / 50 / 100 images of every digit in train / val / test (stratified, seeded).
    speech : (N, L) float32 array
        Synthesised spoken digits, in [-1, 1], zero-padded to the longest clip (``L``
        samples); clip ``i`` is ``speech[i, :speech_lengths[i]]``.
    speech_lengths : (N,) int64 array
        Samples in each clip.
    speech_labels : (N,) int64 array
        Digit spoken in each clip, 0-9.
    speech_voice : (N,) str array
        The espeak-ng voice configuration, e.g. ``"en-us+f1/s160/p40"``: accent,
        variant (timbre), speed in words per minute, pitch (0-99). 60 English configurations
        and 40 per other language, each saying all ten digits. For the Festival and Flite
        clips, synthesiser, voice and speaking rate, e.g. ``"festival:kal_diphone/x0.85"``.
    speech_variant : (N,) str array
        The variant part of ``speech_voice`` (the voice, for Festival and Flite). Splits are
        disjoint by variant, so also by voice, in every language: a variant has the same split
        in all five.
    speech_split : (N,) str array
        36 / 12 / 12 English voice configurations (12 / 4 / 4 variants) in train / val / test.
        The Festival and Flite clips are all ``"train"``.
    speech_language : (N,) str array
        Language of each clip, from ``SPOKEN_LANGUAGES``.
    speech_synthesizer : (N,) str array
        ``"espeak-ng"``, ``"festival"`` or ``"flite"``.
    real_speech : (N_real, L_real) float32 array
        Human recordings of the digits (Asterisk telephone prompts), resampled from 8 kHz to
        16 kHz and zero-padded: the out-of-domain test set. In English, Allison Smith's
        "zero" ... "nine" and "oh"; in the other languages "zero" ... "nine" by seven
        speakers (two each in Spanish, French and Italian, one in Russian).
    real_speech_lengths, real_speech_labels : (N_real,) int64 arrays
        Samples in each recording; its digit ("oh" is 0).
    real_speech_words : (N_real,) str array
        The word spoken, in its language (``"cero"``, ``"ноль"``).
    real_speech_language : (N_real,) str array
        Language of each recording.
    real_speech_speaker : (N_real,) str array
        Name of the speaker, e.g. ``"June Wallack"``. Allison Smith speaks English and Spanish.
    texts : tuple of str, 100 items
        For each digit: the English word, the numeral, four English phrases, and the word in
        German, French, Spanish and Chinese.
    text_labels : (100,) int64 array
    text_language : (100,) str array
        ``"en"``, ``"de"``, ``"fr"``, ``"es"``, ``"zh"``, or ``""`` for numerals.
    text_kind : (100,) str array
        ``"word"``, ``"numeral"`` or ``"phrase"``.
    sample_rate : int
        16000 Hz for every waveform.
    """

    images: np.ndarray
    image_labels: np.ndarray
    image_split: np.ndarray
    speech: np.ndarray
    speech_lengths: np.ndarray
    speech_labels: np.ndarray
    speech_voice: np.ndarray
    speech_variant: np.ndarray
    speech_split: np.ndarray
    speech_language: np.ndarray
    speech_synthesizer: np.ndarray
    real_speech: np.ndarray
    real_speech_lengths: np.ndarray
    real_speech_labels: np.ndarray
    real_speech_words: np.ndarray
    real_speech_language: np.ndarray
    real_speech_speaker: np.ndarray
    texts: tuple[str, ...]
    text_labels: np.ndarray
    text_language: np.ndarray
    text_kind: np.ndarray
    sample_rate: int = SAMPLE_RATE

    def speech_clip(self, i: int) -> np.ndarray:
        """Synthesised clip ``i`` without its padding: (speech_lengths[i],) float32."""
        i = check_index(i, len(self.speech), "i")
        return self.speech[i, : self.speech_lengths[i]]

    def real_speech_clip(self, i: int) -> np.ndarray:
        """Human recording ``i`` without its padding: (real_speech_lengths[i],) float32."""
        i = check_index(i, len(self.real_speech), "i")
        return self.real_speech[i, : self.real_speech_lengths[i]]


def load_xmr_digits(languages: str | tuple[str, ...] | list[str] = "en", more_voices: bool = False) -> XMRDigits:
    """Load XMR-Digits, the book's tri-modal dataset (described in chapter 3).

    Parameters
    ----------
    languages : str or sequence of str, default "en"
        Spoken languages to load: ``"all"``, one code or several from ``SPOKEN_LANGUAGES``.
        Only the speech arrays depend on it; images and texts are always all there.
    more_voices : bool, default False
        Also load the training clips of ``data/xmr_digits_voices`` (Festival and Flite
        voices in English, Italian and Russian, chapter 9), after the espeak-ng clips.

    Returns
    -------
    XMRDigits
        Images, synthesised and real speech, texts, their labels and splits; the attributes
        and their shapes are listed in :class:`XMRDigits`.

    Raises
    ------
    ValueError
        If ``languages`` names an unknown language or none.
    DataIntegrityError
        If a file of ``data/xmr_digits`` (or, with ``more_voices``, ``data/xmr_digits_voices``)
        is missing or altered.
    """
    languages = _check_languages(languages)
    if not isinstance(more_voices, (bool, np.bool_)):
        raise ValueError(f"more_voices must be True or False, got {more_voices!r}")
    with np.load(asset_path("xmr_digits", "images.npz"), allow_pickle=False) as npz:
        images, image_labels, image_split = npz["images"], npz["labels"], npz["split"]

    speech, speech_lengths, rows = _speech_tables(_speech_stems(bool(more_voices)), languages)
    real, real_lengths, real_rows = _speech_tables(_REAL_SPEECH_STEMS, languages)
    text_rows = _read_tsv(asset_path("xmr_digits", "texts.tsv"))

    fields = dict(
        images=images,
        image_labels=image_labels.astype(np.int64),
        image_split=image_split,
        speech=speech,
        speech_lengths=speech_lengths,
        speech_labels=np.array([int(r["label"]) for r in rows], dtype=np.int64),
        speech_voice=np.array([r["voice"] for r in rows]),
        speech_variant=np.array([r["variant"] for r in rows]),
        speech_split=np.array([r["split"] for r in rows]),
        speech_language=np.array([r.get("language", "en") for r in rows]),
        speech_synthesizer=np.array([r.get("synthesizer", _ESPEAK) for r in rows]),
        real_speech=real,
        real_speech_lengths=real_lengths,
        real_speech_labels=np.array([int(r["label"]) for r in real_rows], dtype=np.int64),
        real_speech_words=np.array([r["word"] for r in real_rows]),
        real_speech_language=np.array([r.get("language", "en") for r in real_rows]),
        real_speech_speaker=np.array([r.get("speaker", _ENGLISH_SPEAKER) for r in real_rows]),
        text_labels=np.array([int(r["label"]) for r in text_rows], dtype=np.int64),
        text_language=np.array([r["language"] for r in text_rows]),
        text_kind=np.array([r["kind"] for r in text_rows]),
    )
    _readonly(*fields.values())
    return XMRDigits(texts=tuple(r["text"] for r in text_rows), **fields)


@dataclass(frozen=True)
class CaptionedPhotos:
    """Photos with hand-written English captions, for text-to-image retrieval.

    Attributes
    ----------
    names : tuple of str, N items
        Short names, e.g. ``"coffee"``.
    images : tuple of N uint8 arrays, each (H, W, 3)
        RGB, longest side 256 pixels; greyscale originals repeated into three channels.
    captions : tuple of N tuples of str
        Two or three captions per photo.
    greyscale : (N,) bool array
        True where the original picture was greyscale.
    info : tuple of N dicts
        Kind, source package and loader, licence, credit, URL, original shape.
    caption_texts : tuple of str, M items
        All captions in one list (the retrieval corpus) ...
    caption_photo : (M,) int64 array
        ... and the index of the photo each caption describes.
    """

    names: tuple[str, ...]
    images: tuple[np.ndarray, ...]
    captions: tuple[tuple[str, ...], ...]
    greyscale: np.ndarray
    info: tuple[dict, ...]
    caption_texts: tuple[str, ...]
    caption_photo: np.ndarray


def load_captioned_photos() -> CaptionedPhotos:
    """Load the 22 captioned photos from scikit-image and scikit-learn (chapter 3).

    Returns
    -------
    CaptionedPhotos

    Raises
    ------
    DataIntegrityError
        If a file of ``data/photos`` is missing or altered.
    """
    records = json.loads(asset_path("photos", "photos.json").read_text(encoding="utf-8"))
    with np.load(asset_path("photos", "photos.npz"), allow_pickle=False) as npz:
        images = tuple(npz[f"photo_{r['name']}"] for r in records)
    _readonly(*images)
    captions = tuple(tuple(r["captions"]) for r in records)
    caption_photo = np.array([i for i, caps in enumerate(captions) for _ in caps], dtype=np.int64)
    greyscale = np.array([r["greyscale"] for r in records], dtype=bool)
    _readonly(caption_photo, greyscale)
    info_keys = ("kind", "package", "loader", "licence", "licence_statement", "credit", "url", "original_shape")
    return CaptionedPhotos(
        names=tuple(r["name"] for r in records),
        images=images,
        captions=captions,
        greyscale=greyscale,
        info=tuple({k: r[k] for k in info_keys} for r in records),
        caption_texts=tuple(c for caps in captions for c in caps),
        caption_photo=caption_photo,
    )


@dataclass(frozen=True)
class AnimalSounds:
    """Ten animal sounds, one clip per animal.

    Attributes
    ----------
    names : tuple of str, 10 items
        ``"cat"``, ``"cow"``, ``"dog"``, ``"duck"``, ``"frog"``, ``"horse"``, ``"owl"``,
        ``"pig"``, ``"rooster"``, ``"sheep"``.
    waveforms : tuple of 10 float32 arrays, each (T_i,)
        Mono, in [-1, 1], peak 0.9; from 0.9 s (sheep) to 8.5 s (owl).
    sources : tuple of str
        The BigSoundBank page of each recording.
    sample_rate : int
        16000 Hz.
    """

    names: tuple[str, ...]
    waveforms: tuple[np.ndarray, ...]
    sources: tuple[str, ...]
    sample_rate: int = SAMPLE_RATE


def load_animal_sounds() -> AnimalSounds:
    """Load the ten CC0 animal sounds (chapter 3).

    Returns
    -------
    AnimalSounds

    Raises
    ------
    DataIntegrityError
        If a file of ``data/animal_sounds`` is missing or altered.
    """
    rows = _read_tsv(asset_path("animal_sounds", "sounds.tsv"))
    waveforms = tuple(_read_audio(asset_path("animal_sounds", r["file"])) for r in rows)
    _readonly(*waveforms)
    return AnimalSounds(
        names=tuple(r["name"] for r in rows),
        waveforms=waveforms,
        sources=tuple(r["source"] for r in rows),
    )


def load_lee_corpus() -> list[str]:
    """The Lee background corpus: 300 news articles, one string each (used in chapter 4).

    Returns
    -------
    list of str
        The articles in file order, untokenised.

    Raises
    ------
    DataIntegrityError
        If ``data/text/lee_background.cor`` is missing or altered.
    """
    text = asset_path("lee_corpus", "lee_background.cor").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class WordSim353:
    """WordSim353 word pairs and their human similarity scores.

    Attributes
    ----------
    word1, word2 : tuple of str, 353 items each
        The pairs, as in the file (mixed case, e.g. ``"FBI"``).
    scores : (353,) float64 array
        Mean human rating of each pair, from 0 (unrelated) to 10 (identical).
    """

    word1: tuple[str, ...]
    word2: tuple[str, ...]
    scores: np.ndarray


def load_wordsim353() -> WordSim353:
    """Load WordSim353 (used in chapter 4 to evaluate word vectors).

    Returns
    -------
    WordSim353

    Raises
    ------
    DataIntegrityError
        If ``data/text/wordsim353.tsv`` is missing or altered.
    """
    lines = asset_path("wordsim353", "wordsim353.tsv").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
    scores = np.array([float(p[2]) for p in pairs], dtype=np.float64)
    _readonly(scores)
    return WordSim353(word1=tuple(p[0] for p in pairs), word2=tuple(p[1] for p in pairs), scores=scores)
