"""DCGAN-style convolutional networks (Radford et al.), sized by width and depth."""

from __future__ import annotations

import torch
from torch import nn

from ganguard.nets.layers import spectral_normed


class DCGANGenerator(nn.Module):
    """z -> linear to a (width * 2**(depth-1)) x s x s map -> `depth` 2x up-convolutions -> tanh."""

    def __init__(self, shape: tuple[int, int, int], z_dim: int, width: int, depth: int):
        super().__init__()
        channels, side, _ = shape
        self.shape = shape
        self.z_dim = z_dim
        self.start = side // 2**depth
        c0 = width * 2 ** (depth - 1)
        self.project = nn.Sequential(
            nn.Linear(z_dim, c0 * self.start**2), nn.BatchNorm1d(c0 * self.start**2), nn.ReLU()
        )
        layers: list[nn.Module] = []
        c = c0
        for _ in range(depth - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: None = None) -> torch.Tensor:
        h = self.project(z).view(len(z), -1, self.start, self.start)
        return self.body(h)


class DCGANDiscriminator(nn.Module):
    """`depth` stride-2 convolutions (width, 2*width, ...) with LeakyReLU, then a linear logit."""

    def __init__(
        self, shape: tuple[int, int, int], width: int, depth: int, norm: str, spectral: bool
    ):
        super().__init__()
        channels, side, _ = shape
        layers: list[nn.Module] = []
        c_in, c = channels, width
        for i in range(depth):
            layers.append(spectral_normed(nn.Conv2d(c_in, c, 4, 2, 1), spectral))
            if norm == "group" and i > 0:
                layers.append(nn.GroupNorm(min(32, c // 4) or 1, c))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c = c, c * 2
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.feature_dim = c_in * (side // 2**depth) ** 2
        self.out = spectral_normed(nn.Linear(self.feature_dim, 1), spectral)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, h: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.out(h).squeeze(1)

    def forward(self, x: torch.Tensor, y: None = None) -> torch.Tensor:
        return self.head(self.features(x))
