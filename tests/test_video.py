"""Tests for xmr_lite.video: MP4 round trips, bad files, frame sampling, the heads' order (in)sensitivity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from xmr_lite import video
from xmr_lite.image import SmallCNN

FPS, RATE = 8, 16_000


def moving_square(n_frames: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """(n_frames, size, size) uint8: a bright square moving right over a dark, slightly noisy background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 20, size=(n_frames, size, size)).astype(np.uint8)
    for t in range(n_frames):
        frames[t, 8:20, 2 + 2 * t : 14 + 2 * t] = 230
    return frames


def tone(n_frames: int = 8) -> np.ndarray:
    n = n_frames * RATE // FPS
    return (0.4 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def test_mp4_round_trip_keeps_frames_audio_and_timing(tmp_path):
    frames, audio = moving_square(), tone()
    path = video.write_video(tmp_path / "clip.mp4", frames, FPS, audio, RATE, crf=10)
    clip = video.read_video(path, sample_rate=RATE)
    assert clip.frames.shape == frames.shape and clip.frames.dtype == np.uint8
    assert clip.fps == FPS and clip.duration == pytest.approx(len(frames) / FPS)
    assert np.abs(clip.frames.astype(float) - frames).mean() < 3  # lossy, but close
    assert clip.audio.shape == audio.shape and clip.sample_rate == RATE
    # AAC is lossy too; the decoded tone is aligned with the original (no priming delay left)
    assert np.corrcoef(clip.audio[2000:-2000], audio[2000:-2000])[0, 1] > 0.95


def test_probe_describes_the_container(tmp_path):
    path = video.write_video(tmp_path / "clip.mp4", moving_square(), FPS, tone(), RATE)
    info = video.probe(path)
    assert "mp4" in info.container and info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height, info.n_frames, info.fps) == (32, 32, 8, FPS)
    assert info.sample_rate == RATE and info.audio_channels == 1 and info.pixel_format == "yuv420p"
    assert info.size_bytes == path.stat().st_size and info.duration == pytest.approx(1.0, abs=0.1)


def test_rgb_frames_and_lists_of_frames_round_trip(tmp_path):
    gray = moving_square(4)
    rgb = np.stack([gray, gray // 2, 255 - gray], axis=-1)
    path = video.write_video(tmp_path / "rgb.mp4", list(rgb), FPS, crf=0)
    clip = video.read_video(path, color="rgb")
    assert clip.frames.shape == rgb.shape and clip.audio is None
    assert np.abs(clip.frames.astype(float) - rgb).mean() < 6  # 4:2:0 chroma halves colour resolution


def test_float_frames_are_cast_at_the_boundary(tmp_path):
    frames = moving_square(4).astype(np.float64)
    clip = video.read_video(video.write_video(tmp_path / "f.mp4", frames, FPS, crf=0))
    assert np.abs(clip.frames.astype(float) - frames).mean() < 2


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((0, 16, 16), np.uint8), "at least one frame"),
        ([], "at least one frame"),
        ([np.zeros((16, 16), np.uint8), np.zeros((16, 18), np.uint8)], "same size"),
        (np.zeros((2, 15, 16), np.uint8), "even"),
        (np.zeros((2, 16, 16, 4), np.uint8), r"\(T, H, W\)"),
        (np.full((2, 16, 16), 300.0), r"\[0, 255\]"),
        (np.full((2, 16, 16), np.nan), "finite"),
        ("frames", "array"),
    ],
)
def test_bad_frames_raise(tmp_path, frames, match):
    with pytest.raises(ValueError, match=match):
        video.write_video(tmp_path / "bad.mp4", frames, FPS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sample_rate": 16_001}, "sample_rate"),
        ({"fps": 7}, "whole number"),
        ({"audio": tone()[:-10]}, "as long as the video"),
        ({"audio": tone() * 3}, r"\[-1, 1\]"),
        ({"audio": np.stack([tone(), tone()])}, "1-D"),
        ({"fps": 0}, "fps"),
        ({"crf": 60}, "crf"),
    ],
)
def test_bad_audio_and_settings_raise(tmp_path, kwargs, match):
    arguments = {"fps": FPS, "audio": tone(), "sample_rate": RATE, **kwargs}
    with pytest.raises(ValueError, match=match):
        video.write_video(tmp_path / "bad.mp4", moving_square(), **arguments)


