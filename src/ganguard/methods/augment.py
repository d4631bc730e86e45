"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

Every record D sees, real or generated, goes through the same random transformations, and the
generator's gradient flows through them. `translation` shifts each image by up to 1/8 of its side
(the border filled with zeros, the middle of [-1, 1]); `cutout` zeroes a random square of half the
side. Each draw comes from the method's own `augment` stream, so a run without augmentation draws
nothing from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganguard.errors import GanguardError

POLICIES = ("translation", "cutout")


def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # drawn on the CPU (the method's streams live there), applied on x's device
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator).to(x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator).to(x.device)
    # index into a zero-padded copy: a shifted pixel that falls outside reads the zero border
    rows = (torch.arange(h, device=x.device)[None, :, None] + ty + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (n, h+2, w+2, c)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator).to(x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator).to(x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside)[:, None].to(x.dtype)


def augment(x: torch.Tensor, policies: list[str], generator: torch.Generator) -> torch.Tensor:
    """`x` through each policy in turn (identity for an empty list)."""
    for policy in policies:
        x = {"translation": translation, "cutout": cutout}[policy](x, generator)
    return x


def check_augmentable(policies: list[str], shape: tuple[int, ...]) -> None:
    if policies and len(shape) != 3:
        raise GanguardError(
            f"config key train.augment: augmentation needs images (C, H, W); the data are {shape}"
        )
