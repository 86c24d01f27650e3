"""Tests of xmr_lite.audio: parity with torch.stft, librosa and torchaudio, and the invariants."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal
import soundfile as sf
import torch
import torchaudio
from hypothesis import given, settings
from hypothesis import strategies as st

from xmr_lite import audio as xa

SR = 16_000


# --------------------------------------------------------------------------------------------
# test signals
# --------------------------------------------------------------------------------------------


def random_signal(seed: int, n: int = SR, scale: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def speech_like(seed: int, n: int = SR, sr: int = SR) -> np.ndarray:
    """A synthetic utterance: silence, a voiced vowel, a fricative, a second vowel, silence.

    Voiced parts are a glottal pulse train (gliding pitch) through three formant resonators;
    the fricative is high-passed noise. Speech-like in what matters here: harmonics, formants,
    a wide dynamic range and true digital silence at both ends.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 110 + 60 * t / t[-1] + 5 * rng.standard_normal()
    phase = np.cumsum(f0) / sr
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    voiced = pulses
    for formant, bandwidth in ((700, 110), (1220, 120), (2600, 160)):
        r = np.exp(-np.pi * bandwidth / sr)
        theta = 2 * np.pi * (formant + 40 * rng.standard_normal()) / sr
        voiced = scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], voiced)
    fricative = scipy.signal.lfilter([1, -0.95], [1], rng.standard_normal(n)) * 0.05
    envelope = np.zeros(n)
    a, b, c, d = int(0.15 * n), int(0.45 * n), int(0.6 * n), int(0.85 * n)
    envelope[a:b] = np.hanning(b - a)
    envelope[c:d] = 0.6 * np.hanning(d - c)
    noise_env = np.zeros(n)
    noise_env[b:c] = np.hanning(c - b)
    y = voiced * envelope + fricative * noise_env
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


SIGNALS = {
    "random": random_signal(0),
    "speech_like": speech_like(1),
    "quiet_speech_like": 0.01 * speech_like(2),
}


