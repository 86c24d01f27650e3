"""Features of any layer through forward hooks: FeatureExtractor and extract_features (chapter 5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from xmr_lite._checks import as_tensor, check_finite, check_int, module_dtype, to_output
from xmr_lite.image.common import _model_device


class FeatureExtractor:
    """Read the output of one named layer with a forward hook, without editing the model.

    Taught in chapter 5.

    Use it as a context manager (the hook stays attached inside the ``with`` block, so a
    plain ``model(x)`` also fills :attr:`output`) or call it directly (the hook is attached
    for that one forward pass). It can be entered and called any number of times.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A name from ``model.named_modules()``, such as ``"embedding"`` or ``"layer3.1.conv2"``;
        ``""`` is the model itself.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> with FeatureExtractor(model, "features.pool1") as fx:
    ...     maps = fx(torch.zeros(2, 1, 28, 28))
    >>> tuple(maps.shape)
    (2, 16, 14, 14)
    """

    def __init__(self, model: nn.Module, layer: str) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(layer, str):
            raise ValueError(f"layer must be a str naming a submodule, got {type(layer).__name__}")
        try:
            self.module = model.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name]
            shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
            raise ValueError(f"layer {layer!r} is not a submodule of the model; its layers are {shown}") from None
        self.model = model
        self.layer = layer
        self.output: Any = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        self.output = output

    @property
    def attached(self) -> bool:
        """Whether the hook is currently registered on the layer."""
        return self._handle is not None

    def attach(self) -> None:
        """Register the hook (does nothing if it is already registered)."""
        if self._handle is None:
            self._handle = self.module.register_forward_hook(self._hook)

    def detach(self) -> None:
        """Remove the hook (does nothing if it is not registered)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> FeatureExtractor:
        self.attach()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run ``model(x)`` and return the layer's output for it.

        The forward pass runs as it is (in the model's current train/eval mode, with
        gradients unless the caller disables them), so the result can be back-propagated.

        Parameters
        ----------
        x : tensor
            Whatever the model takes, e.g. (B, 1, 28, 28).

        Returns
        -------
        tensor
            The layer's output, e.g. (B, C, H, W) for a conv layer or (B, D) for a dense one.
        """
        was_attached = self.attached
        self.attach()
        self.output = None
        try:
            self.model(x)
        finally:
            if not was_attached:
                self.detach()
        if self.output is None:
            raise ValueError(f"layer {self.layer!r} did not run in the model's forward pass")
        if not isinstance(self.output, torch.Tensor):
            raise ValueError(f"layer {self.layer!r} returned {type(self.output).__name__}, not a tensor")
        return self.output


def _batches(data: object, batch_size: int) -> Iterable[torch.Tensor]:
    """Yield image batches from a tensor (split in chunks) or an iterable of batches."""
    if isinstance(data, torch.Tensor):
        yield from torch.split(data, batch_size)
        return
    for i, batch in enumerate(data):
        if isinstance(batch, (tuple, list)):
            if not batch:
                raise ValueError(f"batch {i} of loader_or_tensor is empty")
            batch = batch[0]  # (images, labels, ...) pairs from a DataLoader
        if not isinstance(batch, torch.Tensor):
            raise ValueError(f"batch {i} of loader_or_tensor must be a tensor, got {type(batch).__name__}")
        yield batch


def extract_features(
    model: nn.Module,
    loader_or_tensor: torch.Tensor | np.ndarray | Iterable,
    layer: str,
    batch_size: int = 256,
    flatten: bool = True,
) -> torch.Tensor | np.ndarray:
    """Features of every image at one layer of ``model``, through a forward hook (chapter 5).

    The model runs in eval mode (dropout off, batch-norm running statistics) without
    gradients, and is put back in its previous mode afterwards. Each batch is moved to the
    model's device, and the features come back on that device.

    Parameters
    ----------
    model : nn.Module
    loader_or_tensor : (N, C, H, W) float tensor or array, or an iterable of batches
        A tensor is split into batches of ``batch_size``; an iterable (a ``DataLoader``) yields
        image tensors or ``(images, labels, ...)`` tuples. Everything is cast to the dtype of
        the model's parameters: an array of any numeric dtype (float64, uint8) works as is,
        without rescaling (uint8 pixels stay in 0..255).
    layer : str
        Name of the layer to read (see :class:`FeatureExtractor`), e.g. ``model.feature_layer``.
    batch_size : int
        Images per forward pass when ``loader_or_tensor`` is a tensor.
    flatten : bool
        Flatten each image's features to one vector (needed for retrieval).

    Returns
    -------
    (N, D) float tensor (or array, for an array input)
        ``D`` is the layer's output size per image; without ``flatten`` the layer's own shape.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", 1)
    from_numpy = False
    if isinstance(loader_or_tensor, (torch.Tensor, np.ndarray)):
        data, from_numpy = as_tensor(loader_or_tensor, "loader_or_tensor")
        if data.ndim < 2 or data.numel() == 0:
            raise ValueError(f"loader_or_tensor must be a non-empty (N, C, H, W) batch, got shape {tuple(data.shape)}")
        if not data.is_floating_point() and not from_numpy:
            raise ValueError(f"loader_or_tensor must be a float tensor (scale uint8 images first), got {data.dtype}")
        data = data.to(module_dtype(model))  # a float64 or uint8 array meets a float32 model here
        check_finite(data, "loader_or_tensor")
    elif isinstance(loader_or_tensor, Iterable) and not isinstance(loader_or_tensor, (str, bytes)):
        data = loader_or_tensor
    else:
        raise ValueError(
            "loader_or_tensor must be a tensor, an array or an iterable of batches, "
            f"got {type(loader_or_tensor).__name__}"
        )
    device, dtype = _model_device(model), module_dtype(model)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with FeatureExtractor(model, layer) as extractor, torch.no_grad():
            for batch in _batches(data, batch_size):
                out = extractor(batch.to(device, dtype=dtype, non_blocking=True))
                chunks.append(out.flatten(1) if flatten else out)
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("loader_or_tensor yielded no batches")
    return to_output(torch.cat(chunks).float(), from_numpy)


__all__ = ["FeatureExtractor", "extract_features"]
