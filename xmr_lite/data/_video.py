"""XMR-Digits video: moving MNIST digits with their spoken names, stored as MP4 (chapter 7).

The MP4 files are decoded with PyAV (the ``av`` package, an optional dependency: ``pip install
xmr-lite[video]``). The decoder lives here, in the data layer, because the loader needs it;
:func:`xmr_lite.video.read_video` is its public face.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from xmr_lite.data._registry import DataIntegrityError, asset_path

VIDEO_SPLITS = ("train", "val", "test")


def _import_av():
    try:
        import av
    except ImportError as error:  # pragma: no cover - av is in the book's environment
        raise ImportError("reading MP4 files needs PyAV: pip install av (or xmr-lite[video])") from error
    return av


@dataclass(frozen=True)
class DecodedVideo:
    """What :func:`decode_mp4` returns.

    Attributes
    ----------
    frames : (T, H, W) uint8 array (``gray``) or (T, H, W, 3) uint8 array (``rgb``)
    fps : float
        Frames per second of the video stream.
    audio : (S,) float32 array or None
        The first audio stream, mixed to mono, in [-1, 1], cut to the video's duration.
    sample_rate : int or None
    container : str
        The demuxer's name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``.
    video_codec, audio_codec : str or None
        Codec names, e.g. ``"h264"`` and ``"aac"``.
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    sample_rate: int | None
    container: str
    video_codec: str
    audio_codec: str | None


def decode_mp4(path: str | Path, color: str = "gray") -> DecodedVideo:
    """Decode every video frame and the first audio stream of a media file.

    Parameters
    ----------
    path : str or path-like
    color : {"gray", "rgb"}
        ``"gray"`` returns the luma plane, (T, H, W); ``"rgb"`` returns (T, H, W, 3).

    Returns
    -------
    DecodedVideo

    Raises
    ------
    ValueError
        If ``path`` is not a file, cannot be decoded (corrupted or not a media file), or
        holds no video frame.
    """
    if color not in ("gray", "rgb"):
        raise ValueError(f'color must be "gray" or "rgb", got {color!r}')
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    av = _import_av()
    fmt = "gray" if color == "gray" else "rgb24"
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"path {str(path)!r} holds no video stream")
            vstream = container.streams.video[0]
            fps = float(vstream.average_rate or vstream.guessed_rate or 0)
            video_codec = vstream.codec_context.name
            frames = [f.to_ndarray(format=fmt) for f in container.decode(video=0)]
            container_name = container.format.name
        audio, rate, audio_codec = None, None, None
        with av.open(str(path)) as container:
            if container.streams.audio:
                astream = container.streams.audio[0]
                rate, audio_codec = int(astream.codec_context.sample_rate), astream.codec_context.name
                chunks = [f.to_ndarray().astype(np.float32).reshape(-1, f.samples) for f in container.decode(audio=0)]
                audio = np.concatenate(chunks, axis=1).mean(axis=0) if chunks else np.zeros(0, np.float32)
    except av.error.FFmpegError as error:
        raise ValueError(f"path {str(path)!r} could not be decoded ({error}); is it a corrupted file?") from None
    if not frames:
        raise ValueError(f"path {str(path)!r} holds no video frame")
    if not fps > 0:
        raise ValueError(f"path {str(path)!r} has no frame rate")
    if audio is not None:
        # AAC decodes in blocks of 1024 samples; keep the part that the video covers
        audio = np.ascontiguousarray(audio[: round(len(frames) / Fraction(fps).limit_denominator(1000) * rate)])
    return DecodedVideo(np.stack(frames), fps, audio, rate, container_name, video_codec, audio_codec)


