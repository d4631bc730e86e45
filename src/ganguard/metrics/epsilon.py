"""Empirical lower bounds on ε: what an attack's success proves about a model's privacy.

- `threshold_eps_lower_bound` (Jagielski et al. 2020; Nasr et al. 2021): an attack that predicts
  "member" when its score is at least a threshold has true- and false-positive rates that an
  (ε, δ)-DP training run must keep within TPR ≤ e^ε FPR + δ and 1 − FPR ≤ e^ε (1 − TPR) + δ.
  With Clopper–Pearson 95% bounds on the measured rates (TPR_lo, FPR_hi), any ε below
  max(ln((TPR_lo − δ) / FPR_hi), ln((1 − δ − FPR_hi) / (1 − TPR_lo))) is ruled out at 95%
  confidence. The threshold is chosen on one half of the candidates and the rates are counted on
  the other, so the bound is not fitted to the records it is measured on.
- `one_run_eps_lower_bound` (Steinke, Nasr & Jagielski 2023): m canaries each included in
  training by a fair coin; an auditor who guesses r of the coins and gets v right proves, at
  confidence 1 − p, that the run is not (ε, δ)-DP for any ε below the returned value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def clopper_pearson(successes: np.ndarray | int, trials: np.ndarray | int,
                    confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The exact (Clopper–Pearson) two-sided interval of a binomial proportion, elementwise."""
    x, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
        high = np.where(x < n, stats.beta.isf(alpha / 2, x + 1, n - x), 1.0)
    return low, high


def eps_from_rates(tpr_lo: np.ndarray, fpr_hi: np.ndarray, delta: float) -> np.ndarray:
    """max(ln((TPR_lo − δ) / FPR_hi), ln((1 − δ − FPR_hi) / (1 − TPR_lo))), at least 0."""
    tpr_lo, fpr_hi = np.asarray(tpr_lo, np.float64), np.asarray(fpr_hi, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.log(np.where(tpr_lo - delta > 0, (tpr_lo - delta) / fpr_hi, np.nan))
        second = np.log(np.where(1 - delta - fpr_hi > 0, (1 - delta - fpr_hi) / (1 - tpr_lo),
                                 np.nan))  # fmt: skip
    best = np.fmax(first, second)
    return np.where(np.isfinite(best) & (best > 0), best, 0.0)


def _counts_at(thresholds: np.ndarray, members: np.ndarray, nonmembers: np.ndarray) -> tuple:
    """(true positives, false positives) when "member" means score >= threshold."""
    m, n = np.sort(members), np.sort(nonmembers)
    tp = len(m) - np.searchsorted(m, thresholds, side="left")
    fp = len(n) - np.searchsorted(n, thresholds, side="left")
    return tp, fp


def threshold_eps_lower_bound(select: tuple[np.ndarray, np.ndarray],
                              measure: tuple[np.ndarray, np.ndarray],
                              delta: float) -> dict[str, Any]:  # fmt: skip
    """The ε lower bound of a threshold attack: the threshold that gives the highest bound on the
    `select` half (members, non-members), its bound measured on the `measure` half.

    Returns {"value", "threshold", "delta", "tp", "fp", "n_members", "n_nonmembers", "tpr_lo",
    "fpr_hi", "confidence"}, the counts and rates being those of the measured half."""
    sel_m, sel_n = select
    ev_m, ev_n = measure
    candidates = np.unique(np.concatenate([sel_m, sel_n]))
    tp, fp = _counts_at(candidates, sel_m, sel_n)
    tpr_lo, _ = clopper_pearson(tp, len(sel_m))
    _, fpr_hi = clopper_pearson(fp, len(sel_n))
    best = int(np.argmax(eps_from_rates(tpr_lo, fpr_hi, delta)))
    threshold = float(candidates[best])
    tp, fp = (int(c[0]) for c in _counts_at(np.array([threshold]), ev_m, ev_n))
    tpr_lo, _ = clopper_pearson(tp, len(ev_m))
    _, fpr_hi = clopper_pearson(fp, len(ev_n))
    value = float(eps_from_rates(tpr_lo, fpr_hi, delta))
    return {"value": value, "threshold": threshold, "delta": float(delta), "tp": tp, "fp": fp,
            "n_members": len(ev_m), "n_nonmembers": len(ev_n), "tpr_lo": float(tpr_lo),
            "fpr_hi": float(fpr_hi), "confidence": CONFIDENCE}  # fmt: skip


# -- one run: canaries ----------------------------------------------------------------------------
def one_run_p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """The probability, were training (ε, δ)-DP, of v or more correct guesses out of r on m
    canaries each included with probability ½ (Steinke, Nasr & Jagielski 2023, Theorem 3)."""
    q = 1 / (1 + math.exp(-eps))  # the accuracy of ε-DP randomised response
    beta = float(stats.binom.sf(v - 1, r, q))  # P[Binomial(r, q) >= v]
    if v == 0 or delta == 0:
        return min(beta, 1.0)
    # alpha = max over i = 1..v of P[v > Binomial(r, q) >= v - i] / i
    tails = np.cumsum(stats.binom.pmf(np.arange(v - 1, -1, -1), r, q))
    alpha = float(np.max(tails / np.arange(1, v + 1)))
    return min(beta + alpha * delta * 2 * m, 1.0)


def one_run_eps_lower_bound(m: int, r: int, v: int, delta: float,
                            confidence: float = CONFIDENCE) -> float:  # fmt: skip
    """The largest ε that v correct guesses out of r rule out at `confidence` (0 when none is):
    a bisection on ε of `one_run_p_value` < 1 − confidence."""
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got v={v}, r={r}, m={m}")
    p = 1 - confidence
    if one_run_p_value(m, r, v, 0.0, delta) >= p:
        return 0.0
    low, high = 0.0, 1.0
    while one_run_p_value(m, r, v, high, delta) < p:
        high += 1.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if one_run_p_value(m, r, v, mid, delta) < p else (low, mid)
    return low


def canary_audit(scores: np.ndarray, included: np.ndarray, guesses: int | None = None,
                 delta: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """The one-run audit of an attack's scores on the m canaries: guess "in" for the top half of
    `guesses` scores and "out" for the bottom half, abstain on the middle, and turn the r guesses
    with v correct into the ε lower bound. `guesses` defaults to a fifth of the canaries (at
    least 2): guessing only where the attack is surest gives the tightest bound."""
    scores = np.asarray(scores, dtype=np.float64)
    included = np.asarray(included, dtype=bool)
    m = len(scores)
    r = max(2, m // 5) if guesses is None else int(guesses)
    if not 1 <= r <= m:
        raise ValueError(f"the canary audit guesses between 1 and {m} canaries, not {r}")
    order = np.argsort(-scores, kind="stable")
    top, bottom = order[: (r + 1) // 2], order[m - r // 2 :] if r // 2 else order[:0]
    v = int(included[top].sum() + (~included[bottom]).sum())
    return {"value": one_run_eps_lower_bound(m, r, v, delta), "canaries": m, "guesses": r,
            "correct": v, "delta": float(delta), "confidence": CONFIDENCE}  # fmt: skip
