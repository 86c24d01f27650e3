"""XMR-Shop: the loader, its splits, its relevance grades, its integrity checks and its rebuild."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


pytestmark = pytest.mark.usefixtures("fresh_data_cache")  # nothing verified, the real data folder


@pytest.fixture(scope="module")
def shop() -> xd.XMRShop:
    return xd.load_xmr_shop()


def copy_of_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return copy_of_data(tmp_path, monkeypatch, "xmr_shop") / "xmr_shop"


# ----------------------------------------------------------------------------------------------
# Items
# ----------------------------------------------------------------------------------------------


def test_catalogue_has_at_least_500_items_in_every_style(shop):
    n = len(shop.titles)
    assert n >= 500
    for style in xd.SHOP_IMAGE_STYLES:
        images = shop.images(style)
        assert images.shape == (n, 64, 64, 3) and images.dtype == np.uint8, style
        assert 0 < images.std(), style
    assert np.array_equal(shop.sketch[..., 0], shop.sketch[..., 2])  # grey, repeated
    # white backgrounds, except for the distorted photos whose corners carry a colour
    for style in ("catalogue", "sketch", "photo"):
        assert (shop.images(style)[:, 0, 0] == 255).mean() > 0.9, style
    assert (shop.photo_distorted[:, 0, 0] == 255).all(axis=1).mean() < 0.1


def test_every_item_is_named_in_five_languages_including_chinese(shop):
    n = len(shop.titles)
    assert set(shop.names) == set(shop.keywords) == set(xd.SHOP_LANGUAGES) and "zh" in shop.names
    assert shop.titles == shop.names["en"]
    for lang in xd.SHOP_LANGUAGES:
        assert len(shop.names[lang]) == len(shop.keywords[lang]) == n
        assert all(name.strip() for name in shop.names[lang]), lang
        assert sum(len(k) for k in shop.keywords[lang]) >= 2 * n, lang
    chinese = "".join(shop.names["zh"])
    assert sum("\u4e00" <= c <= "\u9fff" for c in chinese) > 0.8 * len(chinese.replace(" ", ""))
    apple = shop.titles.index("red apple")
    assert shop.names["de"][apple] == "roter Apfel" and shop.categories[apple] == "food-drink/food-fruit"


def test_categories_and_synthetic_attributes(shop):
    n = len(shop.titles)
    assert all(c == f"{g}/{s}" for c, g, s in zip(shop.categories, shop.groups, shop.subgroups, strict=True))
    assert set(shop.groups) == {"food-drink", "animals-nature", "objects", "activities", "travel-places"}
    assert shop.synthetic_price.shape == (n,) and shop.synthetic_price.dtype == np.float64
    assert (shop.synthetic_price > 0).all() and np.isfinite(shop.synthetic_price).all()
    assert shop.synthetic_popularity.dtype == np.int64 and (shop.synthetic_popularity >= 0).all()
    # the documented medians per group: food is cheaper than objects
    food = np.median(shop.synthetic_price[shop.groups == "food-drink"])
    objects = np.median(shop.synthetic_price[shop.groups == "objects"])
    assert food < objects


def test_emoji_and_hexcodes_agree(shop):
    for emoji, hexcode in zip(shop.emoji, shop.hexcodes, strict=True):
        points = [f"{ord(c):04X}" for c in emoji if c != "\ufe0f"]
        assert points == [p for p in hexcode.split("-") if p != "FE0F"], (emoji, hexcode)
    assert len(set(shop.hexcodes)) == len(shop.hexcodes)


def test_arrays_are_read_only(shop):
    for name in ("catalogue", "sketch", "relevance", "query_item", "synthetic_price"):
        with pytest.raises(ValueError):
            getattr(shop, name)[0] = 0
    with pytest.raises(ValueError):
        shop.speech[0][0] = 0.0
    with pytest.raises(TypeError):
        shop.names["en"] = ()  # type: ignore[index]


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


def test_items_split_60_20_20_within_every_subgroup(shop):
    assert set(shop.item_split) == set(xd.SPLITS)
    share = {s: float(np.mean(shop.item_split == s)) for s in xd.SPLITS}
    assert abs(share["train"] - 0.6) < 0.08 and abs(share["val"] - 0.2) < 0.05 and abs(share["test"] - 0.2) < 0.05
    for subgroup in set(shop.subgroups):
        splits = shop.item_split[shop.subgroups == subgroup]
        assert (splits == "train").sum() >= (splits == "test").sum(), subgroup


def test_every_query_has_the_split_of_its_item(shop):
    assert np.array_equal(shop.query_split, shop.item_split[shop.query_item])
    for modality in xd.SHOP_MODALITIES:
        items = {s: set(shop.query_item[shop.select(modality, s)].tolist()) for s in xd.SPLITS}
        assert not items["train"] & items["val"] and not items["train"] & items["test"]
        assert not items["val"] & items["test"]


def test_speech_splits_are_voice_disjoint(shop):
    spoken = shop.query_modality == "speech"
    variants = {s: set(shop.query_variant[spoken & (shop.query_split == s)]) for s in xd.SPLITS}
    assert all(variants.values())
    assert not variants["train"] & variants["val"] and not variants["train"] & variants["test"]
    assert not variants["val"] & variants["test"]
    for voice, variant in zip(shop.query_voice[spoken], shop.query_variant[spoken], strict=True):
        assert voice.split("/")[0].endswith(f"+{variant}")


# ----------------------------------------------------------------------------------------------
# Queries
# ----------------------------------------------------------------------------------------------


def test_query_counts_per_modality_and_language(shop):
    n = len(shop.titles)
    text = shop.query_modality == "text"
    for lang in xd.SHOP_LANGUAGES:
        assert ((shop.query_kind == "name") & (shop.query_language == lang)).sum() == n, lang
        assert ((shop.query_kind == "keyword") & (shop.query_language == lang)).sum() > 0.9 * n, lang
    assert set(shop.query_language[text]) == set(xd.SHOP_LANGUAGES)
    for kind in ("photo", "photo_distorted", "sketch"):
        assert (shop.query_kind == kind).sum() == n, kind
    assert not any(shop.query_language[shop.query_modality == "image"])
    spoken_languages = shop.query_language[shop.query_modality == "speech"]
    counts = [int((spoken_languages == lang).sum()) for lang in xd.SHOP_LANGUAGES]
    assert min(counts) >= 0.9 * max(counts) > 0


def test_text_queries_are_the_items_own_words(shop):
    for q in np.flatnonzero(shop.query_modality != "image"):
        item, lang, text = shop.query_item[q], shop.query_language[q], shop.query_text[q]
        if shop.query_kind[q] in ("name", "spoken_name"):
            assert text == shop.names[lang][item]
        else:
            assert text in shop.keywords[lang][item] and text.casefold() != shop.names[lang][item].casefold()


def test_query_images_are_the_item_in_the_queried_style(shop):
    for q in shop.select("image", "test")[:30]:
        q = int(q)
        assert np.array_equal(shop.query_image(q), shop.images(str(shop.query_kind[q]))[shop.query_item[q]])
    distorted = np.flatnonzero(shop.query_kind == "photo_distorted")
    assert all(set(shop.query_distortion[q]) == {"angle", "background", "blur", "crop"} for q in distorted)
    assert all(-30 <= shop.query_distortion[q]["angle"] <= 30 for q in distorted)
    assert all(shop.query_distortion[q] == {} for q in np.flatnonzero(shop.query_kind != "photo_distorted"))
    # the shopper's photo is another drawing: it differs from the catalogue picture
    assert np.abs(shop.photo.astype(int) - shop.catalogue.astype(int)).mean() > 10


def test_spoken_queries_are_audio_at_16_khz(shop):
    assert shop.sample_rate == 16_000 and len(shop.speech) == len(shop.speech_query) > 0
    assert (shop.query_modality[shop.speech_query] == "speech").all()
    assert set(shop.speech_query) == set(np.flatnonzero(shop.query_modality == "speech"))
    for clip in shop.speech:
        assert clip.dtype == np.float32 and clip.ndim == 1
        assert 0.2 * 16_000 < len(clip) < 5 * 16_000
        assert 0.85 < np.abs(clip).max() <= 0.91  # peak-normalised to 0.9, then 16-bit rounding
    q = int(shop.speech_query[3])
    assert shop.query_clip(q) is shop.speech[3]


def test_every_item_has_a_reference_recording_in_every_language(shop):
    n = len(shop.titles)
    assert len(shop.reference_mfcc) == len(shop.reference_item) == 5 * n
    assert np.array_equal(shop.reference_item, np.repeat(np.arange(n), 5))
    assert list(shop.reference_language[:5]) == list(xd.SHOP_LANGUAGES)
    for frames in shop.reference_mfcc:
        assert frames.dtype == np.float32 and frames.shape[0] == 13 and 15 <= frames.shape[1] < 600
        assert np.isfinite(frames).all()
    with pytest.raises(ValueError):
        shop.reference_mfcc[0][0, 0] = 0.0
    apple = shop.titles.index("red apple")
    assert shop.reference_text(5 * apple + 1) == "roter Apfel"


def test_reference_voices_are_not_query_voices(shop):
    query_voices = set(shop.query_voice[shop.query_modality == "speech"])
    reference_voices = set(shop.reference_voice)
    assert reference_voices == {"en-us/s155/p50", "de/s155/p50", "fr-fr/s155/p50", "es/s155/p50", "cmn/s155/p50"}
    assert not reference_voices & query_voices
    assert all("+" in voice for voice in query_voices)  # every query voice has a timbre variant; references none


def test_reference_frames_are_the_mfcc_of_the_reference_voice(shop, monkeypatch):
    """The stored frames are xmr_lite.audio.mfcc of espeak-ng's reference voice (float16-rounded)."""
    import tempfile

    import soundfile as sf

    import xmr_lite.audio as xa

    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (apt) to synthesise a reference")
    monkeypatch.syspath_prepend(str(DATA))
    from _buildlib import peak_normalise, resample, to_int16, trim_silence

    r = 5 * shop.titles.index("red apple") + 1  # German
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "r.wav"
        command = ["espeak-ng", "-z", "-w", str(wav), "-v", "de", "-s", "155", "-p", "50", shop.reference_text(r)]
        subprocess.run(command, check=True, capture_output=True)
        x, rate = sf.read(wav, dtype="float64")
    clip = to_int16(peak_normalise(trim_silence(resample(x, rate), 16_000))).astype(np.float32) / 32768
    frames = xa.mfcc(clip, 16_000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
    assert frames.shape == shop.reference_mfcc[r].shape
    np.testing.assert_allclose(shop.reference_mfcc[r], frames, atol=0.5, rtol=2e-3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.query_image(-1), "q must be an int"),
        (lambda d: d.query_image(True), "q must be an int"),
        (lambda d: d.query_image(len(d.query_item)), "q must be an int"),
        (lambda d: d.query_image(int(np.flatnonzero(d.query_modality == "text")[0])), "q must be an image query"),
        (lambda d: d.query_clip(int(np.flatnonzero(d.query_modality == "image")[0])), "q must be a speech query"),
        (lambda d: d.images("painting"), "style must be one of"),
        (lambda d: d.select("video", "test"), "modality must be one of"),
        (lambda d: d.select("text", "dev"), "split must be one of"),
        (lambda d: d.reference_text(len(d.reference_item)), "r must be an int"),
    ],
)
def test_bad_arguments_raise_value_error(shop, call, match):
    with pytest.raises(ValueError, match=match):
        call(shop)


