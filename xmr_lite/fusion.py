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

from xmr_lite._checks import as_tensor, check_finite, check_int, check_ndim, check_number, same_device


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


class _TokenFusion(_Fusion):
    """The transformer layer that self- and cross-attention fusion share, around their attention.

    Each modality becomes one token ``t_i = P_i(x_i) + e_i`` (out_dim); a subclass's
    :meth:`attend` adds what each token reads, ``t_i + a_i``; a pre-norm feed-forward block
    with its residual follows; the output is the layer-normed mean of the present tokens.
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
        self.build_attention()  # between the two norms, so parameters draw in the same order as before
        self.norm_feedforward = nn.LayerNorm(self.out_dim)
        self.feedforward = nn.Sequential(
            nn.Linear(self.out_dim, ff_mult * self.out_dim), nn.GELU(), nn.Linear(ff_mult * self.out_dim, self.out_dim)
        )
        self.norm_out = nn.LayerNorm(self.out_dim)
        self.last_attention: torch.Tensor | None = None

    def build_attention(self) -> None:
        """Create the attention layers (a subclass's own)."""
        raise NotImplementedError

    def attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, M, out_dim) normed tokens and (B, M) mask -> (B, M, out_dim) what each token reads."""
        raise NotImplementedError

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        tokens = torch.stack([p(x) for p, x in zip(self.projections, xs, strict=True)], dim=1)
        tokens = tokens + self.modality_embedding  # (B, M, out_dim)
        tokens = tokens + self.attend(self.norm_attention(tokens), mask)
        tokens = tokens + self.feedforward(self.norm_feedforward(tokens))
        present = mask.unsqueeze(-1)
        pooled = torch.where(present, tokens, torch.zeros_like(tokens)).sum(1) / present.sum(1).to(tokens.dtype)
        return self.norm_out(pooled)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_heads={self.n_heads}"


class SelfAttentionFusion(_TokenFusion):
    """A small transformer layer of self-attention over one token per modality.

    Taught in chapter 8. Each modality becomes one token, ``t_i = P_i(x_i) + e_i`` (out_dim),
    with a learned modality embedding ``e_i``. One pre-norm transformer layer follows:
    multi-head *self*-attention in which every token's query meets the keys of all present
    tokens, its own included, then a feed-forward block, each with a residual connection.
    Because a token can read itself, nothing forces a modality to read the others: for the
    directional kind, where queries come from one modality and keys and values from the
    others only, see :class:`CrossAttentionFusion`. The output is the layer-normed mean of the present tokens.
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

    def build_attention(self) -> None:
        self.attention = nn.MultiheadAttention(self.out_dim, self.n_heads, batch_first=True)

    def attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attended, weights = self.attention(h, h, h, key_padding_mask=~mask, need_weights=True)
        self.last_attention = weights.detach()
        return attended


