"""Fusion modules: combine one vector per modality into one vector (taught in chapter 8).

Every module follows the same contract, so they can be swapped in an experiment:

- it is built from the input sizes ``dims`` (one int per modality, at least two) and the
  output size ``out_dim``;
- its forward takes a list of ``M = len(dims)`` tensors of shapes ``(B, dims[i])`` and an
  optional boolean ``mask`` of shape ``(B, M)``, True where the modality is present;
- calling ``module(inputs, mask)`` returns a ``(B, out_dim)`` tensor, and a masked (missing)
  modality has no influence on it: whatever numbers sit in a masked row, the output is the
  same. Fill missing rows with zeros (they must still be finite and have the right shape).

Every row must have at least one present modality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from xmr_lite._checks import check_finite, check_int, check_ndim, same_device


def _check_dims(dims: object) -> list[int]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
        raise ValueError(f"dims must be a list of ints, one per modality, got {type(dims).__name__}")
    if len(dims) < 2:
        raise ValueError(f"dims must name at least two modalities, got {len(dims)}")
    return [check_int(d, f"dims[{i}]", 1) for i, d in enumerate(dims)]


class _Fusion(nn.Module):
    """What every fusion module shares: its sizes and the checks on its inputs."""

    def __init__(self, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.dims = _check_dims(dims)
        self.out_dim = check_int(out_dim, "out_dim", 1)

    @property
    def n_modalities(self) -> int:
        """M, the number of modalities."""
        return len(self.dims)

    def check_inputs(
        self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Validate ``inputs`` and ``mask``; return the inputs and a full (B, M) boolean mask.

        Raises ``ValueError`` for a wrong number of modalities, a size that does not match
        ``dims``, different batch sizes, devices or dtypes, NaN, a mask of the wrong shape or
        dtype, and a row whose modalities are all masked.
        """
        if isinstance(inputs, torch.Tensor) or not isinstance(inputs, Sequence):
            raise ValueError(f"inputs must be a list of {self.n_modalities} tensors, got {type(inputs).__name__}")
        if len(inputs) != self.n_modalities:
            raise ValueError(f"inputs must hold {self.n_modalities} tensors (one per modality), got {len(inputs)}")
        xs = list(inputs)
        for i, (x, d) in enumerate(zip(xs, self.dims, strict=True)):
            name = f"inputs[{i}]"
            if not isinstance(x, torch.Tensor):
                raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
            check_ndim(x, name, 2, f"(B, {d})")
            if x.shape[1] != d:
                raise ValueError(f"{name} must have shape (B, {d}) to match dims[{i}], got {tuple(x.shape)}")
            if x.shape[0] != xs[0].shape[0]:
                raise ValueError(f"{name} has batch size {x.shape[0]} but inputs[0] has {xs[0].shape[0]}")
            if not x.is_floating_point():
                raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
            if x.dtype != xs[0].dtype:
                raise ValueError(f"{name} has dtype {x.dtype} but inputs[0] has {xs[0].dtype}")
            same_device(xs[0], x, name)
            check_finite(x, name)
        batch = xs[0].shape[0]
        if mask is None:
            return xs, torch.ones(batch, self.n_modalities, dtype=torch.bool, device=xs[0].device)
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask must be a boolean tensor (True = present), got {got}")
        if tuple(mask.shape) != (batch, self.n_modalities):
            raise ValueError(f"mask must have shape (B, M) = {(batch, self.n_modalities)}, got {tuple(mask.shape)}")
        same_device(xs[0], mask, "mask")
        empty = ~mask.any(dim=1)
        if bool(empty.any()):
            rows = torch.nonzero(empty).flatten().tolist()[:5]
            raise ValueError(f"mask has rows with every modality masked (rows {rows}...); keep at least one present")
        return xs, mask

    @staticmethod
    def zero_masked(xs: list[torch.Tensor], mask: torch.Tensor) -> list[torch.Tensor]:
        """Replace the rows of masked modalities by exact zeros, whatever they held."""
        return [torch.where(mask[:, i : i + 1], x, torch.zeros_like(x)) for i, x in enumerate(xs)]

    def extra_repr(self) -> str:
        return f"dims={self.dims}, out_dim={self.out_dim}"


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Softmax over ``dim`` where masked entries get exactly zero weight."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)


class ConcatFusion(_Fusion):
    """Concatenation followed by one linear layer: ``z = W [x_1; x_2; ...; x_M] + b``.

    The simplest early fusion (chapter 8). A masked modality enters the concatenation as
    zeros.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector.
    """

    def __init__(self, dims: Sequence[int], out_dim: int) -> None:
        super().__init__(dims, out_dim)
        self.linear = nn.Linear(sum(self.dims), self.out_dim)

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        return self.linear(torch.cat(self.zero_masked(xs, mask), dim=1))


