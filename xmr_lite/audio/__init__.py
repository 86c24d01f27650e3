"""Audio features and audio encoders (taught in chapter 6, "Audio features").

The chain from a waveform to the features a network reads::

    wave (T,) or (B, T)
      -> stft            complex (..., n_fft // 2 + 1, frames)
      -> |.| ** power    power spectrogram
      -> @ mel_filterbank                     melspectrogram (..., n_mels, frames)
      -> power_to_db     log-mel in dB        (..., n_mels, frames)
      -> @ dct_matrix    MFCC                 (..., n_mfcc, frames)
      -> deltas          their slope in time  (..., n_mfcc, frames)

Every function takes one clip of shape (T,) or a batch of shape (B, T) (a torch tensor on any
device, or a numpy array), keeps the device of its input, and gives a batch exactly the numbers
it would give each clip on its own. Numpy in, numpy out.

With their default arguments :func:`melspectrogram` and :func:`mfcc` reproduce librosa's
``librosa.feature.melspectrogram`` and ``librosa.feature.mfcc`` (checked against librosa 0.11.0):
centred frames with zero padding, a periodic Hann window, a power spectrogram, Slaney's mel
scale with Slaney's area normalisation, decibels with ``ref=1.0``, ``amin=1e-10`` and
``top_db=80`` taken from the loudest bin of each clip, and the orthonormal DCT-II.

The encoders (:class:`AudioCNN`, :class:`AudioGRU`, :class:`DilatedConvEncoder`) read a log-mel
batch of shape (B, n_mels, frames). ``encoder.embed(x)`` returns (B, dimension) vectors;
``encoder(x)`` returns class logits (B, n_classes) when the encoder was built with
``n_classes``, and the embedding otherwise, so later chapters can use them as audio branches.

The package's modules: ``common`` (option names and input checks), ``files`` (reading, writing,
resampling), ``spectral`` (STFT), ``mel``, ``features`` (spectrograms to deltas) and
``encoders``, and for recognising spoken names ``dtw`` (dynamic time warping) and
``recognizer`` (:class:`SpokenNameRecognizer`, chapter 11), and ``pretrained``
(:class:`SpeechEmbedding`, a speech encoder pretrained on real voices, chapters 6 and 9); every public name is
importable from ``xmr_lite.audio`` itself.
"""

from xmr_lite.audio.common import MEL_SCALES, PAD_MODES, WINDOWS
from xmr_lite.audio.dtw import DTW_METRICS, dtw
from xmr_lite.audio.encoders import AudioCNN, AudioGRU, DilatedConvEncoder
from xmr_lite.audio.features import dct_matrix, deltas, melspectrogram, mfcc, power_to_db, spectrogram
from xmr_lite.audio.files import add_noise, fix_length, load, resample, save
from xmr_lite.audio.mel import hz_to_mel, mel_filterbank, mel_to_hz
from xmr_lite.audio.pretrained import SPEECH_EMBEDDING_POOLINGS, SpeechEmbedding
from xmr_lite.audio.recognizer import SpokenNameRecognizer
from xmr_lite.audio.spectral import get_window, stft

__all__ = [
    "DTW_METRICS",
    "MEL_SCALES",
    "PAD_MODES",
    "SPEECH_EMBEDDING_POOLINGS",
    "WINDOWS",
    "AudioCNN",
    "AudioGRU",
    "DilatedConvEncoder",
    "SpeechEmbedding",
    "SpokenNameRecognizer",
    "add_noise",
    "dct_matrix",
    "deltas",
    "dtw",
    "fix_length",
    "get_window",
    "hz_to_mel",
    "load",
    "mel_filterbank",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "resample",
    "save",
    "spectrogram",
    "stft",
]
