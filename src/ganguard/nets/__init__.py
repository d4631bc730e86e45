"""Generator and discriminator networks: DCGAN-style for 28x28 / 32x32 images, MLPs for the rest.

Every discriminator exposes `features(x)` (the penultimate representation) and `head(h)` (the
logit), so critics and attacks can read either. Discriminators never use BatchNorm: DP-SGD needs
per-sample computations.
"""

from __future__ import annotations

from torch import nn

from ganguard.config import ModelConfig
from ganguard.errors import GanguardError
from ganguard.nets.conditional import ConditionalGenerator, ProjectionDiscriminator
from ganguard.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganguard.nets.mlp import MLPDiscriminator, MLPGenerator, PackedDiscriminator
from ganguard.nets.tabular import TabularGenerator

Shape = tuple[int, int, int]


def resolve_arch(cfg: ModelConfig, shape: Shape) -> str:
    _, h, w = shape
    fits_dcgan = h == w and h % (2**cfg.depth) == 0 and h // (2**cfg.depth) >= 2
    if cfg.arch == "auto":
        return "dcgan" if h == w and h in (28, 32) and fits_dcgan else "mlp"
    if cfg.arch == "dcgan" and not fits_dcgan:
        raise GanguardError(
            f"config key model.arch: dcgan needs square images whose side is divisible by "
            f"2**model.depth = {2**cfg.depth}; the data are {h}x{w} (use arch: mlp)"
        )
    return cfg.arch


def build_generator(cfg: ModelConfig, shape: Shape, n_classes: int = 0,
                    layout: list | None = None) -> nn.Module:  # fmt: skip
    """G(z), or G(z, y) with a label embedding when `cfg.conditional` (then n_classes > 0); for
    a table (`layout`: its record's blocks) the MLP with one head per block."""
    conditional = _conditional(cfg, n_classes)
    z_in = cfg.z_dim + (cfg.label_embed_dim if conditional else 0)
    if layout is not None:
        if cfg.arch == "dcgan":
            raise GanguardError("config key model.arch: dcgan is for images; tables use mlp")
        g = TabularGenerator(shape, z_in, cfg.g_width, cfg.depth, layout)
    elif resolve_arch(cfg, shape) == "dcgan":
        g = DCGANGenerator(shape, z_in, cfg.g_width, cfg.depth)
    else:
        g = MLPGenerator(shape, z_in, cfg.g_width, cfg.depth)
    if conditional:
        return ConditionalGenerator(g, n_classes, cfg.z_dim, cfg.label_embed_dim)
    return g


def build_discriminator(
    cfg: ModelConfig, shape: Shape, n_classes: int = 0, conditional: bool | None = None,
    packed: bool = True,
) -> nn.Module:
    """d(x), or the projection d(x, y) when conditional (default: `cfg.conditional`); PacGAN's
    packed D when `cfg.pac` > 1 (unless `packed` is false: a per-record classifier)."""
    conditional = _conditional(cfg, n_classes) if conditional is None else conditional
    arch = resolve_arch(cfg, shape)
    if packed and cfg.pac > 1:
        if arch == "dcgan" or conditional:
            raise GanguardError("config key model.pac: packing is for unconditional runs on "
                                "the mlp networks (model.arch: mlp, model.conditional: false)")
        return PackedDiscriminator(shape, cfg.pac, cfg.d_width, cfg.depth, cfg.d_norm,
                                   cfg.spectral_norm)  # fmt: skip
    if arch == "dcgan":
        d = DCGANDiscriminator(shape, cfg.d_width, cfg.depth, cfg.d_norm, cfg.spectral_norm)
    else:
        d = MLPDiscriminator(shape, cfg.d_width, cfg.depth, cfg.d_norm, cfg.spectral_norm)
    if conditional:
        return ProjectionDiscriminator(d, n_classes, cfg.spectral_norm)
    return d


def _conditional(cfg: ModelConfig, n_classes: int) -> bool:
    if cfg.conditional and n_classes < 1:
        raise GanguardError("model.conditional needs a data set with class labels")
    return cfg.conditional


__all__ = ["build_generator", "build_discriminator", "resolve_arch"]
