"""The one squared-distance kernel (ganguard.distances): exact against brute force, within its
memory budget, differentiable where MIMGAN needs it."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ganguard.distances import chunk_sizes, count_within, nearest, squared_distances
from ganguard.errors import GanguardError

MIB = 2**20


def _random(n: int, seed: int, shape: tuple[int, ...] = (1, 3, 5)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g) * 2 - 1


def _brute(q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return torch.cdist(q.reshape(len(q), -1).double(), s.reshape(len(s), -1).double()) ** 2



@pytest.mark.parametrize("memory_mb", [256, 1e-4, 3e-3])  # one block; 26 elements; 786 elements
def test_nearest_matches_brute_force(memory_mb: float) -> None:
    q, s = _random(37, 0), _random(53, 1)
    dist, index = nearest(q, s, memory_mb=memory_mb)
    full = _brute(q, s)
    assert dist.dtype == torch.float32 and index.dtype == torch.int64
    assert dist.shape == index.shape == (37,)
    torch.testing.assert_close(dist.double(), full.min(1).values, atol=1e-5, rtol=1e-5)
    assert torch.equal(index, full.argmin(1))


def test_nearest_exact_match_is_zero_and_float64_is_kept() -> None:
    s = _random(20, 2).double()
    q = torch.cat([s[[3, 7]], _random(4, 3).double()])
    dist, index = nearest(q, s, memory_mb=1e-4)
    assert dist.dtype == torch.float64
    assert dist[:2].tolist() == [0.0, 0.0]  # clamped at 0, never negative
    assert index[:2].tolist() == [3, 7]
    assert (dist >= 0).all()


def test_nearest_exclude_self() -> None:
    s = torch.cat([_random(30, 4), _random(30, 4)[:5]])  # records 30..34 copy records 0..4
    dist, index = nearest(s, s, memory_mb=1e-4, exclude_self=True)
    full = _brute(s, s)
    full.fill_diagonal_(float("inf"))
    torch.testing.assert_close(dist.double(), full.min(1).values, atol=1e-5, rtol=1e-5)
    assert dist[:5].abs().max() < 1e-5 and index[:5].tolist() == [30, 31, 32, 33, 34]
    assert index[30:].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("nq", "ns", "memory_mb"),
    [(37, 53, 1e-4), (2000, 20000, 256), (2000, 20000, 1), (5, 10**6, 0.5), (10**6, 3, 0.01)],
)
def test_chunk_sizes_respect_the_budget(nq: int, ns: int, memory_mb: float) -> None:
    rows, cols = chunk_sizes(nq, ns, memory_mb)
    assert 1 <= rows <= nq and 1 <= cols <= ns
    assert rows * cols * 4 <= memory_mb * MIB
    # Large blocks: the budget is used (up to rounding), or the whole problem is one block.
    assert (rows, cols) == (nq, ns) or rows * cols * 4 > memory_mb * MIB / 4


def test_chunk_sizes_whole_problem_when_it_fits() -> None:
    assert chunk_sizes(2000, 20000, 256) == (2000, 20000)
    with pytest.raises(GanguardError):
        chunk_sizes(10, 10, 0)


def test_blocks_held_by_the_kernel_respect_a_small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every distance block the kernel computes (one addmm each) fits the budget."""
    sizes: list[int] = []
    real_addmm = torch.addmm

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        out = real_addmm(*args, **kwargs)
        sizes.append(out.numel())
        return out

    monkeypatch.setattr(torch, "addmm", spy)
    memory_mb = 2e-3  # 524 float32 elements
    q, s = _random(41, 5), _random(67, 6)
    dist, _ = nearest(q, s, memory_mb=memory_mb)
    assert len(sizes) > 4
    assert max(sizes) * 4 <= memory_mb * MIB
    torch.testing.assert_close(dist.double(), _brute(q, s).min(1).values, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("memory_mb", [256, 1e-4])
def test_count_within_matches_brute_force(memory_mb: float) -> None:
    q, s = _random(25, 7).double(), _random(40, 8).double()
    radius = 2.0
    counts = count_within(q, s, radius, memory_mb=memory_mb)
    expected = (_brute(q, s) <= radius**2).sum(1)
    assert torch.equal(counts, expected)
    assert 0 < int(counts.sum()) < 25 * 40  # a radius that splits


@pytest.mark.parametrize("memory_mb", [256, 1e-4])
def test_the_k_nearest_match_a_brute_force_search(memory_mb: float) -> None:
    g = torch.Generator().manual_seed(8)
    queries, pool = torch.randn(7, 5, generator=g), torch.randn(50, 5, generator=g)
    d, i = nearest(queries, pool, k=3, memory_mb=memory_mb)
    want_d, want_i = _brute(queries, pool).topk(3, dim=1, largest=False)
    assert torch.equal(i, want_i)
    torch.testing.assert_close(d.double(), want_d, rtol=1e-5, atol=1e-5)
    d_all, _ = nearest(queries, pool[:2], k=3)  # fewer samples than k: all of them
    assert d_all.shape == (7, 2)


def test_ties_keep_the_earlier_sample() -> None:
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    _, index = nearest(torch.zeros(1, 2), s, memory_mb=1e-5)  # one sample per block
    assert index.tolist() == [0]
    _, index = nearest(torch.zeros(1, 2), s, k=2, memory_mb=1e-5)
    assert index.tolist() == [[0, 1]]


def test_squared_distances_are_exact_and_differentiable() -> None:
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    d = squared_distances(a, b)
    assert d.tolist() == [[1.0, 4.0, 2.0], [1.0, 2.0, 0.0]]
    d[0, 1].backward()  # ∂‖a_0 − b_1‖² / ∂a_0 = 2 (a_0 − b_1)
    assert a.grad.tolist() == [[0.0, -4.0], [0.0, 0.0]]
