"""DiffAugment on the discriminator's inputs: translation and cutout, differentiable, seeded."""

from __future__ import annotations

import pytest
import torch
from helpers import with_method

from ganguard.methods.augment import augment, cutout, translation
from ganguard.train import train


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translation_shifts_each_image_and_fills_the_border_with_zeros() -> None:
    x = torch.arange(1, 65, dtype=torch.float32).view(1, 1, 8, 8).repeat(200, 1, 1, 1)
    out = translation(x, _gen())
    assert out.shape == x.shape
    seen = set()
    for img in out[:, 0]:
        # find the shift: the image is x moved by (dy, dx) with |d| <= 1 (1/8 of 8), zeros elsewhere
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if torch.equal(img, _shifted(x[0, 0], dy, dx))
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 9  # every shift occurs


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.zeros_like(img)
    h, w = img.shape
    for i in range(h):
        for j in range(w):
            si, sj = i + dy, j + dx
            if 0 <= si < h and 0 <= sj < w:
                out[i, j] = img[si, sj]
    return out


def test_cutout_zeroes_one_square_of_half_the_side() -> None:
    x = torch.ones(300, 1, 8, 8)
    out = cutout(x, _gen())
    zeros = (out == 0).sum((1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4x4 square, clipped at the edges
    for img in out[:, 0]:
        rows, cols = (img == 0).nonzero(as_tuple=True)
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert area == len(rows)  # one rectangle


def test_augmentation_is_differentiable_and_seeded() -> None:
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    out = augment(x, ["translation", "cutout"], _gen(1))
    assert torch.equal(out, augment(x, ["translation", "cutout"], _gen(1)))
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    assert augment(x, [], _gen()) is x


@pytest.mark.parametrize("name", ["gan", "megan", "pargan"])
def test_runs_with_augmentation_train_and_differ_from_runs_without(tiny_config, tmp_path, name):
    config = with_method(tiny_config, name, **({"k": 2} if name == "pargan" else {}))
    plain = train(config, tmp_path / "plain")
    config["train"]["augment"] = ["translation", "cutout"]
    augmented = train(config, tmp_path / "augmented")
    z = _gen(3)
    a = plain.method.sample(8, z)
    b = augmented.method.sample(8, _gen(3))
    assert torch.isfinite(b).all() and not torch.equal(a, b)
