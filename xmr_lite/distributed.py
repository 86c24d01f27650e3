"""Training with :func:`xmr_lite.train.fit` on several processes (PyTorch DistributedDataParallel).

The recipe, taught in chapter 14 (:ref:`chap-practice`):

1. Launch one process per device with ``torchrun --nproc_per_node N script.py`` (or
   :func:`launch`, which runs ``python -m torch.distributed.run`` for you).
2. In the script, :func:`init_from_env` joins the process group (``"gloo"`` on CPUs,
   ``"nccl"`` on GPUs) and returns ``(rank, world_size)``.
3. Every process builds the same model, seeded identically, and the same global batches;
   :func:`fit_distributed` gives each process its slice of every batch (:func:`shard_batch`),
   wraps the model in ``DistributedDataParallel`` (which averages the gradients across
   processes after every backward pass) and calls :func:`xmr_lite.train.fit`.
4. A contrastive loss needs every other item of the *global* batch as a negative:
   :func:`all_gather_with_grad` collects the embeddings of all processes, keeping the
   gradient, as CLIP does. With it, N processes that each see ``B / N`` rows compute the same
   loss and the same update as one process that sees all ``B``.

Without an initialised process group every function here acts as on one process, so the same
loss function runs unchanged in a notebook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from xmr_lite._checks import check_choice, check_int
from xmr_lite.train import History, fit


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def init_from_env(backend: str = "gloo") -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment.

    Parameters
    ----------
    backend : {"gloo", "nccl"}
        ``"gloo"`` works on CPUs (and GPUs); ``"nccl"`` is the fast one between NVIDIA GPUs.

    Returns
    -------
    (rank, world_size) : tuple of int

    Raises
    ------
    ValueError
        For another backend, or when the torchrun variables (``RANK``, ``WORLD_SIZE``,
        ``MASTER_ADDR``, ``MASTER_PORT``) are missing.
    """
    check_choice(backend, "backend", ("gloo", "nccl"))
    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise ValueError(f"the environment lacks {missing}: start the script with torchrun")
    if not is_distributed():
        dist.init_process_group(backend=backend)
    return rank_and_world_size()


def shard_batch(batch: Any, rank: int, world_size: int) -> Any:
    """This process's slice of a global batch: rows ``rank * B/W`` to ``(rank + 1) * B/W``.

    Parameters
    ----------
    batch : tensor, or dict / list / tuple of tensors
        Every tensor has the same first dimension ``B``, a multiple of ``world_size``.
    rank, world_size : int
        ``0 <= rank < world_size``.

    Returns
    -------
    The same structure with (B / world_size, ...) tensors.
    """
    world_size = check_int(world_size, "world_size")
    rank = check_int(rank, "rank", 0)
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size = {world_size}, got {rank}")
    if isinstance(batch, torch.Tensor):
        if batch.ndim == 0 or batch.shape[0] % world_size:
            raise ValueError(
                f"each batch tensor needs a first dimension divisible by {world_size}, got {tuple(batch.shape)}"
            )
        size = batch.shape[0] // world_size
        return batch[rank * size : (rank + 1) * size]
    if isinstance(batch, Mapping):
        return {key: shard_batch(value, rank, world_size) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard_batch(value, rank, world_size) for value in batch)
    raise ValueError(f"batch must hold tensors (in a dict, list or tuple), got {type(batch).__name__}")


class ShardedBatches:
    """Iterate over ``loader`` and yield this process's slice of each batch (:func:`shard_batch`)."""

    def __init__(self, loader: Iterable, rank: int, world_size: int) -> None:
        self.loader, self.rank, self.world_size = loader, rank, world_size

    def __iter__(self) -> Iterator:
        for batch in self.loader:
            yield shard_batch(batch, self.rank, self.world_size)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate the (B, ...) tensors of all processes in rank order: (world_size * B, ...).

    The gradient flows back to every process's own rows, so a loss on the gathered rows
    trains each process's encoder. Outside a process group ``x`` is returned as it is.
    """
    if not isinstance(x, torch.Tensor) or x.ndim == 0:
        raise ValueError("x must be a (B, ...) tensor")
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


class BatchForward(nn.Module):
    """Make ``module.<method>(batch)`` the ``forward`` of a module, as DDP needs.

    ``DistributedDataParallel`` synchronises gradients only for what goes through its
    ``forward``; :class:`xmr_lite.shared_space.Towers` embeds with ``embed_batch``, so
    ``BatchForward(towers)`` calls that.
    """

    def __init__(self, module: nn.Module, method: str = "embed_batch") -> None:
        super().__init__()
        if not callable(getattr(module, method, None)):
            raise ValueError(f"module has no method {method!r}")
        self.module, self.method = module, method

    def forward(self, batch: Any) -> Any:
        return getattr(self.module, self.method)(batch)


def fit_distributed(
    model: nn.Module,
    loss_fn: Any,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    **fit_kwargs: Any,
) -> History:
    """:func:`xmr_lite.train.fit` on this process's slice of every batch, gradients averaged by DDP.

    Parameters
    ----------
    model : nn.Module
        The same, identically initialised, on every process. ``loss_fn`` must call it
        (``model(batch)``) rather than one of its methods: wrap a model without a suitable
        ``forward`` in :class:`BatchForward`.
    loss_fn : callable
        ``loss_fn(ddp_model, batch)``, as for ``fit``; to use the whole global batch as
        negatives, gather embeddings with :func:`all_gather_with_grad`.
    optimizer : torch.optim.Optimizer
        Built on ``model.parameters()``.
    train_loader : iterable of batches
        The *global* batches, identical on every process (same seed).
    **fit_kwargs
        Passed to ``fit``; ``progress`` is switched off except on rank 0 and ``device``
        defaults to ``cuda:<LOCAL_RANK>`` on GPUs, the CPU otherwise.

    Returns
    -------
    History
        As ``fit`` returns it; ``model`` holds the trained weights on every process.

    Notes
    -----
    Taught in chapter 14. Outside a process group this is plain ``fit``.
    """
    if not is_distributed():
        return fit(model, loss_fn, optimizer, train_loader, **fit_kwargs)
    rank, world_size = rank_and_world_size()
    if "device" not in fit_kwargs or fit_kwargs["device"] is None:
        local = int(os.environ.get("LOCAL_RANK", rank))
        fit_kwargs["device"] = torch.device(f"cuda:{local}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(fit_kwargs["device"])
    fit_kwargs["progress"] = fit_kwargs.get("progress", True) and rank == 0
    model.to(device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return fit(ddp, loss_fn, optimizer, ShardedBatches(train_loader, rank, world_size), **fit_kwargs)


def launch(script: str | Path, nproc: int = 2, args: Sequence[str] = (), timeout: float = 300.0) -> str:
    """Run ``script`` on ``nproc`` local processes with ``torchrun`` and return what it printed.

    Parameters
    ----------
    script : path
        A Python file that calls :func:`init_from_env`.
    nproc : int
        Processes on this machine (``--nproc_per_node``).
    args : sequence of str
        Passed to the script.
    timeout : float
        Seconds before the run is killed.

    Raises
    ------
    ValueError
        If the script does not exist.
    RuntimeError
        If a process fails; the message holds its output.
    """
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"script must be an existing file, got {script}")
    nproc = check_int(nproc, "nproc")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*command, str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"torchrun failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


__all__ = [
    "BatchForward",
    "ShardedBatches",
    "all_gather_with_grad",
    "fit_distributed",
    "init_from_env",
    "is_distributed",
    "launch",
    "rank_and_world_size",
    "shard_batch",
]