class CrossAttentionFusion(_TokenFusion):
    """Directional cross-modal attention: each modality's query reads the *other* modalities.

    Taught in chapter 8, in the sense of the multimodal transformer (Tsai et al., 2019): the
    queries come from one modality, the keys and values from the others. Each modality becomes
    one token, ``t_i = P_i(x_i) + e_i`` (out_dim), with a learned modality embedding ``e_i``.
    After a layer norm, ``h_i = LN(t_i)``, token ``i`` asks the query ``q_i = W_q h_i`` and the
    other present tokens ``j != i`` answer with keys ``k_j = W_k h_j`` and values
    ``v_j = W_v h_j`` (per head, split into ``n_heads`` parts of ``out_dim / n_heads``):

    ``c_i = W_o sum_{j != i} softmax_j(q_i . k_j / sqrt(d_head)) v_j``.

    Token ``i`` is never a key of its own query, so what it adds comes from the other
    modalities alone. A residual connection keeps the token, ``t_i + c_i``, and a pre-norm
    feed-forward block with its own residual follows. The output is the layer-normed mean of
    the present tokens. A masked modality is neither a query, nor a key, nor a value, nor part
    of the mean; a token whose other modalities are all masked receives nothing (``c_i = 0``).

    With more than two modalities, each query reads all the others through one softmax
    (the multimodal transformer instead runs one block per ordered pair of modalities).

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
        Attention of the last forward call, averaged over heads (detached): row ``i`` says how
        much modality ``i`` read from each other modality. The diagonal and masked rows and
        columns are 0; a present row sums to 1 when another modality is present, else to 0.
    """

    def build_attention(self) -> None:
        self.query = nn.Linear(self.out_dim, self.out_dim)
        self.key = nn.Linear(self.out_dim, self.out_dim)
        self.value = nn.Linear(self.out_dim, self.out_dim)
        self.output = nn.Linear(self.out_dim, self.out_dim)

    def allowed_keys(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, M) presence mask -> (B, M, M): True where query ``i`` may read key ``j``.

        Both must be present and ``j != i``.
        """
        others = ~torch.eye(self.n_modalities, dtype=torch.bool, device=mask.device)
        return others.unsqueeze(0) & mask.unsqueeze(1) & mask.unsqueeze(2)

    def cross_attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, M, out_dim) normed tokens -> (B, M, out_dim) what each token reads from the others."""
        batch, m, _ = h.shape
        d_head = self.out_dim // self.n_heads

        def heads(x: torch.Tensor) -> torch.Tensor:  # (B, M, out_dim) -> (B, heads, M, d_head)
            return x.view(batch, m, self.n_heads, d_head).transpose(1, 2)

        q, k, v = heads(self.query(h)), heads(self.key(h)), heads(self.value(h))
        allowed = self.allowed_keys(mask).unsqueeze(1)  # (B, 1, M, M)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d_head)
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        # A query with no allowed key would get a uniform softmax; the product zeroes it.
        weights = torch.softmax(scores, dim=-1) * allowed
        self.last_attention = weights.mean(1).detach()
        read = (weights @ v).transpose(1, 2).reshape(batch, m, self.out_dim)
        has_key = allowed.any(-1).squeeze(1).unsqueeze(-1)  # (B, M, 1)
        return torch.where(has_key, self.output(read), torch.zeros_like(read))

    def attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.cross_attend(h, mask)


