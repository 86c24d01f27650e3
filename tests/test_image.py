"""Tests for xmr_lite.image: scratch convolution and pooling, the small CNNs, hooks, transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models.resnet import BasicBlock

from xmr_lite import image as xi

# The `device` fixture only names a device, so sharing it across hypothesis examples is safe.
DEVICE_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def small_ints(low: int, high: int) -> st.SearchStrategy:
    return st.integers(low, high)


pairs = st.one_of(small_ints(1, 3), st.tuples(small_ints(1, 3), small_ints(1, 3)))
paddings = st.one_of(small_ints(0, 2), st.tuples(small_ints(0, 2), small_ints(0, 2)))


def as_pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def float32_tolerance(device: torch.device) -> dict[str, float]:
    """CPU float32 agrees to ~1e-6; CUDA may pick other (TF32) algorithms for other batch sizes."""
    return {"rtol": 1e-4, "atol": 1e-5} if device.type == "cpu" else {"rtol": 1e-2, "atol": 1e-3}


# ---------------------------------------------------------------------------------------------
# conv2d_scratch and friends
# ---------------------------------------------------------------------------------------------


@DEVICE_SETTINGS
@given(
    n=small_ints(1, 3),
    c=small_ints(1, 3),
    o=small_ints(1, 4),
    h=small_ints(1, 10),
    w=small_ints(1, 10),
    kh=small_ints(1, 4),
    kw=small_ints(1, 4),
    stride=pairs,
    padding=paddings,
    dilation=st.one_of(st.just(1), pairs),
    with_bias=st.booleans(),
    seed=small_ints(0, 2**16),
)
def test_conv2d_scratch_matches_f_conv2d(n, c, o, h, w, kh, kw, stride, padding, dilation, with_bias, seed, device):
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64).to(device)
    weight = torch.randn(o, c, kh, kw, generator=g, dtype=torch.float64).to(device)
    bias = torch.randn(o, generator=g, dtype=torch.float64).to(device) if with_bias else None
    ours = xi.conv2d_scratch(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    ref = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    assert ours.shape == ref.shape and ours.device == x.device
    torch.testing.assert_close(ours, ref)


def test_conv2d_scratch_unbatched_numpy_and_integer_input(device):
    x = torch.arange(2 * 5 * 6, dtype=torch.float32, device=device).reshape(2, 5, 6)
    weight = torch.ones(3, 2, 3, 3, device=device)
    torch.testing.assert_close(xi.conv2d_scratch(x, weight, padding=1), F.conv2d(x, weight, padding=1))
    x_np, w_np = x.cpu().numpy().astype(np.int64), weight.cpu().numpy()
    out = xi.conv2d_scratch(x_np, w_np, stride=(2, 1))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, F.conv2d(x.cpu().double(), weight.cpu().double(), stride=(2, 1)).numpy())


def test_conv2d_scratch_summing_kernel_by_hand():
    # A 2x2 kernel of ones adds up each 2x2 window: the numbers can be checked by eye.
    x = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    out = xi.conv2d_scratch(x, torch.ones(1, 1, 2, 2), torch.tensor([0.5]))
    torch.testing.assert_close(out, torch.tensor([[[[12.5, 16.5], [24.5, 28.5]]]]))


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "match"),
    [
        ((1, 3, 8, 8), (4, 1, 3, 3), {}, r"weight must have shape \(C_out, 3, kH, kW\)"),
        ((8, 8), (4, 1, 3, 3), {}, r"x must be a non-empty \(N, C, H, W\)"),
        ((1, 1, 8, 8), (4, 1, 3), {}, r"weight must be a non-empty \(C_out, 1, kH, kW\)"),
        ((1, 1, 2, 2), (1, 1, 3, 3), {}, "does not fit"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": 0}, "stride must be >= 1"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"padding": -1}, "padding must be >= 0"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"padding": "same"}, "padding must be an int or a pair"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": (1, 2, 3)}, "stride must be an int or a pair"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"dilation": 0}, "dilation must be >= 1"),
        ((1, 1, 8, 8), (2, 1, 3, 3), {"bias": torch.zeros(3)}, r"bias must have shape \(2,\)"),
    ],
)
def test_conv2d_scratch_rejects_bad_input(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        xi.conv2d_scratch(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)


def test_conv2d_scratch_rejects_nan_and_mixed_kinds():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        xi.conv2d_scratch(x, torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match="both be numpy arrays or both be torch tensors"):
        xi.conv2d_scratch(np.zeros((1, 1, 4, 4)), torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"x must be a torch\.Tensor or numpy\.ndarray"):
        xi.conv2d_scratch([[1.0]], torch.ones(1, 1, 1, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs two devices")
def test_conv2d_scratch_refuses_mixed_devices():
    with pytest.raises(ValueError, match="weight is on"):
        xi.conv2d_scratch(torch.zeros(1, 1, 4, 4, device="cuda"), torch.ones(1, 1, 2, 2))


@DEVICE_SETTINGS
@given(
    n=small_ints(1, 2),
    c=small_ints(1, 3),
    h=small_ints(1, 9),
    w=small_ints(1, 9),
    kernel=pairs,
    stride=st.one_of(st.none(), pairs),
    pad=st.tuples(small_ints(0, 1), small_ints(0, 1)),
    seed=small_ints(0, 2**16),
)
def test_max_pool2d_scratch_matches_f_max_pool2d(n, c, h, w, kernel, stride, pad, seed, device):
    kh, kw = as_pair(kernel)
    padding = (min(pad[0], kh // 2), min(pad[1], kw // 2))
    assume(h + 2 * padding[0] >= kh and w + 2 * padding[1] >= kw)
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)
    ours = xi.max_pool2d_scratch(x, kernel, stride, padding)
    ref = F.max_pool2d(x, kernel, stride, padding)
    assert ours.shape == ref.shape and ours.device == x.device
    torch.testing.assert_close(ours, ref)


def test_max_pool2d_scratch_by_hand_and_errors():
    x = torch.tensor([[[1.0, -2.0, 0.0, 5.0], [3.0, 4.0, -1.0, 2.0]]])  # (1, 2, 4): unbatched (C, H, W)
    torch.testing.assert_close(xi.max_pool2d_scratch(x, (2, 2)), torch.tensor([[[4.0, 5.0]]]))
    out = xi.max_pool2d_scratch(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    np.testing.assert_array_equal(out, [[[[5.0, 7.0], [13.0, 15.0]]]])
    with pytest.raises(ValueError, match="padding must be at most half"):
        xi.max_pool2d_scratch(torch.zeros(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        xi.max_pool2d_scratch(torch.zeros(1, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="does not fit"):
        xi.max_pool2d_scratch(torch.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"x must be a non-empty \(N, C, H, W\)"):
        xi.max_pool2d_scratch(torch.zeros(4, 4), 2)


@settings(max_examples=80, deadline=None)
@given(
    size=small_ints(1, 40),
    kernel=small_ints(1, 7),
    stride=small_ints(1, 4),
    padding=small_ints(0, 3),
    dilation=small_ints(1, 3),
)
def test_conv_output_size_matches_torch(size, kernel, stride, padding, dilation):
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        with pytest.raises(ValueError, match="does not fit"):
            xi.conv_output_size(size, kernel, stride, padding, dilation)
        return
    out = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel, 1), None, stride, (padding, 0), dilation)
    assert xi.conv_output_size(size, kernel, stride, padding, dilation) == out.shape[2]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_conv_output_size_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match="size must be an int >= 1"):
        xi.conv_output_size(bad, 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(small_ints(1, 4), small_ints(1, 3), small_ints(1, 2)), min_size=1, max_size=4))
def test_receptive_field_is_the_set_of_pixels_that_move_one_output(layers):
    # Convolutions with all-one kernels on a positive input: the gradient of one output pixel
    # is positive exactly on its receptive field, so the field's extent can be measured.
    model = nn.Sequential(*[nn.Conv2d(1, 1, (k, 1), stride=(s, 1), dilation=(d, 1), bias=False) for k, s, d in layers])
    for conv in model:
        nn.init.ones_(conv.weight)
    size = xi.receptive_field(layers) + 2 * 40
    x = torch.ones(1, 1, size, 1, requires_grad=True)
    out = model(x)
    out[0, 0, out.shape[2] // 2, 0].backward()
    rows = torch.nonzero(x.grad[0, 0, :, 0] > 0).flatten()
    measured = int(rows.max() - rows.min() + 1)
    assert xi.receptive_field(layers) == measured == xi.receptive_field(model)


def test_receptive_field_of_known_stacks():
    assert xi.receptive_field([(3, 1), (3, 1)]) == 5  # two 3x3 convs see 5x5, as VGG argues
    assert xi.receptive_field([(3, 1)] * 3) == 7
    # conv3 (3), pool2 (+1, stride 2), conv3 (+2*2), pool2 (+1*2): 10 pixels
    assert xi.receptive_field(xi.SmallCNN().features) == 10
    assert xi.receptive_field([(3, 1, 2)]) == 5  # a dilated 3-tap kernel spans 5 pixels
    with pytest.raises(ValueError, match=r"layers\[0\] must be \(kernel, stride\)"):
        xi.receptive_field([(3,)])
    with pytest.raises(ValueError, match=r"layers must be an nn\.Module"):
        xi.receptive_field(3)


def test_count_parameters_follows_the_formula():
    conv = nn.Conv2d(3, 8, 5)
    assert xi.count_parameters(conv) == 8 * 3 * 5 * 5 + 8
    model = nn.Sequential(conv, nn.Linear(4, 2))
    model[1].weight.requires_grad_(False)
    assert xi.count_parameters(model) == 8 * 3 * 25 + 8 + 2
    assert xi.count_parameters(model, trainable_only=False) == 8 * 3 * 25 + 8 + 2 + 8
    with pytest.raises(ValueError, match=r"model must be an nn\.Module"):
        xi.count_parameters("resnet")


# ---------------------------------------------------------------------------------------------
# The small CNNs
# ---------------------------------------------------------------------------------------------

MODELS = {
    "cnn": lambda **kw: xi.SmallCNN(**kw),
    "vgg": lambda **kw: xi.SmallVGG(**kw),
    "resnet": lambda **kw: xi.SmallResNet(**kw),
    "plain": lambda **kw: xi.SmallResNet(residual=False, **kw),
}


@pytest.mark.parametrize("name", MODELS)
def test_models_output_shapes(name, device):
    torch.manual_seed(0)
    model = MODELS[name]().to(device).eval()
    x = torch.randn(5, 1, 28, 28, device=device)
    logits, emb = model(x), model.embed(x)
    assert logits.shape == (5, 10) and emb.shape == (5, model.dimension)
    assert logits.device == x.device
    torch.testing.assert_close(model.head(emb), logits)


@pytest.mark.parametrize("name", MODELS)
def test_models_take_other_sizes_and_channels(name, device):
    model = MODELS[name](in_channels=3, n_classes=7, image_size=32).to(device).eval()
    assert model(torch.randn(2, 3, 32, 32, device=device)).shape == (2, 7)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 1, 32, 32), (2, 1, 28, 27), (1, 28, 28), (0, 1, 28, 28)])
def test_models_reject_wrong_input_with_the_expected_shape(name, shape):
    model = MODELS[name]()
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model.embed(torch.zeros(shape))


def test_models_reject_uint8_and_foreign_devices():
    with pytest.raises(ValueError, match="x must be a float tensor"):
        xi.SmallCNN()(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"x must be a torch\.Tensor"):
        xi.SmallCNN()(np.zeros((1, 1, 28, 28), dtype=np.float32))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="but the model is on"):
            xi.SmallCNN()(torch.zeros(1, 1, 28, 28, device="cuda"))


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (xi.SmallCNN, {"widths": ()}, "widths must be a non-empty sequence"),
        (xi.SmallCNN, {"image_size": 4, "widths": (8, 8, 8)}, "image_size=4 is too small for 3 halving poolings"),
        (xi.SmallVGG, {"embed_dim": 0}, "embed_dim must be an int >= 1"),
        (xi.SmallVGG, {"dropout": 1.0}, "dropout must be in"),
        (xi.SmallVGG, {"image_size": 2, "widths": (8, 8)}, "image_size=2 is too small for 2 halving poolings"),
        (xi.SmallResNet, {"blocks_per_stage": 0}, "blocks_per_stage must be an int >= 1"),
        (xi.SmallResNet, {"residual": 1}, "residual must be a bool"),
        (xi.SmallResNet, {"image_size": 2, "widths": (8, 8, 8)}, "image_size=2 is too small for 2 stride-2 stages"),
        (xi.SmallResNet, {"in_channels": 0}, "in_channels must be an int >= 1"),
    ],
)
def test_model_arguments_are_validated(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_smallcnn_layout_and_parameter_count():
    model = xi.SmallCNN()
    assert [name for name, _ in model.features.named_children()] == [
        "conv1",
        "relu1",
        "pool1",
        "conv2",
        "relu2",
        "pool2",
    ]
    expected = (16 * 1 * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 7 * 7 * 64 + 64) + (64 * 10 + 10)
    assert xi.count_parameters(model) == expected


def test_resnet_depth_and_skips():
    res = xi.SmallResNet(widths=(8, 16, 32), blocks_per_stage=3)
    plain = xi.SmallResNet(widths=(8, 16, 32), blocks_per_stage=3, residual=False)
    weight_layers = [m for m in plain.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == 2 * 3 * 3 + 2
    assert all(type(b) is BasicBlock for b in res.layer2) and all(type(b) is xi.PlainBlock for b in plain.layer2)
    assert res.layer2[0].downsample is not None and plain.layer2[0].downsample is None
    assert res.dimension == 32 and res.feature_layer == "avgpool"


def test_plain_block_is_basic_block_without_the_skip(device):
    torch.manual_seed(0)
    basic = BasicBlock(6, 6).to(device).eval()
    plain = xi.PlainBlock(6, 6).to(device).eval()
    plain.load_state_dict(basic.state_dict())
    x = torch.randn(2, 6, 9, 9, device=device)
    with torch.no_grad():
        residual_branch = basic.bn2(basic.conv2(basic.relu(basic.bn1(basic.conv1(x)))))
        torch.testing.assert_close(basic(x), torch.relu(residual_branch + x))
        torch.testing.assert_close(plain(x), torch.relu(residual_branch))


# ---------------------------------------------------------------------------------------------
# Forward hooks
# ---------------------------------------------------------------------------------------------


def test_feature_extractor_equals_a_manual_forward(device):
    torch.manual_seed(0)
    model = xi.SmallCNN().to(device).eval()
    x = torch.randn(4, 1, 28, 28, device=device)
    with torch.no_grad():
        manual_pool1 = model.features.pool1(model.features.relu1(model.features.conv1(x)))
        manual_embedding = model.embedding(model.features(x))
        with xi.FeatureExtractor(model, "features.pool1") as fx:
            torch.testing.assert_close(fx(x), manual_pool1)
        with xi.FeatureExtractor(model, "embedding") as fx:
            torch.testing.assert_close(fx(x), manual_embedding)
            model(x)  # inside the block a plain forward also fills .output
            torch.testing.assert_close(fx.output, manual_embedding)
        torch.testing.assert_close(manual_embedding, model.embed(x))


def test_feature_extractor_removes_its_hook_and_is_reusable():
    model = xi.SmallCNN().eval()
    fx = xi.FeatureExtractor(model, "features.conv2")
    x = torch.randn(2, 1, 28, 28)
    assert not model.features.conv2._forward_hooks
    first = fx(x)  # called without `with`: attached for that one pass only
    assert not fx.attached and not model.features.conv2._forward_hooks
    for _ in range(2):  # entered twice
        with fx:
            assert fx.attached and len(model.features.conv2._forward_hooks) == 1
            torch.testing.assert_close(fx(x), first)
        assert not model.features.conv2._forward_hooks
    assert first.shape == (2, 32, 14, 14)


def test_feature_extractor_keeps_gradients():
    model = xi.SmallCNN()
    x = torch.randn(2, 1, 28, 28, requires_grad=True)
    xi.FeatureExtractor(model, "features.relu1")(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_feature_extractor_removes_the_hook_when_the_forward_fails():
    model = xi.SmallCNN()
    fx = xi.FeatureExtractor(model, "embedding")
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        fx(torch.zeros(1, 3, 28, 28))
    assert not model.embedding._forward_hooks


def test_feature_extractor_errors():
    model = xi.SmallCNN()
    with pytest.raises(ValueError, match=r"layer 'fc' is not a submodule.*'features'"):
        xi.FeatureExtractor(model, "fc")
    with pytest.raises(ValueError, match="layer must be a str"):
        xi.FeatureExtractor(model, 3)
    with pytest.raises(ValueError, match=r"model must be an nn\.Module"):
        xi.FeatureExtractor(lambda x: x, "fc")

    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.spare = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    with pytest.raises(ValueError, match="did not run"):
        xi.FeatureExtractor(Unused(), "spare")(torch.zeros(1, 2))


@pytest.mark.parametrize("name", MODELS)
def test_extract_features_equals_embed_for_tensors_and_loaders(name, device):
    torch.manual_seed(0)
    model = MODELS[name]().to(device)
    model.train()
    x = torch.randn(37, 1, 28, 28)
    feats = xi.extract_features(model, x.to(device), model.feature_layer, batch_size=8)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        expected = model.embed(x.to(device))
    assert feats.shape == (37, model.dimension) and feats.device == expected.device
    tol = float32_tolerance(torch.device(device))
    torch.testing.assert_close(feats, expected, **tol)
    loader = DataLoader(TensorDataset(x, torch.zeros(37)), batch_size=10)
    torch.testing.assert_close(xi.extract_features(model, loader, model.feature_layer), feats, **tol)


def test_extract_features_numpy_and_unflattened():
    model = xi.SmallCNN()
    x = np.random.default_rng(0).normal(size=(6, 1, 28, 28)).astype(np.float32)
    feats = xi.extract_features(model, x, "features.pool2", batch_size=4)
    assert isinstance(feats, np.ndarray) and feats.shape == (6, 32 * 7 * 7)
    maps = xi.extract_features(model, torch.from_numpy(x), "features.pool2", flatten=False)
    assert maps.shape == (6, 32, 7, 7)
    np.testing.assert_allclose(maps.reshape(6, -1).numpy(), feats, rtol=1e-5, atol=1e-6)


def test_extract_features_errors():
    model = xi.SmallCNN()
    x = torch.zeros(2, 1, 28, 28)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        xi.extract_features(model, x, "embedding", batch_size=0)
    with pytest.raises(ValueError, match="loader_or_tensor must be a non-empty"):
        xi.extract_features(model, torch.zeros(0, 1, 28, 28), "embedding")
    with pytest.raises(ValueError, match="loader_or_tensor contains NaN"):
        xi.extract_features(model, torch.full((1, 1, 28, 28), float("nan")), "embedding")
    with pytest.raises(ValueError, match="loader_or_tensor must be a tensor"):
        xi.extract_features(model, 3, "embedding")
    with pytest.raises(ValueError, match="yielded no batches"):
        xi.extract_features(model, [], "embedding")
    with pytest.raises(ValueError, match="batch 0 of loader_or_tensor must be a tensor"):
        xi.extract_features(model, [("a", 1)], "embedding")
    with pytest.raises(ValueError, match=r"model must be an nn\.Module"):
        xi.extract_features(None, x, "embedding")


# ---------------------------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------------------------


def test_digits_transform_scales_and_normalises(device):
    images = torch.tensor([0, 255], dtype=torch.uint8, device=device).reshape(2, 1, 1, 1).expand(2, 1, 28, 28)
    out = xi.digits_transform()(images)
    assert out.shape == (2, 1, 28, 28) and out.dtype == torch.float32 and out.device == images.device
    assert type(out) is torch.Tensor  # a plain tensor, not torchvision's Image subclass
    torch.testing.assert_close(out[0].unique().cpu(), torch.tensor([-xi.MNIST_MEAN / xi.MNIST_STD]))
    torch.testing.assert_close(out[1].unique().cpu(), torch.tensor([(1 - xi.MNIST_MEAN) / xi.MNIST_STD]))
    plain = xi.digits_transform(mean=0.0, std=1.0)(images)
    torch.testing.assert_close(plain.amax().cpu(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="std must be positive"):
        xi.digits_transform(std=0.0)


def test_digits_augmentation_moves_ink_but_keeps_shape():
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 8:20, 12:16] = 255  # a vertical bar, a rough "1"
    augment = xi.digits_augmentation(degrees=20, translate=0.15)
    torch.manual_seed(1)
    first = augment(image)
    torch.manual_seed(1)
    again = augment(image)
    assert first.shape == image.shape and first.dtype == torch.uint8
    torch.testing.assert_close(first, again)  # seeded, so reproducible
    outputs = torch.stack([augment(image) for _ in range(10)])
    assert not all(torch.equal(o, image) for o in outputs)
    for bad, match in [
        ({"degrees": -1}, "degrees"),
        ({"translate": 2.0}, "translate"),
        ({"scale": (1.2, 0.8)}, "scale"),
    ]:
        with pytest.raises(ValueError, match=match):
            xi.digits_augmentation(**bad)


def test_apply_per_sample_draws_new_parameters_for_each_image(device):
    torch.manual_seed(0)
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 6:22, 13:15] = 255
    batch = image.expand(8, 1, 28, 28).to(device)
    augment = xi.digits_augmentation(degrees=30)
    same = augment(batch)  # one draw for the whole batch: every image turns alike
    assert all(torch.equal(same[0], s) for s in same)
    each = xi.apply_per_sample(augment, batch)
    assert each.shape == batch.shape and each.device == batch.device
    assert not all(torch.equal(each[0], e) for e in each)
    deterministic = xi.apply_per_sample(xi.digits_transform(), batch)
    torch.testing.assert_close(deterministic, xi.digits_transform()(batch))
    with pytest.raises(ValueError, match=r"x must be a non-empty \(B, C, H, W\)"):
        xi.apply_per_sample(augment, image)
    with pytest.raises(ValueError, match="transform must be callable"):
        xi.apply_per_sample(None, batch)


def test_imagenet_transform_resizes_crops_and_normalises():
    photo = np.full((300, 500, 3), 200, dtype=np.uint8)
    photo[..., 1] = 50
    out = xi.imagenet_transform()(photo)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32 and type(out) is torch.Tensor
    expected = (torch.tensor([200, 50, 200]) / 255 - torch.tensor(xi.IMAGENET_MEAN)) / torch.tensor(xi.IMAGENET_STD)
    torch.testing.assert_close(out.mean(dim=(1, 2)), expected.float(), atol=1e-4, rtol=0)
    small = xi.imagenet_transform(mean=(0.5,) * 3, std=(0.5,) * 3, resize=40, crop=32)(
        torch.from_numpy(photo).permute(2, 0, 1)
    )
    assert small.shape == (3, 32, 32)
    with pytest.raises(ValueError, match="crop=300 must not exceed resize=256"):
        xi.imagenet_transform(crop=300)
    with pytest.raises(ValueError, match="three values each"):
        xi.imagenet_transform(mean=(0.5,))


def test_to_rgb_uint8():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = xi.to_rgb_uint8(grey)
    assert rgb.shape == (3, 3, 4) and torch.equal(rgb[0], rgb[2]) and torch.equal(rgb[1], torch.from_numpy(grey))
    rgba = np.zeros((5, 6, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[..., 0] = 9
    out = xi.to_rgb_uint8(rgba)
    assert out.shape == (3, 5, 6) and int(out[0].max()) == 9 and int(out[1:].max()) == 0
    chw = torch.zeros(3, 5, 6, dtype=torch.uint8)
    assert xi.to_rgb_uint8(chw).shape == (3, 5, 6)
    read_only = np.zeros((4, 4, 3), dtype=np.uint8)
    read_only.setflags(write=False)
    xi.to_rgb_uint8(read_only)[0, 0, 0] = 1  # a copy, so writing is safe
    with pytest.raises(ValueError, match="image must be uint8"):
        xi.to_rgb_uint8(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="image must be"):
        xi.to_rgb_uint8(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="image must be a uint8 numpy array or tensor"):
        xi.to_rgb_uint8([1, 2])


def test_check_images_messages():
    x = torch.zeros(2, 3, 8, 8)
    assert xi.check_images(x, 3, 8) is x
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(2, 3, 8, 8\)"):
        xi.check_images(x, 1, 8)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="but the model is on"):
            xi.check_images(x, 3, 8, torch.device("cuda"))


@pytest.mark.parametrize("build", [lambda: xi.SmallCNN(embed_dim=24), lambda: xi.SmallVGG(embed_dim=24),
                                   lambda: xi.SmallResNet(widths=(8, 24))])  # fmt: skip
def test_output_width_is_dimension_and_embed_dim_warns(build):
    model = build()
    assert model.dimension == 24 == model.embed(torch.zeros(2, 1, 28, 28)).shape[1]
    with pytest.warns(DeprecationWarning, match="embed_dim is deprecated: use .dimension"):
        assert model.embed_dim == 24


def test_pretrained_encoder_dim_is_a_deprecated_alias():
    unloaded = object.__new__(xi.PretrainedImageEncoder)  # the class attribute needs no weights
    with pytest.warns(DeprecationWarning, match="dim is deprecated"):
        assert unloaded.dim == unloaded.dimension == 1280


@pytest.mark.parametrize("dtype", [np.float64, np.uint8])
def test_extract_features_casts_raw_numpy_dtypes_to_the_model(dtype):
    """Bug: a float64 or uint8 array crashed the float32 model with a dtype mismatch."""
    torch.manual_seed(0)
    model = xi.SmallCNN().eval()
    raw = (np.random.default_rng(3).random((3, 1, 28, 28)) * 255).astype(dtype)
    feats = xi.extract_features(model, raw, model.feature_layer, batch_size=2)
    assert isinstance(feats, np.ndarray) and feats.dtype == np.float32 and feats.shape == (3, model.dimension)
    expected = xi.extract_features(model, torch.from_numpy(raw.astype(np.float32)), model.feature_layer)
    np.testing.assert_allclose(feats, expected.numpy(), rtol=1e-5, atol=1e-5)
