"""Class-conditional wrappers: a label embedding for the generator, a projection discriminator.

Generator: G(z, y) = G₀([z, e(y)]) with a learned embedding e(y) of the class.
Discriminator (projection, Miyato & Koyama 2018): d(x, y) = ψ(φ(x)) + ⟨v(y), φ(x)⟩, where φ is the
unconditional network's `features`, ψ its linear head and v a learned class embedding. `features`
stays label-free, so critics and attacks that read φ(x) work on conditional runs unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from ganguard.nets.layers import spectral_normed


class ConditionalGenerator(nn.Module):
    """Wraps a generator built for latents of size z_dim + embed_dim."""

    def __init__(self, base: nn.Module, n_classes: int, z_dim: int, embed_dim: int):
        super().__init__()
        self.base = base
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.z_dim = z_dim
        self.n_classes = n_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("a conditional generator needs the labels y")
        return self.base(torch.cat([z, self.embed(y)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """Wraps an unconditional discriminator; adds ⟨v(y), φ(x)⟩ to its logit."""

    def __init__(self, base: nn.Module, n_classes: int, spectral: bool):
        super().__init__()
        self.base = base
        self.feature_dim = base.feature_dim
        self.n_classes = n_classes
        self.embed = spectral_normed(nn.Embedding(n_classes, base.feature_dim), spectral)

    @property
    def out(self) -> nn.Module:
        return self.base.out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)

    def head(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("a projection discriminator needs the labels y")
        return self.base.head(h) + (self.embed(y) * h).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x), y)
