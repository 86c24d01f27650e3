"""Dynamic time warping between feature sequences, batched over many references (chapter 11).

Two recordings of one word differ in speed: one voice stretches a vowel that another
clips. Dynamic time warping (DTW; Sakoe and Chiba, 1978) aligns the frames of two sequences
monotonically, each frame matched to at least one frame of the other, and returns the
smallest total frame distance over all such alignments. With the three classic steps
(diagonal, down, right), all of weight 1, the accumulated cost obeys

    D[i, j] = C[i, j] + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1]),   D[-1, -1] = 0,

and the distance is ``D[T - 1, L - 1]``: exactly what ``librosa.sequence.dtw(X, Y,
metric=...)`` returns in ``D[-1, -1]`` (the tests check it).

Every cell of one anti-diagonal ``i + j = d`` depends only on the two diagonals before it,
so the recursion runs ``T + L - 1`` vectorised steps over a whole batch of pairs, on any
device, instead of ``T * L`` scalar ones.
"""

from __future__ import annotations

import torch

from xmr_lite._checks import ArrayLike, as_float, as_tensor, check_choice, check_finite, same_device, to_output
from xmr_lite.audio.common import _writable

DTW_METRICS = ("euclidean", "sqeuclidean", "cosine")
"""Frame distances accepted by :func:`dtw` (the names of :func:`scipy.spatial.distance.cdist`)."""