class LateFusion(_Fusion):
    """Late fusion: one classifier per modality, their log-probabilities averaged.

    Taught in chapter 8. Member ``i`` maps ``(B, D_i)`` to ``(B, out_dim)`` class logits
    ``l_i``; the output is the mean of ``log_softmax(l_i)`` over the present modalities, so a
    masked modality simply drops out of the average. The output is a vector of class scores
    (averaged log-probabilities), not a learned embedding: the members never see each other.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each modality's vector (at least two modalities).
    out_dim : int
        Number of classes.
    members : list of nn.Module, optional
        One classifier per modality, ``(B, D_i) -> (B, out_dim)``, typically trained alone
        first. ``None`` builds ``Linear(D_i, hidden) -> ReLU -> Linear(hidden, out_dim)``.
    hidden : int
        Hidden size of the members built when ``members`` is None.
    """

    def __init__(
        self, dims: Sequence[int], out_dim: int, members: Sequence[nn.Module] | None = None, hidden: int = 64
    ) -> None:
        super().__init__(dims, out_dim)
        if members is None:
            hidden = check_int(hidden, "hidden", 1)
            members = [
                nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, self.out_dim)) for d in self.dims
            ]
        if isinstance(members, nn.Module) or not isinstance(members, Sequence):
            raise ValueError(f"members must be a list of {self.n_modalities} modules, got {type(members).__name__}")
        if len(members) != self.n_modalities or not all(isinstance(m, nn.Module) for m in members):
            raise ValueError(f"members must hold {self.n_modalities} nn.Module objects, one per modality")
        self.members = nn.ModuleList(members)

    def log_probabilities(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """(B, M, out_dim): each member's log-probabilities; checks each member's output shape."""
        out = []
        for i, (member, x) in enumerate(zip(self.members, xs, strict=True)):
            logits = member(x)
            if tuple(logits.shape) != (x.shape[0], self.out_dim):
                raise ValueError(
                    f"members[{i}] must return (B, out_dim) = {(x.shape[0], self.out_dim)}, got {tuple(logits.shape)}"
                )
            out.append(logits.log_softmax(dim=1))
        return torch.stack(out, dim=1)

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        logp = self.log_probabilities(self.zero_masked(xs, mask))
        w = mask.unsqueeze(-1).to(logp.dtype)
        # where() rather than a product: a masked member's output can never leak, even as NaN.
        return torch.where(w.bool(), logp, torch.zeros_like(logp)).sum(1) / w.sum(1)


def _check_groups(groups: object, n_modalities: int) -> list[list[int]]:
    """Groups must split the modalities 0..M-1 into at least two non-empty lists."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise ValueError(f"groups must be a list of lists of modality indices, got {type(groups).__name__}")
    if len(groups) < 2:
        raise ValueError(f"groups must hold at least two groups, got {len(groups)}")
    checked = []
    for i, g in enumerate(groups):
        if isinstance(g, (str, bytes)) or not isinstance(g, Sequence) or len(g) == 0:
            raise ValueError(f"groups[{i}] must be a non-empty list of modality indices, got {g!r}")
        checked.append([check_int(j, f"groups[{i}] entries", 0) for j in g])
    flat = sorted(j for g in checked for j in g)
    if flat != list(range(n_modalities)):
        raise ValueError(f"groups must use each modality 0..{n_modalities - 1} exactly once, got {checked}")
    return checked


class HierarchicalFusion(_Fusion):
    """Hierarchical fusion: fuse within groups of modalities (local), then across groups (global).

    Taught in chapter 8. Each group ``g`` of streams is fused into ``relu(F_g(x_g))`` of size
    ``local_dim``, where ``F_g`` is a :class:`ConcatFusion` (a linear layer for a group of one);
    a :class:`ConcatFusion` then fuses the groups into ``out_dim``. A group counts as present
    when any of its streams is; inside a group the masked streams are masked, and a group
    with nothing present is masked at the global level.

    Parameters
    ----------
    dims : list of int
        ``D_i``, the size of each stream's vector (at least two streams).
    out_dim : int
        Size of the fused vector.
    groups : list of list of int
        A partition of the stream indices ``0..M-1`` into at least two groups, e.g.
        ``[[0, 1], [2, 3]]`` for two halves of an image and two halves of a clip.
    local_dim : int
        Size of each group's fused vector.
    """

    def __init__(self, dims: Sequence[int], out_dim: int, groups: Sequence[Sequence[int]], local_dim: int = 32) -> None:
        super().__init__(dims, out_dim)
        self.groups = _check_groups(groups, self.n_modalities)
        self.local_dim = check_int(local_dim, "local_dim", 1)
        self.local = nn.ModuleList(
            ConcatFusion([self.dims[i] for i in g], self.local_dim)
            if len(g) > 1
            else nn.Linear(self.dims[g[0]], self.local_dim)
            for g in self.groups
        )
        self.glob = ConcatFusion([self.local_dim] * len(self.groups), self.out_dim)

    def forward(self, inputs: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse a list of M (B, D_i) tensors, with an optional (B, M) bool mask, into (B, out_dim)."""
        xs, mask = self.check_inputs(inputs, mask)
        xs = self.zero_masked(xs, mask)
        group_present = torch.stack([mask[:, g].any(dim=1) for g in self.groups], dim=1)  # (B, groups)
        local = []
        for k, (fuse, g) in enumerate(zip(self.local, self.groups, strict=True)):
            if len(g) == 1:
                local.append(torch.relu(fuse(xs[g[0]])))
                continue
            # An absent group is masked globally; inside it, any non-empty mask will do.
            local_mask = mask[:, g] | ~group_present[:, k : k + 1]
            local.append(torch.relu(fuse([xs[i] for i in g], local_mask)))
        return self.glob(local, group_present)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, groups={self.groups}, local_dim={self.local_dim}"


def _unit_blocks(parts: object, name: str) -> list[torch.Tensor]:
    if isinstance(parts, (str, bytes, torch.Tensor)) or not isinstance(parts, Sequence) or not parts:
        raise ValueError(f"{name} must be a non-empty list of (B, D_m) tensors, one per modality")
    blocks = []
    for m, part in enumerate(parts):
        t, from_numpy = as_tensor(part, f"{name}[{m}]")
        t = t.to(torch.get_default_dtype()) if from_numpy or not t.is_floating_point() else t
        check_ndim(t, f"{name}[{m}]", 2, "(B, D_m)")
        check_finite(t, f"{name}[{m}]")
        if t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"{name}[{m}] must not be empty, got shape {tuple(t.shape)}")
        if blocks and t.shape[0] != blocks[0].shape[0]:
            raise ValueError(f"{name}[{m}] has {t.shape[0]} rows, {name}[0] has {blocks[0].shape[0]}")
        if blocks:
            same_device(blocks[0], t, f"{name}[{m}]")
        blocks.append(t / t.norm(dim=1, keepdim=True).clamp_min(1e-12))
    return blocks


