"""The small training problem that ``test_distributed.py`` trains in one process and in two.

The two-process worker imports it too, so both runs train the same model on the same batches.
"""

from __future__ import annotations

import torch

from xmr_lite import distributed, losses
from xmr_lite.shared_space import Towers


def make_towers() -> Towers:
    """The two towers (a: 6 -> 5, b: 4 -> 5), drawn from seed 0."""
    torch.manual_seed(0)
    return Towers({"a": 6, "b": 4}, dim=5, hidden=8)


def make_batches() -> list[dict[str, torch.Tensor]]:
    """Six global batches of 8 pairs, (8, 6) and (8, 4), drawn from seed 1."""
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(6):
        batches.append({"a": torch.randn(8, 6, generator=generator), "b": torch.randn(8, 4, generator=generator)})
    return batches


def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """InfoNCE over the embeddings gathered from every process (temperature 0.5)."""
    z = model(batch)
    return losses.info_nce(distributed.all_gather_with_grad(z["a"]), distributed.all_gather_with_grad(z["b"]), 0.5)
