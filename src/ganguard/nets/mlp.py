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
