"""The search engine behind the product-search service: encoders, the Milvus index, one query path.

Every item is stored once as one row of three unit-length blocks, ``[text | image | speech]``
(:func:`xmr_lite.fusion.stack_item_blocks`). A query fills the blocks of the modalities it
has and masks the others (:func:`xmr_lite.fusion.fuse_query_blocks`), so the inner product
that Milvus computes is the weighted mean of the per-modality cosines: a photo-only query, a
keyword-only one and a three-modality one are the same code path.

Encoders (small on purpose, so the service answers on a CPU in milliseconds):

- text: TF-IDF of character n-grams (2 to 4, inside word boundaries) and of whole words over
  each item's names and keywords in all five languages, projected to ``TEXT_DIM`` dimensions
  with a truncated SVD (from the Gram matrix);
- image: EfficientNet-Lite0 features of the picture scaled to ``SHOP_PICTURE_SIZE`` pixels,
  the last feature map pooled by ``SHOP_PICTURE_POOLING`` (:func:`picture_features`; the
  catalogue's and the picture queries' are cached in ``data/xmr_shop_features``, built with
  the same two constants), side by side with a colour histogram of the non-white pixels plus
  a 16 x 16 thumbnail at a quarter of the weight. The features are not centred: query and
  catalogue rows are compared by plain cosine;
- speech, two paths into the text space (its item block is the text block): by default the
  name recogniser of chapter 11 (:class:`xmr_lite.audio.SpokenNameRecognizer`, DTW against
  XMR-Shop's reference recordings of every name) transcribes the clip to a product name, which
  the text encoder encodes ("speech -> text -> text encoder"); or (``speech="ridge"``) MFCC
  means and standard deviations mapped by ridge regression, fitted on the training split's
  spoken queries.
"""

from __future__ import annotations

import io
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge

from xmr_lite import get_device
from xmr_lite.audio import SpokenNameRecognizer
from xmr_lite.audio.features import mfcc
from xmr_lite.data import (
    PICTURE_FEATURE_DIM,
    SHOP_PICTURE_POOLING,
    SHOP_PICTURE_SIZE,
    load_efficientnet_lite0,
    load_xmr_shop,
    load_xmr_shop_features,
)
from xmr_lite.fusion import fuse_query_blocks, stack_item_blocks
from xmr_lite.image import small_picture_features
from xmr_lite.search import MilvusIndex

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "_build" / "product_search"
MODALITIES = ("text", "image", "speech")
TEXT_DIM = 256
COLOUR_DIM = 832
IMAGE_DIM = PICTURE_FEATURE_DIM + COLOUR_DIM
COLOUR_WEIGHT = 0.25  # the colour cosine's weight next to the EfficientNet one (chosen on validation photos)
BLOCK_SIZES = (TEXT_DIM, IMAGE_DIM, TEXT_DIM)  # the [text | image | speech] blocks of a row
SAMPLE_RATE = 16000
MIN_CLIP_S, MAX_CLIP_S = 0.2, 10.0
COLLECTION = "xmr_shop"
SPEECH_PATHS = ("recognizer", "ridge")
PICTURE_SETTINGS = {"size": SHOP_PICTURE_SIZE, "pooling": SHOP_PICTURE_POOLING}
"""How the network saw the catalogue's pictures; stored with a build, so a stale index is rebuilt, not mixed."""


class QueryError(ValueError):
    """A query the service cannot answer; its message says what to change (HTTP 4xx)."""


def item_document(shop, i: int) -> str:
    """Item ``i``'s names and keywords in every language, as one string."""
    return " ".join(f"{shop.names[lang][i]} {' '.join(shop.keywords[lang][i])}" for lang in shop.names)


def image_features(images: np.ndarray) -> np.ndarray:
    """(B, 64, 64, 3) uint8 pictures -> (B, 832) float32: colour histogram and thumbnail."""
    x = torch.tensor(np.asarray(images), dtype=torch.float32) / 255.0  # a copy: the data set is read-only
    bins = (x * 3.999).long()
    code = bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]
    ink = (x.min(dim=-1).values < 0.95).float()
    hist = torch.zeros(len(x), 64).scatter_add_(1, code.flatten(1), ink.flatten(1))
    hist = (hist / hist.sum(1, keepdim=True).clamp_min(1.0)).sqrt()
    thumb = torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), 4).flatten(1)
    thumb = thumb - thumb.mean(1, keepdim=True)
    unit = torch.nn.functional.normalize
    return torch.cat([unit(hist, dim=1), 0.5 * unit(thumb, dim=1)], dim=1).numpy()


