"""The one way ganguard draws: matplotlib without a screen, figures rendered to PNG bytes.

Also the grid of samples every run directory holds (`samples.png`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.runs import write_atomic


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any, dpi: int = 100, tight: bool = False) -> bytes:
    """The figure as PNG bytes (`tight`: grown to hold what lies outside the axes, such as a
    legend beside them); the figure is closed."""
    plt = pyplot()
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        plt.close(fig)
    return buf.getvalue()


def image_png(image: np.ndarray) -> bytes:
    """An image (H, W) grey or (H, W, 3) with values in [0, 1] as PNG bytes, pixel for pixel."""
    buf = io.BytesIO()
    grey = image.ndim == 2
    pyplot().imsave(buf, image, cmap="gray" if grey else None, vmin=0, vmax=1, format="png")
    return buf.getvalue()


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
    write_atomic(path, image_png(image_grid(x, cols)))


def save_sample_grid(method: Any, path: Path, seed: int = 0, n: int = 64) -> None:
    """A grid of `n` samples of a trained method from fixed latents, so that grids of one run
    are comparable."""
    import torch

    x = method.sample(n, torch.Generator().manual_seed(seed)).numpy()
    if x.ndim == 2 or x.shape[2] == 1:  # flat data: show as a row image per record
        x = x.reshape(len(x), 1, 1, -1)
    save_image_grid(x, path)
