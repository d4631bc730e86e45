"""The Bhattacharyya overfitting measure of SPEC §4.

O = 1 - BC between the distributions of a score on members and on non-members; O_null is the same
estimate between two random halves of the non-members (the finite-sample bias); a bootstrap gives a
95% interval, and BC bounds the best threshold attacker's balanced accuracy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from sklearn.neighbors import KernelDensity

Method = Literal["hist", "kde"]


def bhattacharyya_coefficient(
    a: np.ndarray, b: np.ndarray, method: Method = "hist", bins: int | None = None
) -> float:
    """BC = sum_b sqrt(p_b q_b) on shared bins (Rice rule by default) or on a KDE grid."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if hi <= lo:  # every score equal: the two distributions are the same point mass
        return 1.0
    if method == "hist":
        n_bins = bins or math.ceil(2 * min(len(a), len(b)) ** (1 / 3))
        edges = np.linspace(lo, hi, n_bins + 1)
        p = np.histogram(a, edges)[0] / len(a)
        q = np.histogram(b, edges)[0] / len(b)
        return float(np.sum(np.sqrt(p * q)))
    grid = np.linspace(lo, hi, bins or 512)[:, None]
    densities = []
    for s in (a, b):
        bandwidth = 1.06 * max(s.std(), 1e-12) * len(s) ** (-1 / 5)  # Silverman's rule
        kde = KernelDensity(bandwidth=bandwidth).fit(s[:, None])
        dens = np.exp(kde.score_samples(grid))
        densities.append(dens / dens.sum())
    return float(np.sum(np.sqrt(densities[0] * densities[1])))


def accuracy_bounds(bc: float) -> tuple[float, float]:
    """Bounds on the best threshold attacker's balanced accuracy implied by BC (SPEC §4)."""
    return 0.5 + 0.5 * (1 - bc), 0.5 + 0.5 * math.sqrt(max(0.0, 1 - bc**2))


@dataclass(frozen=True)
class Overfitting:
    O: float  # noqa: E741 - the SPEC's symbol
    O_null: float
    ci_low: float
    ci_high: float
    acc_lower: float
    acc_upper: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def overfitting(
    members: np.ndarray,
    nonmembers: np.ndarray,
    method: Method = "hist",
    n_boot: int = 200,
    seed: int = 0,
) -> Overfitting:
    """O, O_null, a bootstrap 95% interval of O and the implied accuracy bounds."""
    members = np.asarray(members, dtype=np.float64).ravel()
    nonmembers = np.asarray(nonmembers, dtype=np.float64).ravel()
    rng = np.random.default_rng(seed)
    bc = bhattacharyya_coefficient(members, nonmembers, method)
    half = rng.permutation(len(nonmembers))
    mid = len(half) // 2
    o_null = 1 - bhattacharyya_coefficient(nonmembers[half[:mid]], nonmembers[half[mid:]], method)
    boots = [
        1
        - bhattacharyya_coefficient(
            rng.choice(members, len(members)), rng.choice(nonmembers, len(nonmembers)), method
        )
        for _ in range(n_boot)
    ]
    lo_acc, hi_acc = accuracy_bounds(bc)
    ci_low, ci_high = np.percentile(boots, [2.5, 97.5]) if n_boot else (math.nan, math.nan)
    return Overfitting(1 - bc, o_null, float(ci_low), float(ci_high), lo_acc, hi_acc)