def picture_features(pictures: np.ndarray, model: torch.nn.Module) -> np.ndarray:
    """(B, H, W, 3) pictures -> (B, 1280) float32 CNN features, computed as the cached ones were.

    :func:`xmr_lite.image.small_picture_features` at ``SHOP_PICTURE_SIZE`` pixels with
    ``SHOP_PICTURE_POOLING`` pooling, the constants ``data/xmr_shop_features/build.py`` used.
    """
    features = small_picture_features(pictures, model, SHOP_PICTURE_SIZE, pooling=SHOP_PICTURE_POOLING)
    return features.cpu().numpy()


def picture_block(features: np.ndarray, pictures: np.ndarray) -> np.ndarray:
    """(B, 1280) EfficientNet-Lite0 features and (B, 64, 64, 3) pictures -> (B, IMAGE_DIM) float32 unit rows.

    The inner product of two rows is ``(cos_cnn + COLOUR_WEIGHT * cos_colour) / (1 + COLOUR_WEIGHT)``.
    """
    unit = torch.nn.functional.normalize
    cnn = unit(torch.tensor(np.asarray(features), dtype=torch.float32), dim=1)
    colour = unit(torch.from_numpy(image_features(pictures)), dim=1)
    block = torch.cat([cnn, COLOUR_WEIGHT**0.5 * colour], dim=1) / (1.0 + COLOUR_WEIGHT) ** 0.5
    return block.numpy()


def speech_features(clip: np.ndarray) -> np.ndarray:
    """(T,) float clip at 16 kHz -> (26,) float32: per-coefficient MFCC mean and standard deviation."""
    coefficients = mfcc(torch.tensor(np.asarray(clip, dtype=np.float32)), SAMPLE_RATE, n_mfcc=13)
    return torch.cat([coefficients.mean(-1), coefficients.std(-1)]).numpy()


