"""XMR-Shop: a small multilingual product catalogue with photo, keyword and spoken queries.

The catalogue is built from three emoji sets by ``data/xmr_shop/build.py`` (OpenMoji for the
shop's pictures and sketches, Google's Noto emoji for the shopper's photos, Unicode CLDR for
the names and keywords in five languages). Chapter 3 looks at it. Every file is checked
against its sha256 digest in the registry before it is read.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from xmr_lite.data._datasets import SAMPLE_RATE, SPLITS, _read_audio, _read_tsv, _readonly
from xmr_lite.data._registry import (
    _DATA_REBUILD,
    Asset,
    DataIntegrityError,
    _register,
    _repo_file,
    asset_path,
)

SHOP_LANGUAGES = ("en", "de", "fr", "es", "zh")
"""Languages of XMR-Shop's names, keywords and queries (ISO 639-1; ``"zh"`` is Mandarin)."""

SHOP_IMAGE_STYLES = ("catalogue", "sketch", "photo", "photo_distorted")
"""XMR-Shop's image sets: OpenMoji colour, OpenMoji black line, Noto, Noto distorted."""

SHOP_MODALITIES = ("text", "image", "speech")
"""Modalities of XMR-Shop's queries."""

_register(
    Asset(
        name="xmr_shop",
        title="XMR-Shop: 716 products (emoji) in 4 image styles, names and keywords in 5 languages, "
        "text, photo and spoken queries with graded relevance",
        files=(
            _repo_file("items.tsv", "092cb85feb16de7313543f3897894c20342b27204df35989df509aeaea4d2f78", 267009),
            _repo_file("images.npz", "c87be90f451c2db3253fffd3a5b22508396d3c2ae8bc54aaa430738e54726b94", 8506196),
            _repo_file("queries.tsv", "314aa28b68d7dcbe93ef08dba3670a6961f0b1e4824e3d016a7fe33e3d5af9c4", 504779),
            _repo_file("speech.flac", "b90fe0acec640362c54f8106ab097d4e51ed771029042b71ab3ab9bb9ee60a1f", 6347404),
            _repo_file("relevance.npz", "6250de979060734a00fe1e2667e51c1060897af0f5aaa0fc57e8aba3741a51f6", 35346),
            _repo_file(
                "reference_speech.npz", "64f72da1d00556e51b8e4d5263b2819aaa06c91686ec22ee904417334d39c92f", 6852620
            ),
        ),
        source=(
            "npm openmoji 17.0.0 (colour and black-line SVGs, groups), npm @iconify-json/noto 1.2.9 "
            "(Noto emoji SVGs), npm cldr-annotations-full 48.2.0 (names and keywords in en, de, fr, es, zh); "
            "rasterised with cairosvg 2.9.1; speech synthesised with Debian espeak-ng 1.51"
        ),
        licence=(
            "CC-BY-SA-4.0 (OpenMoji pictures and sketches, and so the catalogue); Apache-2.0 (Noto photos); "
            "Unicode-3.0 (CLDR names and keywords); synthesised speech, prices, popularity: CC0-1.0"
        ),
        citation="openmoji, notoemoji, unicodecldr, espeakng",
        subdir="xmr_shop",
        rebuild=_DATA_REBUILD.format(subdir="xmr_shop"),
    )
)