def test_reading_at_the_wrong_sample_rate_raises(tmp_path):
    path = video.write_video(tmp_path / "clip.mp4", moving_square(), FPS, tone(), RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        video.read_video(path, sample_rate=22_050)


def test_corrupted_and_missing_files_raise(tmp_path):
    path = video.write_video(tmp_path / "clip.mp4", moving_square(), FPS, tone(), RATE)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64 + path.read_bytes()[200:400])
    for reader in (video.read_video, video.probe):
        with pytest.raises(ValueError, match=r"corrupted|no video"):
            reader(broken)
        with pytest.raises(ValueError, match="not a file"):
            reader(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="color"):
        video.read_video(path, color="bgr")


# --------------------------------------------------------------------------------------------
# Frame sampling and features
# --------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 64), k=st.integers(1, 64), seed=st.integers(0, 2**16))
def test_sampled_frames_are_increasing_and_one_per_segment(n, k, seed):
    assume(k <= n)
    for mode in ("uniform", "random"):
        idx = video.sample_frames(n, k, mode, rng=np.random.default_rng(seed))
        assert idx.shape == (k,) and idx.dtype == np.int64
        assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < n
        segment = np.floor(idx * k / n).astype(int)  # which of the k equal segments each index is in
        np.testing.assert_array_equal(segment, np.arange(k))


def test_uniform_sampling_of_all_frames_is_the_identity():
    np.testing.assert_array_equal(video.sample_frames(16, 16), np.arange(16))
    np.testing.assert_array_equal(video.sample_frames(16, 4), [1, 5, 9, 13])


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 1), "n_frames"), ((4, 5), "k must"), ((4, 0), "k"), ((4, 2, "every"), "mode"), ((4, 2, "random"), "rng")],
)
def test_sample_frames_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        video.sample_frames(*args)


def test_frame_features_match_a_per_frame_loop(device):
    torch.manual_seed(0)
    cnn = SmallCNN(1, 10, 8, 16).to(device).eval()
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 5, 16, 16)).astype(np.uint8)
    feats = video.frame_features(cnn.embed, frames, batch_size=4)
    assert feats.shape == (3, 5, 8) and feats.device.type == device.type
    with torch.no_grad():
        expected = torch.stack(
            [cnn.embed(torch.from_numpy(c).float().div(255).unsqueeze(1).to(device)) for c in frames]
        )
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="frames"):
        video.frame_features(cnn.embed, frames[0, 0])
    with pytest.raises(ValueError, match="frames"):
        video.frame_features(cnn.embed, np.full((1, 2, 16, 16), np.nan, np.float32))


# --------------------------------------------------------------------------------------------
# Heads: shapes, order (in)sensitivity, bad input
# --------------------------------------------------------------------------------------------

IN_DIM, DIMENSION, T = 6, 5, 8
HEADS = {
    "mean": lambda: video.TemporalPool(IN_DIM, DIMENSION, "mean"),
    "max": lambda: video.TemporalPool(IN_DIM, DIMENSION, "max"),
    "tconv": lambda: video.TemporalConvHead(IN_DIM, DIMENSION, T, hidden=8),
    "gru": lambda: video.GRUHead(IN_DIM, DIMENSION, hidden=8),
}


@pytest.mark.parametrize("name", list(HEADS))
def test_heads_map_sequences_to_vectors_on_their_device(name, device):
    torch.manual_seed(0)
    head = HEADS[name]().to(device)
    out = head(torch.randn(4, T, IN_DIM, device=device))
    assert out.shape == (4, DIMENSION) and out.device.type == device.type
    out.sum().backward()
    assert all(p.grad is not None for p in head.parameters())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), mode=st.sampled_from(["mean", "max"]))
def test_pooling_is_invariant_to_the_order_of_frames(seed, mode):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = video.TemporalPool(IN_DIM, DIMENSION, mode)
    x = torch.randn(3, T, IN_DIM, generator=generator)
    permutation = torch.randperm(T, generator=generator)
    torch.testing.assert_close(head(x[:, permutation]), head(x), rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), name=st.sampled_from(["tconv", "gru"]))
def test_temporal_heads_see_the_order_of_frames(seed, name):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = HEADS[name]()
    x = torch.randn(3, T, IN_DIM, generator=generator)
    assume(not torch.allclose(x, x.flip(1)))
    # reversing time changes the output; a pooling head would give the same vector
    assert not torch.allclose(head(x.flip(1)), head(x), atol=1e-4)


