"""Figures written into a run directory (and, later, the HTML report)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ganguard.runs import write_atomic


def image_grid(x: np.ndarray, cols: int = 8) -> np.ndarray:
    """Tile NCHW images in [-1, 1] into one HxW(x3) array in [0, 1]."""
    n, c, h, w = x.shape
    rows = -(-n // cols)
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), dtype=np.float32)
    for i, img in enumerate(x):
        r, k = divmod(i, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + k * (w + 1) : 1 + k * (w + 1) + w] = (
            img.transpose(1, 2, 0) + 1
        ) / 2
    grid = np.clip(grid, 0, 1)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(x: np.ndarray, path: Path, cols: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = image_grid(x, cols)
    buf = io.BytesIO()
    plt.imsave(buf, grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, format="png")
    write_atomic(path, buf.getvalue())


def save_sample_grid(method, path: Path, seed: int = 0, n: int = 64) -> None:  # noqa: ANN001
    """A grid of `n` samples from fixed latents, so grids of one run are comparable."""
    x = method.sample(n, torch.Generator().manual_seed(seed)).numpy()
    if x.ndim == 2 or x.shape[2] == 1:  # flat data: show as a row image per record
        x = x.reshape(len(x), 1, 1, -1)
    save_image_grid(x, path)