class WeightedSumFusion(_Fusion):
    """A weighted sum of the modalities: ``z = sum_i w_i P_i(x_i)``, with ``sum_i w_i = 1``.

    Taught in chapter 8. ``P_i`` is a linear map from ``D_i`` to ``out_dim`` (or the identity
    with ``project=False``, when every ``D_i == out_dim``).

    Two ways to set the weights:

    - **fixed**: pass ``weights=(alpha, beta, gamma, ...)``, positive numbers, one per modality.
      They are divided by their sum, so ``(2, 1, 1)`` means ``(0.5, 0.25, 0.25)``, and they
      are a buffer: training does not change them.
    - **learned**: leave ``weights=None``. The module learns one logit per modality and uses
      the softmax of the logits (equal weights at the start). The same weights apply to every
      example; :class:`AttentionFusion` computes them per example instead.

    When a modality is masked, the weights of the present ones are renormalised to sum to 1.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector.
    weights : sequence of float, optional
        Fixed positive weights, one per modality; ``None`` learns them.
    project : bool
        Map each modality to ``out_dim`` with its own linear layer first (default). With
        ``False`` the vectors are summed as they are, which needs ``dims[i] == out_dim``.
    """

    def __init__(
        self, dims: Sequence[int], out_dim: int, weights: Sequence[float] | None = None, project: bool = True
    ) -> None:
        super().__init__(dims, out_dim)
        if project:
            self.projections = nn.ModuleList(nn.Linear(d, self.out_dim) for d in self.dims)
        else:
            if any(d != self.out_dim for d in self.dims):
                raise ValueError(f"project=False needs every dims[i] == out_dim={self.out_dim}, got dims={self.dims}")
            self.projections = nn.ModuleList(nn.Identity() for _ in self.dims)
        self.learned = weights is None
        if weights is None:
            self.logits = nn.Parameter(torch.zeros(self.n_modalities))
        else:
            if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
                raise ValueError(f"weights must be a sequence of {self.n_modalities} positive numbers or None")
            if len(weights) != self.n_modalities:
                raise ValueError(f"weights must hold {self.n_modalities} numbers, one per modality, got {len(weights)}")
            w = torch.tensor([float(v) for v in weights])
            if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
                raise ValueError(f"weights must be finite and > 0, got {list(weights)}")
            self.register_buffer("fixed_weights", w / w.sum())

    @property
    def weights(self) -> torch.Tensor:
        """(M,) the weights used when every modality is present; they sum to 1."""
        return torch.softmax(self.logits, dim=0) if self.learned else self.fixed_weights

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        h = torch.stack([p(x) for p, x in zip(self.projections, self.zero_masked(xs, mask), strict=True)], dim=1)
        w = self.weights.to(h.dtype) * mask.to(h.dtype)  # (B, M), zero where masked
        w = w / w.sum(dim=1, keepdim=True)
        return (w.unsqueeze(-1) * h).sum(dim=1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, weights={'learned' if self.learned else self.fixed_weights.tolist()}"


class AttentionFusion(_Fusion):
    """Attention over modalities: softmax weights computed from the inputs, per example.

    Taught in chapter 8. Each modality is projected and squashed, ``h_i = tanh(P_i(x_i))``
    (out_dim), and scored by its own small network, ``s_i = w_i . relu(U_i x_i + c_i) + d_i``.
    The weights are ``a = softmax(s)`` over the present modalities and the output is
    ``z = sum_i a_i h_i``. A masked modality gets ``a_i = 0``. Because each score is computed from its own input,
    the module can learn to turn down a modality whose input looks unreliable (noisy, say).

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector (and of the projections ``h_i``).
    hidden : int, optional
        Hidden size of each scoring network (``U_i``); defaults to ``out_dim``.

    Attributes
    ----------
    last_weights : (B, M) tensor or None
        The weights ``a`` of the last forward call (detached): each row sums to 1 over the
        present modalities and is 0 at masked ones.
    """

    def __init__(self, dims: Sequence[int], out_dim: int, hidden: int | None = None) -> None:
        super().__init__(dims, out_dim)
        hidden = self.out_dim if hidden is None else check_int(hidden, "hidden", 1)
        self.projections = nn.ModuleList(nn.Linear(d, self.out_dim) for d in self.dims)
        self.scorers = nn.ModuleList(
            nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, 1)) for d in self.dims
        )
        self.last_weights: torch.Tensor | None = None

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        h = torch.stack([torch.tanh(p(x)) for p, x in zip(self.projections, xs, strict=True)], dim=1)
        scores = torch.cat([score(x) for score, x in zip(self.scorers, xs, strict=True)], dim=1)  # (B, M)
        a = _masked_softmax(scores, mask, dim=1)
        self.last_weights = a.detach()
        return (a.unsqueeze(-1) * h).sum(dim=1)


