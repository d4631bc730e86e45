"""Per-attack metrics of SPEC §5, from membership scores (higher = more likely a member).

Everything ROC-related goes through sklearn's `roc_curve` / `roc_auc_score` with members labelled 1.
The result is a plain, JSON-serialisable dict: floats, ints, lists and None (never NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score, roc_curve

from ganguard.errors import GanguardError
from ganguard.metrics.bhattacharyya import overfitting
from ganguard.metrics.epsilon import threshold_eps_lower_bound

# The low-FPR operating points reported, keyed by their name in the result.
FPR_TARGETS: dict[str, float] = {"tpr_at_1pct_fpr": 0.01, "tpr_at_0.1pct_fpr": 0.001}

# Tolerance when comparing an FPR of k/n with a target such as 0.01 (float rounding).
_FPR_TOL = 1e-12


def _as_scores(x: np.ndarray, what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise GanguardError(f"{what} scores are not numeric") from None
    if a.size == 0:
        raise GanguardError(f"{what} scores are empty")
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise GanguardError(f"{what} scores contain {bad} non-finite value(s) (NaN or inf)")
    return a


def _labels(n_members: int, n_nonmembers: int) -> np.ndarray:
    return np.concatenate([np.ones(n_members, dtype=np.int8), np.zeros(n_nonmembers, np.int8)])


def _clean(x: Any) -> Any:
    """Python floats/ints/None all the way down; NaN and inf become None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def min_nonmembers_for(fpr: float) -> int:
    """Non-members needed to resolve an FPR: ceil(1/fpr) (100 for 1%, 1000 for 0.1%)."""
    return math.ceil(round(1.0 / fpr, 9))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The largest TPR among ROC points with FPR <= target (the conservative reading)."""
    ok = fpr <= target + _FPR_TOL
    return float(tpr[ok].max())  # the ROC always starts at (0, 0), so `ok` is never all False


CHANCE_TPR_AT_1PCT_FPR = 0.02  # the benchmarks' bar: an attacker at 1% FPR finds at most 2%


def at_chance(metrics: dict[str, Any]) -> bool:
    """Whether an attack's figures (`auc_ci`, `tpr_at_1pct_fpr`, as `attack_metrics` gives them)
    put it at chance, as the benchmarks count it: its AUC interval holds 0.5 and it finds at most
    2% of the members at 1% FPR. A TPR that too few non-members leave unresolved (None) counts
    against it."""
    lo, hi = metrics["auc_ci"]
    tpr = metrics.get("tpr_at_1pct_fpr")
    return lo <= 0.5 <= hi and tpr is not None and tpr <= CHANCE_TPR_AT_1PCT_FPR


def _halves(members: np.ndarray, nonmembers: np.ndarray, rng: np.random.Generator) -> tuple:
    """((members, non-members) of a random half, (those of the other half)): a threshold is
    chosen on the first and measured on the second. None with fewer than 2 of either."""
    if len(members) < 2 or len(nonmembers) < 2:
        return None
    pm, pn = rng.permutation(len(members)), rng.permutation(len(nonmembers))
    hm, hn = len(members) // 2, len(nonmembers) // 2
    return ((members[pm[:hm]], nonmembers[pn[:hn]]), (members[pm[hm:]], nonmembers[pn[hn:]]))


def _balanced_accuracy(halves: tuple) -> tuple[float, float]:
    """Threshold maximising (TPR + TNR) / 2 on the first half, balanced accuracy on the other.
    Predict "member" when score >= threshold."""
    (sel_m, sel_n), (ev_m, ev_n) = halves
    y = _labels(len(sel_m), len(sel_n))
    fpr, tpr, thresholds = roc_curve(y, np.concatenate([sel_m, sel_n]), drop_intermediate=False)
    finite = np.isfinite(thresholds)  # sklearn's first threshold is +inf ("nobody is a member")
    gain = np.where(finite, tpr - fpr, -np.inf)
    best = int(np.argmax(gain))
    # Every threshold in (next lower score, best] classifies the selection half the same way: take
    # the middle of that gap (the largest margin), which generalises better than its edge.
    threshold = float(thresholds[best])
    if best + 1 < len(thresholds):
        threshold = (threshold + float(thresholds[best + 1])) / 2

    tpr_ev = float(np.mean(ev_m >= threshold))
    tnr_ev = float(np.mean(ev_n < threshold))
    return (tpr_ev + tnr_ev) / 2, threshold


def _top_n_precision(members: np.ndarray, nonmembers: np.ndarray) -> float:
    """LOGAN: rank all candidates by score, take the top n = #members, the share of members.

    Ties are broken deterministically by a stable sort on -score with the non-members listed first,
    so a tie never counts in the attack's favour.
    """
    scores = np.concatenate([nonmembers, members])
    is_member = np.concatenate([np.zeros(len(nonmembers), bool), np.ones(len(members), bool)])
    order = np.argsort(-scores, kind="stable")
    return float(np.mean(is_member[order[: len(members)]]))


def white_box_scores(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The white-box membership score from discriminator logits, (n,) or (n, k) for k
    discriminators: the maximum over them, and their mean (None for one discriminator)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        return logits, None
    mean = logits.mean(axis=1) if logits.shape[1] > 1 else None
    return logits.max(axis=1), mean


def attack_metrics(
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    *,
    n_boot: int = 200,
    seed: int = 0,
    delta: float | None = None,
) -> dict[str, Any]:
    """All SPEC §5 metrics of one attack, as a JSON-serialisable dict.

    Keys: auc, auc_ci ([low, high] percentile bootstrap 95%, members and non-members resampled
    separately; None when n_boot is 0), tpr_at_1pct_fpr, tpr_at_0.1pct_fpr (None when there are
    fewer than ceil(1/fpr) non-members), balanced_accuracy and balanced_accuracy_threshold
    (threshold chosen on a seeded half, accuracy measured on the other half), top_n_precision and
    top_n_chance, advantage (max TPR - FPR), bhattacharyya (SPEC §4), n_members, n_nonmembers and
    roc ({"fpr": [...], "tpr": [...]}, rounded to 6 digits, for plots).
    """
    members = _as_scores(member_scores, "member")
    nonmembers = _as_scores(nonmember_scores, "non-member")
    if n_boot < 0:
        raise GanguardError(f"n_boot must be >= 0, got {n_boot}")
    n_m, n_n = len(members), len(nonmembers)
    y = _labels(n_m, n_n)
    scores = np.concatenate([members, nonmembers])
    # Independent streams, so the half split does not depend on n_boot.
    boot_rng, split_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    auc = float(roc_auc_score(y, scores))
    auc_ci: list[float] | None = None
    if n_boot:
        boots = np.empty(n_boot)
        for b in range(n_boot):
            bm = members[boot_rng.integers(0, n_m, n_m)]
            bn = nonmembers[boot_rng.integers(0, n_n, n_n)]
            # the AUC is the Mann-Whitney U / (n_m n_n) (ties count ½), which scipy computes
            # without sklearn's per-call input checks: 200 resamples x 5 attacks took 6 s
            u = mannwhitneyu(bm, bn, alternative="two-sided", method="asymptotic").statistic
            boots[b] = u / (n_m * n_n)
        auc_ci = [float(v) for v in np.percentile(boots, [2.5, 97.5])]

    # All ROC points for the metrics; the plot gets sklearn's reduced curve below.
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    low_fpr = {
        key: tpr_at_fpr(fpr, tpr, target) if n_n >= min_nonmembers_for(target) else None
        for key, target in FPR_TARGETS.items()
    }

    halves = _halves(members, nonmembers, split_rng)
    bal_acc, bal_thr = _balanced_accuracy(halves) if halves else (None, None)
    delta = 1.0 / (10 * n_m) if delta is None else delta
    eps_lb = threshold_eps_lower_bound(*halves, delta) if halves else None

    # overfitting() splits the non-members in two halves for O_null: it needs at least two.
    bhatt = (
        overfitting(members, nonmembers, n_boot=n_boot, seed=seed).to_dict() if n_n >= 2 else None
    )

    plot_fpr, plot_tpr, _ = roc_curve(y, scores, drop_intermediate=True)

    result: dict[str, Any] = {
        "auc": auc,
        "auc_ci": auc_ci,
        **low_fpr,
        "balanced_accuracy": bal_acc,
        "balanced_accuracy_threshold": bal_thr,
        "top_n_precision": _top_n_precision(members, nonmembers),
        "top_n_chance": n_m / (n_m + n_n),
        "advantage": float(np.max(tpr - fpr)),
        "bhattacharyya": bhatt,
        "eps_lower_bound": eps_lb,
        "n_members": n_m,
        "n_nonmembers": n_n,
        "roc": {
            "fpr": [round(float(v), 6) for v in plot_fpr],
            "tpr": [round(float(v), 6) for v in plot_tpr],
        },
    }
    return _clean(result)
