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
