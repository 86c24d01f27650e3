"""A small training loop, retrieval scores for a whole split, and checkpoints (chapter 9).

The loop is deliberately plain: for each epoch, for each batch, move the batch to the device,
compute the loss, step the optimiser; then measure the model on the validation data, keep the
best weights, and stop when the metric has not improved for ``patience`` epochs. Everything
it measured comes back in a :class:`History`.

How a batch turns into a loss is the caller's business: ``loss_fn(model, batch)`` receives the
model and the batch (already on the device) and returns the loss, or ``(loss, logs)`` where
``logs`` is a dict of extra numbers to record (for example the fraction of active triplets);
0-d tensors there are summed on the device and read once per epoch.

Beyond the plain loop, :func:`fit` can step a learning-rate scheduler (after every optimiser
step or after every epoch), stop after a fixed number of optimiser steps (``max_steps``),
clip the gradient norm, and records the loss of every step and the seconds spent training, so
that a chapter needs no hand-written loop for a one-cycle schedule or a fixed step budget.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from xmr_lite import distances
from xmr_lite._checks import ArrayLike, as_tensor, check_choice, check_finite, check_int, check_number, module_dtype
from xmr_lite._runtime import get_device

LossOutput = Union[torch.Tensor, tuple[torch.Tensor, Mapping[str, Union[float, torch.Tensor]]]]
LossFn = Callable[[nn.Module, Any], LossOutput]
MetricFn = Callable[[nn.Module, Iterable], float]


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch that ran.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch.
    val_metric : list of float
        The validation metric after each epoch (empty without validation data).
    logs : dict of str to list of float
        Per-epoch means of the extra numbers ``loss_fn`` returned.
    best_epoch : int
        0-based epoch whose weights the model holds at the end (the last one without
        validation data).
    best_metric : float
        The validation metric at ``best_epoch`` (NaN without validation data).
    stopped_early : bool
        True when training stopped before ``epochs`` because the metric stopped improving.
    step_loss : list of float
        The loss of every optimiser step, in order.
    learning_rate : list of float
        The learning rate of the first parameter group at every optimiser step (what a
        scheduler did to it).
    steps : int
        Optimiser steps taken.
    seconds : float
        Wall-clock seconds spent in training and validation.
    stopped_at_max_steps : bool
        True when ``max_steps`` optimiser steps were taken (training ended there).
    """

    train_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    logs: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = -1
    best_metric: float = math.nan
    stopped_early: bool = False
    step_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped_at_max_steps: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain Python types only, so that it can be stored in a :func:`save` checkpoint."""
        return {
            "train_loss": list(self.train_loss),
            "val_metric": list(self.val_metric),
            "logs": {k: list(v) for k, v in self.logs.items()},
            "best_epoch": self.best_epoch,
            "best_metric": self.best_metric,
            "stopped_early": self.stopped_early,
            "step_loss": list(self.step_loss),
            "learning_rate": list(self.learning_rate),
            "steps": self.steps,
            "seconds": self.seconds,
            "stopped_at_max_steps": self.stopped_at_max_steps,
        }


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a batch (a tensor, or tuples, lists and dicts of them) to ``device``.

    Anything that is not a tensor (a list of strings, a number) is returned unchanged.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` by default).

    A ``Conv2d(C, O, k)`` layer with bias holds ``O * C * k * k + O`` of them; a
    ``Linear(D, O)`` layer ``O * D + O``. Used in chapters 5 and 8 to compare models.

    Parameters
    ----------
    model : nn.Module
    trainable_only : bool
        Count only the parameters that receive gradients (the default), or all of them.

    Returns
    -------
    int
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(trainable_only, bool):
        raise ValueError(f"trainable_only must be a bool, got {trainable_only!r}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _split_loss(output: LossOutput) -> tuple[torch.Tensor, Mapping[str, float | torch.Tensor]]:
    loss, logs = output if isinstance(output, tuple) else (output, {})
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise ValueError("loss_fn must return a 0-d tensor, or a (0-d tensor, dict) pair")
    if not isinstance(logs, Mapping):
        raise ValueError(f"the logs returned by loss_fn must be a dict, got {type(logs).__name__}")
    return loss, logs


def validation_loss(loss_fn: LossFn) -> MetricFn:
    """A metric for :func:`fit`: the mean of ``loss_fn`` over the validation batches.

    Lower is better, so use it with ``mode="min"`` (what :func:`fit` does when no metric is
    given).
    """

    def metric(model: nn.Module, loader: Iterable) -> float:
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for batch in loader:
            loss, _ = _split_loss(loss_fn(model, to_device(batch, device)))
            total, count = total + loss.item(), count + 1
        if count == 0:
            raise ValueError("val_loader produced no batch")
        return total / count

    return metric


def _check_scheduler(scheduler: object, interval: str, optimizer: torch.optim.Optimizer) -> None:
    check_choice(interval, "scheduler_interval", ("step", "epoch"))
    if scheduler is None:
        return
    if not hasattr(scheduler, "step") or not callable(scheduler.step):
        raise ValueError(f"scheduler must have a step() method, got {type(scheduler).__name__}")
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError("scheduler must be built on the optimizer passed to fit")
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and interval != "epoch":
        raise ValueError('a ReduceLROnPlateau scheduler needs scheduler_interval="epoch"')


def _step_scheduler_after_epoch(scheduler: object, epoch_value: float) -> None:
    """Step a per-epoch scheduler; ReduceLROnPlateau reads the epoch's metric (or mean loss)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(epoch_value)
    else:
        scheduler.step()