def _as_sequences(x: object, name: str) -> tuple[torch.Tensor, bool]:
    """A finite float array (D, T) or (B, D, T), as a (B, D, T) tensor."""
    t, from_numpy = as_tensor(_writable(x), name)
    if t.ndim not in (2, 3):
        raise ValueError(f"{name} must be one sequence (D, T) or a batch (B, D, T), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    t = as_float(t, from_numpy)
    check_finite(t, name)
    return (t if t.ndim == 3 else t.unsqueeze(0)), from_numpy


def _as_lengths(lengths: object, batch: int, frames: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """(B,) int64 numbers of valid frames in [1, frames]; all frames when ``lengths`` is None."""
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.int64, device=like.device)
    t, _ = as_tensor(_writable(lengths), name)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got dtype {t.dtype}")
    if t.shape not in ((batch,), ()):
        raise ValueError(f"{name} must have shape ({batch},), got shape {tuple(t.shape)}")
    t = t.to(device=like.device, dtype=torch.int64).expand(batch)
    if bool(((t < 1) | (t > frames)).any()):
        raise ValueError(f"{name} must lie in [1, {frames}], got values from {int(t.min())} to {int(t.max())}")
    return t.contiguous()


def frame_distances(x: torch.Tensor, y: torch.Tensor, metric: str) -> torch.Tensor:
    """(B, D, T) and (B, D, L) -> (B, T, L) distances between every frame of x and of y.

    Parameters
    ----------
    x : (B, D, T) float tensor
    y : (B, D, L) float tensor, on the device of ``x``
    metric : str
        One of :data:`DTW_METRICS`; ``"cosine"`` is one minus the cosine similarity, and a
        frame of zeros is at distance 1 from everything.

    Returns
    -------
    (B, T, L) float tensor
    """
    check_choice(metric, "metric", DTW_METRICS)
    a, b = x.transpose(1, 2), y.transpose(1, 2)
    if metric == "cosine":
        a = a / a.norm(dim=2, keepdim=True).clamp_min(1e-12)
        b = b / b.norm(dim=2, keepdim=True).clamp_min(1e-12)
        return 1.0 - a @ b.transpose(1, 2)
    distance = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
    return distance**2 if metric == "sqeuclidean" else distance


def _skew(cost: torch.Tensor) -> torch.Tensor:
    """(B, T, L) -> (T + L - 1, B, T): row ``d`` holds the anti-diagonal i + j = d, indexed by i (inf off the grid).

    Row i of the cost is written into a wider inf-filled grid shifted right by i (one
    strided copy, no index arithmetic), so that column d of the grid is anti-diagonal d.
    """
    batch, n_x, n_y = cost.shape
    width = n_x + n_y
    grid = torch.full((batch, n_x, width), float("inf"), dtype=cost.dtype, device=cost.device)
    grid.as_strided((batch, n_x, n_y), (n_x * width, width + 1, 1)).copy_(cost)
    return grid[:, :, : width - 1].permute(2, 0, 1).contiguous()


def _accumulate(cost: torch.Tensor, x_lengths: torch.Tensor, y_lengths: torch.Tensor) -> torch.Tensor:
    """The DTW recursion over anti-diagonals: (B, T, L) frame costs -> (B,) D[Tb - 1, Lb - 1].

    ``acc[d, :, 1 + i]`` is D[i, d - i]; column 0 is an inf border, so that D[i - 1, .] of
    row i = 0 reads inf without a special case.
    """
    diagonals = _skew(cost)
    n_steps, batch, n_x = diagonals.shape
    acc = torch.full((n_steps, batch, n_x + 1), float("inf"), dtype=cost.dtype, device=cost.device)
    acc[0, :, 1:] = diagonals[0]  # d = 0: only (0, 0), whose cost is C[0, 0]
    best = torch.empty((batch, n_x), dtype=cost.dtype, device=cost.device)
    for step in range(1, n_steps):
        previous = acc[step - 1]
        torch.minimum(previous[:, 1:], previous[:, :-1], out=best)  # D[i, j - 1] and D[i - 1, j]
        if step > 1:
            torch.minimum(best, acc[step - 2, :, :-1], out=best)  # D[i - 1, j - 1]
        torch.add(diagonals[step], best, out=acc[step, :, 1:])
    rows = torch.arange(batch, device=cost.device)
    return acc[x_lengths + y_lengths - 2, rows, x_lengths]


def dtw(
    x: ArrayLike,
    y: ArrayLike,
    metric: str = "euclidean",
    x_lengths: ArrayLike | None = None,
    y_lengths: ArrayLike | None = None,
) -> ArrayLike:
    """Dynamic time warping cost between feature sequences, batched (chapter 11).

    The accumulated cost of the best monotonic alignment with the steps (1, 1), (1, 0) and
    (0, 1), each of weight 1: ``librosa.sequence.dtw(X, Y, metric=metric)[0][-1, -1]``. It is
    not normalised by the path length; divide by ``T + L`` to compare pairs of different
    lengths.

    Parameters
    ----------
    x : (D, T) or (B, D, T) float array
        One sequence of T frames of D features (the layout of :func:`xmr_lite.audio.mfcc`), or
        a batch padded at the end to T frames.
    y : (D, L) or (B, D, L) float array
        The same for the other side. A single sequence on either side is compared with every
        sequence of the other's batch; two batches must have the same B.
    metric : str
        Frame distance, one of :data:`DTW_METRICS`.
    x_lengths, y_lengths : (B,) int arrays, optional
        The number of valid frames of each padded sequence (the rest is ignored); all frames
        when omitted.

    Returns
    -------
    float tensor
        A 0-d tensor for two single sequences, else (B,) costs. Numpy in, numpy out; the
        dtype is that of the inputs (float32 for float32 features).

    Raises
    ------
    ValueError
        If an input is not 2-D or 3-D, empty, holds NaN or infinity, or the two disagree on D,
        on B or on the device; if a length is outside [1, T]; if ``metric`` is unknown.

    Examples
    --------
    >>> x = torch.tensor([[0.0, 1.0, 2.0]])
    >>> float(dtw(x, torch.tensor([[0.0, 1.0, 1.0, 2.0]])))
    0.0
    """
    check_choice(metric, "metric", DTW_METRICS)
    single = getattr(x, "ndim", None) == 2 and getattr(y, "ndim", None) == 2
    a, a_numpy = _as_sequences(x, "x")
    b, b_numpy = _as_sequences(y, "y")
    same_device(a, b, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y must have the same number of features D, got {a.shape[1]} and {b.shape[1]}")
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        raise ValueError(
            f"x and y must have the same batch size B (or one a single sequence), got {a.shape[0]} and {b.shape[0]}"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    batch = max(a.shape[0], b.shape[0])
    a, b = a.to(dtype).expand(batch, -1, -1), b.to(dtype).expand(batch, -1, -1)
    n_x = _as_lengths(x_lengths, batch, a.shape[2], "x_lengths", a)
    n_y = _as_lengths(y_lengths, batch, b.shape[2], "y_lengths", a)
    cost = frame_distances(a, b, metric)
    with torch.no_grad():
        result = _accumulate(cost, n_x, n_y)
    return to_output(result[0] if single else result, a_numpy or b_numpy)
