"""The shared machinery of every method: the latent split that picks a class or a generator."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import kstest

from ganguard.methods.base import split_latent


@pytest.mark.parametrize("n", [2, 3, 10])
@pytest.mark.parametrize("column", [0, -1])
def test_split_latent_is_uniform_and_keeps_each_share_normal(n: int, column: int) -> None:
    z = torch.randn(30_000, 4, generator=torch.Generator().manual_seed(0))
    choice, z_in = split_latent(z, n, column=column)
    assert choice.dtype == torch.long and z_in.dtype == z.dtype and z_in.shape == z.shape
    others = [c for c in range(4) if c != column % 4]
    assert torch.equal(z_in[:, others], z[:, others])  # only the deciding coordinate is renewed
    assert torch.equal(
        z[:, column], torch.randn(30_000, 4, generator=torch.Generator().manual_seed(0))[:, column]
    )  # input untouched
    for i in range(n):
        mine = z_in[choice == i, column].double()
        assert abs(len(mine) / len(z) - 1 / n) < 0.015
        # given its share, the renewed coordinate is N(0, 1) (Kolmogorov–Smirnov, 40 tests here)
        assert kstest(mine.numpy(), "norm").pvalue > 1e-4
    # row by row: a prefix of the rows gets the same choices and latents
    head_choice, head_z = split_latent(z[:10], n, column=column)
    assert torch.equal(head_choice, choice[:10]) and torch.equal(head_z, z_in[:10])


def test_split_latent_is_finite_at_the_edges() -> None:
    z = torch.tensor([[-40.0, 1.0], [0.0, 1.0], [40.0, 1.0], [-1e-6, 1.0]])
    choice, z_in = split_latent(z, 2, column=0)
    assert choice.tolist() == [0, 1, 1, 0]
    assert torch.isfinite(z_in).all()


def test_split_latent_passes_gradients_to_z() -> None:
    z = torch.randn(8, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    _, z_in = split_latent(z, 4, column=-1)
    z_in.sum().backward()
    assert torch.isfinite(z.grad).all() and (z.grad[:, -1] != 0).all()