def stack_item_blocks(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """One row per item: its vector of every modality, each scaled to unit length, side by side.

    With :func:`fuse_query_blocks` on the query side, the inner product of a query row and an
    item row is a weighted mean of per-modality cosines, so one vector search (one index, one
    code path) serves every combination of query modalities (chapter 12).

    Parameters
    ----------
    parts : list of M (N, D_m) float tensors or arrays
        The items' vectors in each modality's space.

    Returns
    -------
    (N, sum D_m) float tensor
        On the device of ``parts[0]``.
    """
    return torch.cat(_unit_blocks(parts, "parts"), dim=1)


def fuse_query_blocks(
    parts: Sequence[torch.Tensor], mask: torch.Tensor, weights: Sequence[float] | None = None
) -> torch.Tensor:
    """Query-level fusion with a mask: one vector whose inner product with an item is a weighted mean of cosines.

    Block ``m`` of the output is ``w_m * mask[:, m] * unit(parts[m]) / sum_present(w)``; a
    missing modality's block is zero whatever its input holds, so a single-modality query is
    the same code path as a fused one (chapter 12). Against :func:`stack_item_blocks` rows,
    ``query @ item`` equals ``sum_m w_m mask_m cos(q_m, x_m) / sum_m w_m mask_m``.

    Parameters
    ----------
    parts : list of M (B, D_m) float tensors or arrays
        The query's vector in each modality's space; rows of missing modalities may hold
        anything finite (zeros, say).
    mask : (B, M) bool tensor or array
        True where the modality is present; every row needs at least one.
    weights : sequence of M positive floats, optional
        Weight of each modality; equal weights by default.

    Returns
    -------
    (B, sum D_m) float tensor
    """
    blocks = _unit_blocks(parts, "parts")
    n_modalities, batch = len(blocks), blocks[0].shape[0]
    m = torch.as_tensor(mask, device=blocks[0].device)
    if m.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got dtype {m.dtype}")
    if tuple(m.shape) != (batch, n_modalities):
        raise ValueError(f"mask must have shape ({batch}, {n_modalities}), got {tuple(m.shape)}")
    if not bool(m.any(dim=1).all()):
        raise ValueError("mask must mark at least one present modality in every row")
    if weights is None:
        weights = [1.0] * n_modalities
    if len(weights) != n_modalities:
        raise ValueError(f"weights must give one weight per modality ({n_modalities}), got {len(weights)}")
    w = torch.tensor([check_number(v, f"weights[{i}]", 0.0, strict=True) for i, v in enumerate(weights)])
    present = m.to(blocks[0].dtype) * w.to(blocks[0])
    present = present / present.sum(dim=1, keepdim=True)
    return torch.cat([b * present[:, i : i + 1] for i, b in enumerate(blocks)], dim=1)


__all__ = [
    "AttentionFusion",
    "BilinearFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "GatedFusion",
    "HierarchicalFusion",
    "LateFusion",
    "LowRankBilinearFusion",
    "SelfAttentionFusion",
    "WeightedSumFusion",
    "fuse_query_blocks",
    "stack_item_blocks",
]
