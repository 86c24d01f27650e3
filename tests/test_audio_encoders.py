"""Tests of the audio encoders in xmr_lite.audio (AudioCNN, AudioGRU, DilatedConvEncoder)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xmr_lite import audio as xa

ENCODERS = [xa.AudioCNN, xa.AudioGRU, xa.DilatedConvEncoder]
SMALL = {
    xa.AudioCNN: dict(channels=(4, 8)),
    xa.AudioGRU: dict(hidden_size=8),
    xa.DilatedConvEncoder: dict(channels=8, n_blocks=3),
}


def make(cls, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return cls(**{**dict(n_mels=16, embed_dim=12), **SMALL[cls], **kwargs})


@pytest.mark.parametrize("cls", ENCODERS)
def test_shapes_embed_and_logits(device, cls):
    x = torch.randn(5, 16, 37, device=device)
    net = make(cls, n_classes=4).to(device).eval()
    logits = net(x)
    z = net.embed(x)
    assert logits.shape == (5, 4) and z.shape == (5, 12)
    assert logits.device.type == device.type
    torch.testing.assert_close(logits, net.head(z))
    bare = make(cls).to(device).eval()
    assert bare.head is None and bare(x).shape == (5, 12)
    # any clip length works, thanks to pooling over time
    assert net(torch.randn(2, 16, 9, device=device)).shape == (2, 4)


@pytest.mark.parametrize("cls", ENCODERS)
def test_eval_mode_batch_equals_per_clip(device, cls):
    net = make(cls, n_classes=3).to(device).eval()
    x = torch.randn(4, 16, 25, device=device)
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", ENCODERS)
def test_cpu_and_device_agree(device, cls):
    net = make(cls, n_classes=3).eval()
    x = torch.randn(3, 16, 30)
    with torch.no_grad():
        on_cpu = net(x)
        on_device = net.to(device)(x.to(device)).cpu()
    torch.testing.assert_close(on_device, on_cpu, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("cls", ENCODERS)
def test_learns_a_frequency_band_task(device, cls):
    """Two classes that differ only in which mel band is loud: a few steps must learn them."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, 20, generator=gen)
    y = torch.arange(64) % 2
    x[y == 0, 3] += 3.0
    x[y == 1, 12] += 3.0
    x, y = x.to(device), y.to(device)
    net = make(cls, n_classes=2).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = float((net(x).argmax(1) == y).float().mean())
    assert accuracy >= 0.95


def test_dilated_receptive_field():
    net = xa.DilatedConvEncoder(n_mels=8, embed_dim=4, channels=4, n_blocks=4)
    assert net.receptive_field == 1 + 2 * (1 + 2 + 4 + 8)
    # An output frame depends on exactly receptive_field input frames: check with a gradient.
    net.eval()
    x = torch.zeros(1, 8, 64, requires_grad=True)
    h = net.blocks(net.inp(net.norm(x)))
    h[0, :, 32].sum().backward()
    touched = (x.grad[0].abs().sum(0) > 0).nonzero().flatten()
    assert int(touched.max() - touched.min() + 1) == net.receptive_field


@pytest.mark.parametrize("cls", ENCODERS)
def test_bad_inputs(cls):
    net = make(cls, n_classes=3)
    with pytest.raises(ValueError, match="x"):
        net(torch.randn(2, 15, 20))  # wrong number of mel bands
    with pytest.raises(ValueError, match="x"):
        net(torch.randn(16, 20))  # no batch axis
    with pytest.raises(ValueError, match="x"):
        net.embed(torch.zeros(2, 16, 20, dtype=torch.long))
    with pytest.raises(ValueError, match="x"):
        net(torch.randn(2, 16, 20).numpy())


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        *[(cls, {"n_mels": 0}) for cls in ENCODERS],
        *[(cls, {"embed_dim": 0}) for cls in ENCODERS],
        *[(cls, {"n_classes": 1}) for cls in ENCODERS],
        (xa.AudioCNN, {"channels": ()}),
        (xa.AudioGRU, {"hidden_size": 0}),
        (xa.DilatedConvEncoder, {"kernel_size": 4}),
        (xa.DilatedConvEncoder, {"n_blocks": 0}),
        *[(cls, {"dropout": -0.1}) for cls in ENCODERS],
    ],
)
def test_bad_arguments_name_themselves(cls, kwargs):
    (name,) = kwargs
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


@pytest.mark.parametrize("cls", ENCODERS)
def test_output_width_is_dimension_and_embed_dim_warns(cls):
    net = make(cls).eval()
    assert net.dimension == 12 == net.embed(torch.randn(2, 16, 37)).shape[1]
    with pytest.warns(DeprecationWarning, match="embed_dim is deprecated: use .dimension"):
        assert net.embed_dim == 12
