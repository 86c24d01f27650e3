"""Tests for xmr_lite.shared_space: CCA against scikit-learn, the towers' shapes and checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cross_decomposition import CCA
from torch import nn

from xmr_lite.shared_space import CCAResult, Towers, fit_cca


def paired_data(seed: int, n: int = 400, p: int = 6, q: int = 5, shared: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """x and y that share `shared` latent factors plus independent noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, shared))
    x = latent @ rng.normal(size=(shared, p)) + 0.5 * rng.normal(size=(n, p))
    y = latent @ rng.normal(size=(shared, q)) + 0.5 * rng.normal(size=(n, q))
    return x, y


def test_cca_correlations_match_scikit_learn() -> None:
    x, y = paired_data(0)
    ours = fit_cca(torch.from_numpy(x), torch.from_numpy(y), k=2, ridge=0.0)
    reference = CCA(n_components=2, max_iter=2000, tol=1e-10).fit(x, y)
    sx, sy = reference.transform(x, y)
    sklearn_corr = np.array([np.corrcoef(sx[:, i], sy[:, i])[0, 1] for i in range(2)])
    np.testing.assert_allclose(ours.corr.numpy(), sklearn_corr, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_cca_projections_are_whitened_and_correlate_by_corr(seed: int, k: int) -> None:
    x, y = paired_data(seed)
    cca = fit_cca(x, y, k=k, ridge=0.0)
    u, v = cca.transform_x(x).numpy(), cca.transform_y(y).numpy()
    assert u.shape == (len(x), k) and v.shape == (len(y), k)
    np.testing.assert_allclose(np.cov(u.T, bias=True).reshape(k, k), np.eye(k), atol=1e-8)
    np.testing.assert_allclose(np.cov(v.T, bias=True).reshape(k, k), np.eye(k), atol=1e-8)
    np.testing.assert_allclose((u * v).mean(0), cca.corr.numpy(), atol=1e-8)  # corr of unit-variance columns
    assert bool((cca.corr[:-1] >= cca.corr[1:]).all()) and bool((cca.corr <= 1 + 1e-9).all())


def test_cca_finds_the_shared_factors() -> None:
    x, y = paired_data(1, n=2000, shared=2)
    corr = fit_cca(x, y, k=4).corr
    assert corr[1] > 0.5 > corr[2] + 0.3  # two shared factors, the rest is noise


def test_cca_dtypes_and_result() -> None:
    x, y = paired_data(2)
    result = fit_cca(x.astype(np.float32), (y * 10).astype(np.uint8), k=2)
    assert isinstance(result, CCAResult)
    assert result.a.dtype == torch.float64  # uint8 arrays are cast to float64 at the boundary
    with pytest.raises(ValueError, match="x must have 6 columns"):
        result.transform_x(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="y must have 5 columns"):
        result.transform_y(torch.zeros(3, 6))


def test_cca_bad_input() -> None:
    x, y = paired_data(3)
    with pytest.raises(ValueError, match="same number of paired rows"):
        fit_cca(x, y[:-1], k=2)
    with pytest.raises(ValueError, match="k must be"):
        fit_cca(x, y, k=6)
    with pytest.raises(ValueError, match="k must be"):
        fit_cca(x, y, k=0)
    with pytest.raises(ValueError, match="ridge"):
        fit_cca(x, y, k=2, ridge=-1.0)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        fit_cca(bad, y, k=2)
    with pytest.raises(ValueError, match="y must be 2-D"):
        fit_cca(x, y[:, 0], k=1)
    with pytest.raises(ValueError, match="singular"):
        fit_cca(np.hstack([x, x[:, :1]]), y, k=2, ridge=0.0)


def test_towers_embed_to_unit_vectors(device: torch.device) -> None:
    torch.manual_seed(0)
    model = Towers({"image": 6, "audio": 4}, dim=8, hidden=16).to(device)
    g = torch.Generator().manual_seed(0)
    z = model.embed("image", torch.randn(5, 6, generator=g).to(device))
    assert z.shape == (5, 8) and z.device.type == device.type
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5, device=device))
    batch = {"image": torch.randn(3, 6, generator=g).to(device), "audio": torch.randn(3, 4, generator=g).to(device)}
    batch["label"] = torch.arange(3, device=device)
    out = model.embed_batch(batch)
    assert list(out) == ["image", "audio"] and all(v.shape == (3, 8) for v in out.values())
    head = model.heads["audio"]
    expected = nn.functional.normalize(head(batch["audio"]), dim=1)
    torch.testing.assert_close(out["audio"], expected)


def test_towers_cast_numpy_of_any_dtype() -> None:
    model = Towers({"image": 3, "text": 2}, dim=4)
    for array in (np.ones((2, 3), dtype=np.float64), np.ones((2, 3), dtype=np.uint8)):
        assert model.embed("image", array).dtype == torch.float32


def test_towers_accept_a_module_as_a_tower() -> None:
    cnn = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    model = Towers({"image": cnn, "text": 3}, dim=4)
    assert model.heads["image"] is cnn
    assert model.embed("image", torch.randn(2, 1, 4, 4)).shape == (2, 4)
    wrong = Towers({"image": nn.Sequential(nn.Flatten(), nn.Linear(16, 5)), "text": 3}, dim=4)
    with pytest.raises(ValueError, match="tower must return"):
        wrong.embed("image", torch.randn(2, 1, 4, 4))


def test_towers_bad_input() -> None:
    model = Towers({"image": 3, "audio": 2}, dim=4)
    with pytest.raises(ValueError, match="modality must be one of"):
        model.embed("video", torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        model.embed("image", torch.ones(2, 4))
    with pytest.raises(ValueError, match="x contains NaN"):
        model.embed("image", torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="must not be empty"):
        model.embed("image", torch.ones(0, 3))
    with pytest.raises(ValueError, match="non-empty"):
        Towers({"image": nn.Flatten(), "text": 3}, dim=4).embed("image", torch.ones(0, 4))
    with pytest.raises(ValueError, match="none of the modalities"):
        model.embed_batch({"text": torch.ones(2, 3)})
    for towers, match in [({}, "non-empty mapping"), ({"image": 0}, "towers"), ({"": 3}, "keys"), ([3], "mapping")]:
        with pytest.raises(ValueError, match=match):
            Towers(towers)
    with pytest.raises(ValueError, match="dim"):
        Towers({"image": 3}, dim=0)
    with pytest.raises(ValueError, match="hidden"):
        Towers({"image": 3}, hidden=0)
