"""Per-attack metrics (SPEC §5) against values computed by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ganguard.errors import GanguardError
from ganguard.metrics.attack_metrics import attack_metrics

MEMBERS = [0.9, 0.8, 0.4]
NONMEMBERS = [0.7, 0.3, 0.1]


def test_six_point_roc_by_hand() -> None:
    r = attack_metrics(MEMBERS, NONMEMBERS, n_boot=50)
    # AUC = share of (member, non-member) pairs ranked correctly: 0.9 and 0.8 beat all three
    # non-members (3 + 3), 0.4 beats 0.3 and 0.1 but not 0.7 (2): 8 of 9 pairs.
    assert r["auc"] == pytest.approx(8 / 9)
    # Advantage = max over thresholds t (member if score >= t) of TPR - FPR:
    #   t = 0.9: TPR 1/3, FPR 0   -> 1/3
    #   t = 0.8: TPR 2/3, FPR 0   -> 2/3
    #   t = 0.7: TPR 2/3, FPR 1/3 -> 1/3
    #   t = 0.4: TPR 1,   FPR 1/3 -> 2/3
    #   t = 0.3: TPR 1,   FPR 2/3 -> 1/3
    #   t = 0.1: TPR 1,   FPR 1   -> 0
    # so the advantage is 2/3.
    assert r["advantage"] == pytest.approx(2 / 3)
    # Ranking all six: 0.9 (m), 0.8 (m), 0.7 (n) | 0.4 (m), 0.3 (n), 0.1 (n); the top n = 3
    # hold 2 members: precision 2/3, chance 3 / 6.
    assert r["top_n_precision"] == pytest.approx(2 / 3)
    assert r["top_n_chance"] == pytest.approx(0.5)
    assert r["n_members"] == 3 and r["n_nonmembers"] == 3
    # Three non-members cannot resolve FPR 1% or 0.1%.
    assert r["tpr_at_1pct_fpr"] is None and r["tpr_at_0.1pct_fpr"] is None
    # sklearn's reduced ROC: the corners (0,0) (0,2/3) (1/3,2/3) (1/3,1) (1,1) are all kept.
    fpr, tpr = r["roc"]["fpr"], r["roc"]["tpr"]
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert (0.0, 0.666667) in set(zip(fpr, tpr, strict=True))
    assert (0.333333, 1.0) in set(zip(fpr, tpr, strict=True))
    lo, hi = r["auc_ci"]
    assert lo <= r["auc"] <= hi


def test_perfect_separation() -> None:
    r = attack_metrics(np.arange(100, 150), np.arange(100), n_boot=20)
    assert r["auc"] == 1.0
    assert r["auc_ci"] == pytest.approx([1.0, 1.0])
    assert r["tpr_at_1pct_fpr"] == 1.0
    assert r["tpr_at_0.1pct_fpr"] is None  # 100 non-members < 1000
    assert r["advantage"] == 1.0
    assert r["top_n_precision"] == 1.0
    assert r["balanced_accuracy"] == 1.0


def test_identical_sample_gives_chance() -> None:
    x = np.random.default_rng(1).normal(size=400)
    r = attack_metrics(x, x.copy(), n_boot=50)
    assert r["auc"] == pytest.approx(0.5)
    lo, hi = r["auc_ci"]
    assert lo <= 0.5 <= hi
    assert r["advantage"] < 0.1


def test_tpr_at_01pct_needs_1000_nonmembers() -> None:
    rng = np.random.default_rng(2)
    members = rng.normal(2, 1, 200)
    few = attack_metrics(members, rng.normal(0, 1, 500), n_boot=0)
    many = attack_metrics(members, rng.normal(0, 1, 1000), n_boot=0)
    assert few["tpr_at_0.1pct_fpr"] is None
    assert few["tpr_at_1pct_fpr"] is not None
    assert isinstance(many["tpr_at_0.1pct_fpr"], float)
    assert 0.0 <= many["tpr_at_0.1pct_fpr"] <= many["tpr_at_1pct_fpr"] <= 1.0


def test_tpr_at_1pct_constructed() -> None:
    # 200 non-members scored 0..199: FPR <= 1% allows at most 2 of them above the threshold, so
    # the best threshold is 198 (the 2nd-highest non-member, FPR = 2/200). Exactly k = 4 of 10
    # members exceed 198; the other 6 score below 197 (the 3rd-highest non-member), so no lower
    # threshold stays within 1%. TPR at 1% FPR = 4/10.
    nonmembers = np.arange(200, dtype=float)
    members = np.array([300.0, 250.0, 199.5, 198.5, 196.5, 150.0, 100.0, 50.0, 10.0, 0.5])
    r = attack_metrics(members, nonmembers, n_boot=0)
    assert r["tpr_at_1pct_fpr"] == pytest.approx(0.4)
    assert r["tpr_at_0.1pct_fpr"] is None
    # With a 5th member at 197.5 (above 197), threshold 197.5 still has FPR 2/200: TPR 5/10.
    members[4] = 197.5
    assert attack_metrics(members, nonmembers, n_boot=0)["tpr_at_1pct_fpr"] == pytest.approx(0.5)


def test_bootstrap_interval_contains_point_auc() -> None:
    rng = np.random.default_rng(3)
    r = attack_metrics(rng.normal(0.5, 1, 200), rng.normal(0, 1, 200), n_boot=100, seed=4)
    lo, hi = r["auc_ci"]
    assert lo < r["auc"] < hi
    assert 0.55 < r["auc"] < 0.75  # Phi(0.5 / sqrt 2) ~ 0.64
    again = attack_metrics(rng.normal(size=3), rng.normal(size=3), n_boot=10, seed=4)
    assert again["auc_ci"] is not None


def test_balanced_accuracy() -> None:
    rng = np.random.default_rng(5)
    sep = attack_metrics(rng.normal(4, 1, 1000), rng.normal(0, 1, 1000), n_boot=0)
    assert sep["balanced_accuracy"] > 0.95
    assert 0 < sep["balanced_accuracy_threshold"] < 4  # near the midpoint 2
    same = attack_metrics(rng.normal(0, 1, 1000), rng.normal(0, 1, 1000), n_boot=0)
    assert abs(same["balanced_accuracy"] - 0.5) <= 0.1


def test_seeded_and_deterministic() -> None:
    rng = np.random.default_rng(6)
    m, n = rng.normal(1, 1, 200), rng.normal(0, 1, 200)
    assert attack_metrics(m, n, n_boot=30, seed=7) == attack_metrics(m, n, n_boot=30, seed=7)
    # The half split does not depend on the number of bootstrap resamples.
    a = attack_metrics(m, n, n_boot=0, seed=7)
    b = attack_metrics(m, n, n_boot=30, seed=7)
    assert a["balanced_accuracy"] == b["balanced_accuracy"]


def test_top_n_ties_are_deterministic() -> None:
    # All candidates tie: the stable sort lists non-members first, so ties never favour the attack.
    r = attack_metrics(np.ones(4), np.ones(6), n_boot=0)
    assert r["top_n_precision"] == 0.0
    assert r["top_n_chance"] == pytest.approx(0.4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_raises(bad: float) -> None:
    with pytest.raises(GanguardError, match="non-finite"):
        attack_metrics([0.1, bad, 0.3], [0.2, 0.4], n_boot=0)
    with pytest.raises(GanguardError, match="non-finite"):
        attack_metrics([0.1, 0.3], [bad], n_boot=0)


def test_empty_and_non_numeric_raise() -> None:
    with pytest.raises(GanguardError, match="empty"):
        attack_metrics([], [0.2], n_boot=0)
    with pytest.raises(GanguardError, match="empty"):
        attack_metrics([0.2], np.empty((0, 3)), n_boot=0)
    with pytest.raises(GanguardError, match="numeric"):
        attack_metrics(["a", "b"], [0.2], n_boot=0)


def test_identical_scores_and_tiny_inputs_do_not_crash() -> None:
    r = attack_metrics(np.full(20, 3.0), np.full(30, 3.0), n_boot=20)
    assert r["auc"] == 0.5 and r["advantage"] == 0.0
    assert r["balanced_accuracy"] == pytest.approx(0.5)
    assert r["bhattacharyya"]["O"] == pytest.approx(0.0)
    tiny = attack_metrics([1.0], [0.0], n_boot=5)
    assert tiny["auc"] == 1.0
    assert tiny["balanced_accuracy"] is None and tiny["bhattacharyya"] is None


def test_result_is_strict_json() -> None:
    rng = np.random.default_rng(8)
    r = attack_metrics(rng.normal(1, 1, (50, 2)), rng.normal(0, 1, 120), n_boot=0)
    assert r["n_members"] == 100  # 2-D input is ravelled
    text = json.dumps(r, allow_nan=False)  # no NaN/inf anywhere, n_boot=0 included
    assert json.loads(text) == r
    assert r["auc_ci"] is None and r["bhattacharyya"]["ci_low"] is None
    assert set(r["bhattacharyya"]) == {"O", "O_null", "ci_low", "ci_high", "acc_lower", "acc_upper"}
    for key in ("auc", "balanced_accuracy", "advantage", "top_n_precision"):
        assert isinstance(r[key], float) and math.isfinite(r[key])


def test_at_chance_needs_the_interval_to_hold_half_and_at_most_two_percent_at_one_percent() -> None:
    from ganguard.metrics.attack_metrics import at_chance

    assert at_chance({"auc_ci": [0.49, 0.55], "tpr_at_1pct_fpr": 0.02})
    assert at_chance({"auc_ci": [0.50, 0.55], "tpr_at_1pct_fpr": 0.0})  # the boundary holds
    assert not at_chance({"auc_ci": [0.49, 0.55], "tpr_at_1pct_fpr": 0.021})
    assert not at_chance({"auc_ci": [0.501, 0.55], "tpr_at_1pct_fpr": 0.0})
    assert not at_chance({"auc_ci": [0.40, 0.499], "tpr_at_1pct_fpr": 0.0})  # worse than chance
    assert not at_chance({"auc_ci": [0.49, 0.55], "tpr_at_1pct_fpr": None})  # unresolved
