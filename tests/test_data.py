"""The data registry and the frozen datasets in ``data/``."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte
from xmr_lite.data import _registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REPO_ASSETS = [a for a in xd.REGISTRY.values() if a.module is None]


pytestmark = pytest.mark.usefixtures("fresh_data_cache")  # nothing verified, the real data folder


@pytest.fixture(scope="module")
def digits() -> xd.XMRDigits:
    return xd.load_xmr_digits()


# ----------------------------------------------------------------------------------------------
# The registry
# ----------------------------------------------------------------------------------------------


def test_every_registered_file_verifies():
    rows = xd.verify(raise_on_error=True)
    assert len(rows) == sum(len(a.files) for a in xd.REGISTRY.values())
    assert {r.status for r in rows} == {"ok"}
    assert {r.asset for r in rows} == set(xd.REGISTRY)


def test_registry_entries_are_complete():
    for asset in xd.REGISTRY.values():
        assert asset.files and asset.source and asset.licence and asset.rebuild, asset.name
        for f in asset.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.size > 0, (asset.name, f.path)
        if asset.module is not None:
            assert asset.package and asset.version, asset.name


def test_citation_keys_are_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    for asset in xd.REGISTRY.values():
        for key in filter(None, (k.strip() for k in asset.citation.split(","))):
            assert "{" + key + "," in bib, f"{asset.name}: {key} is not in book/references.bib"


def test_sha256sums_file_matches_the_registry():
    listed = {}
    for line in (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        listed[name] = digest
    registered = {f"{a.subdir}/{f.path}": f.sha256 for a in REPO_ASSETS for f in a.files}
    assert listed == registered


def test_data_dir_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert xd.data_dir() == DATA
    assert xd.asset_path("wordsim353", "wordsim353.tsv") == DATA / "text" / "wordsim353.tsv"


def test_data_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    copy_of_data(tmp_path, monkeypatch, "text")
    assert xd.data_dir() == tmp_path.resolve()
    assert xd.asset_path("lee_corpus", "lee_background.cor") == tmp_path.resolve() / "text" / "lee_background.cor"


def test_altered_file_gives_a_clear_error(tmp_path, monkeypatch):
    root = copy_of_data(tmp_path, monkeypatch, "xmr_digits")
    target = root / "xmr_digits" / "texts.tsv"
    flip_byte(target, 100)  # same size: only the digest can tell
    with pytest.raises(xd.DataIntegrityError, match="sha256") as info:
        xd.load_xmr_digits()
    message = str(info.value)
    assert str(target.resolve()) in message
    assert "git checkout -- data/xmr_digits" in message and "build.py" in message


def test_truncated_file_gives_a_clear_error(tmp_path, monkeypatch):
    root = copy_of_data(tmp_path, monkeypatch, "text")
    target = root / "text" / "wordsim353.tsv"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(xd.DataIntegrityError, match="bytes, expected 7186"):
        xd.load_wordsim353()


def test_missing_file_gives_a_clear_error(tmp_path, monkeypatch):
    root = copy_of_data(tmp_path, monkeypatch, "animal_sounds")
    (root / "animal_sounds" / "owl.flac").unlink()
    with pytest.raises(xd.DataIntegrityError, match=r"owl\.flac is missing.*git checkout"):
        xd.load_animal_sounds()
    assert isinstance(xd.DataIntegrityError("x"), ValueError)


def test_a_file_changed_after_verification_is_caught(tmp_path, monkeypatch):
    root = copy_of_data(tmp_path, monkeypatch, "text")
    assert len(xd.load_lee_corpus()) == 300  # verified and cached
    flip_byte(root / "text" / "lee_background.cor", 5)
    with pytest.raises(xd.DataIntegrityError):
        xd.load_lee_corpus()


def test_verification_is_cached_per_process(monkeypatch):
    calls = []
    real = _registry.sha256_file
    monkeypatch.setattr(_registry, "sha256_file", lambda p: calls.append(p) or real(p))
    xd.asset_path("wordsim353", "wordsim353.tsv")
    xd.asset_path("wordsim353", "wordsim353.tsv")
    assert len(calls) == 1
    xd.clear_verification_cache()
    xd.asset_path("wordsim353", "wordsim353.tsv")
    assert len(calls) == 2


def test_verify_reports_problems_in_a_table(tmp_path, monkeypatch):
    root = copy_of_data(tmp_path, monkeypatch, "text")
    flip_byte(root / "text" / "wordsim353.tsv", 0)
    (root / "text" / "lee_background.cor").unlink()
    rows = {r.asset: r for r in xd.verify(["lee_corpus", "wordsim353"])}
    assert rows["lee_corpus"].status == "missing"
    assert rows["wordsim353"].status == "altered"
    with pytest.raises(xd.DataIntegrityError, match="2 of 2 registered files failed"):
        xd.verify(["lee_corpus", "wordsim353"], raise_on_error=True)


def test_command_line_verification_prints_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "xmr_lite.data"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    n = sum(len(a.files) for a in xd.REGISTRY.values())
    assert f"{n} of {n} files verified" in result.stdout


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: xd.asset_path("nope", "x"), "name must be one of"),
        (lambda: xd.asset_path("photos", "nope.npz"), "filename 'nope.npz'"),
        (lambda: xd.verify("photos"), "names must be a list"),
        (lambda: xd.verify(["photos", "nope"]), "name must be one of"),
        (lambda: xd.sha256_file(DATA), "is not a file"),
        (lambda: xd.sha256_file(DATA / "SHA256SUMS", chunk_size=0), "chunk_size"),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=5000), chunk_size=st.integers(1, 4096))
def test_sha256_file_matches_hashlib_for_any_content_and_chunk_size(tmp_path_factory, content, chunk_size):
    path = tmp_path_factory.mktemp("sha") / "blob"
    path.write_bytes(content)
    assert xd.sha256_file(path, chunk_size=chunk_size) == hashlib.sha256(content).hexdigest()


@settings(max_examples=50, deadline=None)
@given(lengths=st.lists(st.integers(1, 50), min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_cutting_concatenated_clips_gives_back_each_clip_and_zero_padding(lengths, seed):
    from xmr_lite.data._datasets import _cut_clips

    rng = np.random.default_rng(seed)
    clips = [rng.uniform(-1, 1, n).astype(np.float32) for n in lengths]
    starts = np.cumsum([0, *lengths[:-1]])
    rows = [{"start": str(s), "length": str(n)} for s, n in zip(starts, lengths, strict=True)]
    padded, got_lengths = _cut_clips(np.concatenate(clips), rows)
    assert padded.shape == (len(clips), max(lengths)) and padded.dtype == np.float32
    assert got_lengths.tolist() == lengths
    for row, clip, n in zip(padded, clips, lengths, strict=True):
        np.testing.assert_array_equal(row[:n], clip)
        assert not row[n:].any()


# ----------------------------------------------------------------------------------------------
# XMR-Digits
# ----------------------------------------------------------------------------------------------


def test_digit_images(digits):
    assert digits.images.shape == (5000, 28, 28) and digits.images.dtype == np.uint8
    assert digits.image_labels.dtype == np.int64
    assert np.array_equal(np.bincount(digits.image_labels), [500] * 10)
    for split, per_class in {"train": 350, "val": 50, "test": 100}.items():
        in_split = digits.image_labels[digits.image_split == split]
        assert np.array_equal(np.bincount(in_split, minlength=10), [per_class] * 10), split
    assert set(digits.image_split) == set(xd.SPLITS)


def test_no_image_appears_in_two_splits(digits):
    hashes = [hashlib.sha256(image.tobytes()).hexdigest() for image in digits.images]
    assert len(set(hashes)) == len(hashes)  # not even a duplicate within one split
    by_split = {s: {h for h, sp in zip(hashes, digits.image_split, strict=True) if sp == s} for s in xd.SPLITS}
    assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"])
    assert not by_split["val"] & by_split["test"]


def test_synthesised_speech(digits):
    n = len(digits.speech)
    assert n == 600 and digits.speech.dtype == np.float32 and digits.speech.ndim == 2
    assert digits.sample_rate == xd.SAMPLE_RATE == 16000
    for name in ("speech_lengths", "speech_labels"):
        assert getattr(digits, name).shape == (n,) and getattr(digits, name).dtype == np.int64
    assert digits.speech_voice.shape == digits.speech_split.shape == digits.speech_variant.shape == (n,)
    assert np.abs(digits.speech).max() <= 1.0
    assert digits.speech_lengths.min() > 0.15 * digits.sample_rate
    assert digits.speech_lengths.max() == digits.speech.shape[1]
    for i in range(0, n, 37):  # padding is zeros, the clip is not
        clip = digits.speech_clip(i)
        assert np.abs(clip).max() == pytest.approx(0.9, abs=1e-3)
        assert not digits.speech[i, len(clip) :].any()
    assert set(digits.speech_labels) == set(range(10))


def test_voices_say_every_digit_once_and_splits_are_voice_disjoint(digits):
    voices = sorted(set(digits.speech_voice))
    assert len(voices) >= 40
    for voice in voices:
        assert sorted(digits.speech_labels[digits.speech_voice == voice]) == list(range(10)), voice
    for key in (digits.speech_voice, digits.speech_variant):
        splits_of = {v: set(digits.speech_split[key == v]) for v in set(key)}
        assert all(len(s) == 1 for s in splits_of.values()), "a voice appears in two splits"
    per_split = {s: len(set(digits.speech_voice[digits.speech_split == s])) for s in xd.SPLITS}
    assert per_split == {"train": 36, "val": 12, "test": 12}
    for voice, variant in zip(digits.speech_voice, digits.speech_variant, strict=True):
        assert voice.split("/")[0].endswith("+" + variant)


def test_real_speech(digits):
    assert digits.real_speech.shape[0] == 11 and digits.real_speech.dtype == np.float32
    assert list(digits.real_speech_labels) == [*range(10), 0]
    assert list(digits.real_speech_words) == [*xd.DIGIT_WORDS, "oh"]
    assert np.abs(digits.real_speech).max() <= 1.0
    clip = digits.real_speech_clip(10)
    assert len(clip) == digits.real_speech_lengths[10] > 0.2 * digits.sample_rate


@pytest.fixture(scope="module")
def all_voices() -> xd.XMRDigits:
    return xd.load_xmr_digits(languages="all")


def test_default_load_is_english_only_and_unchanged(digits):
    assert set(digits.speech_language) == {"en"} and digits.speech_language.shape == (600,)
    assert set(digits.real_speech_language) == {"en"} and digits.real_speech_language.shape == (11,)
    assert set(digits.real_speech_speaker) == {"Allison Smith"}


def test_all_languages_keep_english_first(digits, all_voices):
    n, n_real = len(digits.speech), len(digits.real_speech)
    assert np.array_equal(all_voices.speech_labels[:n], digits.speech_labels)
    assert np.array_equal(all_voices.speech_voice[:n], digits.speech_voice)
    for i in (0, n - 1):
        assert np.array_equal(all_voices.speech_clip(i), digits.speech_clip(i))
    assert np.array_equal(all_voices.real_speech_words[:n_real], digits.real_speech_words)
    assert np.array_equal(all_voices.real_speech_clip(3), digits.real_speech_clip(3))


def test_multilingual_synthetic_voices(all_voices):
    d = all_voices
    n = len(d.speech)
    assert n == 2200 and d.speech.dtype == np.float32
    for name in ("speech_lengths", "speech_labels", "speech_voice", "speech_variant", "speech_split"):
        assert getattr(d, name).shape == (n,), name
    counts = {lang: int((d.speech_language == lang).sum()) for lang in xd.SPOKEN_LANGUAGES}
    assert counts == {"en": 600, "es": 400, "fr": 400, "it": 400, "ru": 400}
    for lang in xd.SPOKEN_LANGUAGES:
        mine = d.speech_language == lang
        voices = set(d.speech_voice[mine])
        for voice in voices:  # every voice says every digit once in its language
            assert sorted(d.speech_labels[mine & (d.speech_voice == voice)]) == list(range(10)), (lang, voice)
    assert d.speech_lengths.min() > 0.1 * d.sample_rate
    assert d.speech_lengths.max() == d.speech.shape[1]
    for i in range(600, n, 97):
        clip = d.speech_clip(i)
        assert np.abs(clip).max() == pytest.approx(0.9, abs=1e-3)
        assert not d.speech[i, len(clip) :].any()


def test_splits_are_voice_disjoint_across_all_languages(all_voices):
    d = all_voices
    splits_of_variant = {v: set(d.speech_split[d.speech_variant == v]) for v in set(d.speech_variant)}
    assert all(len(s) == 1 for s in splits_of_variant.values()), "a variant appears in two splits"
    for lang in xd.SPOKEN_LANGUAGES:
        mine = d.speech_language == lang
        present = set(d.speech_split[mine])
        assert present == set(xd.SPLITS), lang
        train = set(d.speech_variant[mine & (d.speech_split == "train")])
        held_out = set(d.speech_variant[mine & (d.speech_split != "train")])
        assert train and held_out and not train & held_out


@pytest.fixture(scope="module")
def more_voices() -> xd.XMRDigits:
    return xd.load_xmr_digits(languages="all", more_voices=True)


def test_more_voices_come_after_the_espeak_clips_unchanged(all_voices, more_voices):
    n = len(all_voices.speech)
    assert np.array_equal(more_voices.speech_voice[:n], all_voices.speech_voice)
    assert np.array_equal(more_voices.speech_labels[:n], all_voices.speech_labels)
    for i in (0, 777, n - 1):
        assert np.array_equal(more_voices.speech_clip(i), all_voices.speech_clip(i))
    assert set(all_voices.speech_synthesizer) == {"espeak-ng"}
    assert set(more_voices.speech_synthesizer[:n]) == {"espeak-ng"}
    assert np.array_equal(more_voices.real_speech_labels, all_voices.real_speech_labels)


def test_more_voices_are_training_clips_in_english_italian_and_russian(all_voices, more_voices):
    d, n = more_voices, len(all_voices.speech)
    extra = np.arange(n, len(d.speech))
    assert len(extra) == 300
    names = ("speech_lengths", "speech_labels", "speech_voice", "speech_variant", "speech_split", "speech_language")
    for name in names:
        assert getattr(d, name).shape == (len(d.speech),), name
    assert set(d.speech_synthesizer[extra]) == {"festival", "flite"}
    assert set(d.speech_split[extra]) == {"train"}  # the held-out synthetic voices stay espeak-ng's
    counts = {lang: int((d.speech_language[extra] == lang).sum()) for lang in ("en", "it", "ru")}
    assert counts == {"en": 210, "it": 60, "ru": 30}
    assert not set(d.speech_voice[extra]) & set(all_voices.speech_voice)
    for voice in set(d.speech_voice[extra]):  # every voice and rate says every digit once
        assert sorted(d.speech_labels[d.speech_voice == voice]) == list(range(10)), voice
    for i in extra[::41]:
        clip = d.speech_clip(int(i))
        assert np.abs(clip).max() == pytest.approx(0.9, abs=1e-3)
        assert not d.speech[i, len(clip) :].any()


def test_more_voices_follow_the_language_filter():
    spanish = xd.load_xmr_digits(languages="es", more_voices=True)
    assert set(spanish.speech_synthesizer) == {"espeak-ng"} and len(spanish.speech) == 400
    russian = xd.load_xmr_digits(languages="ru", more_voices=True)
    assert int((russian.speech_synthesizer != "espeak-ng").sum()) == 30


@pytest.mark.parametrize("value", [1, "yes", None])
def test_more_voices_must_be_a_bool(value):
    with pytest.raises(ValueError, match="more_voices"):
        xd.load_xmr_digits(more_voices=value)


def test_real_speakers_and_languages(all_voices):
    d = all_voices
    n = len(d.real_speech)
    assert n == 81 and d.real_speech.dtype == np.float32
    for name in ("real_speech_lengths", "real_speech_labels", "real_speech_words"):
        assert getattr(d, name).shape == (n,), name
    assert d.real_speech_language.shape == d.real_speech_speaker.shape == (n,)
    pairs = {(lang, spk) for lang, spk in zip(d.real_speech_language, d.real_speech_speaker, strict=True)}
    assert len(pairs) == 8 and len(set(d.real_speech_speaker)) == 7
    assert set(d.real_speech_language) == set(xd.SPOKEN_LANGUAGES)
    for lang, speaker in pairs - {("en", "Allison Smith")}:
        mine = (d.real_speech_language == lang) & (d.real_speech_speaker == speaker)
        assert list(d.real_speech_labels[mine]) == list(range(10)), (lang, speaker)
    assert d.real_speech_words[(d.real_speech_language == "ru") & (d.real_speech_labels == 7)][0] == "семь"
    assert set(d.real_speech_words[(d.real_speech_language == "it") & (d.real_speech_labels == 3)]) == {"tre"}
    assert np.abs(d.real_speech).max() <= 1.0
    for i in range(11, n, 7):
        clip = d.real_speech_clip(i)
        assert 0.15 * d.sample_rate < len(clip) == d.real_speech_lengths[i]
        assert np.abs(clip).max() == pytest.approx(0.9, abs=1e-3)


def test_spoken_words_match_the_digit_texts(all_voices):
    d = all_voices
    for lang in ("fr", "es"):
        texts = {
            t: int(label) for t, label, tl in zip(d.texts, d.text_labels, d.text_language, strict=True) if tl == lang
        }
        mine = d.real_speech_language == lang
        for word, label in zip(d.real_speech_words[mine], d.real_speech_labels[mine], strict=True):
            assert texts[word] == label, (lang, word)


def test_language_subsets(all_voices):
    two = xd.load_xmr_digits(languages=["ru", "fr"])
    assert set(two.speech_language) == {"fr", "ru"} and set(two.real_speech_language) == {"fr", "ru"}
    assert list(two.speech_language[:1]) == ["fr"]  # SPOKEN_LANGUAGES order, not the argument's
    assert len(two.speech) == 800 and len(two.real_speech) == 30
    russian = xd.load_xmr_digits(languages="ru")
    assert np.array_equal(russian.speech_labels, all_voices.speech_labels[all_voices.speech_language == "ru"])


@pytest.mark.parametrize("languages", ["de", [], ("en", "xx"), "ALL"])
def test_unknown_languages_raise_value_error(languages):
    with pytest.raises(ValueError, match="languages"):
        xd.load_xmr_digits(languages=languages)


def test_digit_texts(digits):
    assert len(digits.texts) == len(digits.text_labels) == len(digits.text_language) == len(digits.text_kind)
    for d, word in enumerate(xd.DIGIT_WORDS):
        mine = digits.text_labels == d
        texts = {t for t, m in zip(digits.texts, mine, strict=True) if m}
        assert {word, str(d)} <= texts
        english_phrases = (digits.text_kind == "phrase") & (digits.text_language == "en") & mine
        assert english_phrases.sum() >= 3
        other = set(digits.text_language[mine]) - {"en", ""}
        assert len(other) >= 2
    assert "七" in digits.texts and "sieben" in digits.texts
    assert digits.text_labels[list(digits.texts).index("七")] == 7
    assert digits.text_labels[list(digits.texts).index("sieben")] == 7


def test_digit_arrays_are_read_only(digits):
    with pytest.raises(ValueError, match="read-only"):
        digits.images[0, 0, 0] = 1
    assert dataclasses.is_dataclass(digits)


@pytest.mark.parametrize("i", [-1, 600, 1.0, True])
def test_speech_clip_rejects_bad_indices(digits, i):
    with pytest.raises(ValueError, match="i must be an int"):
        digits.speech_clip(i)


# ----------------------------------------------------------------------------------------------
# Photos, animal sounds, text corpora
# ----------------------------------------------------------------------------------------------


def test_captioned_photos():
    photos = xd.load_captioned_photos()
    n = len(photos.names)
    assert n >= 20 and len(set(photos.names)) == n
    assert len(photos.images) == len(photos.captions) == len(photos.info) == n
    for image, caps, grey, info in zip(photos.images, photos.captions, photos.greyscale, photos.info, strict=True):
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert max(image.shape[:2]) <= 256
        assert 2 <= len(caps) <= 3 and all(len(c.split()) >= 4 for c in caps)
        assert info["licence"] and info["licence_statement"]
        if grey:
            assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2])
    assert len(photos.caption_texts) == sum(len(c) for c in photos.captions) == len(photos.caption_photo)
    for text, i in zip(photos.caption_texts, photos.caption_photo, strict=True):
        assert text in photos.captions[i]
    assert {"china", "flower", "coffee", "astronaut"} <= set(photos.names)


def test_photo_records_name_their_source_and_licence():
    records = json.loads((DATA / "photos" / "photos.json").read_text(encoding="utf-8"))
    cc_by = {r["name"] for r in records if r["licence"] == "CC-BY-2.0"}
    assert cc_by == {"china", "flower"}
    assert all(r["package"] in {"scikit-image", "scikit-learn"} for r in records)


def test_animal_sounds():
    sounds = xd.load_animal_sounds()
    assert sounds.names == ("cat", "cow", "dog", "duck", "frog", "horse", "owl", "pig", "rooster", "sheep")
    assert sounds.sample_rate == 16000
    for wave in sounds.waveforms:
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 0.5 * 16000 < len(wave) < 10 * 16000
        assert np.abs(wave).max() == pytest.approx(0.9, abs=1e-3)
    assert all(s.startswith("https://bigsoundbank.com/") for s in sounds.sources)


def test_lee_corpus():
    docs = xd.load_lee_corpus()
    assert len(docs) == 300 and all(len(d.split()) > 20 for d in docs)
    assert docs[0].startswith("Hundreds of people have been forced to vacate their homes")


def test_wordsim353():
    ws = xd.load_wordsim353()
    assert len(ws.word1) == len(ws.word2) == len(ws.scores) == 353
    assert ws.scores.dtype == np.float64 and 0 <= ws.scores.min() and ws.scores.max() <= 10
    pairs = dict(zip(zip(ws.word1, ws.word2, strict=True), ws.scores, strict=True))
    assert pairs[("tiger", "cat")] == 7.35 and pairs[("tiger", "tiger")] == 10.0


# ----------------------------------------------------------------------------------------------
# Rebuilding gives the same bytes (where the tools are here and at the recorded versions)
# ----------------------------------------------------------------------------------------------


def recorded_versions_match(subdir: str) -> bool:
    from importlib import metadata

    info = json.loads((DATA / subdir / "build_info.json").read_text(encoding="utf-8"))
    for name, version in info["versions"].items():
        if name == "python":
            continue
        try:
            if metadata.version(name) != version:
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


def debian_version(package: str) -> str | None:
    """The installed Debian version of ``package``, or None."""
    if shutil.which("dpkg-query") is None:
        return None
    found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return found.stdout if found.returncode == 0 else None


@pytest.mark.parametrize("subdir", ["text", "photos", "xmr_digits", "xmr_digits_voices"])
def test_rebuild_is_byte_identical(subdir, tmp_path):
    if not recorded_versions_match(subdir):
        pytest.skip(f"installed versions differ from data/{subdir}/build_info.json")
    if subdir == "xmr_digits_voices":
        recorded = json.loads((DATA / subdir / "build_info.json").read_text(encoding="utf-8"))["debian"]
        differ = {p: v for p, v in recorded.items() if debian_version(p) != v}
        if differ:
            pytest.skip(f"needs these Debian packages at these versions (apt): {differ}")
    prompts = Path("/usr/share/asterisk/sounds")
    needed = (
        "en_US_f_Allison",
        "es_MX_f_Allison",
        "fr_CA_f_June",
        "it_IT_m_Carlo",
        "it_IT_f_Menardi",
        "ru_RU_f_IvrvoiceRU",
    )
    needed += ("es", "fr")
    if subdir == "xmr_digits" and (
        shutil.which("espeak-ng") is None
        or shutil.which("sox") is None
        or not all((prompts / folder / "digits").is_dir() for folder in needed)
    ):
        pytest.skip("needs espeak-ng, sox and the Asterisk prompt packages listed in data/xmr_digits/build.py (apt)")
    if subdir == "xmr_digits":
        recorded = json.loads((DATA / subdir / "build_info.json").read_text(encoding="utf-8"))["espeak-ng"]
        version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
        installed = version.split("  Data at:")[0].strip()
        if installed != recorded:
            pytest.skip(f"espeak-ng here is {installed!r}, the data was built with {recorded!r}")
    script = DATA / subdir / "build.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, timeout=900)
    asset_files = [f for a in REPO_ASSETS if a.subdir == subdir for f in a.files]
    assert asset_files
    for f in asset_files:
        assert xd.sha256_file(tmp_path / f.path) == f.sha256, f"{subdir}/{f.path} rebuilt differently"


# ----------------------------------------------------------------------------------------------
# Downloads, against a local HTTP server
# ----------------------------------------------------------------------------------------------

PAYLOAD = b"cross-modal retrieval, executably\n" * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path == "/good.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_error(500, "server on fire")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_good_file(server, tmp_path):
    dest = tmp_path / "sub" / "good.bin"
    assert xd.download(f"{server}/good.bin", PAYLOAD_SHA, dest) == dest
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["good.bin"]  # no temporary file left
    xd.download(f"{server}/good.bin", PAYLOAD_SHA.upper(), dest)  # already there: not fetched again
    assert _Handler.requests == ["/good.bin"]


def test_download_with_wrong_digest_keeps_nothing(server, tmp_path):
    dest = tmp_path / "good.bin"
    with pytest.raises(xd.DataIntegrityError, match="was not kept"):
        xd.download(f"{server}/good.bin", "0" * 64, dest)
    assert list(tmp_path.iterdir()) == []


def test_download_replaces_a_wrong_local_file_only_when_the_new_one_is_right(server, tmp_path):
    dest = tmp_path / "good.bin"
    dest.write_bytes(b"stale")
    xd.download(f"{server}/good.bin", PAYLOAD_SHA, dest)
    assert dest.read_bytes() == PAYLOAD


def test_download_server_error_keeps_nothing(server, tmp_path):
    dest = tmp_path / "broken.bin"
    with pytest.raises(xd.DownloadError, match="HTTP 500"):
        xd.download(f"{server}/broken.bin", PAYLOAD_SHA, dest)
    assert list(tmp_path.iterdir()) == []
    assert isinstance(xd.DownloadError("x"), OSError)


def test_download_unreachable_server_keeps_nothing(tmp_path):
    with pytest.raises(xd.DownloadError, match="failed"):
        xd.download("http://127.0.0.1:9/none.bin", PAYLOAD_SHA, tmp_path / "none.bin", timeout=2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "ftp://example.org/x"}, "url must start with http"),
        ({"url": "/etc/passwd"}, "url must start with http"),
        ({"sha256": "abc"}, "sha256 must be a sha256 hex digest"),
        ({"sha256": "g" * 64}, "sha256 must be a sha256 hex digest"),
        ({"timeout": 0}, "timeout must be > 0"),
    ],
)
def test_download_rejects_bad_arguments(tmp_path, kwargs, match):
    args = {"url": "http://127.0.0.1:9/x", "sha256": PAYLOAD_SHA, "dest": tmp_path / "x", **kwargs}
    with pytest.raises(ValueError, match=match):
        xd.download(**args)
    assert list(tmp_path.iterdir()) == []


def test_asset_path_downloads_a_missing_remote_file(server, tmp_path, monkeypatch):
    monkeypatch.setenv(xd.DATA_DIR_ENV, str(tmp_path))
    asset = xd.Asset(
        name="remote_demo",
        title="a file that is only on a server",
        files=(xd.DataFile("good.bin", PAYLOAD_SHA, len(PAYLOAD), url=f"{server}/good.bin"),),
        source="local test server",
        licence="CC0-1.0",
        citation="",
        subdir="remote_demo",
        rebuild="download it again",
    )
    monkeypatch.setitem(xd.REGISTRY, asset.name, asset)
    with pytest.raises(xd.DataIntegrityError, match="is missing"):
        xd.asset_path("remote_demo", "good.bin")  # downloading is opt-in
    path = xd.asset_path("remote_demo", "good.bin", download=True)
    assert path == tmp_path.resolve() / "remote_demo" / "good.bin" and path.read_bytes() == PAYLOAD


def test_a_missing_data_folder_says_to_set_xmr_data_dir(tmp_path, monkeypatch):
    """An installed wheel has no data/ next to its source: the error says what to do."""
    monkeypatch.setenv(xd.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(
        xd.DataIntegrityError, match=r"does not exist.*installed wheel.*set the environment variable XMR_DATA_DIR"
    ):
        xd.load_lee_corpus()
    root = copy_of_data(tmp_path, monkeypatch, "animal_sounds")  # the folder exists, one file is missing
    (root / "animal_sounds" / "owl.flac").unlink()
    with pytest.raises(xd.DataIntegrityError) as caught:
        xd.load_animal_sounds()
    assert "XMR_DATA_DIR" not in str(caught.value)


def test_the_data_modules_depend_one_way():
    """_integrity <- _download <- _registry: the lower layers never import the registry."""
    import ast

    def imported(module: str) -> set[str]:
        tree = ast.parse((ROOT / "xmr_lite" / "data" / f"{module}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        return {name for name in found if name.startswith("xmr_lite.data")}

    assert imported("_integrity") == set()
    assert imported("_download") == {"xmr_lite.data._integrity"}
    assert "xmr_lite.data._download" in imported("_registry")


def test_clip_indices_use_the_shared_check(digits):
    for bad in (-1, len(digits.speech), True, 1.0):
        with pytest.raises(ValueError, match=r"i must be an int in \[0, "):
            digits.speech_clip(bad)
    assert digits.speech_clip(np.int64(0)).ndim == 1
