"""The class-conditional networks: G's label embedding and the projection discriminator."""

from __future__ import annotations

import pytest
import torch

from ganguard.config import ModelConfig
from ganguard.errors import GanguardError
from ganguard.nets import build_discriminator, build_generator

SHAPE = (1, 8, 8)


@pytest.mark.parametrize("spectral", [False, True])
def test_projection_adds_the_class_embedding_times_the_features(spectral: bool) -> None:
    cfg = ModelConfig(arch="mlp", d_width=8, depth=1, spectral_norm=spectral, conditional=True)
    d = build_discriminator(cfg, SHAPE, n_classes=3).eval()
    x = torch.randn(5, *SHAPE, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 1, 0])
    with torch.no_grad():
        h = d.features(x)
        v = d.embed.weight  # (3, feature_dim), spectrally normalised when asked
        expected = d.base.head(h) + (v[y] * h).sum(1)  # d(x, y) = ψ(φ(x)) + ⟨v(y), φ(x)⟩
        assert torch.allclose(d(x, y), expected, atol=1e-6)
        if not spectral:  # with the class embedding zeroed, it is the unconditional network
            d.embed.weight.zero_()
            assert torch.equal(d(x, y), d.base(x))
    with pytest.raises(ValueError, match="needs the labels"):
        d(x)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_generator_output_depends_on_the_label(arch: str) -> None:
    shape = (1, 28, 28) if arch == "dcgan" else SHAPE
    cfg = ModelConfig(arch=arch, z_dim=4, g_width=8, depth=2, conditional=True)
    g = build_generator(cfg, shape, n_classes=10).eval()
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = g(z, torch.zeros(6, dtype=torch.long))
        b = g(z, torch.ones(6, dtype=torch.long))
    assert a.shape == (6, *shape) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="needs the labels"):
        g(z)


def test_conditional_networks_need_classes() -> None:
    cfg = ModelConfig(arch="mlp", conditional=True)
    with pytest.raises(GanguardError, match="class labels"):
        build_generator(cfg, SHAPE, n_classes=0)
    with pytest.raises(GanguardError, match="class labels"):
        build_discriminator(cfg, SHAPE)
