"""The generator for tables: an MLP trunk and one head per block of the encoded record (see
ganguard.data.codec): a scalar head (tanh, scaled to [-1/2, 1/2]) for each numeric value, a
softmax head (scaled by 1/√2) for each one-hot block. While training the softmax is a
Gumbel-softmax (Jang et al. 2017, as CTGAN's): a soft draw that keeps G differentiable; in eval
mode (sampling, attacks) the block is the one-hot of its largest logit, with the softmax's
gradient (straight-through), so samples are records of the table's kind and white-box attacks can
still follow G's gradient."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ONE_HOT_SCALE = 1 / math.sqrt(2)  # as ganguard.data.codec: every block of unit diameter
GUMBEL_TAU = 0.2  # CTGAN's temperature


def block_heads(h: torch.Tensor, layout: list, training: bool) -> torch.Tensor:
    """The record from the trunk's last linear output `h`, block by block."""
    parts, at = [], 0
    for kind, width in layout:
        logits = h[:, at : at + width]
        if kind == "scalar":
            parts.append(0.5 * torch.tanh(logits))
        elif training:
            parts.append(ONE_HOT_SCALE * F.gumbel_softmax(logits, tau=GUMBEL_TAU, hard=False))
        else:
            soft = F.softmax(logits / GUMBEL_TAU, dim=1)
            hard = F.one_hot(soft.argmax(1), width).to(soft.dtype)
            parts.append(ONE_HOT_SCALE * (hard - soft.detach() + soft))
        at += width
    return torch.cat(parts, dim=1)


class TabularGenerator(nn.Module):
    """z -> `depth` hidden layers (ReLU, BatchNorm) -> one head per block of `layout`."""

    def __init__(self, shape: tuple[int, ...], z_dim: int, width: int, depth: int, layout: list):
        super().__init__()
        self.shape, self.z_dim = tuple(shape), z_dim
        self.layout = [(str(kind), int(w)) for kind, w in layout]
        n_out = sum(w for _, w in self.layout)
        if n_out != math.prod(self.shape):
            raise ValueError(f"layout of {n_out} values for records of shape {self.shape}")
        layers: list[nn.Module] = []
        d_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU()]
            d_in = width
        layers.append(nn.Linear(d_in, n_out))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: None = None) -> torch.Tensor:
        x = block_heads(self.body(z), self.layout, self.training)
        return x.view(len(z), *self.shape)
