"""Tests of xmr_lite.distributed: sharding, gathering, and a real 2-process gloo run against one process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._distributed_problem import loss_fn, make_batches, make_towers
from xmr_lite import distributed
from xmr_lite.shared_space import Towers

# The worker trains the same problem with the same global batches as `_train_single` below.
WORKER = textwrap.dedent(
    """
    import sys

    sys.path.insert(0, sys.argv[2])  # the repository root, for the tests package
    import torch
    from xmr_lite import distributed
    from tests._distributed_problem import loss_fn, make_batches, make_towers

    torch.set_num_threads(1)
    rank, world = distributed.init_from_env("gloo")
    towers = make_towers()
    model = distributed.BatchForward(towers)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    history = distributed.fit_distributed(model, loss_fn, optimizer, make_batches(), epochs=2, progress=False)
    if rank == 0:
        torch.save(towers.state_dict(), sys.argv[1])
    print(f"rank {rank} of {world}: {history.steps} steps")
    torch.distributed.destroy_process_group()
    """
)
REPO_ROOT = Path(__file__).resolve().parents[1]


def _train_single() -> Towers:
    from xmr_lite import train

    towers = make_towers()
    model = distributed.BatchForward(towers)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    train.fit(model, loss_fn, optimizer, make_batches(), epochs=2, progress=False, device="cpu")
    return towers


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = distributed.launch(script, nproc=2, args=[str(tmp_path / "state.pt"), str(REPO_ROOT)], timeout=240)
    assert "rank 0 of 2: 12 steps" in out and "rank 1 of 2: 12 steps" in out
    ddp_state = torch.load(tmp_path / "state.pt")
    single_state = _train_single().state_dict()
    initial = make_towers().state_dict()
    moved = max(float((single_state[k] - initial[k]).abs().max()) for k in single_state)
    assert moved > 1e-2  # training changed the weights, so agreement is not trivial
    for key, value in single_state.items():
        assert torch.allclose(ddp_state[key], value, atol=1e-5), key


def test_launch_reports_failures(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="script must be an existing file"):
        distributed.launch(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit(3)\n")
    with pytest.raises(RuntimeError, match="torchrun failed"):
        distributed.launch(bad, nproc=1, timeout=120)


@settings(max_examples=30, deadline=None)
@given(world=st.integers(1, 4), rows_each=st.integers(1, 5), seed=st.integers(0, 1000))
def test_shards_put_back_together_are_the_batch(world: int, rows_each: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    batch = {"x": torch.randn(world * rows_each, 3, generator=generator), "y": torch.arange(world * rows_each)}
    shards = [distributed.shard_batch(batch, r, world) for r in range(world)]
    assert torch.equal(torch.cat([s["x"] for s in shards]), batch["x"])
    assert torch.equal(torch.cat([s["y"] for s in shards]), batch["y"])


def test_shard_batch_errors_and_structures() -> None:
    pair = distributed.shard_batch((torch.arange(4), [torch.arange(4)]), 1, 2)
    assert pair[0].tolist() == [2, 3] and pair[1][0].tolist() == [2, 3]
    with pytest.raises(ValueError, match="divisible by 2"):
        distributed.shard_batch(torch.arange(3), 0, 2)
    with pytest.raises(ValueError, match="rank must be < world_size"):
        distributed.shard_batch(torch.arange(4), 2, 2)
    with pytest.raises(ValueError, match="batch must hold tensors"):
        distributed.shard_batch("text", 0, 1)


def test_single_process_behaviour(device: torch.device, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(3, 2, device=device)
    assert distributed.all_gather_with_grad(x) is x
    assert distributed.rank_and_world_size() == (0, 1) and not distributed.is_distributed()
    with pytest.raises(ValueError, match="x must be"):
        distributed.all_gather_with_grad(torch.tensor(1.0))
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="start the script with torchrun"):
        distributed.init_from_env()
    with pytest.raises(ValueError, match="backend must be one of"):
        distributed.init_from_env("mpi")


def test_batch_forward(device: torch.device) -> None:
    towers = Towers({"a": 3}, dim=2, hidden=4).to(device)
    out = distributed.BatchForward(towers)({"a": torch.randn(5, 3, device=device)})
    assert out["a"].shape == (5, 2) and out["a"].device.type == device.type
    with pytest.raises(ValueError, match="no method 'encode'"):
        distributed.BatchForward(towers, "encode")
    loader = distributed.ShardedBatches([torch.arange(4), torch.arange(4, 8)], 1, 2)
    assert len(loader) == 2 and [b.tolist() for b in loader] == [[2, 3], [6, 7]]
