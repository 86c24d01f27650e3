"""Tests for XMR-Digits video: the registry entry, the loader, and what the clips hold."""

from __future__ import annotations

import numpy as np
import pytest

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte
from xmr_lite.data import DataIntegrityError, load_xmr_digits, load_xmr_digits_video
from xmr_lite.video import probe


@pytest.fixture(scope="module")
def clips() -> xd.XMRDigitsVideo:
    return load_xmr_digits_video()


@pytest.fixture(scope="module")
def digits() -> xd.XMRDigits:
    return load_xmr_digits()


def test_shapes_and_splits(clips):
    n = len(clips.first)
    assert clips.frames.shape == (n, 16, 64, 64) and clips.frames.dtype == np.uint8
    assert clips.audio.shape == (n, 2 * clips.sample_rate) and clips.audio.dtype == np.float32
    assert clips.fps == 8.0 and clips.sample_rate == xd.SAMPLE_RATE and clips.switch_frame == 8
    counts = {s: int((clips.split == s).sum()) for s in xd.VIDEO_SPLITS}
    assert counts == {"train": 360, "val": 90, "test": 180}
    assert not any(a.flags.writeable for a in (clips.frames, clips.audio, clips.first, clips.split))


def test_every_ordered_pair_appears_in_every_split_in_both_orders(clips):
    assert np.all(clips.first != clips.second)
    for split, per_pair in (("train", 4), ("val", 1), ("test", 2)):
        rows = clips.split == split
        pairs, counts = np.unique(clips.first[rows] * 10 + clips.second[rows], return_counts=True)
        assert len(pairs) == 90 and np.all(counts == per_pair)


def test_images_and_voices_come_from_the_clip_split(clips, digits):
    labels = digits.image_labels[clips.image_index]
    np.testing.assert_array_equal(labels, np.stack([clips.first, clips.second], axis=1))
    np.testing.assert_array_equal(digits.image_split[clips.image_index[:, 0]], clips.split)
    voice_split = dict(zip(digits.speech_voice, digits.speech_split, strict=True))
    assert all(voice_split[v] == s for v, s in zip(clips.voice, clips.split, strict=True))
    test_voices = set(clips.voice[clips.split == "test"])
    assert not test_voices & set(clips.voice[clips.split == "train"])


def test_each_digit_is_on_screen_in_its_half_and_looks_like_its_mnist_image(clips, digits):
    for i in range(0, len(clips.first), 37):
        for half, frames in enumerate((clips.frames[i, :8], clips.frames[i, 8:])):
            assert frames.reshape(8, -1).max(axis=1).min() > 150  # a digit on every frame
            image = digits.images[clips.image_index[i, half]].astype(float)
            first_frame = frames[0].astype(float)
            y, x = np.unravel_index(np.argmax(_match(first_frame, image)), (37, 37))
            window = first_frame[y : y + 28, x : x + 28]
            assert np.abs(window - image).mean() < 12  # lossy H.264, but the same digit


def _match(frame: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Correlation of ``image`` with every 28x28 window of ``frame``, (37, 37)."""
    windows = np.lib.stride_tricks.sliding_window_view(frame, image.shape)
    return np.einsum("ijkl,kl->ij", windows, image)


def test_the_soundtrack_speaks_at_each_onset(clips):
    rate = clips.sample_rate
    for i in range(0, len(clips.first), 37):
        audio = clips.audio[i]
        assert np.abs(audio[: rate // 2]).max() > 0.1 and np.abs(audio[rate : rate + rate // 2]).max() > 0.1
        assert np.abs(audio).max() < 0.7


def test_texts_name_ordered_and_order_free_pairs(clips):
    assert len(clips.texts) == 90 * 14 == len(set(clips.texts))  # 8 ordered, 6 order-free per pair
    assert int(clips.text_ordered.sum()) == 90 * 8
    assert "a three, then a seven" in clips.texts and "7 then 3" in clips.texts and "先三后七" in clips.texts
    i = clips.texts.index("an eight, then a one")
    assert (clips.text_first[i], clips.text_second[i], clips.text_ordered[i]) == (8, 1, True)
    i = clips.texts.index("seven after three")  # the later digit is named first
    assert (clips.text_first[i], clips.text_second[i]) == (3, 7)
    assert not clips.text_ordered[clips.texts.index("drei und sieben")]
    assert set(clips.text_language) == {"en", "de", "fr", "es", "zh", ""}


def test_the_files_are_h264_and_aac_in_mp4(clips):
    info = probe(clips.files["test"])
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 64, 64)
    assert info.n_frames == 180 * 16 and info.sample_rate == 16_000
    total = sum(f.size for f in xd.get_asset("xmr_digits_video").files)
    assert total < 4_000_000  # the data budget: a few MB


def test_one_split_loads_alone():
    val = load_xmr_digits_video(("val",))
    assert len(val.first) == 90 and set(val.split) == {"val"} and list(val.files) == ["val"]
    with pytest.raises(ValueError, match="splits"):
        load_xmr_digits_video(("dev",))
    with pytest.raises(ValueError, match="splits"):
        load_xmr_digits_video("test")


def test_an_altered_video_file_is_refused(tmp_path, monkeypatch):
    flip_byte(copy_of_data(tmp_path, monkeypatch, "xmr_digits_video") / "xmr_digits_video" / "val.mp4", 5000)
    xd.clear_verification_cache()
    try:
        with pytest.raises(DataIntegrityError, match=r"val\.mp4"):
            load_xmr_digits_video(("val",))
    finally:
        xd.clear_verification_cache()


def test_decoding_a_corrupted_file_raises_value_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ValueError, match="corrupted"):
        xd.decode_mp4(broken)
    with pytest.raises(ValueError, match="color"):
        xd.decode_mp4(broken, color="cmyk")


def test_rebuild_gives_the_same_tables_and_nearly_the_same_pixels(tmp_path):
    """The build script reproduces the committed data: tables byte for byte, decoded clips within codec noise."""
    import json
    import subprocess
    import sys
    from importlib import metadata

    folder = xd.data_dir() / "xmr_digits_video"
    recorded = json.loads((folder / "build_info.json").read_text(encoding="utf-8"))["versions"]
    if metadata.version("av") != recorded["av"] or metadata.version("numpy") != recorded["numpy"]:
        pytest.skip("installed av or numpy differ from data/xmr_digits_video/build_info.json")
    script = folder / "build.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, timeout=600)
    for name in ("clips.tsv", "texts.tsv"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name
    for split in xd.VIDEO_SPLITS:
        rebuilt, committed = xd.decode_mp4(tmp_path / f"{split}.mp4"), xd.decode_mp4(folder / f"{split}.mp4")
        np.testing.assert_array_equal(rebuilt.audio, committed.audio)
        differs = rebuilt.frames != committed.frames  # x264 may settle on a few other pixel values
        assert differs.mean() < 1e-3, split