class GatedFusion(_Fusion):
    """Gated fusion: per-dimension gates, computed from all modalities, mix the modalities.

    Taught in chapter 8. Each modality gives ``h_i = tanh(P_i(x_i))`` (out_dim). A gate layer
    reads the concatenation of every (present) input and gives one logit per modality and
    output dimension; a softmax over the present modalities turns them into gates ``g_i``,
    and ``z = sum_i g_i * h_i`` (element-wise). For two modalities the softmax of two logits
    is ``sigmoid(l_1 - l_2)``, so ``z = g * h_1 + (1 - g) * h_2``: the gated multimodal unit of
    Arevalo et al. (2017). Unlike :class:`AttentionFusion`, each output dimension has its own
    mix, and the mix depends on all modalities together.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector.

    Attributes
    ----------
    last_gates : (B, M, out_dim) tensor or None
        The gates of the last forward call (detached); they sum to 1 over the modalities and
        are 0 for masked ones.
    """

    def __init__(self, dims: Sequence[int], out_dim: int) -> None:
        super().__init__(dims, out_dim)
        self.projections = nn.ModuleList(nn.Linear(d, self.out_dim) for d in self.dims)
        self.gate_layer = nn.Linear(sum(self.dims), self.n_modalities * self.out_dim)
        self.last_gates: torch.Tensor | None = None

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        h = torch.stack([torch.tanh(p(x)) for p, x in zip(self.projections, xs, strict=True)], dim=1)
        logits = self.gate_layer(torch.cat(xs, dim=1)).view(-1, self.n_modalities, self.out_dim)
        g = _masked_softmax(logits, mask.unsqueeze(-1).expand_as(logits), dim=1)
        self.last_gates = g.detach()
        return (g * h).sum(dim=1)


