"""Distance-based black-box attacks on generated samples.

- `GanLeaksFBB` (GAN-Leaks full black box, Chen et al., 2020): -min_j ||v - x_j||^2 over the
  first k generated samples x_j, records flattened to vectors.
- `MonteCarlo` (Hilprecht et al., 2019): the share of generated samples within epsilon of v in a
  PCA space, epsilon = the median distance from a generated sample to its nearest other one.

The nearest-sample search and the neighbour count are the chunked, memory-bounded kernels of
`ganguard.distances`.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from ganguard.attacks.base import (
    SAMPLES,
    Attack,
    AttackSettings,
    ThreatModel,
    as_records,
    fit_pca,
    pca_project,
)
from ganguard.distances import count_within, nearest, row_norms
from ganguard.errors import GanguardError


class GanLeaksFBBSettings(AttackSettings):
    k: int = Field(20_000, ge=1)  # generated samples searched (the first k given)
    memory_mb: float = Field(256.0, gt=0)  # bound on the distance blocks held at once


class GanLeaksFBB(Attack):
    """GAN-Leaks, full black box: -min_j ||v - x_j||^2 over the first k generated samples.

    After `score`, `nearest_index[i]` is the index (into the threat model's samples, hence also
    its `samples_z`) of the sample nearest to candidate i.
    """

    name: ClassVar[str] = "ganleaks_fbb"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES})
    description: ClassVar[str] = (
        "GAN-Leaks full black box: minus the squared L2 distance to the nearest of k samples"
    )
    Settings = GanLeaksFBBSettings

    nearest_index: np.ndarray | None = None

    def fit(self, threat: ThreatModel) -> GanLeaksFBB:
        super().fit(threat)
        x = as_records(threat.samples, "generated samples")
        if x.shape[0] == 0:
            raise GanguardError(f"attack {self.name}: no generated samples given")
        k = min(self.settings["k"], x.shape[0])
        self.settings["k_used"] = k
        self._samples = torch.from_numpy(x[:k])
        self._norms = row_norms(self._samples)
        self.nearest_index = None
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        self.fitted("scoring")
        q = torch.from_numpy(as_records(candidates, "candidates", self._samples.shape[1]))
        dist, index = nearest(q, self._samples, memory_mb=self.settings["memory_mb"],
                              sample_norms=self._norms)  # fmt: skip
        self.nearest_index = index.numpy()
        return -dist.numpy().astype(np.float64)


class MonteCarloSettings(AttackSettings):
    n_components: int = Field(40, ge=1)
    # "percentile": the radius is that percentile of the distances from the records of
    # `radius_from` to their nearest generated sample (Hilprecht et al. 2019); or a radius >= 0
    epsilon: Literal["percentile"] | float = "percentile"
    percentile: float = Field(50.0, gt=0, le=100)
    radius_from: Literal["candidates", "reference"] = "candidates"
    memory_mb: float = Field(256.0, gt=0)

    @field_validator("epsilon")
    @classmethod
    def _radius(cls, value: str | float) -> str | float:
        if value != "percentile" and not (math.isfinite(value) and value >= 0):
            raise ValueError("must be 'percentile' or a number >= 0")
        return value


class MonteCarlo(Attack):
    """Monte Carlo attack (Hilprecht et al. 2019): the share of generated samples within a radius
    ε of v, in a PCA space fitted on the samples (`n_components`, by `fit_pca`).

    The radius follows the paper: a percentile (`percentile`, default the median) of the
    distances from records to their nearest generated sample, the records being the candidates
    scored (`radius_from: candidates`) or the reference records R (`reference`). So it scales
    with how far the records lie from the samples, also when the samples cluster (a generator
    that emits noisy copies of its members: the distances among the samples then collapse, and a
    radius read from them would miss the copies). A number sets ε directly. "Within" includes the
    boundary, up to a tolerance for float32 rounding. Scoring records `epsilon_used` and fitting
    `n_components_used` in the settings.
    """

    name: ClassVar[str] = "montecarlo"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES})
    description: ClassVar[str] = (
        "Monte Carlo: share of generated samples within epsilon of the record (PCA space)"
    )
    Settings = MonteCarloSettings

    def fit(self, threat: ThreatModel) -> MonteCarlo:
        super().fit(threat)
        x = as_records(threat.samples, "generated samples")
        if x.shape[0] < 2:
            raise GanguardError(f"attack {self.name}: needs at least 2 generated samples")
        n_comp = min(self.settings["n_components"], x.shape[0], x.shape[1])
        self._pca = fit_pca(x, n_comp, threat.seed)
        self._z = torch.from_numpy(pca_project(self._pca, x))
        self._reference = None
        if self.settings["epsilon"] == "percentile" and self.settings["radius_from"] == "reference":
            if threat.reference is None:
                raise GanguardError(
                    f"attack {self.name}: radius_from reference needs the reference records R"
                )
            r = as_records(threat.reference, "reference records", x.shape[1])
            self._reference = torch.from_numpy(pca_project(self._pca, r))
        self.settings["n_components_used"] = n_comp
        return self

    def radius(self, z_candidates: torch.Tensor) -> float:
        """ε: the set one, or the percentile of the records' nearest-sample distances."""
        if self.settings["epsilon"] != "percentile":
            return float(self.settings["epsilon"])
        source = z_candidates if self._reference is None else self._reference
        d2, _ = nearest(source, self._z, memory_mb=self.settings["memory_mb"])
        return float(np.percentile(np.sqrt(d2.numpy()), self.settings["percentile"]))

    def score(self, candidates: np.ndarray) -> np.ndarray:
        self.fitted("scoring")
        x = as_records(candidates, "candidates", self._pca.n_features_in_)
        if x.shape[0] == 0:
            return np.zeros(0)
        z = torch.from_numpy(pca_project(self._pca, x))
        epsilon = self.radius(z)
        # "within epsilon" includes the boundary; the tolerance absorbs rounding (a candidate
        # equal to a sample must count it, also when epsilon = 0).
        scale = math.sqrt(float(row_norms(self._z).mean()))
        radius = epsilon + 1e-7 * max(scale, epsilon, 1.0)
        counts = count_within(z, self._z, radius, self.settings["memory_mb"])
        self.settings["epsilon_used"] = epsilon
        return counts.numpy().astype(np.float64) / self._z.shape[0]