def rel_range_error(ours: np.ndarray, ref: np.ndarray) -> float:
    """max |ours - ref| as a fraction of the reference's range (the issue's parity measure)."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape
    return float(np.abs(ours - ref).max() / (ref.max() - ref.min()))


def matched_torchaudio_mfcc(n_mfcc=13, n_fft=512, hop_length=160, n_mels=40, **mel):
    """torchaudio's MFCC with every parameter set to librosa's defaults."""
    melkwargs = dict(
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        center=True,
        pad_mode="constant",
        power=2.0,
        mel_scale="slaney",
        norm="slaney",
        **mel,
    )
    return torchaudio.transforms.MFCC(SR, n_mfcc=n_mfcc, dct_type=2, norm="ortho", log_mels=False, melkwargs=melkwargs)


# --------------------------------------------------------------------------------------------
# windows and STFT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", xa.WINDOWS)
def test_windows_match_scipy_periodic_windows(name):
    scipy_name = "boxcar" if name == "rectangular" else name
    ref = scipy.signal.get_window(scipy_name, 400, fftbins=True)
    np.testing.assert_allclose(xa.get_window(name, 400, dtype=torch.float64).numpy(), ref, atol=1e-12)


def _torch_window(name: str, n: int, device) -> torch.Tensor:
    if name == "rectangular":
        return torch.ones(n, device=device)
    return getattr(torch, f"{name}_window")(n, device=device)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("pad_mode", xa.PAD_MODES)
@pytest.mark.parametrize("window", xa.WINDOWS)
def test_stft_matches_torch_stft(device, center, pad_mode, window):
    x = torch.from_numpy(SIGNALS["speech_like"][:4000]).to(device)
    for n_fft, hop, win_length in ((512, 160, None), (400, 100, 256), (256, 64, 255)):
        ours = xa.stft(x, n_fft, hop, win_length, window, center, pad_mode)
        ref = torch.stft(
            x,
            n_fft,
            hop,
            win_length=win_length,
            window=_torch_window(window, win_length or n_fft, device),
            center=center,
            pad_mode=pad_mode,
            return_complex=True,
        )
        assert ours.shape == ref.shape == (n_fft // 2 + 1, ref.shape[-1])
        assert ours.device == x.device and ours.is_complex()
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["random", "speech_like"])
def test_stft_matches_librosa(name):
    y = SIGNALS[name].astype(np.float64)
    for pad_mode, librosa_mode in (("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge")):
        ours = xa.stft(y, 512, 160, pad_mode=pad_mode)
        ref = librosa.stft(y, n_fft=512, hop_length=160, pad_mode=librosa_mode)
        assert isinstance(ours, np.ndarray) and ours.dtype == np.complex128
        np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_stft_takes_an_explicit_window_array():
    y = SIGNALS["random"][:2000]
    win = np.kaiser(300, 8.0).astype(np.float32)
    ours = xa.stft(y, 512, 128, window=win)
    ref = librosa.stft(y, n_fft=512, hop_length=128, window=win, win_length=300)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_stft_batch_equals_per_clip(device):
    batch = torch.from_numpy(np.stack([random_signal(s, 3000) for s in range(4)])).to(device)
    spec = xa.stft(batch, 256, 80)
    assert spec.shape[0] == 4
    for b in range(4):
        torch.testing.assert_close(spec[b], xa.stft(batch[b], 256, 80))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 600),
    n_fft=st.integers(2, 128),
    hop=st.integers(1, 64),
    center=st.booleans(),
)
def test_stft_frame_count_and_parseval(n, n_fft, hop, center):
    if not center and n < n_fft:
        with pytest.raises(ValueError, match="wave"):
            xa.stft(np.zeros(n), n_fft, hop, center=False)
        return
    x = np.random.default_rng(n).standard_normal(n)
    spec = xa.stft(x, n_fft, hop, window="rectangular", center=center)
    padded = n + 2 * (n_fft // 2) * center
    assert spec.shape == (n_fft // 2 + 1, 1 + (padded - n_fft) // hop)
    # Parseval on frame 0 with a rectangular window: the one-sided spectrum carries its energy.
    frame = np.pad(x, n_fft // 2 if center else 0)[:n_fft]
    weights = np.full(n_fft // 2 + 1, 2.0)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    energy = (weights * np.abs(spec[:, 0]) ** 2).sum() / n_fft
    np.testing.assert_allclose(energy, (frame**2).sum(), rtol=1e-9, atol=1e-9)


def test_stft_errors():
    y = SIGNALS["random"]
    with pytest.raises(ValueError, match="wave"):
        xa.stft(y[:100], 512, 160, center=False)  # shorter than n_fft
    with pytest.raises(ValueError, match="wave"):
        xa.stft(y[:100], 512, 160, pad_mode="reflect")  # too short to mirror
    with pytest.raises(ValueError, match="wave"):
        xa.stft(np.array([0.0, np.nan, 1.0] * 200), 256, 64)
    with pytest.raises(ValueError, match="wave"):
        xa.stft(y.reshape(2, 2, -1), 256, 64)  # 3-D
    with pytest.raises(ValueError, match="wave"):
        xa.stft(np.zeros(0), 256, 64)
    with pytest.raises(ValueError, match="wave"):
        xa.stft(y.tolist(), 256, 64)
    with pytest.raises(ValueError, match="n_fft"):
        xa.stft(y, 1, 64)
    with pytest.raises(ValueError, match="hop_length"):
        xa.stft(y, 256, 0)
    with pytest.raises(ValueError, match="win_length"):
        xa.stft(y, 256, 64, win_length=300)
    with pytest.raises(ValueError, match="window"):
        xa.stft(y, 256, 64, window="triangle")
    with pytest.raises(ValueError, match="window"):
        xa.stft(y, 256, 64, window=np.ones(300))
    with pytest.raises(ValueError, match="pad_mode"):
        xa.stft(y, 256, 64, pad_mode="circular")


def test_spectrogram_is_the_stft_magnitude_to_a_power(device):
    x = torch.from_numpy(SIGNALS["speech_like"]).to(device)
    z = xa.stft(x, 512, 160)
    torch.testing.assert_close(xa.spectrogram(x, 512, 160, power=1.0), z.abs())
    torch.testing.assert_close(xa.spectrogram(x, 512, 160), z.abs() ** 2)
    ref = librosa.stft(SIGNALS["speech_like"], n_fft=512, hop_length=160)
    np.testing.assert_allclose(xa.spectrogram(SIGNALS["speech_like"], 512, 160), np.abs(ref) ** 2, rtol=1e-3, atol=1e-6)
    with pytest.raises(ValueError, match="power"):
        xa.spectrogram(x, 512, 160, power=0.0)


@settings(max_examples=30, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(-5, 5), seed=st.integers(0, 1000), center=st.booleans())
def test_stft_is_linear(a, b, seed, center):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, 700))
    lhs = xa.stft(a * x + b * y, 128, 50, center=center)
    rhs = a * xa.stft(x, 128, 50, center=center) + b * xa.stft(y, 128, 50, center=center)
    np.testing.assert_allclose(lhs, rhs, atol=1e-9)


def test_get_window_errors():
    with pytest.raises(ValueError, match="window"):
        xa.get_window("kaiser", 10)
    with pytest.raises(ValueError, match="length"):
        xa.get_window("hann", 0)


# --------------------------------------------------------------------------------------------
# mel scale and filterbank
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", xa.MEL_SCALES)
def test_mel_scale_matches_librosa(scale):
    f = np.linspace(0, 11025, 500)
    mels = xa.hz_to_mel(f, scale)
    np.testing.assert_allclose(mels, librosa.hz_to_mel(f, htk=scale == "htk"), rtol=1e-12)
    np.testing.assert_allclose(xa.mel_to_hz(mels, scale), librosa.mel_to_hz(mels, htk=scale == "htk"), rtol=1e-10)
    t = xa.hz_to_mel(torch.tensor(f), scale)
    assert isinstance(t, torch.Tensor)


def test_mel_scale_landmarks():
    # HTK: 1000 Hz is (about) 1000 mel; Slaney: linear 3/200 mel per Hz below 1 kHz, 15 mel at 1 kHz.
    assert xa.hz_to_mel(1000.0, "htk") == pytest.approx(1000.0, abs=0.1)
    np.testing.assert_allclose(xa.hz_to_mel(np.array([0.0, 200.0, 1000.0]), "slaney"), [0.0, 3.0, 15.0])
    # Above 1 kHz Slaney's scale is logarithmic: each factor 6.4 in Hz adds 27 mel.
    assert xa.hz_to_mel(6400, "slaney") == pytest.approx(42.0)
    assert xa.mel_to_hz(42.0) == pytest.approx(6400.0)
    assert xa.hz_to_mel(np.array(1000.0), "htk").shape == ()  # a 0-d array stays 0-d


@settings(max_examples=50, deadline=None)
@given(f=st.lists(st.floats(0, 24_000), min_size=1, max_size=20), scale=st.sampled_from(xa.MEL_SCALES))
def test_mel_scale_round_trip_and_monotone(f, scale):
    freqs = np.sort(np.array(f))
    mels = xa.hz_to_mel(freqs, scale)
    assert np.all(np.diff(mels) >= 0)
    np.testing.assert_allclose(xa.mel_to_hz(mels, scale), freqs, rtol=1e-9, atol=1e-7)


def test_mel_scale_errors():
    with pytest.raises(ValueError, match="freqs"):
        xa.hz_to_mel(np.array([-1.0]))
    with pytest.raises(ValueError, match="mels"):
        xa.mel_to_hz(np.array([np.nan]))
    with pytest.raises(ValueError, match="mel_scale"):
        xa.hz_to_mel(np.array([1.0]), "bark")
    with pytest.raises(ValueError, match="freqs"):
        xa.hz_to_mel([100.0, 200.0])


@pytest.mark.parametrize("scale", xa.MEL_SCALES)
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "f_min", "f_max"),
    [
        (16000, 512, 40, 0.0, None),
        (22050, 2048, 128, 0.0, None),
        (16000, 400, 64, 20.0, 7600.0),
        (8000, 256, 23, 100.0, 3800.0),
    ],
)
def test_filterbank_matches_librosa(scale, norm, sr, n_fft, n_mels, f_min, f_max):
    ours = xa.mel_filterbank(n_fft // 2 + 1, sr, n_mels, f_min, f_max, scale, norm, dtype=torch.float64)
    ref = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=scale == "htk", norm=norm, dtype=np.float64
    )
    assert ours.shape == (n_fft // 2 + 1, n_mels)
    np.testing.assert_allclose(ours.numpy(), ref.T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("scale", xa.MEL_SCALES)
@pytest.mark.parametrize("norm", ["slaney", None])
def test_filterbank_matches_torchaudio(device, scale, norm):
    for sr, n_freqs, n_mels, f_min, f_max in ((16000, 257, 40, 0.0, 8000.0), (16000, 201, 80, 50.0, 7000.0)):
        ours = xa.mel_filterbank(n_freqs, sr, n_mels, f_min, f_max, scale, norm, device=device)
        ref = torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sr, norm, scale).to(device)
        assert ours.device.type == device.type
        # torchaudio works in float32 throughout (we work in float64, then round): allow a few
        # float32 steps of the largest weight; filters peak at ~1 (no norm) or ~1e-2 (norm).
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5 * float(ref.max()))


@settings(max_examples=40, deadline=None)
@given(n_mels=st.integers(1, 40), sr=st.sampled_from([8000, 16000, 22050, 44100]), scale=st.sampled_from(xa.MEL_SCALES))
def test_filterbank_triangles_partition_unity(n_mels, sr, scale):
    """Unnormalised triangles overlap so that they sum to 1 between the first and last centres."""
    n_fft = 2048
    fb = xa.mel_filterbank(n_fft // 2 + 1, sr, n_mels, mel_scale=scale, norm=None, dtype=torch.float64)
    edges = xa.mel_to_hz(np.linspace(0, float(xa.hz_to_mel(np.array(sr / 2), scale)), n_mels + 2), scale)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(fb.sum(1).numpy()[inside], 1.0, atol=1e-9)
    assert float(fb.max()) <= 1.0 + 1e-12 and float(fb.min()) >= 0.0


def test_slaney_norm_gives_filters_equal_area():
    """Slaney's norm divides by half the width in Hz: each triangle then has area 1 (per Hz)."""
    sr, n_fft = 16000, 8192
    fb = xa.mel_filterbank(n_fft // 2 + 1, sr, 40, dtype=torch.float64)
    bin_hz = sr / n_fft
    np.testing.assert_allclose(fb.sum(0).numpy() * bin_hz, 1.0, rtol=2e-3)
    unnormalised = xa.mel_filterbank(n_fft // 2 + 1, sr, 40, norm=None, dtype=torch.float64)
    areas = unnormalised.sum(0).numpy() * bin_hz
    assert areas[-1] / areas[0] > 5  # without the norm, high bands are much wider


def test_filterbank_errors():
    with pytest.raises(ValueError, match="n_mels"):
        xa.mel_filterbank(257, 16000, 200)  # some of 200 filters fall between two of 257 bins
    with pytest.raises(ValueError, match="n_mels"):
        xa.mel_filterbank(257, 16000, 0)
    with pytest.raises(ValueError, match="sample_rate"):
        xa.mel_filterbank(257, 0, 40)
    with pytest.raises(ValueError, match="sample_rate"):
        xa.mel_filterbank(257, -16000, 40)
    with pytest.raises(ValueError, match="f_max"):
        xa.mel_filterbank(257, 16000, 40, f_max=9000.0)
    with pytest.raises(ValueError, match="f_min"):
        xa.mel_filterbank(257, 16000, 40, f_min=-1.0)
    with pytest.raises(ValueError, match="f_min"):
        xa.mel_filterbank(257, 16000, 40, f_min=5000.0, f_max=4000.0)
    with pytest.raises(ValueError, match="norm"):
        xa.mel_filterbank(257, 16000, 40, norm="l2")
    with pytest.raises(ValueError, match="n_freqs"):
        xa.mel_filterbank(1, 16000, 40)


# --------------------------------------------------------------------------------------------
# mel spectrogram, decibels, DCT, MFCC
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SIGNALS))
def test_melspectrogram_matches_librosa_and_torchaudio(name):
    y = SIGNALS[name]
    ours = xa.melspectrogram(y, SR, 512, 160, 40)
    ref = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=160, n_mels=40)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert rel_range_error(ours, ref) <= 1e-3
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-6 * ref.max())
    ta = torchaudio.transforms.MelSpectrogram(
        SR, n_fft=512, hop_length=160, n_mels=40, pad_mode="constant", mel_scale="slaney", norm="slaney"
    )(torch.from_numpy(y))
    assert rel_range_error(ours, ta.numpy()) <= 1e-3


