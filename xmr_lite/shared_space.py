"""Shared spaces for two or more modalities: linear CCA and one tower per modality (chapter 9).

* :func:`fit_cca`: canonical correlation analysis of paired rows, by whitening and an SVD.
* :class:`Towers`: one small network per modality, each mapping onto the unit sphere of one
  shared space, trained with the losses of :mod:`xmr_lite.losses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention

from xmr_lite._checks import as_matrix, check_int, check_number, is_int


@dataclass(frozen=True)
class CCAResult:
    """A fitted linear CCA: ``k`` canonical directions on each side.

    Attributes
    ----------
    mean_x : (p,) tensor
    a : (p, k) tensor
        Directions on the x side; ``(x - mean_x) @ a`` has unit variance per column.
    mean_y : (q,) tensor
    b : (q, k) tensor
    corr : (k,) tensor
        The canonical correlations, largest first.
    """

    mean_x: torch.Tensor
    a: torch.Tensor
    mean_y: torch.Tensor
    b: torch.Tensor
    corr: torch.Tensor

    def transform_x(self, x: torch.Tensor) -> torch.Tensor:
        """(N, p) -> (N, k): projections of x on its canonical directions."""
        t, _ = as_matrix(x, "x")
        if t.shape[1] != self.a.shape[0]:
            raise ValueError(f"x must have {self.a.shape[0]} columns to match the fit, got {t.shape[1]}")
        return (t.to(self.a) - self.mean_x) @ self.a

    def transform_y(self, y: torch.Tensor) -> torch.Tensor:
        """(N, q) -> (N, k): projections of y on its canonical directions."""
        t, _ = as_matrix(y, "y")
        if t.shape[1] != self.b.shape[0]:
            raise ValueError(f"y must have {self.b.shape[0]} columns to match the fit, got {t.shape[1]}")
        return (t.to(self.b) - self.mean_y) @ self.b


def _inverse_sqrt(c: torch.Tensor) -> torch.Tensor:
    """C^(-1/2) of a symmetric positive definite matrix."""
    values, vectors = torch.linalg.eigh(c)
    tolerance = float(values.max()) * c.shape[0] * torch.finfo(c.dtype).eps
    if bool((values <= tolerance).any()):
        raise ValueError("a covariance is singular; use ridge > 0 or fewer dimensions than pairs")
    return vectors @ torch.diag(values.rsqrt()) @ vectors.T


def fit_cca(x: torch.Tensor, y: torch.Tensor, k: int, ridge: float = 1e-3) -> CCAResult:
    """Linear CCA of paired rows: ``k`` pairs of directions whose projections correlate most.

    With covariances ``C_xx``, ``C_yy`` (each plus ``ridge`` times its mean variance on the
    diagonal) and ``C_xy``, the SVD ``C_xx^(-1/2) C_xy C_yy^(-1/2) = U S V^T`` gives the
    canonical correlations ``S`` and the directions ``a = C_xx^(-1/2) U``,
    ``b = C_yy^(-1/2) V`` (Hotelling 1936). scikit-learn's ``CCA`` finds the same
    correlations iteratively.

    Parameters
    ----------
    x : (N, p) float tensor or array
    y : (N, q) float tensor or array
        Row ``i`` of ``y`` is paired with row ``i`` of ``x``.
    k : int
        Number of directions, ``1 <= k <= min(p, q)``.
    ridge : float, >= 0
        Regularisation of the two covariances, relative to their mean variance.

    Returns
    -------
    CCAResult
        In the dtype of the inputs (float64 where either is float64), on their device.

    Notes
    -----
    Taught in chapter 9.
    """
    xt, _ = as_matrix(x, "x")
    yt, _ = as_matrix(y, "y")
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(f"x and y must hold the same number of paired rows, got {xt.shape[0]} and {yt.shape[0]}")
    if xt.device != yt.device:
        raise ValueError(f"y is on {yt.device} but x is on {xt.device}")
    if xt.shape[0] < 2:
        raise ValueError("x and y need at least 2 rows to estimate a covariance")
    if not is_int(k) or not 1 <= int(k) <= min(xt.shape[1], yt.shape[1]):
        raise ValueError(f"k must be an int with 1 <= k <= min(p, q) = {min(xt.shape[1], yt.shape[1])}, got {k!r}")
    k = int(k)
    ridge = check_number(ridge, "ridge", minimum=0)
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    xt, yt = xt.to(dtype), yt.to(dtype)
    mean_x, mean_y = xt.mean(0), yt.mean(0)
    xc, yc = xt - mean_x, yt - mean_y
    n = xt.shape[0]
    c_xx, c_yy, c_xy = xc.T @ xc / n, yc.T @ yc / n, xc.T @ yc / n
    c_xx = c_xx + ridge * c_xx.diagonal().mean() * torch.eye(xt.shape[1], dtype=dtype, device=xt.device)
    c_yy = c_yy + ridge * c_yy.diagonal().mean() * torch.eye(yt.shape[1], dtype=dtype, device=yt.device)
    w_x, w_y = _inverse_sqrt(c_xx), _inverse_sqrt(c_yy)
    u, s, vt = torch.linalg.svd(w_x @ c_xy @ w_y)
    return CCAResult(mean_x=mean_x, a=w_x @ u[:, :k], mean_y=mean_y, b=w_y @ vt[:k].T, corr=s[:k])


class Towers(nn.Module):
    """One tower per modality, each ending on the unit sphere of one shared ``dim``-space.

    A tower given as an int ``D`` is the two-layer network ``Linear(D, hidden) -> ReLU ->
    Linear(hidden, dim)`` on fixed features; a tower given as a module (a CNN on raw inputs,
    say) is used as it is and must return ``(B, dim)``. Either way the output is scaled to
    unit length, so the Euclidean distance ranks items as the cosine does.

    Parameters
    ----------
    towers : mapping of str to int or nn.Module
        For each modality name, its input width or its network.
    dim : int
        Size of the shared space.
    hidden : int
        Hidden size of the towers built from a width.

    Notes
    -----
    Taught in chapter 9, which trains it with every loss of :mod:`xmr_lite.losses`.
    """

    def __init__(self, towers: Mapping[str, int | nn.Module], dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        if not isinstance(towers, Mapping) or not towers:
            raise ValueError("towers must be a non-empty mapping of modality name to an input width or a module")
        self.dim = check_int(dim, "dim", 1)
        hidden = check_int(hidden, "hidden", 1)
        self.input_dims: dict[str, int | None] = {}
        heads = {}
        for name, tower in towers.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"towers keys must be modality names (non-empty str), got {name!r}")
            if isinstance(tower, nn.Module):
                heads[name], self.input_dims[name] = tower, None
            else:
                width = check_int(tower, f"towers[{name!r}]", 1)
                heads[name] = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, self.dim))
                self.input_dims[name] = width
        self.heads = nn.ModuleDict(heads)

    @property
    def modalities(self) -> list[str]:
        """The modality names, in the order they were given."""
        return list(self.heads)

    def embed(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) inputs of one modality -> (B, dim) unit vectors in the shared space."""
        if modality not in self.heads:
            raise ValueError(f"modality must be one of {self.modalities}, got {modality!r}")
        width = self.input_dims[modality]
        if width is not None:  # a tower on fixed features: numpy of any dtype is cast here
            x, _ = as_matrix(x, "x", f"(B, {width})")
            if x.shape[1] != width:
                raise ValueError(f"x must have shape (B, {width}) for {modality!r}, got {tuple(x.shape)}")
            x = x.to(self.heads[modality][0].weight.dtype)
        elif not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[0] == 0:
            raise ValueError(f"x must be a non-empty (B, ...) tensor for {modality!r}")
        z = self.heads[modality](x)
        if z.ndim != 2 or tuple(z.shape) != (x.shape[0], self.dim):
            expected = (x.shape[0], self.dim)
            raise ValueError(f"the {modality!r} tower must return (B, dim) = {expected}, got {tuple(z.shape)}")
        return F.normalize(z, dim=1)

    def embed_batch(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Embed every modality of this model that the batch holds: name -> (B, dim) unit vectors."""
        present = [m for m in self.heads if m in batch]
        if not present:
            raise ValueError(f"batch holds none of the modalities {self.modalities}")
        return {m: self.embed(m, batch[m]) for m in present}


__all__ = ["CCAResult", "Towers", "fit_cca"]
