"""The Bhattacharyya overfitting measure of SPEC §4 on hand-made and Gaussian scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganguard.metrics.bhattacharyya import accuracy_bounds, bhattacharyya_coefficient, overfitting


def test_known_histograms() -> None:
    # shared range [0, 1] and two bins [0, .5), [.5, 1]: p = [1/2, 1/2], q = [1, 0]
    a = np.array([0.0, 0.2, 0.8, 1.0])
    b = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    assert bhattacharyya_coefficient(a, b, bins=2) == pytest.approx(math.sqrt(0.5), abs=1e-12)
    assert bhattacharyya_coefficient(b, a, bins=2) == pytest.approx(math.sqrt(0.5), abs=1e-12)


def test_known_histograms_with_three_bins() -> None:
    # range [0, 3], bins [0,1) [1,2) [2,3]: p = [1/4, 1/4, 1/2], q = [1/2, 1/2, 0]
    a = np.array([0.5, 1.5, 2.5, 3.0])
    b = np.array([0.0, 0.5, 1.2, 1.8])
    want = math.sqrt(0.25 * 0.5) + math.sqrt(0.25 * 0.5)
    assert bhattacharyya_coefficient(a, b, bins=3) == pytest.approx(want, abs=1e-12)


def test_identical_samples_have_bc_one() -> None:
    x = np.random.default_rng(0).normal(size=300)
    assert bhattacharyya_coefficient(x, x) == pytest.approx(1.0, abs=1e-12)
    assert bhattacharyya_coefficient(x, x.copy()[::-1]) == pytest.approx(1.0, abs=1e-12)
    o = overfitting(x, x.copy(), n_boot=0)
    assert o.O == pytest.approx(0.0, abs=1e-12)
    assert bhattacharyya_coefficient(x, x, method="kde") == pytest.approx(1.0, abs=1e-9)


def test_constant_equal_scores_have_bc_one() -> None:
    assert bhattacharyya_coefficient(np.full(5, 2.0), np.full(7, 2.0)) == 1.0


def test_disjoint_samples_have_bc_zero() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 100)
    b = rng.uniform(5, 6, 100)
    assert bhattacharyya_coefficient(a, b) == 0.0
    assert overfitting(a, b, n_boot=0).O == 1.0
    far = rng.normal(30, 1, 100)
    assert bhattacharyya_coefficient(rng.normal(0, 1, 100), far, method="kde") < 1e-6


def test_default_bins_follow_the_rice_rule() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 100), rng.normal(0.5, 1, 150)
    rice = math.ceil(2 * 100 ** (1 / 3))  # from the smaller sample: 10
    assert rice == 10
    assert bhattacharyya_coefficient(a, b) == bhattacharyya_coefficient(a, b, bins=rice)
    assert bhattacharyya_coefficient(a, b) != bhattacharyya_coefficient(a, b, bins=3)


@pytest.mark.parametrize("bc", [0.0, 0.3, math.sqrt(0.5), 0.9, 1.0])
def test_accuracy_bounds(bc: float) -> None:
    lower, upper = accuracy_bounds(bc)
    assert lower == pytest.approx(0.5 + 0.5 * (1 - bc), abs=1e-15)
    assert upper == pytest.approx(0.5 + 0.5 * math.sqrt(1 - bc**2), abs=1e-15)
    assert 0.5 <= lower <= upper <= 1.0


def test_accuracy_bounds_at_the_extremes() -> None:
    assert accuracy_bounds(1.0) == (0.5, 0.5)  # indistinguishable: chance
    assert accuracy_bounds(0.0) == (1.0, 1.0)  # disjoint: a perfect threshold exists


def gaussians(shift: float, m: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, m), rng.normal(shift, 1, m)


def test_overfitting_on_separated_gaussians() -> None:
    members, nonmembers = gaussians(3.0)
    o = overfitting(members, nonmembers, n_boot=200, seed=0)
    # BC of N(0,1) and N(3,1) is exp(-3^2/8), so O ≈ 0.675 (histograms bias it up a little)
    assert o.O == pytest.approx(1 - math.exp(-9 / 8), abs=0.06)
    assert o.O_null < 0.05
    assert o.O > o.O_null + 0.5
    assert o.ci_low <= o.O <= o.ci_high
    assert o.ci_high - o.ci_low < 0.15
    lower, upper = accuracy_bounds(1 - o.O)
    assert (o.acc_lower, o.acc_upper) == pytest.approx((lower, upper))
    # the best threshold (1.5) gets Φ(1.5) ≈ 0.933, which the bounds must bracket
    assert o.acc_lower <= 0.933 <= o.acc_upper


def test_overfitting_on_one_distribution_is_near_its_null() -> None:
    members, nonmembers = gaussians(0.0)
    o = overfitting(members, nonmembers, n_boot=50, seed=0)
    assert o.O < 0.03 and o.O_null < 0.03
    assert abs(o.O - o.O_null) < 0.02
    assert o.acc_lower == pytest.approx(0.5, abs=0.02)


def test_overfitting_is_seeded_and_to_dict() -> None:
    members, nonmembers = gaussians(1.0, m=300)
    a = overfitting(members, nonmembers, n_boot=30, seed=5)
    b = overfitting(members, nonmembers, n_boot=30, seed=5)
    assert a == b
    assert set(a.to_dict()) == {"O", "O_null", "ci_low", "ci_high", "acc_lower", "acc_upper"}
    assert math.isnan(overfitting(members, nonmembers, n_boot=0).ci_low)