def test_melspectrogram_other_settings_match_librosa(device):
    y = SIGNALS["speech_like"].astype(np.float64)
    ours = xa.melspectrogram(
        torch.from_numpy(y).to(device), SR, 400, 100, 64, power=1.0, win_length=320, window="hamming",
        pad_mode="reflect", f_min=50.0, f_max=7000.0, mel_scale="htk", norm=None,
    )  # fmt: skip
    ref = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=400, hop_length=100, n_mels=64, power=1.0, win_length=320, window="hamming",
        pad_mode="reflect", fmin=50.0, fmax=7000.0, htk=True, norm=None,
    )  # fmt: skip
    assert ours.device.type == device.type
    assert rel_range_error(ours.cpu().numpy(), ref) <= 1e-6


def test_melspectrogram_batch_equals_per_clip(device):
    clips = torch.from_numpy(np.stack([SIGNALS[name] for name in SIGNALS])).to(device)
    batch = xa.melspectrogram(clips, SR, 512, 160, 40)
    assert batch.shape == (3, 40, 101)
    for b in range(3):
        torch.testing.assert_close(batch[b], xa.melspectrogram(clips[b], SR, 512, 160, 40))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), top_db=st.floats(0, 120))
def test_power_to_db_keeps_top_db_below_each_peak(seed, top_db):
    rng = np.random.default_rng(seed)
    power = rng.random((3, 5, 7)) ** 8 * 10.0 ** rng.uniform(-12, 3, size=(3, 1, 1))
    db = xa.power_to_db(power, top_db=top_db)
    spread = db.max(axis=(1, 2)) - db.min(axis=(1, 2))
    assert np.all(spread <= top_db + 1e-9)
    for clip_power, clip_db in zip(power, db, strict=True):  # louder never maps to fewer decibels
        order = np.argsort(clip_power.ravel())
        assert np.all(np.diff(clip_db.ravel()[order]) >= 0)
    # where nothing is floored, decibels are exactly 10 log10(power)
    unfloored = db > db.max(axis=(1, 2), keepdims=True) - top_db
    np.testing.assert_allclose(db[unfloored], 10 * np.log10(np.maximum(power, 1e-10))[unfloored], atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(gain_db=st.floats(-40, 40), seed=st.integers(0, 1000))
def test_mfcc_gain_moves_only_c0(gain_db, seed):
    """A gain adds a constant in dB to every mel band: the orthonormal DCT puts it all in c0."""
    x = random_signal(seed, 4000).astype(np.float64)
    base = xa.mfcc(x, SR)
    louder = xa.mfcc(x * 10 ** (gain_db / 20), SR)
    np.testing.assert_allclose(louder[0], base[0] + gain_db * np.sqrt(40), atol=1e-6)
    np.testing.assert_allclose(louder[1:], base[1:], atol=1e-6)


def test_power_to_db_matches_librosa_on_one_clip():
    power = librosa.feature.melspectrogram(y=SIGNALS["speech_like"], sr=SR)
    for top_db in (80.0, 40.0, None):
        ref = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=top_db)
        np.testing.assert_allclose(xa.power_to_db(power, top_db=top_db), ref, rtol=1e-5, atol=1e-4)
    ref = librosa.power_to_db(power, ref=3.0, amin=1e-6)
    np.testing.assert_allclose(xa.power_to_db(power, ref=3.0, amin=1e-6), ref, rtol=1e-5, atol=1e-4)