def _train_one_epoch(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    device: torch.device,
    epoch: int,
    history: History,
    step_scheduler: Callable[[], None] | None,
    max_steps: int | None,
    max_grad_norm: float | None,
) -> tuple[float, dict[str, float]]:
    """One pass over ``train_loader`` (or fewer batches once ``max_steps`` is reached).

    Returns the mean loss of the epoch's steps and the means of the extra logs.
    """
    model.train()
    total, count = 0.0, 0
    sums: dict[str, float | torch.Tensor] = {}
    for batch in train_loader:
        if max_steps is not None and history.steps >= max_steps:
            break
        loss, logs = _split_loss(loss_fn(model, to_device(batch, device)))
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise ValueError(f"the loss became {loss_value} in epoch {epoch}")
        optimizer.zero_grad()
        loss.backward()
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        history.learning_rate.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        if step_scheduler is not None:
            step_scheduler()
        history.steps += 1
        history.step_loss.append(loss_value)
        total, count = total + loss_value, count + 1
        for key, value in logs.items():  # tensors are summed on the device, read once an epoch
            sums[key] = sums.get(key, 0.0) + (value.detach() if isinstance(value, torch.Tensor) else float(value))
    if count == 0:
        raise ValueError("train_loader produced no batch")
    return total / count, {key: float(value) / count for key, value in sums.items()}


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    epochs: int = 10,
    metric: MetricFn | None = None,
    mode: str | None = None,
    patience: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    scheduler: Any | None = None,
    scheduler_interval: str = "step",
    max_steps: int | None = None,
    max_grad_norm: float | None = None,
    desc: str = "epochs",
) -> History:
    """Train ``model`` for up to ``epochs`` epochs, with early stopping on a validation metric.

    Parameters
    ----------
    model : nn.Module
        Moved to ``device``. At the end it holds the weights of the best validation epoch.
    loss_fn : callable
        ``loss_fn(model, batch)`` returns a 0-d loss tensor, or ``(loss, logs)`` with ``logs``
        a dict of floats to record per epoch. The batch arrives on ``device``. Augmentation
        and input preparation belong here (the batch is whatever the loader yields).
    optimizer : torch.optim.Optimizer
        Built on ``model.parameters()``.
    train_loader : iterable of batches
        A ``DataLoader`` or anything that can be iterated once per epoch.
    val_loader : iterable of batches, optional
        Without it there is no validation and no early stopping.
    epochs : int, >= 1
    metric : callable, optional
        ``metric(model, val_loader)`` returns a float; it runs in eval mode without gradients.
        Default: the mean validation loss (lower is better).
    mode : {"max", "min"}, optional
        Whether a larger or a smaller metric is better. Default: ``"max"`` for a given
        ``metric``, ``"min"`` for the validation loss.
    patience : int, optional
        Stop after this many epochs without improvement. ``None``: never stop early.
    device : torch.device or str, optional
        Default: :func:`xmr_lite.get_device`.
    progress : bool
        Show a tqdm bar over the epochs, with the latest loss and metric.
    scheduler : torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau, optional
        A learning-rate scheduler built on ``optimizer``. It is stepped after every optimiser
        step (``scheduler_interval="step"``, what ``OneCycleLR`` expects, whose
        ``total_steps`` is then ``epochs * len(train_loader)`` or ``max_steps``) or after
        every epoch (``"epoch"``, what ``StepLR`` and ``CosineAnnealingLR`` with ``T_max`` in
        epochs expect). A ``ReduceLROnPlateau`` is stepped per epoch with the validation
        metric, or with the epoch's mean training loss when there is no validation data;
        give it the same ``mode`` as ``fit``.
    scheduler_interval : {"step", "epoch"}
        When ``scheduler`` is stepped; ignored without a scheduler.
    max_steps : int, optional
        Stop after this many optimiser steps in all, even in the middle of an epoch (that
        epoch is then recorded and validated like the others). ``None``: no limit.
    max_grad_norm : float, optional
        Clip the gradient norm of all parameters to this value before each step.
    desc : str
        The progress bar's label.

    Returns
    -------
    History
        Per epoch: the mean loss, the metric, the logs; per step: the loss and the learning
        rate; the number of steps and the seconds it took.

    Raises
    ------
    ValueError
        For a bad argument, a batch-less loader, or a loss or metric that is not finite (the
        message says which epoch).

    Notes
    -----
    Taught in chapter 9. Without ``scheduler``, ``max_steps`` and ``max_grad_norm`` it behaves
    exactly as before they existed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    epochs = check_int(epochs, "epochs")
    if mode is None:
        mode = "max" if metric is not None else "min"
    check_choice(mode, "mode", ("max", "min"))
    if patience is not None:
        patience = check_int(patience, "patience")
    if max_steps is not None:
        max_steps = check_int(max_steps, "max_steps")
    if max_grad_norm is not None:
        max_grad_norm = check_number(max_grad_norm, "max_grad_norm", 0.0, strict=True)
    _check_scheduler(scheduler, scheduler_interval, optimizer)
    if metric is None and val_loader is not None:
        if mode != "min":
            raise ValueError('without a metric the validation loss is used, which needs mode="min"')
        metric = validation_loss(loss_fn)
    device = torch.device(device) if device is not None else get_device()
    model.to(device)

    history = History()
    step_scheduler = scheduler.step if scheduler is not None and scheduler_interval == "step" else None
    better = (lambda new, old: new > old) if mode == "max" else (lambda new, old: new < old)
    best_state: dict[str, torch.Tensor] | None = None
    epochs_without_gain = 0
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        mean_loss, log_means = _train_one_epoch(
            model, loss_fn, optimizer, train_loader, device, epoch, history, step_scheduler, max_steps, max_grad_norm
        )
        history.train_loss.append(mean_loss)
        for key, value in log_means.items():
            history.logs.setdefault(key, []).append(value)
        reached_max_steps = max_steps is not None and history.steps >= max_steps

        if val_loader is None:
            history.best_epoch = epoch
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            if scheduler is not None and scheduler_interval == "epoch":
                _step_scheduler_after_epoch(scheduler, mean_loss)
            if reached_max_steps:
                history.stopped_at_max_steps = True
                break
            continue
        model.eval()
        with torch.no_grad():
            value = float(metric(model, val_loader))
        if not math.isfinite(value):
            raise ValueError(f"the validation metric is {value} after epoch {epoch}")
        history.val_metric.append(value)
        bar.set_postfix(loss=f"{mean_loss:.4f}", val=f"{value:.4f}")
        if scheduler is not None and scheduler_interval == "epoch":
            _step_scheduler_after_epoch(scheduler, value)
        if best_state is None or better(value, history.best_metric):
            history.best_epoch, history.best_metric = epoch, value
            best_state = copy.deepcopy(model.state_dict())
            epochs_without_gain = 0
        else:
            epochs_without_gain += 1
            if patience is not None and epochs_without_gain >= patience:
                history.stopped_early = epoch < epochs - 1
                break
        if reached_max_steps:
            history.stopped_at_max_steps = True
            break
    bar.close()
    history.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def encode(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    data: torch.Tensor | np.ndarray,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Encode a whole split in batches, without gradients.

    Parameters
    ----------
    encoder : callable
        Maps a (b, ...) batch to (b, D) embeddings: a model, or one of its methods. A module
        (or the module a bound method belongs to) is put in eval mode first.
    data : (N, ...) float tensor, or array of any numeric dtype
        The split's inputs, cast to the dtype of the encoder's parameters (float32 for a
        default model) before they are batched: a float64 or uint8 array works as is.
    batch_size : int, >= 1
    device : torch.device or str, optional
        Where the batches go. Default: the device of the encoder's parameters, else
        :func:`xmr_lite.get_device`.

    Returns
    -------
    (N, D) float tensor on ``device``.

    Notes
    -----
    Taught in chapter 9.
    """
    if not callable(encoder):
        raise ValueError(f"encoder must be callable, got {type(encoder).__name__}")
    x, from_numpy = as_tensor(data, "data")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"data must hold at least one item along its first axis, got shape {tuple(x.shape)}")
    if not x.is_floating_point() and not from_numpy:
        raise ValueError(f"data must be floating point, got {x.dtype}")
    batch_size = check_int(batch_size, "batch_size")
    module = encoder if isinstance(encoder, nn.Module) else getattr(encoder, "__self__", None)
    x = x.to(module_dtype(module))  # float64 or uint8 arrays meet a float32 model here
    check_finite(x, "data")
    if device is None:
        params = list(module.parameters()) if isinstance(module, nn.Module) else []
        device = params[0].device if params else get_device()
    device = torch.device(device)
    if isinstance(module, nn.Module):
        module.eval()
    outputs = []
    with torch.no_grad():
        for batch in torch.split(x, batch_size):
            z = encoder(batch.to(device))
            if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != batch.shape[0]:
                raise ValueError(f"encoder must return a (b, D) tensor for a batch of {batch.shape[0]}")
            outputs.append(z)
    return torch.cat(outputs)


