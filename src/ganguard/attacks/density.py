"""DOMIAS (van Breugel et al., 2023), a density-based black-box attack with reference data.

score(v) = ln p_G(v) - ln p_R(v): two Gaussian kernel density estimates, of the generated samples
and of the reference records R, in a PCA space fitted on R.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import AfterValidator, Field

from ganguard.attacks.base import (
    REFERENCE,
    SAMPLES,
    Attack,
    AttackSettings,
    ThreatModel,
    as_records,
    fit_pca,
    pca_project,
)
from ganguard.distances import squared_distances
from ganguard.errors import GanguardError

LOG_DENSITY_BLOCK_MB = 64.0  # the distance block of `GaussianKDE.log_density`


class GaussianKDE:
    """A Gaussian KDE with kernel covariance factor^2 * (the data's covariance), as
    scipy.stats.gaussian_kde (which refuses a singular covariance; here a small ridge keeps it
    invertible): an isotropic kernel on the data whitened by the Cholesky factor L of its
    covariance, log density corrected by -log det L.

    The log density is the exact log-sum-exp over every kernel. scikit-learn's KernelDensity,
    used here before, prunes its tree by bounds that are wrong in many dimensions (its issues
    #7492 and #27186): in 40 whitened dimensions it was up to 28 nats off the exact value
    (tests/attacks/test_density.py), and off by different amounts with the BLAS thread count.
    """

    def __init__(self, z: np.ndarray, factor: float):
        n, d = z.shape
        self.n, self.dim, self.factor = n, d, factor
        cov = np.atleast_2d(np.cov(z, rowvar=False)) if n > 1 else np.zeros((d, d))
        scale = float(np.trace(cov)) / d
        if not (math.isfinite(scale) and scale > 0):
            cov, scale = np.eye(d), 1.0  # one point, or all equal: unit covariance
        # A small ridge keeps a (nearly) singular covariance invertible.
        chol = np.linalg.cholesky(cov + np.eye(d) * (1e-6 * scale))
        self._inv_chol_t = np.linalg.inv(chol).T
        self._log_det = float(np.log(np.diag(chol)).sum())
        self._points = torch.from_numpy(self._whiten(z))

    def _whiten(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) @ self._inv_chol_t

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """ln p(z_i) = logsumexp_j(-‖w(z_i) - w(x_j)‖² / 2h²) - ln n - (d/2) ln(2π h²) - ln det L,
        in blocks of rows that keep the distances under LOG_DENSITY_BLOCK_MB."""
        w = torch.from_numpy(self._whiten(z))
        h2 = self.factor**2
        norm = math.log(self.n) + 0.5 * self.dim * math.log(2 * math.pi * h2) + self._log_det
        rows = max(1, int(LOG_DENSITY_BLOCK_MB * 2**20 / (8 * self.n)))
        out = np.empty(len(w))
        for start in range(0, len(w), rows):
            d2 = squared_distances(w[start : start + rows], self._points)
            out[start : start + rows] = torch.logsumexp(-d2 / (2 * h2), dim=1).numpy() - norm
        return out

    def log_kernel(self, z: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """ln of one kernel of this KDE, centred at each row of `centre`, at the matching row
        of `z`: the density a single record adds, before the mean over records."""
        d2 = ((self._whiten(z) - self._whiten(centre)) ** 2).sum(axis=1)
        h2 = self.factor**2
        return -d2 / (2 * h2) - 0.5 * self.dim * math.log(2 * math.pi * h2) - self._log_det


def scott_factor(n: int, d: int) -> float:
    """Scott's rule for a Gaussian KDE of n records in d dimensions: n^(-1/(d+4))."""
    return float(n ** (-1.0 / (d + 4)))


def _scott_or_positive(value: str | float) -> str | float:
    if value != "scott" and not (math.isfinite(value) and value > 0):
        raise ValueError("must be 'scott' or a number > 0")
    return value


# a KDE's bandwidth setting: "scott" (Scott's rule) or the kernel's covariance factor
Bandwidth = Annotated[Literal["scott"] | float, AfterValidator(_scott_or_positive)]


class DOMIASSettings(AttackSettings):
    n_components: int = Field(40, ge=1)  # of the PCA fitted on R
    bandwidth: Bandwidth = "scott"  # Scott's rule per fit, or one factor for both
    max_fit: int = Field(5000, ge=1)  # generated samples and reference records the KDEs fit


class DOMIAS(Attack):
    """DOMIAS: ln p_G(v) - ln p_R(v), Gaussian KDEs in a PCA space fitted on R.

    The PCA (`n_components`, by `fit_pca`: exact up to 2 000 values a record) is fitted on the
    reference records R.
    Each KDE, of the generated samples and of R, is a Gaussian KDE as scipy.stats.gaussian_kde
    defines it: kernel covariance = bandwidth^2 x the covariance of the data it is fitted on,
    with Scott's rule bandwidth = n^(-1/(d+4)) per fit (`bandwidth="scott"`), or a number for
    both. At most `max_fit` generated samples and `max_fit` reference records, drawn with the
    threat model's seed, fit the KDEs. Fitting records `bandwidth_samples`,
    `bandwidth_reference` and `n_components_used`.
    """

    name: ClassVar[str] = "domias"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES, REFERENCE})
    description: ClassVar[str] = (
        "DOMIAS: log density of the generated samples minus that of the reference records "
        "(Gaussian KDE, PCA space)"
    )
    Settings = DOMIASSettings

    def _factor(self, z: np.ndarray) -> float:
        if self.settings["bandwidth"] == "scott":
            return scott_factor(*z.shape)
        return float(self.settings["bandwidth"])

    def fit(self, threat: ThreatModel) -> DOMIAS:
        super().fit(threat)
        g = as_records(threat.samples, "generated samples")
        r = as_records(threat.reference, "reference records", g.shape[1])
        if g.shape[0] == 0:
            raise GanguardError(f"attack {self.name}: no generated samples given")
        if r.shape[0] < 2:
            raise GanguardError(f"attack {self.name}: needs at least 2 reference records")
        # Centred data of n records has rank <= n - 1: keep only components with variance.
        n_comp = min(self.settings["n_components"], r.shape[0] - 1, r.shape[1])
        self._pca = fit_pca(r, n_comp, threat.seed)
        rng = np.random.default_rng(threat.seed)
        cap = self.settings["max_fit"]

        def subsample(x: np.ndarray) -> np.ndarray:
            if x.shape[0] <= cap:
                return x
            return x[np.sort(rng.choice(x.shape[0], size=cap, replace=False))]

        z_g = pca_project(self._pca, subsample(g))
        z_r = pca_project(self._pca, subsample(r))
        h_g, h_r = self._factor(z_g), self._factor(z_r)
        self._kde_g = GaussianKDE(z_g, h_g)
        self._kde_r = GaussianKDE(z_r, h_r)
        self.settings["bandwidth_samples"] = h_g
        self.settings["bandwidth_reference"] = h_r
        self.settings["n_components_used"] = n_comp
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        self.fitted("scoring")
        x = as_records(candidates, "candidates", self._pca.n_features_in_)
        if x.shape[0] == 0:
            return np.zeros(0)
        z = pca_project(self._pca, x)
        return self._kde_g.log_density(z) - self._kde_r.log_density(z)