def test_power_to_db_floors_each_clip_on_its_own(device):
    loud = torch.rand(20, 30, dtype=torch.float64, device=device) + 1.0
    quiet = torch.rand(20, 30, dtype=torch.float64, device=device) * 1e-9
    batch = xa.power_to_db(torch.stack([loud, quiet]))
    torch.testing.assert_close(batch[0], xa.power_to_db(loud))
    torch.testing.assert_close(batch[1], xa.power_to_db(quiet))
    assert float(batch[1].max() - batch[1].min()) <= 80.0 + 1e-9
    # torchaudio's AmplitudeToDB floors a 3-D batch at one peak: the quiet clip is flattened.
    ta = torchaudio.transforms.AmplitudeToDB("power", top_db=80.0)(torch.stack([loud, quiet]).cpu())
    assert float(ta[1].max() - ta[1].min()) == 0.0


def test_power_to_db_errors():
    with pytest.raises(ValueError, match="power"):
        xa.power_to_db(-np.ones((3, 4)))
    with pytest.raises(ValueError, match="power"):
        xa.power_to_db(np.ones(4))
    with pytest.raises(ValueError, match="top_db"):
        xa.power_to_db(np.ones((3, 4)), top_db=-1.0)
    with pytest.raises(ValueError, match="amin"):
        xa.power_to_db(np.ones((3, 4)), amin=0.0)
    with pytest.raises(ValueError, match="ref"):
        xa.power_to_db(np.ones((3, 4)), ref=0.0)


