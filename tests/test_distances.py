import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from scipy.stats import entropy
from sklearn.covariance import LedoitWolf

from xmr_lite import distances as dist

RNG = np.random.default_rng(0)

SCIPY_NAMES = {
    "euclidean": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "cosine_distance": "cosine",
}


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine_distance"])
def test_matches_scipy_cdist(metric, device):
    x, y = RNG.normal(size=(7, 5)), RNG.normal(size=(9, 5))
    ours = dist.pairwise(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device), metric)
    assert ours.device.type == device.type
    np.testing.assert_allclose(ours.cpu().numpy(), cdist(x, y, SCIPY_NAMES[metric]), rtol=1e-7, atol=1e-7)


def test_dot_and_cosine_similarity(device):
    x, y = RNG.normal(size=(4, 6)), RNG.normal(size=(3, 6))
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    np.testing.assert_allclose(dist.dot(xt, yt).cpu().numpy(), x @ y.T, rtol=1e-12)
    np.testing.assert_allclose(
        dist.cosine_similarity(xt, yt).cpu().numpy(), 1 - cdist(x, y, "cosine"), rtol=1e-7, atol=1e-9
    )


def test_numpy_in_numpy_out():
    x = RNG.normal(size=(3, 4))
    out = dist.euclidean(x, x)
    assert isinstance(out, np.ndarray) and out.shape == (3, 3)


def test_worked_example_from_the_book():
    f = np.array([[1.0, 2, 3, 4]])
    g = np.array([[9.0, 10, 11, 12]])
    assert dist.dot(f, g)[0, 0] == pytest.approx(110.0)
    assert dist.cosine_similarity(f, g)[0, 0] == pytest.approx(110 / np.sqrt(30 * 446))
    assert round(float(dist.cosine_similarity(f, g)[0, 0]), 3) == 0.951
    assert dist.euclidean(f, g)[0, 0] == pytest.approx(16.0)


def test_mahalanobis_with_precision_matches_scipy(device):
    data = RNG.normal(size=(50, 4)) @ RNG.normal(size=(4, 4))
    vi = np.linalg.inv(np.cov(data.T))
    x, y = RNG.normal(size=(5, 4)), RNG.normal(size=(6, 4))
    ours = dist.mahalanobis(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device), VI=torch.from_numpy(vi))
    np.testing.assert_allclose(ours.cpu().numpy(), cdist(x, y, "mahalanobis", VI=vi), rtol=1e-6, atol=1e-8)


def test_mahalanobis_from_data_uses_ml_covariance():
    data = RNG.normal(size=(40, 3))
    x, y = RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3))
    vi = np.linalg.inv(np.cov(data.T, bias=True))
    np.testing.assert_allclose(dist.mahalanobis(x, y, data=data), cdist(x, y, "mahalanobis", VI=vi), rtol=1e-6)


def test_mahalanobis_refuses_singular_covariance_without_shrinkage():
    two_samples = RNG.normal(size=(2, 5))
    x = RNG.normal(size=(1, 5))
    with pytest.raises(ValueError, match="rank 1 < D=5"):
        dist.mahalanobis(x, x, data=two_samples)
    out = dist.mahalanobis(x, two_samples, data=two_samples, shrinkage=0.5)
    assert np.isfinite(out).all()


def test_ledoit_wolf_matches_sklearn():
    data = RNG.normal(size=(15, 8))
    ours = dist.covariance(data, shrinkage="ledoit_wolf")
    np.testing.assert_allclose(ours, LedoitWolf().fit(data).covariance_, rtol=1e-8, atol=1e-10)


def test_fixed_shrinkage_formula():
    data = RNG.normal(size=(10, 3))
    s = np.cov(data.T, bias=True)
    expected = 0.7 * s + 0.3 * np.trace(s) / 3 * np.eye(3)
    np.testing.assert_allclose(dist.covariance(data, shrinkage=0.3), expected, rtol=1e-10)