# ----------------------------------------------------------------------------------------------
# Relevance grades
# ----------------------------------------------------------------------------------------------


def expected_grades(shop: xd.XMRShop, q: int) -> np.ndarray:
    """The documented rule, recomputed from the items: 2 own item, 1 subgroup or word match."""
    target = shop.query_item[q]
    grades = (shop.subgroups == shop.subgroups[target]).astype(np.uint8)
    if shop.query_modality[q] != "image":
        lang, text = shop.query_language[q], shop.query_text[q].casefold()
        for i in range(len(grades)):
            words = {w.casefold() for w in (shop.names[lang][i], *shop.keywords[lang][i])}
            if text in words:
                grades[i] = 1
    grades[target] = 2
    return grades


def test_relevance_has_one_grade_2_per_query_at_its_item(shop):
    assert shop.relevance.shape == (len(shop.query_item), len(shop.titles)) and shop.relevance.dtype == np.uint8
    assert set(np.unique(shop.relevance)) == {0, 1, 2}
    assert ((shop.relevance == 2).sum(axis=1) == 1).all()
    assert np.array_equal(shop.relevance.argmax(axis=1), shop.query_item)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_relevance_follows_the_documented_rule(shop, seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(len(shop.query_item)))
    assert np.array_equal(shop.relevance[q], expected_grades(shop, q))