@dataclass(frozen=True)
class XMRShop:
    """XMR-Shop: N products, each drawn in four styles and named in five languages, and Q queries.

    Items are rows ``0 .. N-1`` of every item array. Queries are rows ``0 .. Q-1`` of every
    query array and of ``relevance``. Splits are by item: a query has the split of the item it
    was made from, so no picture, name or recording of a test item is in the training split.
    All arrays are read-only.

    Attributes
    ----------
    emoji, hexcodes : tuple of N str
        The emoji character and its Unicode code points (OpenMoji's file name).
    titles : tuple of N str
        The English name (CLDR), e.g. ``"red apple"``; the same as ``names["en"]``.
    names : read-only mapping of str to tuple of N str
        The CLDR name in each of :data:`SHOP_LANGUAGES`.
    keywords : read-only mapping of str to tuple of N tuples of str
        The CLDR keywords in each language (including the name where CLDR lists it).
    categories : (N,) str array
        The category path ``"group/subgroup"``, e.g. ``"food-drink/food-fruit"``.
    groups, subgroups : (N,) str arrays
        Its two parts (5 groups, 42 subgroups).
    item_split : (N,) str array
        ``"train"`` / ``"val"`` / ``"test"``: 60 / 20 / 20 % of every subgroup.
    synthetic_price : (N,) float64 array
        Price in EUR, **synthetic**: lognormal around a median per group, drawn once.
    synthetic_popularity : (N,) int64 array
        Views per month, **synthetic**: lognormal, drawn once.
    catalogue : (N, 64, 64, 3) uint8 array
        The shop's picture: the OpenMoji colour drawing on white.
    sketch : (N, 64, 64, 3) uint8 array
        The OpenMoji black-line drawing on white (grey, repeated into three channels).
    photo : (N, 64, 64, 3) uint8 array
        The shopper's photo: the same item drawn by another artist (Noto emoji), on white.
    photo_distorted : (N, 64, 64, 3) uint8 array
        ``photo`` rotated, cropped off-centre, blurred, on a coloured background.
    query_modality : (Q,) str array
        ``"text"``, ``"image"`` or ``"speech"``.
    query_kind : (Q,) str array
        ``"name"`` or ``"keyword"`` (text), ``"photo"``, ``"photo_distorted"`` or ``"sketch"``
        (image), ``"spoken_name"`` (speech).
    query_item : (Q,) int64 array
        The item the query was made from (relevance 2).
    query_split : (Q,) str array
        The split of ``query_item``.
    query_language : (Q,) str array
        Language of text and speech queries; ``""`` for images.
    query_text : tuple of Q str
        The text typed or spoken; ``""`` for images.
    query_distortion : tuple of Q dicts
        For distorted photos: ``background`` colour, rotation ``angle`` (degrees), kept
        ``crop`` side (share of the picture), Gaussian ``blur`` radius; ``{}`` otherwise.
    query_voice, query_variant : (Q,) str arrays
        For speech: the espeak-ng configuration (``"de+m3/s155/p50"``) and its timbre variant;
        the variants of the three splits are disjoint. ``""`` otherwise.
    relevance : (Q, N) uint8 array
        2 for the query's own item, 1 for an item of the same subgroup or (text and speech)
        one whose name or keywords in the query's language include the query text, else 0.
    speech : tuple of S float32 arrays
        The spoken queries, mono 16 kHz, in [-1, 1].
    speech_query : (S,) int64 array
        The query row of each clip (``query_modality[speech_query] == "speech"``).
    reference_mfcc : tuple of M float32 arrays of shape (13, frames)
        The catalogue's own recordings: every item's name in each language, said once by a
        reference voice that no query uses (the plain espeak-ng language voice), as MFCC
        frames (``xmr_lite.audio.mfcc(clip, 16000, n_mfcc=13, n_fft=512, hop_length=160,
        n_mels=40)``, stored as float16). M = 5 N, item by item, languages in
        :data:`SHOP_LANGUAGES` order.
    reference_item : (M,) int64 array
        The item each reference recording names.
    reference_language : (M,) str array
        Its language.
    reference_voice : (M,) str array
        Its espeak-ng configuration (``"de/s155/p50"``).
    sample_rate : int
        16000 Hz.
    """

    emoji: tuple[str, ...]
    hexcodes: tuple[str, ...]
    titles: tuple[str, ...]
    names: Mapping[str, tuple[str, ...]]
    keywords: Mapping[str, tuple[tuple[str, ...], ...]]
    categories: np.ndarray
    groups: np.ndarray
    subgroups: np.ndarray
    item_split: np.ndarray
    synthetic_price: np.ndarray
    synthetic_popularity: np.ndarray
    catalogue: np.ndarray
    sketch: np.ndarray
    photo: np.ndarray
    photo_distorted: np.ndarray
    query_modality: np.ndarray
    query_kind: np.ndarray
    query_item: np.ndarray
    query_split: np.ndarray
    query_language: np.ndarray
    query_text: tuple[str, ...]
    query_distortion: tuple[dict, ...]
    query_voice: np.ndarray
    query_variant: np.ndarray
    relevance: np.ndarray
    speech: tuple[np.ndarray, ...]
    speech_query: np.ndarray
    reference_mfcc: tuple[np.ndarray, ...]
    reference_item: np.ndarray
    reference_language: np.ndarray
    reference_voice: np.ndarray
    sample_rate: int = SAMPLE_RATE

    def reference_text(self, r: int) -> str:
        """The name that reference recording ``r`` says (in its language)."""
        r = _check_row(r, len(self.reference_item), "r")
        return self.names[str(self.reference_language[r])][int(self.reference_item[r])]

    def images(self, style: str) -> np.ndarray:
        """The (N, 64, 64, 3) uint8 images of one of :data:`SHOP_IMAGE_STYLES`."""
        if style not in SHOP_IMAGE_STYLES:
            raise ValueError(f"style must be one of {SHOP_IMAGE_STYLES}, got {style!r}")
        return getattr(self, style)

    def query_image(self, q: int) -> np.ndarray:
        """The (64, 64, 3) uint8 picture of image query ``q``."""
        q = self._check_query(q)
        if self.query_modality[q] != "image":
            raise ValueError(f"q must be an image query, but query {q} is a {self.query_modality[q]} query")
        return self.images(str(self.query_kind[q]))[self.query_item[q]]

    def query_clip(self, q: int) -> np.ndarray:
        """The (T,) float32 recording of speech query ``q``."""
        q = self._check_query(q)
        if self.query_modality[q] != "speech":
            raise ValueError(f"q must be a speech query, but query {q} is a {self.query_modality[q]} query")
        return self.speech[int(np.flatnonzero(self.speech_query == q)[0])]

    def select(self, modality: str, split: str) -> np.ndarray:
        """Row indices of the queries of one modality in one split, as an (M,) int64 array."""
        if modality not in SHOP_MODALITIES:
            raise ValueError(f"modality must be one of {SHOP_MODALITIES}, got {modality!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero((self.query_modality == modality) & (self.query_split == split)).astype(np.int64)

    def _check_query(self, q: int) -> int:
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or not 0 <= q < len(self.query_item):
            raise ValueError(f"q must be an int in [0, {len(self.query_item)}), got {q!r}")
        return int(q)


def _check_shapes(n_items: int, n_queries: int, images: dict[str, np.ndarray], grades: np.ndarray) -> None:
    """Raise :class:`DataIntegrityError` if the files disagree on the number of items or queries."""
    for style, array in images.items():
        if array.shape[0] != n_items or array.shape[1:3] != (64, 64):
            raise DataIntegrityError(f"images.npz: {style} has shape {array.shape}, expected ({n_items}, 64, 64, ...)")
    if grades.shape != (n_queries, n_items):
        raise DataIntegrityError(f"relevance.npz: grades has shape {grades.shape}, expected ({n_queries}, {n_items})")


def _read_references(n_items: int) -> dict:
    """The reference recordings of ``reference_speech.npz``, checked against the catalogue."""
    with np.load(asset_path("xmr_shop", "reference_speech.npz"), allow_pickle=False) as npz:
        frames, lengths = npz["mfcc"], npz["length"]
        item, language, voice = npz["item"], npz["language"], npz["voice"]
    n = len(lengths)
    consistent = (
        frames.ndim == 2
        and frames.shape[0] == 13
        and int(lengths.sum()) == frames.shape[1]
        and (lengths > 0).all()
        and item.shape == language.shape == voice.shape == (n,)
        and n == n_items * len(SHOP_LANGUAGES)
        and set(language.tolist()) <= set(SHOP_LANGUAGES)
        and ((item >= 0) & (item < n_items)).all()
    )
    if not consistent:
        raise DataIntegrityError("reference_speech.npz: its arrays disagree with each other or with items.tsv")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    as_float = frames.astype(np.float32)
    return {
        "reference_mfcc": tuple(as_float[:, a:b] for a, b in itertools.pairwise(bounds)),
        "reference_item": item.astype(np.int64),
        "reference_language": language,
        "reference_voice": voice,
    }


def _check_row(value: object, n: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ValueError(f"{name} must be an int in [0, {n}), got {value!r}")
    return int(value)


def _split_keywords(field: str) -> tuple[str, ...]:
    return tuple(k for k in field.split("|") if k)


def load_xmr_shop() -> XMRShop:
    """Load XMR-Shop, the book's product catalogue (described in chapter 3).

    Returns
    -------
    XMRShop
        716 items with pictures in four styles, names and keywords in five languages,
        synthetic prices and popularity, and about 9,600 text, image and spoken queries with
        graded relevance; the attributes and their shapes are listed in :class:`XMRShop`.

    Raises
    ------
    DataIntegrityError
        If a file of ``data/xmr_shop`` is missing, altered or inconsistent.
    """
    items = _read_tsv(asset_path("xmr_shop", "items.tsv"))
    queries = _read_tsv(asset_path("xmr_shop", "queries.tsv"))
    with np.load(asset_path("xmr_shop", "images.npz"), allow_pickle=False) as npz:
        images = {style: npz[style] for style in SHOP_IMAGE_STYLES}
    images["sketch"] = np.repeat(images["sketch"][..., None], 3, axis=-1)
    with np.load(asset_path("xmr_shop", "relevance.npz"), allow_pickle=False) as npz:
        grades = npz["grades"]
    _check_shapes(len(items), len(queries), images, grades)
    samples = _read_audio(asset_path("xmr_shop", "speech.flac"))
    spoken = [r for r in queries if r["modality"] == "speech"]
    speech = tuple(samples[int(r["start"]) : int(r["start"]) + int(r["length"])].copy() for r in spoken)
    references = _read_references(len(items))

    fields = dict(
        categories=np.array([r["category"] for r in items]),
        groups=np.array([r["group"] for r in items]),
        subgroups=np.array([r["subgroup"] for r in items]),
        item_split=np.array([r["split"] for r in items]),
        synthetic_price=np.array([float(r["synthetic_price"]) for r in items], dtype=np.float64),
        synthetic_popularity=np.array([int(r["synthetic_popularity"]) for r in items], dtype=np.int64),
        query_modality=np.array([r["modality"] for r in queries]),
        query_kind=np.array([r["kind"] for r in queries]),
        query_item=np.array([int(r["item"]) for r in queries], dtype=np.int64),
        query_split=np.array([r["split"] for r in queries]),
        query_language=np.array([r["language"] for r in queries]),
        query_voice=np.array([r["voice"] for r in queries]),
        query_variant=np.array([r["variant"] for r in queries]),
        relevance=grades,
        speech_query=np.array([int(r["query_id"]) for r in spoken], dtype=np.int64),
        **{name: value for name, value in references.items() if name != "reference_mfcc"},
        **images,
    )
    _readonly(*fields.values(), *speech, *references["reference_mfcc"])
    return XMRShop(
        emoji=tuple(r["emoji"] for r in items),
        hexcodes=tuple(r["hexcode"] for r in items),
        titles=tuple(r["name_en"] for r in items),
        names=MappingProxyType({lang: tuple(r[f"name_{lang}"] for r in items) for lang in SHOP_LANGUAGES}),
        keywords=MappingProxyType(
            {lang: tuple(_split_keywords(r[f"keywords_{lang}"]) for r in items) for lang in SHOP_LANGUAGES}
        ),
        query_text=tuple(r["text"] for r in queries),
        query_distortion=tuple(json.loads(r["distortion"]) if r["distortion"] else {} for r in queries),
        speech=speech,
        reference_mfcc=references["reference_mfcc"],
        **fields,
    )