def random_distributions(n: int, d: int) -> np.ndarray:
    p = RNG.random(size=(n, d)) + 0.01
    return p / p.sum(1, keepdims=True)


def test_kl_and_js_match_scipy(device):
    p, q = random_distributions(4, 6), random_distributions(3, 6)
    kl = dist.kl_divergence(torch.from_numpy(p).to(device), torch.from_numpy(q).to(device)).cpu().numpy()
    expected_kl = np.array([[entropy(pi, qj) for qj in q] for pi in p])
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-10)
    js = dist.js_divergence(p, q)
    np.testing.assert_allclose(js, cdist(p, q, "jensenshannon") ** 2, rtol=1e-8)


def test_kl_is_infinite_where_support_is_missing():
    p = np.array([[0.5, 0.5]])
    q = np.array([[1.0, 0.0]])
    assert np.isinf(dist.kl_divergence(p, q)[0, 0])
    assert dist.kl_divergence(q, p)[0, 0] == pytest.approx(np.log(2))
    assert dist.js_divergence(p, q)[0, 0] <= np.log(2)


def test_kl_rejects_non_distributions():
    with pytest.raises(ValueError, match="sum to 1"):
        dist.kl_divergence(np.array([[0.2, 0.2]]), np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="negative"):
        dist.js_divergence(np.array([[1.5, -0.5]]), np.array([[0.5, 0.5]]))


@pytest.mark.parametrize("metric", dist.METRICS)
def test_pairwise_dispatches_every_metric(metric):
    p, q = random_distributions(3, 4), random_distributions(2, 4)
    # distributions lie on a simplex, so their covariance is singular: shrink it
    kwargs = {"data": random_distributions(30, 4), "shrinkage": 0.1} if metric == "mahalanobis" else {}
    out = dist.pairwise(p, q, metric, **kwargs)
    assert out.shape == (3, 2)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.ones((2, 3)), np.ones((2, 4)), "dimensions must match"),
        (np.ones(3), np.ones((2, 3)), "x must be 2-D"),
        (np.ones((2, 3)), np.ones((1, 2, 3)), "y must be 2-D"),
        (np.full((2, 3), np.nan), np.ones((2, 3)), "x contains NaN"),
        (np.ones((2, 3)), np.array([[1.0, np.inf, 0.0]]), "y contains NaN or infinite"),
        (np.ones((0, 3)), np.ones((2, 3)), "x must not be empty"),
    ],
)
def test_bad_input_names_the_argument(x, y, match):
    with pytest.raises(ValueError, match=match):
        dist.euclidean(x, y)


def test_bad_metric_and_mixed_kinds():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="metric must be one of"):
        dist.pairwise(x, x, "manhattan")
    with pytest.raises(ValueError, match="both be numpy"):
        dist.euclidean(x, torch.ones(2, 2))
    with pytest.raises(ValueError, match="zero row"):
        dist.cosine_similarity(np.zeros((1, 2)), x)
    with pytest.raises(ValueError, match="no extra arguments"):
        dist.pairwise(x, x, "cosine", VI=np.eye(2))


finite = st.floats(-100, 100, allow_nan=False, width=64)


def matrices(rows: int, cols: int):
    return arrays(np.float64, (rows, cols), elements=finite)


