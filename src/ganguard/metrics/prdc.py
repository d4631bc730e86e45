"""Precision, recall, density and coverage (Naeem et al. 2020): k-nearest-neighbour balls around
the real and the compared features."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from ganguard.metrics.utility import Comparison, Figures, check_features, register


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each record to its k-th nearest neighbour in its own set (itself excluded)."""
    # a ball tree computes distances from coordinate differences, like cdist below (the
    # ‖a‖² + ‖b‖² − 2a·b kernel of ganguard.distances would round a record's k-th neighbour out
    # of its own ball); a relative slack of 1e-9 covers what summation order is left
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="ball_tree").fit(x)
    return nn.kneighbors(x)[0][:, -1] * (1 + 1e-9)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, chunk: int = 1024) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (Naeem et al. 2020)."""
    real, fake = check_features(real, fake, least=k + 1)
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


@register("prdc", columns=("precision", "recall", "density", "coverage"), order=30)
def prdc_metric(c: Comparison) -> Figures:
    return prdc(c.real_feats, c.fake_feats, c.k)
