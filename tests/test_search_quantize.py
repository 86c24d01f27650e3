"""Tests of xmr_lite.search.quantize: float16, int8 scalar quantisation, binary codes, Hamming search."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xmr_lite.search import ScalarQuantizer, binary_codes, bytes_per_vector, hamming_search, to_float16


def test_float16_halves_bytes_and_keeps_values_close(device: torch.device) -> None:
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(0)).to(device)
    h = to_float16(x)
    assert h.dtype == torch.float16 and h.device == x.device
    assert torch.allclose(h.float(), x, rtol=1e-3, atol=1e-4)
    assert h.element_size() * h.shape[1] == bytes_per_vector("float16", 16)


def test_float16_numpy_in_numpy_out_and_range() -> None:
    out = to_float16(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert isinstance(out, np.ndarray) and out.dtype == np.float16
    with pytest.raises(ValueError, match="float16 range"):
        to_float16(np.full((1, 2), 1e6))
    with pytest.raises(ValueError, match="x"):
        to_float16(np.array([np.nan, 1.0])[None])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_scalar_quantizer_error_is_at_most_half_a_step(n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d)
    sq = ScalarQuantizer().fit(x)
    codes = sq.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (n, d)
    error = np.abs(sq.decode(codes) - x)
    assert np.all(error <= sq.step.numpy() / 2 + 1e-5 * np.abs(x).max())


def test_scalar_quantizer_matches_faiss() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    sq = ScalarQuantizer().fit(x)
    reference = faiss.IndexScalarQuantizer(8, faiss.ScalarQuantizer.QT_8bit)
    reference.train(x)
    reference_decoded = reference.sa_decode(reference.sa_encode(x))
    ours = sq.decode(sq.encode(x))
    step = sq.step.numpy()
    assert np.all(np.abs(ours - reference_decoded) <= step + 1e-6)  # both within one level of each other


def test_scalar_quantizer_keeps_device_and_clips(device: torch.device) -> None:
    x = torch.linspace(-1, 1, 20, device=device).reshape(10, 2)
    sq = ScalarQuantizer().fit(x)
    codes = sq.encode(torch.tensor([[5.0, -5.0]], device=device))
    assert codes.device == x.device and codes.tolist() == [[255, 0]]


def test_scalar_quantizer_errors() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        ScalarQuantizer().encode(np.zeros((1, 2)))
    sq = ScalarQuantizer().fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        sq.encode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="codes must be uint8"):
        sq.decode(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="x must not be empty"):
        sq.fit(np.zeros((0, 3)))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), d=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_binary_codes_match_numpy_packbits(n: int, d: int, seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=(n, d))
    codes = binary_codes(x)
    assert np.array_equal(codes, np.packbits(x > 0, axis=1))
    assert codes.shape[1] == bytes_per_vector("binary", d)


def test_binary_codes_keep_device(device: torch.device) -> None:
    x = torch.tensor([[1.0, -1.0, 2.0]], device=device)
    codes = binary_codes(x)
    assert codes.device == x.device and codes.tolist() == [[0b10100000]]


@settings(max_examples=20, deadline=None)
@given(q=st.integers(1, 8), n=st.integers(1, 30), d=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_hamming_search_matches_brute_force(q: int, n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    queries, gallery = binary_codes(rng.normal(size=(q, d))), binary_codes(rng.normal(size=(n, d)))
    k = int(rng.integers(1, n + 1))
    distances, ids = hamming_search(queries, gallery, k)
    bits_q, bits_g = np.unpackbits(queries, axis=1), np.unpackbits(gallery, axis=1)
    brute = (bits_q[:, None, :] != bits_g[None, :, :]).sum(-1)
    assert np.array_equal(distances, np.sort(brute, axis=1)[:, :k])
    assert np.array_equal(np.take_along_axis(brute, ids, axis=1), distances)


def test_hamming_search_tensors_and_errors(device: torch.device) -> None:
    gallery = binary_codes(torch.randn(10, 16, generator=torch.Generator().manual_seed(2)).to(device))
    distances, ids = hamming_search(gallery[:3], gallery, 1)
    assert ids.device == gallery.device and ids[:, 0].tolist() == [0, 1, 2] and distances.sum() == 0
    with pytest.raises(ValueError, match="k must satisfy"):
        hamming_search(gallery, gallery, 11)
    with pytest.raises(ValueError, match="bytes per code"):
        hamming_search(gallery[:, :1], gallery, 1)
    with pytest.raises(ValueError, match="queries must be uint8"):
        hamming_search(gallery.float(), gallery, 1)


def test_bytes_per_vector() -> None:
    assert [bytes_per_vector(c, 33) for c in ("float32", "float16", "int8", "binary")] == [132, 66, 33, 5]
    with pytest.raises(ValueError, match="code must be one of"):
        bytes_per_vector("int4", 8)
    with pytest.raises(ValueError, match="dimension"):
        bytes_per_vector("int8", 0)
