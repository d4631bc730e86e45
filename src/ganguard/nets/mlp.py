"""MLP networks for small or flat data (`digits`, tabular), as in the SPEC's first trials."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganguard.nets.layers import spectral_normed


class MLPGenerator(nn.Module):
    """z -> `depth` hidden layers (ReLU, BatchNorm) -> tanh, reshaped to `shape`."""

    def __init__(self, shape: tuple[int, ...], z_dim: int, width: int, depth: int):
        super().__init__()
        self.shape = tuple(shape)
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        d_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU()]
            d_in = width
        layers += [nn.Linear(d_in, math.prod(self.shape)), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.body(z).view(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    """Flatten -> `depth` hidden layers (halving from 2*width... down to width) -> linear logit."""

    def __init__(self, shape: tuple[int, ...], width: int, depth: int, norm: str, spectral: bool):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d_in = math.prod(shape)
        widths = [width * 2 ** (depth - 1 - i) for i in range(depth)]
        for w in widths:
            layers.append(spectral_normed(nn.Linear(d_in, w), spectral))
            if norm == "group":
                layers.append(nn.GroupNorm(min(32, w // 4) or 1, w))
            layers.append(nn.LeakyReLU(0.2))
            d_in = w
        self.body = nn.Sequential(*layers)
        self.feature_dim = d_in
        self.out = spectral_normed(nn.Linear(d_in, 1), spectral)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, h: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.out(h).squeeze(1)

    def forward(self, x: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.head(self.features(x))


class PackedDiscriminator(nn.Module):
    """PacGAN's D (Lin et al. 2018): `pac` consecutive records of a batch are read as one input,
    so that D sees a batch's variety and can punish a generator that collapses onto a few
    records. A batch of n records gives n / pac logits (and feature rows); `per_record` scores
    each record alone, packed with copies of itself, as the white-box attacks need."""

    def __init__(self, shape: tuple[int, ...], pac: int, width: int, depth: int, norm: str,
                 spectral: bool):  # fmt: skip
        super().__init__()
        self.pac = pac
        self.inner = MLPDiscriminator((pac * math.prod(shape),), width, depth, norm, spectral)
        self.feature_dim = self.inner.feature_dim

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) % self.pac:
            raise ValueError(f"a packed discriminator reads batches of multiples of {self.pac} "
                             f"records, got {len(x)}")  # fmt: skip
        return x.reshape(len(x) // self.pac, -1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.features(self.pack(x))

    def head(self, h: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.inner.head(h)

    def forward(self, x: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.head(self.features(x))

    def per_record(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per record: each record packed with pac − 1 copies of itself."""
        return self(x.repeat_interleave(self.pac, dim=0))

    def per_record_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.repeat_interleave(self.pac, dim=0))


def record_logits(d: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """d's logit for each record of x (a packed D scores each record alone)."""
    return d.per_record(x) if isinstance(d, PackedDiscriminator) else d(x, y)


def record_features(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """d's features of each record of x (a packed D reads each record alone)."""
    return d.per_record_features(x) if isinstance(d, PackedDiscriminator) else d.features(x)


def records_per_row(d: nn.Module) -> int:
    """How many records make one row of d's features and logits in training (pac, or 1)."""
    return d.pac if isinstance(d, PackedDiscriminator) else 1