def _with_one(x: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, D + 1): append a constant 1, so products keep the lower-order terms."""
    return torch.cat([x, torch.ones_like(x[:, :1])], dim=1)


class BilinearFusion(_Fusion):
    """Full bilinear pooling: a linear map of the flattened outer product of the inputs.

    Taught in chapter 8. For two modalities ``z_k = sum_ij W_kij x_i y_j + b_k``, that is
    ``z = W vec(x ⊗ y) + b`` with ``W`` of shape (out_dim, D_1 D_2); every pair of features
    gets its own weight. More modalities extend the outer product (x ⊗ y ⊗ u ...). With
    ``append_one=True`` (default) a 1 is appended to each vector first, as in the Tensor
    Fusion Network (Zadeh et al., 2017), so the product also holds every single modality and
    every smaller group; a masked modality becomes ``(0, ..., 0, 1)``, and the output then
    depends on the other modalities only.

    The weight has ``out_dim * prod_i (D_i + 1)`` entries, which grows as a product:
    :class:`LowRankBilinearFusion` is the cure.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector.
    append_one : bool
        Append a constant 1 to each input before the outer product (default True).
    """

    def __init__(self, dims: Sequence[int], out_dim: int, append_one: bool = True) -> None:
        super().__init__(dims, out_dim)
        self.append_one = bool(append_one)
        self.sizes = [d + self.append_one for d in self.dims]
        self.linear = nn.Linear(math.prod(self.sizes), self.out_dim)

    @property
    def weight(self) -> torch.Tensor:
        """(out_dim, S_1, ..., S_M) view of the weight, ``S_i = D_i + append_one``."""
        return self.linear.weight.view(self.out_dim, *self.sizes)

    def outer_product(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """(B, S_1), ..., (B, S_M) -> (B, S_1 * ... * S_M), the flattened outer product."""
        z = xs[0]
        for x in xs[1:]:
            z = (z.unsqueeze(2) * x.unsqueeze(1)).flatten(1)
        return z

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        if self.append_one:
            xs = [_with_one(x) for x in xs]
        return self.linear(self.outer_product(xs))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, append_one={self.append_one}"


class LowRankBilinearFusion(_Fusion):
    """Low-rank bilinear pooling: the bilinear weight as a sum of ``rank`` outer products.

    Taught in chapter 8, following the low-rank multimodal fusion of Liu et al. (2018). The
    weight of :class:`BilinearFusion` is replaced by
    ``W[k, i_1, ..., i_M] = sum_r prod_m F_m[r, i_m, k]``, so the output never builds the outer
    product: ``z_k = sum_r prod_m (x_m . F_m[r, :, k]) + b_k``. Parameters drop from
    ``out_dim * prod_m S_m`` to ``rank * out_dim * sum_m S_m`` (``S_m = D_m + append_one``).
    :meth:`full_weight` rebuilds the full weight, for checking.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Size of the fused vector.
    rank : int
        Number of rank-one terms ``R``.
    append_one : bool
        Append a constant 1 to each input, as in :class:`BilinearFusion` (default True).
    """

    def __init__(self, dims: Sequence[int], out_dim: int, rank: int = 4, append_one: bool = True) -> None:
        super().__init__(dims, out_dim)
        self.rank = check_int(rank, "rank", 1)
        self.append_one = bool(append_one)
        self.sizes = [d + self.append_one for d in self.dims]
        # Each factor maps one modality to (rank, out_dim) numbers; the scale keeps the
        # product of M such numbers, summed over the rank, near unit variance at the start.
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(self.rank, s, self.out_dim) / math.sqrt(s)) for s in self.sizes
        )
        self.rank_scale = 1.0 / math.sqrt(self.rank)
        self.bias = nn.Parameter(torch.zeros(self.out_dim))

    def full_weight(self) -> torch.Tensor:
        """The equivalent :class:`BilinearFusion` weight, (out_dim, S_1, ..., S_M)."""
        w = self.factors[0]  # (R, S_1, K)
        for f in self.factors[1:]:
            # (R, S_1..S_m, K) x (R, S_{m+1}, K) -> (R, S_1..S_m, S_{m+1}, K)
            w = w.unsqueeze(-2) * f.view(self.rank, *([1] * (w.ndim - 2)), f.shape[1], self.out_dim)
        return self.rank_scale * w.sum(0).movedim(-1, 0)

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        if self.append_one:
            xs = [_with_one(x) for x in xs]
        product = torch.ones(xs[0].shape[0], self.rank, self.out_dim, dtype=xs[0].dtype, device=xs[0].device)
        for x, f in zip(xs, self.factors, strict=True):
            product = product * torch.einsum("bs,rsk->brk", x, f)
        return self.rank_scale * product.sum(dim=1) + self.bias

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}, append_one={self.append_one}"


class CrossAttentionFusion(_Fusion):
    """A small multimodal transformer layer: each modality's token attends to the others.

    Taught in chapter 8. Each modality becomes one token, ``t_i = P_i(x_i) + e_i`` (out_dim),
    with a learned modality embedding ``e_i``. One pre-norm transformer layer follows:
    multi-head attention in which every token's query meets the keys of all present tokens,
    so each modality reads the others (cross-modal attention), then a feed-forward block, each
    with a residual connection. The output is the layer-normed mean of the present tokens.
    Masked modalities are hidden from the attention with a key padding mask and left out of
    the mean.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Token size and size of the fused vector; divisible by ``n_heads``.
    n_heads : int
        Attention heads.
    ff_mult : int
        The feed-forward block's hidden size is ``ff_mult * out_dim``.

    Attributes
    ----------
    last_attention : (B, M, M) tensor or None
        Attention of the last forward call, averaged over heads (detached): row ``i`` says
        how much token ``i`` read from each token; masked columns are 0.
    """

    def __init__(self, dims: Sequence[int], out_dim: int, n_heads: int = 4, ff_mult: int = 2) -> None:
        super().__init__(dims, out_dim)
        self.n_heads = check_int(n_heads, "n_heads", 1)
        if self.out_dim % self.n_heads:
            raise ValueError(f"out_dim={self.out_dim} must be divisible by n_heads={self.n_heads}")
        ff_mult = check_int(ff_mult, "ff_mult", 1)
        self.projections = nn.ModuleList(nn.Linear(d, self.out_dim) for d in self.dims)
        self.modality_embedding = nn.Parameter(0.02 * torch.randn(self.n_modalities, self.out_dim))
        self.norm_attention = nn.LayerNorm(self.out_dim)
        self.attention = nn.MultiheadAttention(self.out_dim, self.n_heads, batch_first=True)
        self.norm_feedforward = nn.LayerNorm(self.out_dim)
        self.feedforward = nn.Sequential(
            nn.Linear(self.out_dim, ff_mult * self.out_dim), nn.GELU(), nn.Linear(ff_mult * self.out_dim, self.out_dim)
        )
        self.norm_out = nn.LayerNorm(self.out_dim)
        self.last_attention: torch.Tensor | None = None

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        tokens = torch.stack([p(x) for p, x in zip(self.projections, xs, strict=True)], dim=1)
        tokens = tokens + self.modality_embedding  # (B, M, out_dim)
        h = self.norm_attention(tokens)
        attended, weights = self.attention(h, h, h, key_padding_mask=~mask, need_weights=True)
        self.last_attention = weights.detach()
        tokens = tokens + attended
        tokens = tokens + self.feedforward(self.norm_feedforward(tokens))
        present = mask.unsqueeze(-1)
        pooled = torch.where(present, tokens, torch.zeros_like(tokens)).sum(1) / present.sum(1).to(tokens.dtype)
        return self.norm_out(pooled)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_heads={self.n_heads}"


__all__ = [
    "AttentionFusion",
    "BilinearFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "GatedFusion",
    "LowRankBilinearFusion",
    "WeightedSumFusion",
]
