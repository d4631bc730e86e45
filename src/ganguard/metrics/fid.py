"""FID: the Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017),
on the feature network's features."""

from __future__ import annotations

import numpy as np

from ganguard.metrics.utility import Comparison, Figures, check_features, register


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})."""
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    diff = mu1 - mu2
    cross = trace_sqrt_product(sigma1, sigma2)
    fd = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)
    return max(fd, 0.0)  # negative only by rounding when the two Gaussians coincide


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1 Σ2)^{1/2}) for covariances Σ1, Σ2: Σ1 Σ2 has the eigenvalues of the symmetric
    positive semi-definite Σ1^{1/2} Σ2 Σ1^{1/2}, so the trace is the sum of their square roots,
    from two symmetric eigendecompositions. Exact also for singular covariances (fewer records
    than features), where a general matrix square root (scipy's `sqrtm`, which FID code often
    uses with a ridge) is ill-conditioned and its result has changed between scipy versions."""
    w, v = np.linalg.eigh(sigma1)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root @ sigma2 @ root
    lam = np.linalg.eigvalsh((inner + inner.T) / 2)  # symmetric up to rounding
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())  # negatives are rounding of zeros


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(0), np.atleast_2d(np.cov(feats, rowvar=False))


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are records)."""
    a, b = check_features(feats_a, feats_b)
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


@register("fid", columns=("fid",), order=10)
def fid_metric(c: Comparison) -> Figures:
    return {"fid": fid(c.real_feats, c.fake_feats)}