def retrieval_scores(
    query_encoder: Callable[[torch.Tensor], torch.Tensor],
    queries: torch.Tensor | np.ndarray,
    gallery_encoder: Callable[[torch.Tensor], torch.Tensor],
    gallery: torch.Tensor | np.ndarray,
    metric: str = "cosine",
    batch_size: int = 256,
    device: torch.device | str | None = None,
    **metric_kwargs: Any,
) -> torch.Tensor:
    """Encode a query split and a gallery split, and score every pair, higher = better.

    The result goes straight into :func:`xmr_lite.metrics.evaluate`.

    Parameters
    ----------
    query_encoder, gallery_encoder : callable
        Map (b, ...) inputs of their modality to (b, D) embeddings in the shared space.
    queries : (Q, ...) float tensor or array
    gallery : (N, ...) float tensor or array
    metric : str
        Any name of :data:`xmr_lite.distances.METRICS`; distances are negated so that higher
        is always better. ``"kl"`` and ``"js"`` need embeddings whose rows are probability
        distributions (an encoder ending in a softmax).
    batch_size : int
    device : torch.device or str, optional
        As in :func:`encode`.
    **metric_kwargs
        Passed to :func:`xmr_lite.distances.pairwise`: ``VI`` or ``data`` (and
        ``shrinkage``) for ``"mahalanobis"``, which needs one of them. Tensors must be on the
        embeddings' device.

    Returns
    -------
    (Q, N) float tensor.

    Notes
    -----
    Taught in chapter 9.
    """
    metric = distances.canonical_metric(metric)
    if metric == "mahalanobis" and not metric_kwargs:
        raise ValueError('metric "mahalanobis" needs VI= (a precision matrix) or data= (embeddings to estimate it)')
    if metric_kwargs and metric != "mahalanobis":
        raise ValueError(f"metric {metric!r} takes no extra arguments, got {sorted(metric_kwargs)}")
    q = encode(query_encoder, queries, batch_size, device)
    g = encode(gallery_encoder, gallery, batch_size, q.device)
    scores = distances.pairwise(q, g, metric, **metric_kwargs)
    return scores if distances.is_similarity(metric) else -scores


