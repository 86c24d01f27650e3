"""Rebuild XMR-Digits video: two moving MNIST digits in a row, with their names spoken, as MP4.

Run from the repository root (a few seconds; needs PyAV, ``pip install av``)::

    python data/xmr_digits_video/build.py      # writes data/xmr_digits_video/ and updates data/SHA256SUMS

then copy the printed digests into the registry in ``xmr_lite/data/_registry.py``. H.264 and
AAC encoders differ between FFmpeg builds, so the bytes repeat only with the ``av`` version
recorded in ``build_info.json``, and even then x264 may settle on a few different pixel
values from run to run: the committed files, with their digests in the registry, are the data.

How a clip is made
------------------
A clip has ``N_FRAMES`` frames of ``SIZE`` x ``SIZE`` pixels at ``FPS`` frames per second (the
Moving MNIST construction of Srivastava et al., 2015, with one digit on screen at a time). A
first MNIST digit moves in a straight line and bounces off the borders during the first half
of the frames; then it disappears and a second, different digit moves during the second half.
The soundtrack is silent except for one espeak-ng voice saying the first digit at the first
frame and the second digit at the frame where it appears. Images and voices come from the
same split of XMR-Digits (``data/xmr_digits``), so voices stay disjoint across splits.

Every ordered pair of different digits (90 pairs) appears ``CLIPS_PER_PAIR[split]`` times.

What it writes
--------------
train.mp4, val.mp4, test.mp4
    The clips of a split, one after another, in one file: H.264 video (luma carries the
    digits, 4:2:0), AAC mono audio at 16 kHz; a key frame starts every clip.
clips.tsv
    One row per clip, in file order: split, first and second digit, the rows of the two
    MNIST images in ``xmr_digits/images.npz``, the voice, the frame count and the switch frame.
texts.tsv
    Descriptions of every ordered pair: ordered ones ("a three, then a seven", "7 then 3",
    "drei, dann sieben", ...) and order-free ones ("a three and a seven", ...).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT))
from _buildlib import SAMPLE_RATE, update_sha256sums, versions, write_json  # noqa: E402

from xmr_lite.data import DIGIT_WORDS, load_xmr_digits  # noqa: E402
from xmr_lite.video import write_video  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20260107
N_FRAMES, SIZE, FPS, DIGIT = 16, 64, 8, 28
SWITCH = N_FRAMES // 2
CLIPS_PER_PAIR = {"train": 4, "val": 1, "test": 2}
SPEEDS = (2.0, 4.0)  # pixels per frame, drawn uniformly
PEAK = 0.5  # the two words' peak amplitude in the soundtrack
AUDIO_BITRATE = 16_000  # bits per second: about 4 KB of the 7 a clip takes

OTHER = {
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "zh": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
}
ORDERED = (
    ("en", "a {a}, then a {b}"),
    ("en", "first {a}, then {b}"),
    ("en", "{b} after {a}"),
    ("", "{na} then {nb}"),
    ("de", "{a}, dann {b}"),
    ("fr", "{a}, puis {b}"),
    ("es", "{a}, luego {b}"),
    ("zh", "先{a}后{b}"),
)
UNORDERED = (
    ("en", "a {a} and a {b}"),
    ("", "{na} and {nb}"),
    ("de", "{a} und {b}"),
    ("fr", "{a} et {b}"),
    ("es", "{a} y {b}"),
    ("zh", "{a}和{b}"),
)


def article(text: str) -> str:
    """English "a" before a consonant sound, "an" before "eight"."""
    return text.replace("a eight", "an eight")


def build_texts() -> list[dict]:
    """Ordered and order-free descriptions of each of the 90 ordered pairs."""
    rows = []
    for a in range(10):
        for b in range(10):
            if a == b:
                continue
            for ordered, templates in ((1, ORDERED), (0, UNORDERED)):
                for language, template in templates:
                    words = DIGIT_WORDS if language in ("en", "") else OTHER[language]
                    text = article(template.format(a=words[a], b=words[b], na=a, nb=b))
                    rows.append({"text": text, "first": a, "second": b, "ordered": ordered, "language": language})
    return rows


def trajectory(rng: np.random.Generator, n: int) -> np.ndarray:
    """Top-left corners (n, 2) of a digit moving in a straight line and bouncing off the borders."""
    room = SIZE - DIGIT
    position = rng.uniform(0, room, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    velocity = rng.uniform(*SPEEDS) * np.array([np.sin(angle), np.cos(angle)])
    corners = np.empty((n, 2))
    for t in range(n):
        corners[t] = position
        position = position + velocity
        for axis in range(2):
            if position[axis] < 0 or position[axis] > room:
                velocity[axis] = -velocity[axis]
                position[axis] = np.clip(2 * np.clip(position[axis], -room, 2 * room) - position[axis], 0, room)
    return np.round(corners).astype(int)


def render(image_a: np.ndarray, image_b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N_FRAMES, SIZE, SIZE) uint8: digit a in the first half of the frames, digit b in the second."""
    frames = np.zeros((N_FRAMES, SIZE, SIZE), dtype=np.uint8)
    for image, span in ((image_a, range(SWITCH)), (image_b, range(SWITCH, N_FRAMES))):
        for t, (y, x) in zip(span, trajectory(rng, len(span)), strict=True):
            frames[t, y : y + DIGIT, x : x + DIGIT] = np.maximum(frames[t, y : y + DIGIT, x : x + DIGIT], image)
    return frames


