import os
import random

import numpy as np
import pytest
import torch

import xmr_lite as xmr


def test_get_device_defaults_to_best_available(monkeypatch):
    monkeypatch.delenv("XMR_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert xmr.get_device().type == expected


def test_get_device_environment_override(monkeypatch):
    monkeypatch.setenv("XMR_DEVICE", "cpu")
    assert xmr.get_device() == torch.device("cpu")


def test_get_device_rejects_unknown_name(monkeypatch):
    monkeypatch.setenv("XMR_DEVICE", "not-a-device")
    with pytest.raises(ValueError, match="XMR_DEVICE"):
        xmr.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_get_device_rejects_cuda_without_gpu(monkeypatch):
    monkeypatch.setenv("XMR_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        xmr.get_device()


def draw_all() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)  # noqa: NPY002


def test_seed_everything_makes_draws_repeatable():
    xmr.seed_everything(123)
    first = draw_all()
    xmr.seed_everything(123)
    second = draw_all()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])
    xmr.seed_everything(124)
    assert draw_all()[0] != first[0]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        xmr.seed_everything(seed)


def test_get_device_checks_the_cuda_index(monkeypatch):
    """XMR_DEVICE=cuda:7 on a two-GPU machine must fail, cuda:1 must work (a faked machine)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("XMR_DEVICE", "cuda:7")
    with pytest.raises(ValueError, match=r"2 CUDA device\(s\), numbered 0 to 1"):
        xmr.get_device()
    monkeypatch.setenv("XMR_DEVICE", "cuda:1")
    assert xmr.get_device() == torch.device("cuda", 1)
    monkeypatch.setenv("XMR_DEVICE", "cuda")
    assert xmr.get_device() == torch.device("cuda")


@pytest.fixture
def restore_determinism():
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    benchmark = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark = benchmark


def test_seed_everything_can_switch_on_deterministic_algorithms(restore_determinism, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    xmr.seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    xmr.seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
    with pytest.raises(ValueError, match="deterministic"):
        xmr.seed_everything(0, deterministic=1)


def test_deterministic_algorithms_block_restores_the_previous_setting(restore_determinism):
    from xmr_lite._runtime import deterministic_algorithms

    torch.use_deterministic_algorithms(False)
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError), deterministic_algorithms():
        raise RuntimeError("the setting is restored on errors too")
    assert not torch.are_deterministic_algorithms_enabled()