def test_a_shared_keyword_makes_items_of_other_subgroups_relevant(shop):
    keyword = np.flatnonzero(shop.query_kind == "keyword")
    beyond_subgroup = [
        q for q in keyword if ((shop.relevance[q] == 1) & (shop.subgroups != shop.subgroups[shop.query_item[q]])).any()
    ]
    assert len(beyond_subgroup) > 0.05 * len(keyword)
    for q in np.flatnonzero(shop.query_modality == "image")[:200]:
        assert np.array_equal(shop.relevance[q] > 0, shop.subgroups == shop.subgroups[shop.query_item[q]])


# ----------------------------------------------------------------------------------------------
# Integrity and rebuilding
# ----------------------------------------------------------------------------------------------


def test_registry_entry_and_sha256sums(shop):
    asset = xd.get_asset("xmr_shop")
    assert asset.subdir == "xmr_shop" and "CC-BY-SA-4.0" in asset.licence and "Unicode-3.0" in asset.licence
    listed = dict(reversed(line.split()) for line in (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
    for f in asset.files:
        assert listed[f"xmr_shop/{f.path}"] == f.sha256
    rows = xd.verify(["xmr_shop"], raise_on_error=True)
    assert [r.file for r in rows] == [f.path for f in asset.files]


def test_shop_data_stays_small():
    size = sum(f.size for f in xd.get_asset("xmr_shop").files)
    assert size < 25_000_000


@pytest.mark.parametrize(
    "filename", ["items.tsv", "images.npz", "queries.tsv", "speech.flac", "relevance.npz", "reference_speech.npz"]
)
def test_a_corrupted_file_raises_the_integrity_error(tmp_path, monkeypatch, filename):
    folder = copy_of_shop(tmp_path, monkeypatch)
    target = folder / filename
    flip_byte(target, target.stat().st_size // 2)  # same size: only the digest can tell
    with pytest.raises(xd.DataIntegrityError, match="sha256") as info:
        xd.load_xmr_shop()
    assert isinstance(info.value, ValueError)
    assert filename in str(info.value) and "git checkout -- data/xmr_shop" in str(info.value)


def test_a_missing_file_raises_the_integrity_error(tmp_path, monkeypatch):
    folder = copy_of_shop(tmp_path, monkeypatch)
    (folder / "speech.flac").unlink()
    with pytest.raises(xd.DataIntegrityError, match=r"speech\.flac is missing"):
        xd.load_xmr_shop()


def build_tools_match() -> str | None:
    """Why the rebuild cannot be compared here, or None when the recorded tools are present."""
    from importlib import metadata

    info = json.loads((DATA / "xmr_shop" / "build_info.json").read_text(encoding="utf-8"))
    for name, version in info["versions"].items():
        if name == "python":
            continue
        try:
            if metadata.version(name) != version:
                return f"{name} {metadata.version(name)} is installed, the data was built with {version}"
        except metadata.PackageNotFoundError:
            return f"{name} is not installed (pip install {name}=={version})"
    if shutil.which("espeak-ng") is None or shutil.which("npm") is None:
        return "needs espeak-ng (apt) and npm"
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    if version.split("  Data at:")[0].strip() != info["espeak-ng"]:
        return f"espeak-ng here is {version!r}, the data was built with {info['espeak-ng']!r}"
    import cairocffi

    if cairocffi.cairo_version_string() != info["cairo"]:
        return f"cairo here is {cairocffi.cairo_version_string()}, the data was built with {info['cairo']}"
    return None


def test_rebuild_is_byte_identical(tmp_path):
    reason = build_tools_match()
    if reason:
        pytest.skip(reason)
    script = DATA / "xmr_shop" / "build.py"
    try:
        subprocess.run(
            [sys.executable, str(script), "--out", str(tmp_path / "out"), "--npm-dir", str(tmp_path / "npm")],
            check=True,
            capture_output=True,
            timeout=1200,
        )
    except subprocess.CalledProcessError as error:
        if b"npm" in error.stderr and b"ERR" in error.stderr:
            pytest.skip(f"npm could not fetch the pinned packages: {error.stderr[-300:]!r}")
        raise
    for f in xd.get_asset("xmr_shop").files:
        assert xd.sha256_file(tmp_path / "out" / f.path) == f.sha256, f"xmr_shop/{f.path} rebuilt differently"