def check_clip(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip as (T,) float32 mono, or :class:`QueryError` for a wrong rate, length or content."""
    if sample_rate != SAMPLE_RATE:
        raise QueryError(f"audio must be sampled at {SAMPLE_RATE} Hz, got {sample_rate} Hz")
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim == 2:
        clip = clip.mean(axis=1)
    seconds = len(clip) / SAMPLE_RATE
    if not MIN_CLIP_S <= seconds <= MAX_CLIP_S:
        raise QueryError(f"audio must last between {MIN_CLIP_S} and {MAX_CLIP_S} s, got {seconds:.2f} s")
    if not np.isfinite(clip).all():
        raise QueryError("audio holds NaN or infinite samples")
    return clip


class TextVectorizer:
    """TF-IDF of character n-grams (2 to 4, inside word boundaries) and of whole words, side by side.

    Each half is unit-length on its own, so a word match and a character-n-gram match weigh alike.
    """

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self.words = TfidfVectorizer(analyzer="word", sublinear_tf=True)

    def fit_transform(self, docs: list[str]) -> scipy.sparse.csr_matrix:
        """(N,) documents -> (N, V) sparse TF-IDF rows; fits both vocabularies."""
        return scipy.sparse.hstack([self.chars.fit_transform(docs), self.words.fit_transform(docs)]).tocsr()

    def transform(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        """(B,) strings -> (B, V) sparse TF-IDF rows."""
        return scipy.sparse.hstack([self.chars.transform(texts), self.words.transform(texts)]).tocsr()


@dataclass
class Projection:
    """The top principal directions (uncentred, as a truncated SVD) of a sparse (N, V) matrix.

    Found from the small (N, N) Gram matrix, which for a catalogue of N items and a large
    n-gram vocabulary V is much faster than a randomised SVD of the (N, V) matrix itself.
    """

    basis: np.ndarray  # (V, TEXT_DIM) float32, C-contiguous so that a query never copies it

    @classmethod
    def fit(cls, x, dim: int) -> Projection:
        gram = torch.from_numpy((x @ x.T).toarray()).double()
        values, vectors = torch.linalg.eigh(gram)
        top = torch.argsort(values, descending=True)[:dim]
        scale = values[top].clamp_min(1e-12).rsqrt()
        basis = x.T @ (vectors[:, top] * scale).numpy()
        return cls(np.ascontiguousarray(basis, dtype=np.float32))

    def transform(self, x) -> np.ndarray:
        return np.asarray(x.astype(np.float32) @ self.basis)  # float32 both sides: no 40 MB upcast


@dataclass
class Encoders:
    """The fitted query and item encoders (pickled next to the Milvus file)."""

    vectorizer: TextVectorizer
    svd: Projection
    speech_map: Ridge
    speech_scale: tuple[np.ndarray, np.ndarray]
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    picture_model: torch.nn.Module | None = field(default=None, repr=False)  # not pickled; loaded on first use
    speech_path: str = "ridge"  # one of SPEECH_PATHS
    recognizer: SpokenNameRecognizer | None = field(default=None, repr=False)  # not pickled: attach_recognizer
    item_names: list[str] = field(default_factory=list, repr=False)  # the text a recognised label becomes

    def __getstate__(self) -> dict:
        return {**self.__dict__, "picture_model": None, "recognizer": None}

    def attach_recognizer(self, shop) -> None:
        """Load the name recogniser from XMR-Shop's reference recordings (a second; 150 MB if pickled)."""
        recognizer = SpokenNameRecognizer(sample_rate=SAMPLE_RATE, shortlist=50, device="cpu")
        self.recognizer = recognizer.fit(list(shop.reference_mfcc), [str(int(i)) for i in shop.reference_item])
        self.item_names = [str(t) for t in shop.titles]

    def text(self, texts: list[str]) -> np.ndarray:
        """(B,) strings -> (B, TEXT_DIM) float32."""
        return self.svd.transform(self.vectorizer.transform(texts))

    def transcribe(self, clips: list[np.ndarray]) -> list[str]:
        """(B,) 16 kHz clips -> the B product names the recogniser heard (needs ``recognizer``)."""
        if self.recognizer is None:
            raise QueryError("the speech path is not the recogniser, or attach_recognizer was not called")
        labels = self.recognizer.transcribe([np.asarray(c, dtype=np.float32) for c in clips], SAMPLE_RATE)
        return [self.item_names[int(label)] for label in labels]

    def image(self, pictures: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """(B, 64, 64, 3) pictures -> (B, IMAGE_DIM) float32; ``features`` are their cached CNN features, if known."""
        if features is None:
            if self.picture_model is None:
                self.picture_model = load_efficientnet_lite0(device=get_device())
            features = picture_features(pictures, self.picture_model)
        return picture_block(features, pictures)

    def speech(self, clips: list[np.ndarray]) -> np.ndarray:
        """(B,) 16 kHz clips -> (B, TEXT_DIM) float32 in the text space."""
        if self.speech_path == "recognizer":
            return self.text(self.transcribe(clips))
        mean, std = self.speech_scale
        feats = (np.stack([speech_features(c) for c in clips]) - mean) / std
        return self.speech_map.predict(feats).astype(np.float32)

    def query(
        self,
        texts: list[str | None],
        images: list[np.ndarray | None],
        clips: list[np.ndarray | None],
        weights: tuple[float, float, float] | None = None,
        picture_features: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """B queries, each with any subset of the modalities -> fused (B, D) vectors, the mask, timings (s).

        ``picture_features`` (B, 1280), if given, are the cached CNN features of ``images``
        (rows of queries without a picture are ignored), so the network does not run again.
        """
        start = time.perf_counter()
        n = len(texts)
        mask = torch.tensor(
            [[t is not None, im is not None, c is not None] for t, im, c in zip(texts, images, clips, strict=True)]
        )
        if not bool(mask.any(dim=1).all()):
            raise QueryError("the query is empty: give keywords, a photo or an audio clip")
        blocks = [np.zeros((n, size), np.float32) for size in BLOCK_SIZES]
        timings = {}
        for m, values in enumerate((texts, images, clips)):
            rows = [i for i, v in enumerate(values) if v is not None]
            if not rows:
                continue
            begun = time.perf_counter()
            if m == 0:
                blocks[0][rows] = self.text([texts[i] for i in rows])
            elif m == 1:
                cached = None if picture_features is None else np.asarray(picture_features)[rows]
                blocks[1][rows] = self.image(np.stack([images[i] for i in rows]), cached)
            else:
                blocks[2][rows] = self.speech([clips[i] for i in rows])
            timings[f"encode {MODALITIES[m]}"] = time.perf_counter() - begun
        for m in range(3):  # an all-zero block of a present modality (no known n-gram) would be NaN
            blocks[m][~mask[:, m].numpy()] = 1.0
            dead = (np.abs(blocks[m]).sum(1) == 0) & mask[:, m].numpy()
            blocks[m][dead] = 1e-6
        fused = fuse_query_blocks([torch.from_numpy(b) for b in blocks], mask, list(weights or self.weights))
        return fused, mask, {"encode": time.perf_counter() - start, **timings}


def fit_encoders(shop, random_state: int = 0, speech: str = "recognizer") -> Encoders:
    """Fit the text encoder on the catalogue and the speech path: the name recogniser, or the ridge map.

    ``speech="recognizer"`` stores XMR-Shop's reference recordings in a
    :class:`~xmr_lite.audio.SpokenNameRecognizer`; ``"ridge"`` fits the map from MFCC
    statistics on the training split's spoken queries (it is fitted either way).
    """
    if speech not in SPEECH_PATHS:
        raise ValueError(f"speech must be one of {SPEECH_PATHS}, got {speech!r}")
    docs = [item_document(shop, i) for i in range(len(shop.titles))]
    vectorizer = TextVectorizer()
    tfidf = vectorizer.fit_transform(docs)
    svd = Projection.fit(tfidf, TEXT_DIM)
    encoders = Encoders(vectorizer, svd, Ridge(alpha=1.0), (np.zeros(26), np.ones(26)))
    train = shop.select("speech", "train")
    feats = np.stack([speech_features(shop.query_clip(int(q))) for q in train])
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    targets = encoders.text([shop.query_text[q] for q in train])
    encoders.speech_map.fit((feats - mean) / std, targets)
    encoders.speech_scale = (mean, std)
    encoders.speech_path = speech
    if speech == "recognizer":
        encoders.attach_recognizer(shop)
    return encoders


def item_vectors(shop, encoders: Encoders, picture_features: np.ndarray | None = None) -> torch.Tensor:
    """(N, 2 * TEXT_DIM + IMAGE_DIM) rows ``[text | image | speech]`` of every catalogue item.

    ``picture_features`` (N, 1280) are the catalogue's cached CNN features (the data set's by default).
    """
    text = torch.from_numpy(encoders.text([item_document(shop, i) for i in range(len(shop.titles))]))
    if picture_features is None:
        picture_features = load_xmr_shop_features().catalogue
    image = torch.from_numpy(encoders.image(shop.catalogue, picture_features))
    return stack_item_blocks([text, image, text])


@dataclass
class Catalogue:
    """What the service shows of each item, read from XMR-Shop."""

    titles: list[str]
    emoji: list[str]
    groups: list[str]
    categories: list[str]
    prices: list[float]
    pictures: np.ndarray
    photos: np.ndarray
    splits: list[str]
    vectors: np.ndarray = field(repr=False)


def build(
    directory: str | os.PathLike = DEFAULT_DIR,
    uri: str | None = None,
    random_state: int = 0,
    speech: str = "recognizer",
) -> Path:
    """Encode the catalogue, store it in Milvus (Lite by default) and pickle the encoders; returns the folder.

    ``speech`` chooses the speech path (see :func:`fit_encoders`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shop = load_xmr_shop()
    encoders = fit_encoders(shop, random_state, speech)
    vectors = item_vectors(shop, encoders)
    index = MilvusIndex(
        uri or str(directory / "shop.db"),
        COLLECTION,
        dimension=vectors.shape[1],
        metric="dot",
        fields={"group": "varchar", "price": "float"},
    )
    index.add(vectors, {"group": np.asarray(shop.groups), "price": shop.synthetic_price.astype(np.float32)})
    index.save()
    catalogue = Catalogue(
        list(shop.titles),
        list(shop.emoji),
        [str(g) for g in shop.groups],
        [str(c) for c in shop.categories],
        [float(p) for p in shop.synthetic_price],
        np.asarray(shop.catalogue),
        np.asarray(shop.photo),
        [str(s) for s in shop.item_split],
        vectors.numpy(),
    )
    with open(directory / "engine.pkl", "wb") as f:
        pickle.dump({"encoders": encoders, "catalogue": catalogue, "picture_settings": PICTURE_SETTINGS}, f)
    return directory


def _built_picture_settings(directory: Path) -> dict | None:
    with open(directory / "engine.pkl", "rb") as f:
        return pickle.load(f).get("picture_settings")  # our own file, written by build()


def is_built(directory: str | os.PathLike = DEFAULT_DIR) -> bool:
    """Whether ``build`` has written the encoders and the Milvus Lite file into ``directory``.

    A build made with other picture settings than ``PICTURE_SETTINGS`` (an older cache) counts
    as not built: its catalogue vectors would not match the photos encoded now.
    """
    directory = Path(directory)
    if not ((directory / "engine.pkl").exists() and (directory / "shop.db").exists()):
        return False
    return _built_picture_settings(directory) == PICTURE_SETTINGS


class Engine:
    """A loaded index: ``search`` answers one query with any subset of the three modalities."""

    def __init__(self, directory: str | os.PathLike = DEFAULT_DIR, uri: str | None = None) -> None:
        directory = Path(directory)
        with open(directory / "engine.pkl", "rb") as f:
            state = pickle.load(f)  # our own file, written by build()
        if state.get("picture_settings") != PICTURE_SETTINGS:
            raise ValueError(
                f"directory {directory} holds an index built with picture settings {state.get('picture_settings')}, "
                f"not {PICTURE_SETTINGS}; rebuild it with python -m apps.product_search --build-only"
            )
        self.encoders: Encoders = state["encoders"]
        self.catalogue: Catalogue = state["catalogue"]
        self.encoders.picture_model = load_efficientnet_lite0(device=get_device())
        if self.encoders.speech_path == "recognizer":
            self.encoders.attach_recognizer(load_xmr_shop())
        self.index = MilvusIndex.load(uri or str(directory / "shop.db"), COLLECTION)
        self.groups = sorted(set(self.catalogue.groups))

    def _filter(self, group: str | None, max_price: float | None) -> str:
        clauses = []
        if group:
            if group not in self.groups:
                raise QueryError(f"group must be one of {self.groups}, got {group!r}")
            clauses.append(f'group == "{group}"')
        if max_price is not None:
            if not np.isfinite(max_price) or max_price <= 0:
                raise QueryError(f"max_price must be a positive number, got {max_price}")
            clauses.append(f"price <= {float(max_price)}")
        return " and ".join(clauses)

    def search(
        self,
        text: str | None = None,
        image: np.ndarray | None = None,
        clip: np.ndarray | None = None,
        k: int = 10,
        group: str | None = None,
        max_price: float | None = None,
    ) -> dict:
        """The ``k`` best items, their fused score and the cosine of each present modality."""
        if text is not None and not text.strip():
            text = None
        if not 1 <= k <= 50:
            raise QueryError(f"k must be between 1 and 50, got {k}")
        expression = self._filter(group, max_price)
        fused, mask, timings = self.encoders.query([text], [image], [clip])
        start = time.perf_counter()
        scores, ids = self.index.search(fused.numpy(), k, filter=expression)
        timings["search"] = time.perf_counter() - start
        start = time.perf_counter()
        results = []
        bounds = np.cumsum([0, *BLOCK_SIZES])
        query = fused[0].numpy()
        for score, item in zip(scores[0], ids[0], strict=True):
            if item < 0:
                continue
            row = self.catalogue.vectors[item]
            per_modality = {}
            for m, name in enumerate(MODALITIES):
                if mask[0, m]:
                    q = query[bounds[m] : bounds[m + 1]]
                    per_modality[name] = float(q @ row[bounds[m] : bounds[m + 1]] / max(np.linalg.norm(q), 1e-12))
            results.append(
                {
                    "id": int(item),
                    "title": self.catalogue.titles[item],
                    "emoji": self.catalogue.emoji[item],
                    "category": self.catalogue.categories[item],
                    "price": round(self.catalogue.prices[item], 2),
                    "score": float(score),
                    "scores": per_modality,
                }
            )
        timings["rank"] = time.perf_counter() - start
        modalities = [name for m, name in enumerate(MODALITIES) if mask[0, m]]
        return {"modalities": modalities, "results": results, "timings_ms": {k: v * 1000 for k, v in timings.items()}}


def png_bytes(picture: np.ndarray) -> bytes:
    """A (64, 64, 3) uint8 picture as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
