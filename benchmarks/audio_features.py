"""MFCC extraction: xmr_lite.audio (batched), torchaudio (batched) and librosa (per clip).

Usage::

    python benchmarks/audio_features.py [--clips 1000] [--seconds 1.0] [--sample-rate 16000]

All three compute the same features on the same clips, with every parameter matched
(13 coefficients, 512-point FFT, hop 160, 40 Slaney mel bands with Slaney norm, centred frames
with zero padding, power 2, dB with ``top_db=80`` per clip, DCT-II ortho). The script checks
that they agree, then times one run of each and prints clips per second and the ratios.

torchaudio is given the batch as (B, 1, T): with a (B, T) batch its ``AmplitudeToDB`` would
take the 80 dB floor from the loudest clip of the whole batch instead of from each clip.
"""

from __future__ import annotations

import argparse
import time

import librosa
import numpy as np
import torch
import torchaudio

import xmr_lite as xmr
from xmr_lite import audio as xa

N_MFCC, N_FFT, HOP, N_MELS = 13, 512, 160, 40


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--sample-rate", type=int, default=16_000)
    args = parser.parse_args(argv)
    sr = args.sample_rate
    n = int(args.seconds * sr)

    # Noise clips with one loudness each (from -40 to 0 dB), so that the per-clip floor matters.
    rng = np.random.default_rng(0)
    gains = 10 ** rng.uniform(-2, 0, size=(args.clips, 1))
    clips = (0.3 * gains * rng.standard_normal((args.clips, n))).astype(np.float32)
    device = xmr.get_device()
    batch = torch.from_numpy(clips).to(device)
    print(
        f"{args.clips} clips of {args.seconds:g} s at {sr} Hz; torch on {device} with {torch.get_num_threads()} threads"
    )

    ta_mfcc = torchaudio.transforms.MFCC(
        sr,
        n_mfcc=N_MFCC,
        melkwargs=dict(
            n_fft=N_FFT,
            hop_length=HOP,
            n_mels=N_MELS,
            center=True,
            pad_mode="constant",
            mel_scale="slaney",
            norm="slaney",
        ),
    ).to(device)

    def run_xmr() -> np.ndarray:
        out = xa.mfcc(batch, sr, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
        return out.cpu().numpy()

    def run_torchaudio() -> np.ndarray:
        with torch.no_grad():
            return ta_mfcc(batch[:, None, :])[:, 0].cpu().numpy()

    def run_librosa() -> np.ndarray:
        return np.stack(
            [librosa.feature.mfcc(y=c, sr=sr, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS) for c in clips]
        )

    # warm up each (first calls build FFT plans and caches) on a few clips, then one timed run
    xa.mfcc(batch[:4], sr, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    ta_mfcc(batch[:4, None, :])
    librosa.feature.mfcc(y=clips[0], sr=sr, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)

    results = {}
    for name, fn in (
        ("xmr_lite (batched)", run_xmr),
        ("torchaudio (batched)", run_torchaudio),
        ("librosa (per clip)", run_librosa),
    ):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        results[name] = (args.clips / seconds, out)

    reference = results["librosa (per clip)"][1]
    spread = reference.max(axis=(1, 2)) - reference.min(axis=(1, 2))
    print(f"{'implementation':<22} {'clips/s':>10} {'vs librosa':>11} {'max err / range':>16}")
    ok = True
    for name, (rate, out) in results.items():
        err = float((np.abs(out - reference).max(axis=(1, 2)) / spread).max())
        ok &= err <= 1e-3
        print(f"{name:<22} {rate:10.0f} {rate / results['librosa (per clip)'][0]:10.2f}x {err:16.1e}")
    xmr_rate, ta_rate = results["xmr_lite (batched)"][0], results["torchaudio (batched)"][0]
    print(f"xmr_lite / torchaudio: {xmr_rate / ta_rate:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