@pytest.mark.parametrize(("n_mels", "n_mfcc"), [(40, 13), (128, 20), (7, 7)])
def test_dct_matrix_matches_scipy_and_torchaudio(device, n_mels, n_mfcc):
    D = xa.dct_matrix(n_mels, n_mfcc, dtype=torch.float64, device=device)
    x = np.random.default_rng(0).standard_normal((5, n_mels))
    ref = scipy.fft.dct(x, type=2, norm="ortho", axis=-1)[:, :n_mfcc]
    np.testing.assert_allclose((torch.from_numpy(x).to(device) @ D).cpu().numpy(), ref, atol=1e-12)
    ta = torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho").double().to(device)
    torch.testing.assert_close(D, ta, rtol=1e-6, atol=1e-6)
    # orthonormal columns
    torch.testing.assert_close(D.T @ D, torch.eye(n_mfcc, dtype=torch.float64, device=device))
    with pytest.raises(ValueError, match="n_mfcc"):
        xa.dct_matrix(n_mels, n_mels + 1)


@pytest.mark.parametrize("name", list(SIGNALS))
@pytest.mark.parametrize(
    ("n_mfcc", "n_fft", "hop", "n_mels"), [(13, 512, 160, 40), (20, 2048, 512, 128), (13, 400, 100, 26)]
)
def test_mfcc_defaults_match_librosa_and_torchaudio(name, n_mfcc, n_fft, hop, n_mels):
    y = SIGNALS[name]
    ours = xa.mfcc(y, SR, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    assert ours.shape == ref.shape == (n_mfcc, 1 + SR // hop)
    assert rel_range_error(ours, ref) <= 1e-3
    ta = matched_torchaudio_mfcc(n_mfcc, n_fft, hop, n_mels)(torch.from_numpy(y)).numpy()
    assert rel_range_error(ours, ta) <= 1e-3


def test_mfcc_float64_agrees_with_librosa_float64_tightly():
    y = SIGNALS["speech_like"].astype(np.float64)
    ours = xa.mfcc(y, SR)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
    assert ours.dtype == np.float64
    # librosa builds its mel filters in float32 even for float64 input; we build them in float64.
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_mfcc_default_torchaudio_is_not_librosa():
    """With their own defaults the two libraries disagree (HTK mels, no norm, reflect padding)."""
    y = SIGNALS["speech_like"]
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
    ta = torchaudio.transforms.MFCC(SR, n_mfcc=13, melkwargs=dict(n_fft=512, hop_length=160, n_mels=40))
    assert rel_range_error(ta(torch.from_numpy(y)).numpy(), ref) > 1e-2


def test_mfcc_on_real_speech_matches_librosa():
    """The frozen human recordings in data/ (skipped only if the data folder is absent)."""
    from pathlib import Path

    flac = Path(__file__).resolve().parents[1] / "data" / "xmr_digits" / "real_speech.flac"
    if not flac.exists():
        pytest.skip("data/xmr_digits/real_speech.flac is not there")
    wave, sr = xa.load(flac)
    assert sr == SR
    for start in range(0, wave.shape[0] - 8000, 20_000):
        y = wave[start : start + 8000].numpy()
        ours = xa.mfcc(y, sr)
        ref = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
        assert rel_range_error(ours, ref) <= 1e-3


def test_mfcc_batch_equals_per_clip_and_librosa_per_clip(device):
    clips = np.stack([SIGNALS["speech_like"], 1e-3 * SIGNALS["random"], speech_like(7), 0.05 * speech_like(8)])
    batch = xa.mfcc(torch.from_numpy(clips).to(device), SR)
    assert batch.shape == (4, 13, 101) and batch.device.type == device.type
    for b, clip in enumerate(clips):
        torch.testing.assert_close(batch[b], xa.mfcc(torch.from_numpy(clip).to(device), SR), rtol=1e-4, atol=1e-3)
        ref = librosa.feature.mfcc(y=clip, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
        assert rel_range_error(batch[b].cpu().numpy(), ref) <= 1e-3


def test_mfcc_cpu_and_device_agree(device):
    clips = torch.from_numpy(np.stack([SIGNALS["speech_like"], SIGNALS["random"]]))
    on_cpu = xa.mfcc(clips, SR)
    on_device = xa.mfcc(clips.to(device), SR)
    assert on_device.device.type == device.type
    ranges = on_cpu.amax(dim=(1, 2)) - on_cpu.amin(dim=(1, 2))
    err = (on_device.cpu() - on_cpu).abs().amax(dim=(1, 2)) / ranges
    assert float(err.max()) <= 1e-4


def test_mfcc_errors():
    y = SIGNALS["random"]
    with pytest.raises(ValueError, match="sample_rate"):
        xa.mfcc(y, 0)
    with pytest.raises(ValueError, match="sample_rate"):
        xa.mfcc(y, -16000)
    with pytest.raises(ValueError, match="wave"):
        xa.mfcc(np.full(16000, np.nan, dtype=np.float32), SR)
    with pytest.raises(ValueError, match="wave"):
        xa.mfcc(y.reshape(2, 2, 4000), SR)
    with pytest.raises(ValueError, match="wave"):
        xa.mfcc(y[:300], SR, center=False)
    with pytest.raises(ValueError, match="n_mels"):
        xa.mfcc(y, SR, n_mels=200)  # some of 200 filters fall between two of 257 bins
    with pytest.raises(ValueError, match="n_mfcc"):
        xa.mfcc(y, SR, n_mfcc=41)
    with pytest.raises(ValueError, match="n_mels"):
        xa.melspectrogram(y, SR, 512, 160, 0)
    with pytest.raises(ValueError, match="sample_rate"):
        xa.melspectrogram(y, float("nan"), 512, 160, 40)


# --------------------------------------------------------------------------------------------
# deltas
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [3, 5, 9])
def test_deltas_match_librosa(device, width):
    feats = librosa.feature.mfcc(y=SIGNALS["speech_like"], sr=SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
    np.testing.assert_allclose(xa.deltas(feats, width), librosa.feature.delta(feats, width=width), atol=1e-4)
    # delta-deltas are deltas of deltas (librosa's order=2 instead fits a parabola)
    second = xa.deltas(xa.deltas(feats, width), width)
    ref = librosa.feature.delta(librosa.feature.delta(feats, width=width), width=width)
    np.testing.assert_allclose(second, ref, atol=1e-4)
    batch = torch.from_numpy(np.stack([feats, -2 * feats])).to(device)
    out = xa.deltas(batch, width)
    assert out.shape == batch.shape and out.device.type == device.type
    np.testing.assert_allclose(out.cpu().numpy(), librosa.feature.delta(batch.cpu().numpy(), width=width), atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    slope=st.floats(-10, 10),
    offset=st.floats(-100, 100),
    frames=st.integers(9, 60),
    width=st.sampled_from([3, 5, 7, 9]),
)
def test_deltas_of_a_line_is_its_slope(slope, offset, frames, width):
    line = offset + slope * np.arange(frames, dtype=np.float64)
    feats = np.stack([line, np.full(frames, offset)])
    d = xa.deltas(feats, width)
    np.testing.assert_allclose(d[0], slope, atol=1e-9 * (1 + abs(offset)))
    np.testing.assert_allclose(d[1], 0.0, atol=1e-9)


def test_deltas_errors():
    with pytest.raises(ValueError, match="width"):
        xa.deltas(np.zeros((3, 20)), width=4)
    with pytest.raises(ValueError, match="width"):
        xa.deltas(np.zeros((3, 20)), width=1)
    with pytest.raises(ValueError, match="features"):
        xa.deltas(np.zeros((3, 5)), width=9)
    with pytest.raises(ValueError, match="features"):
        xa.deltas(np.zeros(20), width=9)
    with pytest.raises(ValueError, match="features"):
        xa.deltas(np.full((3, 20), np.nan), width=9)


# --------------------------------------------------------------------------------------------
# resampling, lengths and noise
# --------------------------------------------------------------------------------------------


def _peak_hz(x: np.ndarray, sr: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize(("orig", "new"), [(16000, 8000), (8000, 16000), (44100, 16000), (22050.0, 16000)])
def test_resample_keeps_a_tone(device, orig, new):
    t = np.arange(orig) / orig
    tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    out = xa.resample(torch.from_numpy(tone).to(device), orig, new)
    assert out.shape == (int(np.ceil(orig * new / orig)),) and out.device.type == device.type
    assert _peak_hz(out.cpu().numpy(), new) == pytest.approx(440.0, abs=2.0)
    # the same as torchaudio's resampler, which it wraps
    ref = torchaudio.functional.resample(torch.from_numpy(tone), int(orig), int(new))
    torch.testing.assert_close(out.cpu(), ref)


def test_resample_removes_what_the_new_rate_cannot_hold():
    t = np.arange(16000) / 16000
    high = np.sin(2 * np.pi * 6000.0 * t)  # above the 4 kHz Nyquist limit of 8 kHz audio
    down = xa.resample(high, 16000, 8000)
    assert isinstance(down, np.ndarray)
    assert np.sqrt(np.mean(down[100:-100] ** 2)) < 0.01  # not folded back to 2 kHz


def test_resample_batch_and_errors():
    batch = np.stack([random_signal(0, 1000), random_signal(1, 1000)])
    out = xa.resample(batch, 16000, 8000)
    np.testing.assert_allclose(out[1], xa.resample(batch[1], 16000, 8000), atol=1e-6)
    np.testing.assert_array_equal(xa.resample(batch, 8000, 8000), batch)
    with pytest.raises(ValueError, match="orig_sr"):
        xa.resample(batch, 0, 8000)
    with pytest.raises(ValueError, match="new_sr"):
        xa.resample(batch, 16000, -1)
    with pytest.raises(ValueError, match="wave"):
        xa.resample(batch[None], 16000, 8000)


def test_fix_length(device):
    x = torch.arange(1.0, 6.0, device=device)
    torch.testing.assert_close(xa.fix_length(x, 3), x[:3])
    padded = xa.fix_length(x[None], 8)
    assert padded.shape == (1, 8) and float(padded[0, 5:].abs().sum()) == 0.0
    assert isinstance(xa.fix_length(np.ones(4), 2), np.ndarray)
    with pytest.raises(ValueError, match="length"):
        xa.fix_length(x, 0)


@settings(max_examples=30, deadline=None)
@given(snr=st.floats(-20, 40), seed=st.integers(0, 1000))
def test_add_noise_reaches_the_requested_snr(snr, seed):
    clean = np.stack([random_signal(seed, 4000), 0.01 * speech_like(seed, 4000)]).astype(np.float64)
    g = torch.Generator().manual_seed(seed)
    noisy = xa.add_noise(torch.from_numpy(clean), snr, generator=g).numpy()
    noise = noisy - clean
    measured = 10 * np.log10((clean**2).mean(1) / (noise**2).mean(1))
    np.testing.assert_allclose(measured, snr, atol=1e-6)


def test_add_noise_with_given_noise_and_errors(device):
    clean = torch.from_numpy(random_signal(0, 2000)).to(device)
    hum = torch.sin(torch.arange(2000, device=device) * 0.1)
    noisy = xa.add_noise(clean, 0.0, noise=hum)
    torch.testing.assert_close((noisy - clean).pow(2).mean(), clean.pow(2).mean())
    with pytest.raises(ValueError, match="noise"):
        xa.add_noise(clean, 0.0, noise=hum[:100])
    with pytest.raises(ValueError, match="wave"):
        xa.add_noise(torch.zeros(100, device=device), 10.0)
    with pytest.raises(ValueError, match="snr_db"):
        xa.add_noise(clean, float("inf"))


# --------------------------------------------------------------------------------------------
# reading and writing files
# --------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    y = SIGNALS["speech_like"]
    for suffix in (".wav", ".flac"):
        path = tmp_path / f"clip{suffix}"
        xa.save(path, y, SR)
        wave, sr = xa.load(path)
        assert sr == SR and wave.dtype == torch.float32 and wave.shape == y.shape
        assert float((wave - torch.from_numpy(y)).abs().max()) <= 1 / 2**15  # 16-bit rounding


def test_load_downmixes_stereo_by_averaging(tmp_path):
    left = 0.5 * np.ones(100, dtype=np.float32)
    right = -0.25 * np.ones(100, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    wave, sr = xa.load(path)
    assert sr == 8000 and wave.shape == (100,)
    np.testing.assert_allclose(wave.numpy(), 0.125)
    xa.save(tmp_path / "two.wav", torch.from_numpy(np.stack([left, right])), 8000)
    assert sf.info(tmp_path / "two.wav").channels == 2


def test_load_resamples_on_request(tmp_path):
    t = np.arange(8000) / 8000
    path = tmp_path / "tone.wav"
    xa.save(path, (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 8000)
    wave, sr = xa.load(path, sample_rate=16000)
    assert sr == 16000 and wave.shape == (16000,)
    assert _peak_hz(wave.numpy(), 16000) == pytest.approx(300.0, abs=2.0)


def test_load_save_errors(tmp_path):
    with pytest.raises(ValueError, match="path"):
        xa.load(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="sample_rate"):
        xa.save(tmp_path / "x.wav", np.zeros(10), 0)
    with pytest.raises(ValueError, match="wave"):
        xa.save(tmp_path / "x.wav", np.full(10, 1.5), 8000)
    xa.save(tmp_path / "x.wav", np.zeros(10), 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        xa.load(tmp_path / "x.wav", sample_rate=-1)
