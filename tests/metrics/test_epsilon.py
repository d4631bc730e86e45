"""ε lower bounds: the threshold bound against the formula as the auditing literature computes it,
on hand-made counts; the one-run canary bound against an independent root finding; and both
valid (below the true ε) on mechanisms whose ε is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.metrics.epsilon import (
    clopper_pearson,
    eps_from_rates,
    one_run_eps_lower_bound,
    threshold_eps_lower_bound,
)


def literature_eps(fn: int, fp: int, positives: int, negatives: int, delta: float) -> float:
    """Jagielski et al. 2020's bound as their auditing code writes it: Clopper–Pearson upper
    bounds on the false-negative and false-positive rates (scipy's exact binomial interval),
    then max(ln((1 − δ − FNR_hi) / FPR_hi), ln((1 − δ − FPR_hi) / FNR_hi))."""
    fnr_hi = stats.binomtest(fn, positives).proportion_ci(0.95, method="exact").high
    fpr_hi = stats.binomtest(fp, negatives).proportion_ci(0.95, method="exact").high
    bounds = [math.log((1 - delta - a) / b) for a, b in ((fnr_hi, fpr_hi), (fpr_hi, fnr_hi))
              if 1 - delta - a > 0]  # fmt: skip
    return max([0.0, *bounds])


@pytest.mark.parametrize(("tp", "fp", "n_pos", "n_neg", "delta"), [
    (490, 2, 500, 500, 1e-5), (300, 20, 500, 500, 1e-4), (250, 250, 500, 500, 1e-4),
    (40, 0, 50, 50, 1e-3), (250, 10, 250, 250, 0.0), (3, 0, 10, 10, 1e-5),
])  # fmt: skip
def test_the_threshold_bound_is_the_literature_s_on_hand_made_counts(tp, fp, n_pos, n_neg,
                                                                      delta) -> None:  # fmt: skip
    tpr_lo, _ = clopper_pearson(tp, n_pos)
    _, fpr_hi = clopper_pearson(fp, n_neg)
    ours = float(eps_from_rates(tpr_lo, fpr_hi, delta))
    assert ours == pytest.approx(literature_eps(n_pos - tp, fp, n_pos, n_neg, delta), abs=1e-9)


def test_a_perfect_attack_on_500_and_500_proves_about_five() -> None:
    # TPR_lo = 0.025^(1/500), FPR_hi = 1 − 0.025^(1/500): ε = ln(TPR_lo / FPR_hi) by hand
    lo = 0.025 ** (1 / 500)
    assert float(eps_from_rates(lo, 1 - lo, 0.0)) == pytest.approx(math.log(lo / (1 - lo)))
    assert math.log(lo / (1 - lo)) == pytest.approx(4.906, abs=1e-3)
    assert float(eps_from_rates(0.5, 0.5, 0.0)) == 0.0  # chance proves nothing


def test_the_threshold_is_chosen_on_one_half_and_measured_on_the_other() -> None:
    sel = (np.linspace(5, 8, 30), np.linspace(0, 2, 30))  # separable at 5
    half = np.r_[np.full(15, 6.0), np.full(15, 1.0)]
    out = threshold_eps_lower_bound(sel, (half, half), delta=0.0)  # not separable at all
    assert out["threshold"] == 5.0  # the lowest threshold with the best bound on `sel`
    assert (out["tp"], out["fp"], out["n_members"], out["n_nonmembers"]) == (15, 15, 30, 30)
    assert out["value"] == 0.0  # half of each either way proves nothing
    out = threshold_eps_lower_bound(sel, sel, delta=0.0)
    assert out["value"] == pytest.approx(literature_eps(0, 0, 30, 30, 0.0))


def randomized_response(eps: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The scores of the optimal attack on an ε-DP mechanism: 1 with probability e^ε / (1 + e^ε)
    for members and 1 / (1 + e^ε) for non-members."""
    rng = np.random.default_rng(seed)
    q = 1 / (1 + math.exp(-eps))
    return (rng.random(n) < q).astype(float), (rng.random(n) < 1 - q).astype(float)


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_the_bound_stays_below_the_true_epsilon_and_comes_close(eps: float) -> None:
    """At 95% confidence at most 5% of the bounds may exceed the true ε (20 draws: allow 2)."""
    bounds = []
    for seed in range(20):
        members, nonmembers = randomized_response(eps, 4000, seed)
        halves = (members[:2000], nonmembers[:2000]), (members[2000:], nonmembers[2000:])
        bounds.append(threshold_eps_lower_bound(*halves, delta=0.0)["value"])
    assert sum(b > eps for b in bounds) <= 2  # valid
    assert np.mean(bounds) > 0.7 * eps  # and tight enough to mean something at 2 000 per half


def test_attack_metrics_reports_the_bound_with_its_counts() -> None:
    rng = np.random.default_rng(0)
    m = attack_metrics(rng.normal(2, 1, 400), rng.normal(0, 1, 400), n_boot=0)
    eps = m["eps_lower_bound"]
    assert eps["delta"] == pytest.approx(1 / 4000)  # 1 / (10 n) by default
    assert (eps["n_members"], eps["n_nonmembers"]) == (200, 200)  # the measured half
    assert eps["value"] > 0.5 and eps["tp"] > eps["fp"]


# -- one run -----------------------------------------------------------------------------------
def independent_one_run_eps(r: int, v: int, p: float = 0.05) -> float:
    """For δ = 0 the one-run bound is the ε at which P[Binomial(r, e^ε / (1 + e^ε)) ≥ v] = p."""
    tail = lambda eps: stats.binom.sf(v - 1, r, 1 / (1 + math.exp(-eps))) - p  # noqa: E731
    return optimize.brentq(tail, 0.0, 50.0) if tail(0.0) < 0 else 0.0


@pytest.mark.parametrize(("m", "r", "v"), [(1000, 100, 100), (1000, 100, 80), (200, 50, 30),
                                           (500, 500, 260), (100, 20, 10)])  # fmt: skip
def test_the_one_run_bound_is_the_binomial_tail_s_root(m: int, r: int, v: int) -> None:
    assert one_run_eps_lower_bound(m, r, v, delta=0.0) == pytest.approx(
        independent_one_run_eps(r, v), abs=1e-6)


def test_the_one_run_bound_is_valid_on_randomized_response_and_delta_only_lowers_it() -> None:
    rng = np.random.default_rng(0)
    q = 1 / (1 + math.exp(-1.0))  # guesses of an ε = 1 mechanism
    correct = int((rng.random(2000) < q).sum())
    assert one_run_eps_lower_bound(2000, 2000, correct, 0.0) < 1.0
    assert one_run_eps_lower_bound(2000, 2000, correct, 0.0) > 0.8
    with_delta = one_run_eps_lower_bound(2000, 2000, correct, 1e-3)
    assert with_delta < one_run_eps_lower_bound(2000, 2000, correct, 0.0)
    with pytest.raises(ValueError):
        one_run_eps_lower_bound(10, 20, 5, 0.0)