def soundtrack(word_a: np.ndarray, word_b: np.ndarray) -> np.ndarray:
    """(N_FRAMES / FPS * SAMPLE_RATE,) float32: word a at time 0, word b when digit b appears."""
    length = N_FRAMES * SAMPLE_RATE // FPS
    onset = SWITCH * SAMPLE_RATE // FPS
    audio = np.zeros(length, dtype=np.float32)
    audio[: min(len(word_a), onset)] = word_a[:onset]
    audio[onset : onset + len(word_b)] = word_b[: length - onset]
    return audio * (PEAK / max(np.abs(audio).max(), 1e-6))


def build_split(split: str, digits, rng: np.random.Generator) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The clips of one split: their table rows, frames (n, T, H, W) and audio (n, S)."""
    images = {
        d: rng.permutation(np.flatnonzero((digits.image_labels == d) & (digits.image_split == split)))
        for d in range(10)
    }
    used = dict.fromkeys(range(10), 0)
    voices = sorted(set(digits.speech_voice[digits.speech_split == split]))
    pairs = [(a, b) for a in range(10) for b in range(10) if a != b] * CLIPS_PER_PAIR[split]
    order = rng.permutation(len(pairs))
    rows, frames, audio = [], [], []
    for i in order:
        a, b = pairs[i]
        index_a, index_b = images[a][used[a] % len(images[a])], images[b][used[b] % len(images[b])]
        used[a], used[b] = used[a] + 1, used[b] + 1
        voice = voices[rng.integers(len(voices))]
        clip_of = {
            int(d): int(j) for j in np.flatnonzero(digits.speech_voice == voice) for d in [digits.speech_labels[j]]
        }
        frames.append(render(digits.images[index_a], digits.images[index_b], rng))
        audio.append(soundtrack(digits.speech_clip(clip_of[a]), digits.speech_clip(clip_of[b])))
        rows.append(
            {
                "split": split,
                "first": a,
                "second": b,
                "image_first": int(index_a),
                "image_second": int(index_b),
                "voice": voice,
                "n_frames": N_FRAMES,
                "switch_frame": SWITCH,
            }
        )
    return rows, np.stack(frames), np.stack(audio)


def write_tsv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    digits = load_xmr_digits()
    all_rows, written = [], []
    for split in CLIPS_PER_PAIR:
        rows, frames, audio = build_split(split, digits, rng)
        path = out / f"{split}.mp4"
        write_video(
            path,
            frames.reshape(-1, SIZE, SIZE),
            FPS,
            audio.reshape(-1),
            SAMPLE_RATE,
            crf=28,
            audio_bitrate=AUDIO_BITRATE,
        )
        written.append(path)
        all_rows += rows
    write_tsv(out / "clips.tsv", all_rows)
    write_tsv(out / "texts.tsv", build_texts())
    written += [out / "clips.tsv", out / "texts.tsv"]
    info = {
        "seed": SEED,
        "sample_rate": SAMPLE_RATE,
        "fps": FPS,
        "n_frames": N_FRAMES,
        "size": SIZE,
        "clips_per_pair": CLIPS_PER_PAIR,
        "video": "H.264 (libx264, crf 28, yuv420p, one thread, key frame every 16 frames)",
        "audio": "AAC (FFmpeg's native encoder, 16 kbit/s, mono)",
        "versions": versions("numpy", "av"),
    }
    write_json(out / "build_info.json", info)
    written.append(out / "build_info.json")
    for path in written:
        print(f"{path.name}: {path.stat().st_size:,} bytes")
    if out.resolve() == HERE:
        update_sha256sums([p for p in written if p.name != "build_info.json"])


if __name__ == "__main__":
    main()