def save(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint: the model's weights, optionally the optimiser's state and extras.

    The file is written to a temporary name and renamed only once complete, so a crash never
    leaves half a checkpoint behind.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    model : nn.Module
    optimizer : torch.optim.Optimizer, optional
    extra : dict, optional
        Plain Python values (numbers, strings, lists, dicts) and tensors only, such as
        ``History.as_dict()`` or the epoch: :func:`load` reads with ``weights_only=True``, which
        refuses arbitrary pickled objects.

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    Taught in chapter 9.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if extra is not None and not isinstance(extra, Mapping):
        raise ValueError(f"extra must be a dict, got {type(extra).__name__}")
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"path's folder {path.parent} does not exist")
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": dict(extra) if extra is not None else {},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: torch.device | str | None = None,
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save` into ``model`` (and ``optimizer``).

    Uses ``torch.load(weights_only=True)``: only tensors and plain Python values are
    unpickled, so loading a file from elsewhere cannot run code.

    Parameters
    ----------
    path : str or path-like
    model : nn.Module
        Must have the architecture that was saved (the state dict is loaded strictly).
    optimizer : torch.optim.Optimizer, optional
        Restored too when given; the checkpoint must then hold an optimiser state.
    map_location : torch.device or str, optional
        Where the tensors are loaded; default: the device of the model's parameters.

    Returns
    -------
    dict
        The ``extra`` dict that was saved.

    Notes
    -----
    Taught in chapter 9.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {path} is not a file")
    if map_location is None:
        params = list(model.parameters())
        map_location = params[0].device if params else "cpu"
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a checkpoint written by xmr_lite.train.save")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state.get("extra", {})


def ogm_coefficients(score_a: ArrayLike, score_b: ArrayLike, alpha: float = 0.5) -> tuple[float, float]:
    """OGM-GE's gradient coefficients for two modalities (Peng et al., 2022; chapter 14).

    On-the-fly gradient modulation slows down the modality that is ahead. Each training
    example ``i`` gets a score per modality, ``s_i^a`` and ``s_i^b``: how much probability that
    modality's share of the logits, alone, puts on the right answer. With the discrepancy
    ratio ``ρ^a = Σ_i s_i^a / Σ_i s_i^b`` (and ``ρ^b = 1 / ρ^a``), the coefficient of
    modality ``u`` is ``k^u = 1 - tanh(α ρ^u)`` when ``ρ^u > 1`` and ``1`` otherwise: the
    dominant modality's encoder gradient is multiplied by ``k^u < 1``, the other's is left
    alone. Apply the coefficients with :func:`modulate_gradients_`.

    Parameters
    ----------
    score_a, score_b : (B,) float tensor or array
        Per-example scores of the two modalities, non-negative (probabilities, usually).
    alpha : float, > 0
        The modulation strength ``α``.

    Returns
    -------
    (k_a, k_b) : tuple of float
        Each in ``[0, 1]`` (``tanh`` rounds to 1 for a large ``α ρ``); at most one is below 1.

    Raises
    ------
    ValueError
        If a score vector is not 1-D, is empty, holds NaN or negative values, the two differ
        in length, either sums to zero, or ``alpha`` is not a positive number.
    """
    alpha = check_number(alpha, "alpha", minimum=0.0, strict=True)
    sums = []
    for name, score in (("score_a", score_a), ("score_b", score_b)):
        t, _ = as_tensor(score, name)
        if t.ndim != 1 or t.numel() == 0:
            raise ValueError(f"{name} must be a non-empty 1-D vector of per-example scores, got shape {tuple(t.shape)}")
        t = t.detach().to(torch.float64)
        check_finite(t, name)
        if bool((t < 0).any()):
            raise ValueError(f"{name} must be non-negative")
        sums.append((float(t.sum()), t.numel()))
    (sum_a, n_a), (sum_b, n_b) = sums
    if n_a != n_b:
        raise ValueError(f"score_a and score_b must have the same length, got {n_a} and {n_b}")
    if sum_a == 0 or sum_b == 0:
        raise ValueError("score_a and score_b must each have a positive sum")
    ratio_a = sum_a / sum_b
    ratio_b = sum_b / sum_a
    k_a = 1.0 - math.tanh(alpha * ratio_a) if ratio_a > 1 else 1.0
    k_b = 1.0 - math.tanh(alpha * ratio_b) if ratio_b > 1 else 1.0
    return k_a, k_b


def modulate_gradients_(
    parameters: Iterable[torch.Tensor],
    coefficient: float,
    noise: bool = True,
    generator: torch.Generator | None = None,
) -> None:
    """Scale gradients in place by OGM's coefficient and add GE's Gaussian noise (chapter 14).

    For every parameter with a gradient, ``g ← k g + h`` with ``h ~ N(0, σ_g²)``, where
    ``σ_g`` is the standard deviation of the entries of that parameter's unscaled gradient
    ("generalisation enhancement": the noise keeps the slowed-down modality exploring, as in
    the authors' code). Parameters with one entry, whose spread is undefined, are only
    scaled. Call it between ``loss.backward()`` and ``optimizer.step()``, for example from
    ``optimizer.register_step_pre_hook``.

    Parameters
    ----------
    parameters : iterable of tensors
        One modality's encoder parameters, e.g. ``encoder.parameters()``.
    coefficient : float, in [0, 1]
        ``k`` from :func:`ogm_coefficients`.
    noise : bool
        Add the noise (OGM-GE); ``False`` gives plain OGM.
    generator : torch.Generator, optional
        Seeds the noise; it must be on the gradients' device.

    Raises
    ------
    ValueError
        If ``coefficient`` is not in ``[0, 1]``.
    """
    coefficient = check_number(coefficient, "coefficient", minimum=0.0)
    if coefficient > 1:
        raise ValueError(f"coefficient must be in [0, 1], got {coefficient}")
    with torch.no_grad():
        for p in parameters:
            if p.grad is None:
                continue
            spread = float(p.grad.std()) if p.grad.numel() > 1 else 0.0
            p.grad.mul_(coefficient)
            if noise and spread > 0:
                p.grad.add_(
                    torch.randn(p.grad.shape, generator=generator, device=p.grad.device, dtype=p.grad.dtype) * spread
                )


__all__ = [
    "History",
    "count_parameters",
    "encode",
    "fit",
    "load",
    "modulate_gradients_",
    "ogm_coefficients",
    "retrieval_scores",
    "save",
    "to_device",
    "validation_loss",
]