@settings(max_examples=40, deadline=None)
@given(matrices(4, 3), matrices(5, 3))
def test_symmetry_and_non_negativity(x, y):
    for metric in ("euclidean", "sqeuclidean"):
        xy, yx = dist.pairwise(x, y, metric), dist.pairwise(y, x, metric)
        np.testing.assert_allclose(xy, yx.T, rtol=1e-9, atol=1e-9)
        assert (xy >= 0).all()
    np.testing.assert_allclose(np.diag(dist.euclidean(x, x)), 0.0, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(matrices(3, 4), matrices(3, 4), matrices(3, 4))
def test_triangle_inequality_for_euclidean(a, b, c):
    ab, bc, ac = dist.euclidean(a, b), dist.euclidean(b, c), dist.euclidean(a, c)
    # d(a_i, c_k) <= d(a_i, b_j) + d(b_j, c_k) for every j
    bound = (ab[:, :, None] + bc[None, :, :]).min(1)
    assert (ac <= bound + 1e-6).all()


@settings(max_examples=40, deadline=None)
@given(matrices(3, 4), matrices(2, 4), st.floats(0.01, 1000), st.floats(0.01, 1000))
def test_cosine_is_invariant_to_positive_scaling(x, y, a, b):
    if (np.linalg.norm(x, axis=1) < 1e-3).any() or (np.linalg.norm(y, axis=1) < 1e-3).any():
        return
    np.testing.assert_allclose(dist.cosine_similarity(a * x, b * y), dist.cosine_similarity(x, y), rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (3, 5), elements=st.floats(0.001, 1.0)),
    arrays(np.float64, (4, 5), elements=st.floats(0.001, 1.0)),
)
def test_js_is_symmetric_bounded_and_kl_non_negative(p, q):
    p, q = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)
    js = dist.js_divergence(p, q)
    np.testing.assert_allclose(js, dist.js_divergence(q, p).T, atol=1e-12)
    assert (js >= 0).all() and (js <= np.log(2) + 1e-12).all()
    assert (dist.kl_divergence(p, q) >= -1e-12).all()


def test_l2_is_a_deprecated_alias_of_sqeuclidean():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    with pytest.warns(DeprecationWarning, match='"l2" is deprecated'):
        old = dist.pairwise(x, y, "l2")
    np.testing.assert_array_equal(old, dist.pairwise(x, y, "sqeuclidean"))
    with pytest.warns(DeprecationWarning):
        assert not dist.is_similarity("l2")
    with pytest.warns(DeprecationWarning):
        assert dist.canonical_metric("l2") == "sqeuclidean"


def test_canonical_metric_keeps_the_table_names_and_rejects_others():
    for name in dist.METRICS:
        assert dist.canonical_metric(name) == name
    table = {"euclidean", "sqeuclidean", "cosine", "cosine_distance", "dot", "mahalanobis", "kl", "js"}
    assert set(dist.METRICS) == table
    for bad in ("L2", "cosine_similarity", 3):
        with pytest.raises(ValueError, match="metric"):
            dist.canonical_metric(bad)


def test_similarities_are_exactly_cosine_and_dot():
    assert {name for name in dist.METRICS if dist.is_similarity(name)} == {"cosine", "dot"}


def test_mahalanobis_keeps_its_precision_on_offset_float32_data():
    """Bug: the ||x||^2 + ||y||^2 - 2x.y expansion gave 11.31 for a point's distance to itself."""
    rng = np.random.default_rng(8)
    points = rng.normal(size=(20, 3)) + 1e4
    cov = np.cov(points.T) + 0.1 * np.eye(3)
    vi = np.linalg.inv(cov)
    x32 = torch.from_numpy(points).float()
    d = dist.mahalanobis(x32, x32, VI=torch.from_numpy(vi).float())
    assert float(d.diagonal().abs().max()) < 1e-3
    reference = cdist(points, points, "mahalanobis", VI=vi)
    np.testing.assert_allclose(d.numpy(), reference, atol=2e-3, rtol=1e-3)


def test_mahalanobis_rejects_an_indefinite_precision_matrix():
    """Bug: a symmetric VI with a negative eigenvalue silently gave distances of 0."""
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    indefinite = np.array([[1.0, 0.0], [0.0, -1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        dist.mahalanobis(x, x, VI=indefinite)
    singular = np.array([[1.0, 0.0], [0.0, 0.0]])  # semi-definite: allowed, measures axis 0 only
    np.testing.assert_allclose(dist.mahalanobis(x, x, VI=singular), [[0.0, 1.0], [1.0, 0.0]], atol=1e-12)
