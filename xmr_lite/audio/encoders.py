"""Audio encoders on log-mel input: AudioCNN, AudioGRU, DilatedConvEncoder (chapter 6)."""

from __future__ import annotations

import torch
from torch import nn

from xmr_lite._checks import check_int, check_number, deprecated_alias


class _AudioEncoder(nn.Module):
    """What the three encoders share: input checks, an optional classifier, ``embed``.

    The embedding width is the attribute ``dimension`` (the constructor's ``embed_dim``);
    the attribute ``embed_dim`` is a deprecated alias.
    """

    embed_dim = deprecated_alias("dimension", "embed_dim")

    def __init__(self, n_mels: int, embed_dim: int, n_classes: int | None) -> None:
        super().__init__()
        self.n_mels = check_int(n_mels, "n_mels")
        self.dimension = check_int(embed_dim, "embed_dim")
        self.n_classes = None if n_classes is None else check_int(n_classes, "n_classes", minimum=2)
        self.head = None if n_classes is None else nn.Linear(self.dimension, self.n_classes)
        # log-mel values are in dB, far from unit scale: every encoder first standardises each band
        self.norm = nn.BatchNorm1d(self.n_mels)

    def _projection(self, in_features: int, dropout: float, *first: nn.Module) -> nn.Sequential:
        """The layers to the embedding: ``first``, dropout, then a linear map (in_features -> dimension)."""
        return nn.Sequential(
            *first, nn.Dropout(check_number(dropout, "dropout", 0.0)), nn.Linear(in_features, self.dimension)
        )

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[1] != self.n_mels or x.shape[0] == 0 or x.shape[2] == 0:
            raise ValueError(f"x must be a log-mel batch (B, n_mels={self.n_mels}, frames), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point, got {x.dtype}")
        return x

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a log-mel batch.

        Parameters
        ----------
        x : (B, n_mels, frames) float tensor

        Returns
        -------
        (B, dimension) tensor.
        """
        return self._embed(self._check_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) when built with ``n_classes``, else the embedding (B, dimension)."""
        z = self.embed(x)
        return z if self.head is None else self.head(z)


class AudioCNN(_AudioEncoder):
    """A small 2-D CNN that looks at the log-mel spectrogram as an image (chapter 6).

    Each block is conv 3x3, batch norm, ReLU and 2x2 max pooling, so every block halves the
    frequency and time resolution and sees a wider patch. The feature maps are then averaged
    over time only, which makes the output independent of the clip length, while frequency is
    kept: the (channels x remaining mel bins) values go through a linear layer to the
    embedding, so the network knows *where* in the spectrum a pattern was (averaging over
    frequency too would throw away the formant positions that tell words apart). The input
    is first standardised per mel band by a batch norm layer (log-mel values are in dB, far
    from unit scale).

    Parameters
    ----------
    n_mels : int
        Mel bands of the input.
    embed_dim : int
        Size of the embedding returned by :meth:`embed`.
    n_classes : int, optional
        Add a linear classifier on top of the embedding.
    channels : tuple of int
        Output channels of each block.
    dropout : float
        Dropout before the embedding layer.

    Examples
    --------
    >>> net = AudioCNN(n_mels=40, embed_dim=64, n_classes=10)
    >>> net(torch.randn(8, 40, 101)).shape
    torch.Size([8, 10])
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        channels: tuple[int, ...] = (16, 32, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        if len(channels) == 0:
            raise ValueError("channels must name at least one block")
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            c_out = check_int(c_out, "channels")
            blocks += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        bins = self.n_mels
        for _ in channels:
            bins = -(-bins // 2)  # each pooling halves the mel axis, rounding up
        self.project = self._projection(c_in * bins, dropout)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.norm(x).unsqueeze(1))  # (B, C, n_mels', frames')
        return self.project(h.mean(dim=3).flatten(1))  # average over time, keep frequency


class AudioGRU(_AudioEncoder):
    """A bidirectional GRU that reads the log-mel spectrogram one frame at a time (chapter 6).

    Each frame (a vector of ``n_mels`` values, standardised per band) is one step. The outputs
    of both directions are averaged over time and projected to the embedding.

    Parameters
    ----------
    n_mels, embed_dim, n_classes : see :class:`AudioCNN`
    hidden_size : int
        GRU state size per direction.
    num_layers : int
        Stacked GRU layers.
    dropout : float
        Dropout before the embedding layer.
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        self.gru = nn.GRU(
            self.n_mels,
            check_int(hidden_size, "hidden_size"),
            num_layers=check_int(num_layers, "num_layers"),
            batch_first=True,
            bidirectional=True,
        )
        self.project = self._projection(2 * hidden_size, dropout)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.gru(self.norm(x).transpose(1, 2))  # (B, frames, 2 * hidden)
        return self.project(outputs.mean(dim=1))


class _GatedResidualBlock(nn.Module):
    """WaveNet's unit: a dilated convolution, a tanh-times-sigmoid gate, a 1x1 residual path."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2  # "same" length, not causal
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, padding=padding, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        filt, gate = self.conv(x).chunk(2, dim=1)
        return x + self.mix(torch.tanh(filt) * torch.sigmoid(gate))


class DilatedConvEncoder(_AudioEncoder):
    """A WaveNet-style stack of dilated 1-D convolutions over time (chapter 6).

    The mel bands are the input channels. Block ``i`` uses dilation ``2**i``, so ``n_blocks``
    blocks of kernel size 3 see ``2**(n_blocks + 1) - 1`` frames: the receptive field grows
    exponentially with depth while the parameter count grows linearly. Unlike WaveNet, which
    generates audio and must be causal, an encoder may look ahead, so the convolutions are
    centred. The outputs are averaged over time and projected to the embedding.

    Parameters
    ----------
    n_mels, embed_dim, n_classes : see :class:`AudioCNN`
    channels : int
        Width of the residual stack.
    n_blocks : int
        Number of gated residual blocks (dilations 1, 2, 4, ...).
    kernel_size : int
        Odd, >= 3.
    dropout : float
        Dropout before the embedding layer.
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        channels: int = 64,
        n_blocks: int = 5,
        kernel_size: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        channels = check_int(channels, "channels")
        kernel_size = check_int(kernel_size, "kernel_size", minimum=3)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.n_blocks = check_int(n_blocks, "n_blocks")
        self.receptive_field = 1 + (kernel_size - 1) * (2**self.n_blocks - 1)
        """Frames that one output frame depends on."""
        self.inp = nn.Conv1d(self.n_mels, channels, 1)
        self.blocks = nn.Sequential(*[_GatedResidualBlock(channels, kernel_size, 2**i) for i in range(n_blocks)])
        self.project = self._projection(channels, dropout, nn.ReLU())

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(self.norm(x)))  # (B, channels, frames)
        return self.project(h.mean(dim=2))


__all__ = ["AudioCNN", "AudioGRU", "DilatedConvEncoder"]
