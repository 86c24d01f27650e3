"""Video: MP4 files, frame sampling, temporal heads over frame features, a small 3-D CNN.

Taught in chapter 7. A clip is a stack of frames, (T, H, W) or (T, H, W, 3), plus an
optional soundtrack. The module has four parts:

* **Files**: :func:`write_video` writes H.264 video and AAC audio into an MP4 container and
  :func:`read_video` decodes it (both through PyAV, ``pip install av``); :func:`probe` reads
  the container's description without decoding.
* **Frames**: :func:`sample_frames` picks frame indices, :func:`frame_features` runs a 2-D
  image encoder on every frame.
* **Heads over frame features** (B, T, D) → (B, dimension): :class:`TemporalPool` (mean or
  max over time, blind to order), :class:`TemporalConvHead` (1-D convolutions over time) and
  :class:`GRUHead` (a recurrent network), both of which see the order.
* **End to end**: :class:`Small3DCNN`, a C3D-style network of 3-D convolutions over (T, H, W),
  and :func:`order_hit_rate`, the order-sensitive retrieval score of the chapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xmr_lite._checks import as_float, as_tensor, check_finite, check_int, check_ndim, is_int
from xmr_lite._runtime import get_device
from xmr_lite.data._video import _import_av, decode_mp4

PathLike = str | Path

AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
"""Sample rates (Hz) the AAC encoder accepts."""


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A decoded clip.

    Attributes
    ----------
    frames : (T, H, W) or (T, H, W, 3) uint8 array
    fps : float
        Frames per second.
    audio : (S,) float32 array or None
        Mono soundtrack in [-1, 1], as long as the video.
    sample_rate : int or None
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None = None
    sample_rate: int | None = None

    @property
    def duration(self) -> float:
        """Seconds of video, ``T / fps``."""
        return len(self.frames) / self.fps


@dataclass(frozen=True)
class VideoInfo:
    """What a media file says about itself (:func:`probe`)."""

    container: str
    video_codec: str
    width: int
    height: int
    fps: float
    n_frames: int
    pixel_format: str
    audio_codec: str | None
    sample_rate: int | None
    audio_channels: int | None
    duration: float
    size_bytes: int


def _check_frames(frames: object) -> np.ndarray:
    """Stack frames into a uint8 (T, H, W) or (T, H, W, 3) array, refusing what cannot be a video."""
    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise ValueError("frames must hold at least one frame, got an empty sequence")
        shapes = {np.shape(f) for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"frames must all have the same size, got shapes {sorted(shapes)}")
        frames = np.stack([np.asarray(f) for f in frames])
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames must be an array or a list of frames, got {type(frames).__name__}")
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise ValueError(f"frames must be (T, H, W) or (T, H, W, 3), got shape {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("frames must hold at least one frame, got 0")
    if frames.shape[1] < 2 or frames.shape[2] < 2 or frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"frames must have an even height and width (H.264 4:2:0), got {frames.shape[1:3]}")
    if frames.dtype != np.uint8:
        if not np.issubdtype(frames.dtype, np.number) or not np.isfinite(frames).all():
            raise ValueError("frames must be finite numbers in [0, 255]")
        if frames.min() < 0 or frames.max() > 255:
            raise ValueError(f"frames must lie in [0, 255], got [{frames.min()}, {frames.max()}]")
        frames = np.round(frames).astype(np.uint8)
    return frames


def _check_audio(audio: object, sample_rate: object, n_samples: int) -> np.ndarray:
    if sample_rate not in AAC_SAMPLE_RATES or isinstance(sample_rate, bool):
        raise ValueError(f"sample_rate must be one of {AAC_SAMPLE_RATES} (AAC), got {sample_rate!r}")
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    if not isinstance(audio, np.ndarray) or audio.ndim != 1:
        raise ValueError(f"audio must be a 1-D array of samples, got {getattr(audio, 'shape', type(audio))}")
    audio = audio.astype(np.float32)
    if not np.isfinite(audio).all() or np.abs(audio).max(initial=0) > 1:
        raise ValueError("audio must be finite and lie in [-1, 1]")
    if len(audio) != n_samples:
        raise ValueError(f"audio must last as long as the video: {n_samples} samples, got {len(audio)}")
    return audio


def _to_video_frame(av, frame: np.ndarray):
    """One uint8 frame as a PyAV frame in yuv420p; greyscale goes straight into the luma plane."""
    if frame.ndim == 3:
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(format="yuv420p")
    height, width = frame.shape
    planes = np.full((height * 3 // 2, width), 128, dtype=np.uint8)  # neutral chroma
    # H.264 video is "limited range" by default: black is luma 16 and white 235
    planes[:height] = np.round(16 + frame.astype(np.float32) * (219 / 255)).astype(np.uint8)
    return av.VideoFrame.from_ndarray(planes, format="yuv420p")


def write_video(
    path: PathLike,
    frames: object,
    fps: int,
    audio: object | None = None,
    sample_rate: int = 16_000,
    crf: int = 23,
    audio_bitrate: int = 32_000,
) -> Path:
    """Write frames (and a mono soundtrack) as an MP4 file: H.264 video, AAC audio.

    The encoder runs on one thread with fixed settings and every 16th frame is a key frame.
    Greyscale frames go straight into the luma plane (limited range, 16-235); colour frames
    are converted by FFmpeg. Two runs do not always give the same bytes: x264's motion search
    can settle on slightly different pixels, a few grey levels apart.

    Parameters
    ----------
    path : str or path-like
        The ``.mp4`` file to write (overwritten).
    frames : (T, H, W) or (T, H, W, 3) array, or a list of T equal-sized frames
        uint8, or numbers in [0, 255]. H and W must be even (4:2:0 chroma).
    fps : int
        Frames per second.
    audio : (S,) float array in [-1, 1], optional
        ``S = T / fps * sample_rate`` samples.
    sample_rate : int
        One of :data:`AAC_SAMPLE_RATES`.
    crf : int
        x264's constant rate factor, 0 (lossless) to 51 (smallest).
    audio_bitrate : int
        AAC bits per second.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For zero frames, frames of different sizes, odd sizes, values outside [0, 255], a
        sample rate AAC cannot take, or audio of the wrong length.

    Notes
    -----
    Taught in chapter 7.
    """
    frames = _check_frames(frames)
    fps = check_int(fps, "fps")
    crf = check_int(crf, "crf", 0)
    if crf > 51:
        raise ValueError(f"crf must be in [0, 51], got {crf}")
    if audio is not None:
        if is_int(sample_rate) and (len(frames) * sample_rate) % fps:
            raise ValueError(f"sample_rate: {len(frames)} frames at {fps} fps do not last a whole number of samples")
        audio = _check_audio(audio, sample_rate, len(frames) * sample_rate // fps if is_int(sample_rate) else -1)
    av = _import_av()
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as container:
        container.metadata.clear()
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        vstream.thread_count = 1
        vstream.options = {"crf": str(crf), "preset": "medium", "g": "16", "keyint_min": "16", "sc_threshold": "0"}
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout, astream.bit_rate = "mono", check_int(audio_bitrate, "audio_bitrate")
        for index, frame in enumerate(frames):
            picture = _to_video_frame(av, frame)
            picture.pts, picture.time_base = index, Fraction(1, fps)  # explicit time stamps: deterministic rate control
            for packet in vstream.encode(picture):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            block = 1024
            for start in range(0, len(audio), block):
                chunk = av.AudioFrame.from_ndarray(
                    audio[None, start : start + block].copy(), format="flt", layout="mono"
                )
                chunk.sample_rate, chunk.pts = sample_rate, start
                for packet in astream.encode(chunk):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def read_video(path: PathLike, color: str = "gray", sample_rate: int | None = None) -> Clip:
    """Decode a video file: every frame and the soundtrack.

    Parameters
    ----------
    path : str or path-like
    color : {"gray", "rgb"}
        ``"gray"``: (T, H, W) luma frames; ``"rgb"``: (T, H, W, 3).
    sample_rate : int, optional
        The sample rate the soundtrack must have; a file at another rate raises ``ValueError``
        (nothing is resampled silently).

    Returns
    -------
    Clip

    Raises
    ------
    ValueError
        If the file is missing, corrupted, holds no frame, or its audio is not at ``sample_rate``.

    Notes
    -----
    Taught in chapter 7.
    """
    decoded = decode_mp4(path, color)
    if sample_rate is not None and decoded.sample_rate != sample_rate:
        raise ValueError(f"sample_rate: the file's audio is at {decoded.sample_rate} Hz, expected {sample_rate} Hz")
    return Clip(decoded.frames, decoded.fps, decoded.audio, decoded.sample_rate)


def probe(path: PathLike) -> VideoInfo:
    """Describe a media file from its container headers, without decoding it.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    VideoInfo

    Raises
    ------
    ValueError
        If the file is missing, cannot be opened, or has no video stream.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"path {str(path)!r} holds no video stream")
            v = container.streams.video[0]
            a = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(
                container=container.format.name,
                video_codec=v.codec_context.name,
                width=v.codec_context.width,
                height=v.codec_context.height,
                fps=float(v.average_rate),
                n_frames=int(v.frames),
                pixel_format=str(v.codec_context.pix_fmt),
                audio_codec=None if a is None else a.codec_context.name,
                sample_rate=None if a is None else int(a.codec_context.sample_rate),
                audio_channels=None if a is None else int(a.codec_context.channels),
                duration=float(container.duration or 0) / 1e6,
                size_bytes=path.stat().st_size,
            )
    except av.error.FFmpegError as error:
        raise ValueError(f"path {str(path)!r} could not be opened ({error}); is it a corrupted file?") from None


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def sample_frames(n_frames: int, k: int, mode: str = "uniform", rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of ``k`` frames out of ``n_frames``, in increasing order.

    Parameters
    ----------
    n_frames : int, >= 1
        Frames in the clip.
    k : int, 1 <= k <= n_frames
        Frames to keep.
    mode : {"uniform", "random"}
        ``"uniform"``: the centres of ``k`` equal segments (TSN-style test-time sampling);
        ``"random"``: one random frame from each of the ``k`` segments (training-time).
    rng : numpy.random.Generator, optional
        Needed for ``"random"``.

    Returns
    -------
    (k,) int64 array
        Strictly increasing indices in ``[0, n_frames)``.

    Notes
    -----
    Taught in chapter 7.
    """
    n_frames = check_int(n_frames, "n_frames")
    k = check_int(k, "k")
    if k > n_frames:
        raise ValueError(f"k must be in [1, n_frames={n_frames}], got {k}")
    if mode not in ("uniform", "random"):
        raise ValueError(f'mode must be "uniform" or "random", got {mode!r}')
    edges = np.linspace(0, n_frames, k + 1)
    lower = np.ceil(edges[:-1] - 1e-9).astype(np.int64)
    upper = np.maximum(np.ceil(edges[1:] - 1e-9).astype(np.int64), lower + 1)  # exclusive
    if mode == "uniform":
        return ((lower + upper - 1) // 2).astype(np.int64)
    if not isinstance(rng, np.random.Generator):
        raise ValueError('rng must be a numpy.random.Generator for mode="random"')
    return rng.integers(lower, upper).astype(np.int64)


def _model_device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def frame_features(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    frames: object,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Run a 2-D image encoder on every frame of every clip.

    Parameters
    ----------
    encoder : callable
        Maps a (B, C, H, W) float batch to (B, D) features, e.g. ``SmallCNN(...).embed``.
    frames : (N, T, H, W) or (N, T, C, H, W) tensor or array
        Clips; a 4-D input gets a channel axis of 1. uint8 input is scaled to [0, 1].
    batch_size : int
        Frames per forward pass.
    device : torch.device or str, optional
        Where to run; default the device of ``encoder`` when it is a module, else
        :func:`xmr_lite.get_device`.

    Returns
    -------
    (N, T, D) float tensor
        On ``device``, computed without gradients.

    Notes
    -----
    Taught in chapter 7.
    """
    x, _ = as_tensor(frames, "frames")
    if x.ndim == 4:
        x = x.unsqueeze(2)
    check_ndim(x, "frames", 5, "(N, T, H, W) or (N, T, C, H, W)")
    scale = 255.0 if x.dtype == torch.uint8 else 1.0
    batch_size = check_int(batch_size, "batch_size")
    if device is None:
        owner = getattr(encoder, "__self__", encoder)
        device = _model_device(owner) if isinstance(owner, nn.Module) else get_device()
    n, t = x.shape[:2]
    flat = x.reshape(n * t, *x.shape[2:])
    outputs = []
    with torch.no_grad():
        for start in range(0, n * t, batch_size):
            batch = flat[start : start + batch_size].to(device).float() / scale
            check_finite(batch, "frames")
            outputs.append(encoder(batch))
    features = torch.cat(outputs)
    return features.reshape(n, t, -1)


# --------------------------------------------------------------------------------------------
# Heads over frame features
# --------------------------------------------------------------------------------------------


def _check_sequence(x: object, in_dim: int, device: torch.device) -> torch.Tensor:
    """A finite float (B, T, in_dim) tensor on ``device``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor (B, T, D), got {type(x).__name__}")
    check_ndim(x, "x", 3, f"(B, T, D={in_dim})")
    if x.shape[2] != in_dim:
        raise ValueError(f"x must have D={in_dim} features per frame, got {x.shape[2]}")
    x = as_float(x, False)
    check_finite(x, "x")
    if x.device != device:
        raise ValueError(f"x is on {x.device} but the head is on {device}")
    return x


class TemporalPool(nn.Module):
    """Average or maximum of frame features over time, then a linear projection.

    (B, T, in_dim) → (B, dimension). Permuting the frames does not change the output: the
    head sees a bag of frames, not a sequence. Taught in chapter 7.

    Parameters
    ----------
    in_dim : int
        Features per frame.
    dimension : int
        Output size.
    mode : {"mean", "max"}
    """

    def __init__(self, in_dim: int, dimension: int, mode: str = "mean") -> None:
        super().__init__()
        if mode not in ("mean", "max"):
            raise ValueError(f'mode must be "mean" or "max", got {mode!r}')
        self.in_dim, self.dimension, self.mode = check_int(in_dim, "in_dim"), check_int(dimension, "dimension"), mode
        self.project = nn.Linear(self.in_dim, self.dimension)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) float → (B, dimension)."""
        x = _check_sequence(x, self.in_dim, self.project.weight.device)
        pooled = x.mean(dim=1) if self.mode == "mean" else x.amax(dim=1)
        return self.project(pooled)


class TemporalConvHead(nn.Module):
    """1-D convolutions over time, then a projection of the flattened time axis.

    (B, T, in_dim) → (B, dimension). Each block is conv(kernel_size) → ReLU over the time
    axis, with the features as channels. The last block's output, one vector per time step,
    is flattened (time kept, not averaged), so where in the clip a pattern occurs matters.
    Taught in chapter 7.

    Parameters
    ----------
    in_dim : int
        Features per frame.
    dimension : int
        Output size.
    n_frames : int
        T, the clip length the head is built for.
    hidden : int
        Channels of each block.
    kernel_size : int
        Odd temporal kernel size.
    n_blocks : int
        Convolution blocks; each but the first halves the time axis (stride 2).
    """

    def __init__(
        self, in_dim: int, dimension: int, n_frames: int, hidden: int = 64, kernel_size: int = 3, n_blocks: int = 2
    ) -> None:
        super().__init__()
        self.in_dim, self.dimension = check_int(in_dim, "in_dim"), check_int(dimension, "dimension")
        self.n_frames = check_int(n_frames, "n_frames")
        kernel_size, hidden, n_blocks = (
            check_int(kernel_size, "kernel_size"),
            check_int(hidden, "hidden"),
            check_int(n_blocks, "n_blocks"),
        )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        layers: list[nn.Module] = []
        channels, length = self.in_dim, self.n_frames
        for block in range(n_blocks):
            stride = 1 if block == 0 else 2
            layers += [nn.Conv1d(channels, hidden, kernel_size, stride=stride, padding=kernel_size // 2), nn.ReLU()]
            channels, length = hidden, (length - 1) // stride + 1
        self.convs = nn.Sequential(*layers)
        self.project = nn.Linear(hidden * length, self.dimension)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_frames, in_dim) float → (B, dimension)."""
        x = _check_sequence(x, self.in_dim, self.project.weight.device)
        if x.shape[1] != self.n_frames:
            raise ValueError(f"x must have T={self.n_frames} frames, got {x.shape[1]}")
        return self.project(self.convs(x.transpose(1, 2)).flatten(1))


class GRUHead(nn.Module):
    """A GRU that reads frame features in order; its last hidden state, projected, is the output.

    (B, T, in_dim) → (B, dimension). Works for any T. Taught in chapter 7.

    Parameters
    ----------
    in_dim : int
        Features per step.
    dimension : int
        Output size.
    hidden : int
        GRU state size.
    num_layers : int
        Stacked GRU layers.
    """

    def __init__(self, in_dim: int, dimension: int, hidden: int = 64, num_layers: int = 1) -> None:
        super().__init__()
        self.in_dim, self.dimension = check_int(in_dim, "in_dim"), check_int(dimension, "dimension")
        self.gru = nn.GRU(
            self.in_dim, check_int(hidden, "hidden"), num_layers=check_int(num_layers, "num_layers"), batch_first=True
        )
        self.project = nn.Linear(hidden, self.dimension)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) float → (B, dimension)."""
        x = _check_sequence(x, self.in_dim, self.project.weight.device)
        _, last = self.gru(x)
        return self.project(last[-1])


class Small3DCNN(nn.Module):
    """A C3D-style network: blocks of 3×3×3 convolution, batch norm, ReLU and pooling over (T, H, W).

    (B, C, T, H, W) → (B, dimension). The first block pools space only (as C3D does, so time
    is not collapsed too early); later blocks pool time and space by 2. At the end the
    feature maps are averaged over space but not over time, and the (channels × time) values
    go through a linear layer, so the order of events stays visible. torchvision's
    ``r3d_18`` / ``r2plus1d_18`` are the full-size relatives. Taught in chapter 7.

    Parameters
    ----------
    in_channels : int
    dimension : int
        Output size.
    n_frames : int
        T of the input.
    widths : sequence of int
        Channels of each block.
    """

    def __init__(
        self, in_channels: int = 1, dimension: int = 32, n_frames: int = 16, widths: Sequence[int] = (8, 16, 32)
    ) -> None:
        super().__init__()
        self.in_channels, self.dimension = check_int(in_channels, "in_channels"), check_int(dimension, "dimension")
        self.n_frames = check_int(n_frames, "n_frames")
        widths = tuple(check_int(w, "widths") for w in widths)
        if not widths:
            raise ValueError("widths must name at least one block")
        layers: list[nn.Module] = []
        channels, length = self.in_channels, self.n_frames
        for block, width in enumerate(widths):
            pool = (1, 2, 2) if block == 0 or length < 2 else (2, 2, 2)
            layers += [
                nn.Conv3d(channels, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(),
                nn.MaxPool3d(pool, ceil_mode=True),
            ]
            channels, length = width, -(-length // pool[0])
        self.features = nn.Sequential(*layers)
        self.project = nn.Linear(channels * length, self.dimension)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, n_frames, H, W) float → (B, dimension)."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        check_ndim(x, "x", 5, f"(B, C={self.in_channels}, T={self.n_frames}, H, W)")
        if x.shape[1] != self.in_channels or x.shape[2] != self.n_frames:
            raise ValueError(f"x must be (B, {self.in_channels}, {self.n_frames}, H, W), got {tuple(x.shape)}")
        x = as_float(x, False)
        check_finite(x, "x")
        h = self.features(x)  # (B, C', T', H', W')
        return self.project(h.mean(dim=(3, 4)).flatten(1))


# --------------------------------------------------------------------------------------------
# Order-sensitive retrieval
# --------------------------------------------------------------------------------------------


def order_hit_rate(scores: object, query_order: object, gallery_order: object) -> float:
    """Order-sensitive R@1: among the gallery items with the query's two digits, is the top one in the right order?

    For query ``i`` naming the ordered pair ``(a, b)``, the candidates are the gallery items
    whose pair is ``(a, b)`` or ``(b, a)``; the query scores a hit when its best-scored
    candidate has order ``(a, b)``. A model that cannot see order scores 0.5 on average when
    both orders are equally frequent in the gallery. Taught in chapter 7.

    Parameters
    ----------
    scores : (Q, G) float tensor or array
        Similarity of each query to each gallery item (higher is closer).
    query_order : (Q, 2) int tensor or array
        The ordered pair each query names; the two digits must differ.
    gallery_order : (G, 2) int tensor or array
        The ordered pair of each gallery item.

    Returns
    -------
    float
        Fraction of queries that hit, in [0, 1].

    Raises
    ------
    ValueError
        For mismatched shapes, NaN scores, a query with equal digits, or a query that has no
        candidate in both orders.
    """
    s, _ = as_tensor(scores, "scores")
    check_ndim(s, "scores", 2, "(Q, G)")
    s = as_float(s, False)
    check_finite(s, "scores")
    q, _ = as_tensor(query_order, "query_order")
    g, _ = as_tensor(gallery_order, "gallery_order")
    check_ndim(q, "query_order", 2, "(Q, 2)")
    check_ndim(g, "gallery_order", 2, "(G, 2)")
    if q.shape != (s.shape[0], 2) or g.shape != (s.shape[1], 2):
        raise ValueError(
            f"query_order must be ({s.shape[0]}, 2) and gallery_order ({s.shape[1]}, 2), "
            f"got {tuple(q.shape)} and {tuple(g.shape)}"
        )
    q, g = q.to(s.device).long(), g.to(s.device).long()
    if bool((q[:, 0] == q[:, 1]).any()):
        raise ValueError("query_order: each query must name two different digits")
    right = (g[None, :, 0] == q[:, None, 0]) & (g[None, :, 1] == q[:, None, 1])  # (Q, G)
    wrong = (g[None, :, 0] == q[:, None, 1]) & (g[None, :, 1] == q[:, None, 0])
    if not bool((right.any(dim=1) & wrong.any(dim=1)).all()):
        raise ValueError("gallery_order must hold every query's pair in both orders")
    lowest = torch.finfo(s.dtype).min
    best_right = torch.where(right, s, torch.full_like(s, lowest)).amax(dim=1)
    best_wrong = torch.where(wrong, s, torch.full_like(s, lowest)).amax(dim=1)
    return float((best_right > best_wrong).float().mean())


__all__ = [
    "AAC_SAMPLE_RATES",
    "Clip",
    "GRUHead",
    "Small3DCNN",
    "TemporalConvHead",
    "TemporalPool",
    "VideoInfo",
    "frame_features",
    "order_hit_rate",
    "probe",
    "read_video",
    "sample_frames",
    "write_video",
]
