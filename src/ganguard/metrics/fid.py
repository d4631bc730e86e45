"""FID: the Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017),
on the feature network's features."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from ganguard.metrics.utility import Comparison, Figures, check_features, register


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}); (Σ1 Σ2)^{1/2} has the same trace as
    (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}."""
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    covmean = _sqrtm(sigma1 @ sigma2)
    if covmean is None:
        # a singular product (e.g. fewer records than dimensions): a small ridge makes it regular
        offset = np.eye(len(sigma1)) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    # rounding gives the square root of a PSD product tiny imaginary parts: drop them
    covmean = np.real(covmean)
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    return max(fd, 0.0)  # negative only by rounding when the two Gaussians coincide


def _sqrtm(m: np.ndarray) -> np.ndarray | None:
    """scipy's matrix square root, or None where scipy finds `m` singular or fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            root = linalg.sqrtm(m)
        except (linalg.LinAlgWarning, linalg.LinAlgError):
            return None
    return root if np.isfinite(root).all() else None


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