@pytest.mark.parametrize("name", list(HEADS))
def test_heads_reject_bad_input(name):
    head = HEADS[name]()
    with pytest.raises(ValueError, match="x must be 3-D"):
        head(torch.randn(T, IN_DIM))
    with pytest.raises(ValueError, match="D=6"):
        head(torch.randn(2, T, IN_DIM + 1))
    with pytest.raises(ValueError, match="NaN"):
        head(torch.full((2, T, IN_DIM), float("nan")))
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        head(np.zeros((2, T, IN_DIM)))
    with pytest.raises(ValueError, match="empty"):
        head(torch.randn(0, T, IN_DIM))


def test_heads_reject_bad_settings():
    with pytest.raises(ValueError, match="mode"):
        video.TemporalPool(4, 4, "median")
    with pytest.raises(ValueError, match="kernel_size"):
        video.TemporalConvHead(4, 4, 8, kernel_size=4)
    with pytest.raises(ValueError, match="dimension"):
        video.GRUHead(4, 0)
    with pytest.raises(ValueError, match="T=8"):
        video.TemporalConvHead(4, 4, 8)(torch.randn(2, 7, 4))


def test_small_3d_cnn_shapes_order_and_checks(device):
    torch.manual_seed(0)
    net = video.Small3DCNN(1, DIMENSION, n_frames=8, widths=(4, 8)).to(device).eval()
    x = torch.randn(2, 1, 8, 16, 16, device=device)
    out = net(x)
    assert out.shape == (2, DIMENSION) and out.device.type == device.type
    assert not torch.allclose(net(x.flip(2)), out, atol=1e-4)  # time is not averaged away
    with pytest.raises(ValueError, match="x must be"):
        net(torch.randn(2, 1, 7, 16, 16, device=device))
    with pytest.raises(ValueError, match="5-D"):
        net(torch.randn(2, 8, 16, 16, device=device))
    with pytest.raises(ValueError, match="widths"):
        video.Small3DCNN(widths=())


# --------------------------------------------------------------------------------------------
# Order-sensitive hit rate
# --------------------------------------------------------------------------------------------


def test_order_hit_rate_by_hand():
    gallery = np.array([[3, 7], [7, 3], [1, 2], [2, 1]])
    queries = np.array([[3, 7], [7, 3], [1, 2]])
    scores = np.array([[0.9, 0.1, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.2, 0.3]])
    assert video.order_hit_rate(scores, queries, gallery) == pytest.approx(1 / 3)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_order_hit_rate_of_an_order_blind_scorer_is_zero(seed):
    # a scorer that gives (a, b) and (b, a) the same score never ranks the right order strictly first
    rng = np.random.default_rng(seed)
    gallery = np.array([[a, b] for a in range(4) for b in range(4) if a != b])
    queries = gallery[rng.permutation(len(gallery))]
    key = {frozenset(p): rng.random() for p in map(tuple, gallery)}
    scores = np.array([[key[frozenset(g)] + (frozenset(g) == frozenset(q)) for g in gallery] for q in queries])
    assert video.order_hit_rate(scores, queries, gallery) == 0.0
    # and swapping the orders of the gallery turns a perfect scorer into a perfect miss
    perfect = np.array([[float((g == q).all()) for g in gallery] for q in queries])
    assert video.order_hit_rate(perfect, queries, gallery) == 1.0
    assert video.order_hit_rate(perfect, queries, gallery[:, ::-1]) == 0.0


@pytest.mark.parametrize(
    ("scores", "queries", "gallery", "match"),
    [
        (np.zeros((1, 2)), np.array([[1, 1]]), np.array([[1, 2], [2, 1]]), "two different"),
        (np.zeros((1, 2)), np.array([[1, 2]]), np.array([[1, 2], [1, 2]]), "both orders"),
        (np.zeros((2, 2)), np.array([[1, 2]]), np.array([[1, 2], [2, 1]]), "query_order must be"),
        (np.full((1, 2), np.nan), np.array([[1, 2]]), np.array([[1, 2], [2, 1]]), "NaN"),
    ],
)
def test_order_hit_rate_rejects_bad_input(scores, queries, gallery, match):
    with pytest.raises(ValueError, match=match):
        video.order_hit_rate(scores, queries, gallery)
