"""Generator and discriminator networks: DCGAN-style for 28x28 / 32x32 images, MLPs for the rest.

Every discriminator exposes `features(x)` (the penultimate representation) and `head(h)` (the
logit), so critics and attacks can read either. Discriminators never use BatchNorm: DP-SGD needs
per-sample computations.
"""

from __future__ import annotations

from torch import nn

from ganguard.config import ModelConfig
from ganguard.errors import GanguardError
from ganguard.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganguard.nets.mlp import MLPDiscriminator, MLPGenerator

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


def build_generator(cfg: ModelConfig, shape: Shape) -> nn.Module:
    if resolve_arch(cfg, shape) == "dcgan":
        return DCGANGenerator(shape, cfg.z_dim, cfg.g_width, cfg.depth)
    return MLPGenerator(shape, cfg.z_dim, cfg.g_width, cfg.depth)


def build_discriminator(cfg: ModelConfig, shape: Shape) -> nn.Module:
    if resolve_arch(cfg, shape) == "dcgan":
        return DCGANDiscriminator(shape, cfg.d_width, cfg.depth, cfg.d_norm, cfg.spectral_norm)
    return MLPDiscriminator(shape, cfg.d_width, cfg.depth, cfg.d_norm, cfg.spectral_norm)


__all__ = ["build_generator", "build_discriminator", "resolve_arch"]