@dataclass(frozen=True)
class XMRDigitsVideo:
    """XMR-Digits video: clips of two MNIST digits shown one after the other, with their names spoken.

    Each clip lasts ``n_frames / fps`` seconds. Its first digit moves and bounces during the
    first half of the frames, its second digit during the second half; the same espeak-ng
    voice says the first digit when the clip starts and the second one when it appears. All
    arrays are read-only.

    Attributes
    ----------
    frames : (N, T, H, W) uint8 array
        Decoded frames (the luma plane), 0 = background.
    audio : (N, S) float32 array
        Each clip's soundtrack, decoded from AAC, at ``sample_rate``.
    first, second : (N,) int64 arrays
        The digit shown (and said) first and second; never equal.
    switch_frame : int
        The first frame of the second digit (``T // 2``).
    split : (N,) str array
        ``"train"``, ``"val"`` or ``"test"``: the MNIST images and the voices of a split are
        those of the same split of XMR-Digits, so voices are disjoint across splits.
    voice : (N,) str array
        espeak-ng voice configuration of the soundtrack.
    image_index : (N, 2) int64 array
        Rows of ``load_xmr_digits().images`` for the two digits.
    texts : tuple of str
        Descriptions such as ``"a three, then a seven"`` or ``"3 and 7"``.
    text_first, text_second : (M,) int64 arrays
        The digits a text names, in the order it means them.
    text_ordered : (M,) bool array
        True when the text fixes the order ("then", "after"), False when it does not ("and").
    text_language : (M,) str array
        ``"en"``, ``"de"``, ``"fr"``, ``"es"``, ``"zh"`` or ``""`` (numerals).
    fps : float
    sample_rate : int
    files : dict of str to pathlib.Path
        The verified MP4 file of each split.
    """

    frames: np.ndarray
    audio: np.ndarray
    first: np.ndarray
    second: np.ndarray
    switch_frame: int
    split: np.ndarray
    voice: np.ndarray
    image_index: np.ndarray
    texts: tuple[str, ...]
    text_first: np.ndarray
    text_second: np.ndarray
    text_ordered: np.ndarray
    text_language: np.ndarray
    fps: float
    sample_rate: int
    files: dict


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_xmr_digits_video(splits: tuple[str, ...] = VIDEO_SPLITS) -> XMRDigitsVideo:
    """Load XMR-Digits video (chapter 7): decode the MP4 file of each split and cut it into clips.

    Parameters
    ----------
    splits : tuple of str
        Which of ``"train"``, ``"val"``, ``"test"`` to decode (all by default).

    Returns
    -------
    XMRDigitsVideo
        Clips in the order of ``clips.tsv``, restricted to ``splits``.

    Raises
    ------
    ValueError
        If ``splits`` names an unknown split.
    DataIntegrityError
        If a file of ``data/xmr_digits_video`` is missing or altered, or a decoded file does not
        hold what ``clips.tsv`` says.
    """
    if isinstance(splits, str) or not splits or any(s not in VIDEO_SPLITS for s in splits):
        raise ValueError(f"splits must be a non-empty tuple of {VIDEO_SPLITS}, got {splits!r}")
    rows = _read_tsv(asset_path("xmr_digits_video", "clips.tsv"))
    text_rows = _read_tsv(asset_path("xmr_digits_video", "texts.tsv"))
    n_frames = int(rows[0]["n_frames"])
    frames, audio, kept, files = [], [], [], {}
    fps = rate = None
    for split in VIDEO_SPLITS:
        if split not in splits:
            continue
        files[split] = path = asset_path("xmr_digits_video", f"{split}.mp4")
        decoded = decode_mp4(path)
        split_rows = [r for r in rows if r["split"] == split]
        fps, rate = decoded.fps, decoded.sample_rate
        samples = round(n_frames / fps * rate)
        if len(decoded.frames) != n_frames * len(split_rows) or len(decoded.audio) != samples * len(split_rows):
            raise DataIntegrityError(f"{path} does not hold the {len(split_rows)} clips that clips.tsv lists")
        frames.append(decoded.frames.reshape(len(split_rows), n_frames, *decoded.frames.shape[1:]))
        audio.append(decoded.audio.reshape(len(split_rows), samples))
        kept += split_rows
    fields = dict(
        frames=np.concatenate(frames),
        audio=np.concatenate(audio),
        first=np.array([int(r["first"]) for r in kept], dtype=np.int64),
        second=np.array([int(r["second"]) for r in kept], dtype=np.int64),
        split=np.array([r["split"] for r in kept]),
        voice=np.array([r["voice"] for r in kept]),
        image_index=np.array([[int(r["image_first"]), int(r["image_second"])] for r in kept], dtype=np.int64),
        text_first=np.array([int(r["first"]) for r in text_rows], dtype=np.int64),
        text_second=np.array([int(r["second"]) for r in text_rows], dtype=np.int64),
        text_ordered=np.array([r["ordered"] == "1" for r in text_rows]),
        text_language=np.array([r["language"] for r in text_rows]),
    )
    for array in fields.values():
        array.setflags(write=False)
    return XMRDigitsVideo(
        texts=tuple(r["text"] for r in text_rows),
        switch_frame=int(rows[0]["switch_frame"]),
        fps=float(fps),
        sample_rate=int(rate),
        files=files,
        **fields,
    )
