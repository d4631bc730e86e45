"""benchmarks/step_cost.py: the operation count per step is the matrix products' 2·m·k·n, and a
term run on every k-th step only is charged at its share."""

from __future__ import annotations

from types import ModuleType

import torch

BENCHMARK = "step_cost"  # the `bench` fixture (tests/conftest.py) imports it


class Products:
    """A "method" whose step multiplies (8 × 32) by (32 × 16), and every `every`-th step also
    (8 × 32) by (32 × 64)."""

    def __init__(self, every: int) -> None:
        self.every, self.t = every, 0
        self.x, self.a, self.b = torch.ones(8, 32), torch.ones(32, 16), torch.ones(32, 64)

    def step(self) -> None:
        self.t += 1
        self.x @ self.a
        if self.t % self.every == 0:
            self.x @ self.b


def test_operations_per_step_are_the_products_and_every_kth_term_its_share(
        bench: ModuleType) -> None:  # fmt: skip
    flops = bench.flops_per_step({"plain": Products(every=10**9), "lazy": Products(every=4)},
                                 steps=16)  # fmt: skip
    assert flops["plain"] == 2 * 8 * 32 * 16
    assert flops["lazy"] == 2 * 8 * 32 * 16 + 2 * 8 * 32 * 64 / 4


def test_the_backward_pass_is_counted_too(bench: ModuleType) -> None:
    class Learning(Products):
        def step(self) -> None:
            w = self.a.clone().requires_grad_()
            (self.x @ w).sum().backward()

    flops = bench.flops_per_step({"learning": Learning(every=1)}, steps=2)
    assert flops["learning"] == 2 * (2 * 8 * 32 * 16)  # forward, and the gradient of w
