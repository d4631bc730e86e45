"""Distance-based black-box attacks on generated samples.

- `GanLeaksFBB` (GAN-Leaks full black box, Chen et al., 2020): -min_j ||v - x_j||^2 over the
  first k generated samples x_j, records flattened to vectors.
- `MonteCarlo` (Hilprecht et al., 2019): the share of generated samples within epsilon of v in a
  PCA space, epsilon = the median distance from a generated sample to its nearest other one.

The nearest-sample search and the neighbour count are the chunked, memory-bounded kernels of
`ganguard.distances`. `ConfiguredAttack` gives attacks declared settings with defaults (DOMIAS in
density.py uses it too).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.decomposition import PCA

from ganguard.attacks.base import SAMPLES, Attack, ThreatModel
from ganguard.distances import count_within, nearest, row_norms
from ganguard.errors import GanguardError

# ----------------------------------------------------------------------------- settings


class ConfiguredAttack(Attack):
    """An attack with declared settings: `defaults` lists every setting with its default.

    `__init__` fills in the defaults, rejects unknown names and calls `check_settings`, so
    `self.settings` always holds the complete configuration (fit adds the values it chose,
    e.g. `k_used`), ready for the audit to record.
    """

    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **settings: Any):
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise GanguardError(
                f"attack {self.name}: unknown setting(s) {', '.join(unknown)} (known: {known})"
            )
        super().__init__(**{**self.defaults, **settings})
        self.check_settings()

    def check_settings(self) -> None:
        """Validate and normalise `self.settings` (raise GanguardError on a bad value)."""

    def positive_int(self, key: str) -> int:
        value = self.settings[key]
        ok = isinstance(value, (int, np.integer, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value != int(value) or value < 1:
            raise GanguardError(
                f"attack {self.name}: {key} must be a positive integer, not {value!r}"
            )
        self.settings[key] = int(value)
        return int(value)

    def positive_float(self, key: str, allow_zero: bool = False) -> float:
        value = self.settings[key]
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool
        )
        if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            kind = "a non-negative" if allow_zero else "a positive"
            raise GanguardError(f"attack {self.name}: {key} must be {kind} number, not {value!r}")
        self.settings[key] = float(value)
        return float(value)


def as_records(x: Any, what: str, dim: int | None = None) -> np.ndarray:
    """`x` as a C-contiguous float32 matrix (n, d), one flattened record a row.

    Raises GanguardError when `x` is not an array of records, or its records do not have `dim`
    values (the size of the records the attack was fitted on).
    """
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GanguardError(f"{what}: not a numeric array ({exc})") from None
    if arr.ndim < 2:
        raise GanguardError(f"{what}: expected records of shape (n, C, H, W), got {arr.shape}")
    arr = np.ascontiguousarray(arr.reshape(arr.shape[0], -1))
    if dim is not None and arr.shape[1] != dim:
        raise GanguardError(
            f"{what}: records have {arr.shape[1]} values each, the generated samples {dim}"
        )
    return arr


# ----------------------------------------------------------------------------- kernels


def pca_project(pca: PCA, x: np.ndarray, rows: int = 4096) -> np.ndarray:
    """`pca.transform(x)` in float64 (n, k), in blocks of `rows` records.

    In float64 the coordinates of a record do not depend on the batch it is projected in, so a
    candidate equal to a generated sample lands exactly on it.
    """
    mean = pca.mean_.astype(np.float64)
    comp_t = pca.components_.astype(np.float64).T
    out = np.empty((x.shape[0], comp_t.shape[1]), dtype=np.float64)
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows].astype(np.float64) - mean
        out[start : start + rows] = block @ comp_t
    return out


# ----------------------------------------------------------------------------- the attack


class GanLeaksFBB(ConfiguredAttack):
    """GAN-Leaks, full black box: -min_j ||v - x_j||^2 over the first k generated samples.

    After `score`, `nearest_index[i]` is the index (into the threat model's samples, hence also
    its `samples_z`) of the sample nearest to candidate i.
    """

    name: ClassVar[str] = "ganleaks_fbb"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES})
    description: ClassVar[str] = (
        "GAN-Leaks full black box: minus the squared L2 distance to the nearest of k samples"
    )
    defaults: ClassVar[dict[str, Any]] = {"k": 20_000, "memory_mb": 256.0}

    nearest_index: np.ndarray | None = None

    def check_settings(self) -> None:
        self.positive_int("k")
        self.positive_float("memory_mb")

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
        if not hasattr(self, "_samples"):
            raise RuntimeError(f"attack {self.name}: score() before fit()")
        q = torch.from_numpy(as_records(candidates, "candidates", self._samples.shape[1]))
        dist, index = nearest(q, self._samples, memory_mb=self.settings["memory_mb"],
                              sample_norms=self._norms)  # fmt: skip
        self.nearest_index = index.numpy()
        return -dist.numpy().astype(np.float64)


class MonteCarlo(ConfiguredAttack):
    """Monte Carlo attack: share of generated samples within epsilon of v, in PCA space.

    The PCA (`n_components`, seeded by the threat model's seed) is fitted on the generated
    samples. With `epsilon="median"`, epsilon is the median over the generated samples of the
    distance to their nearest other generated sample (another index: an exact copy is at
    distance 0, so a generator that emits copies of records, as memorising ones do, drives
    epsilon to 0 and the attack counts copies). A number sets epsilon directly. "Within" includes
    the boundary, up to a tolerance for float32 rounding. Fitting records `epsilon_used` and
    `n_components_used` in the settings.
    """

    name: ClassVar[str] = "montecarlo"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES})
    description: ClassVar[str] = (
        "Monte Carlo: share of generated samples within epsilon of the record (PCA space)"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "n_components": 40,
        "epsilon": "median",
        "memory_mb": 256.0,
    }

    def check_settings(self) -> None:
        self.positive_int("n_components")
        self.positive_float("memory_mb")
        if self.settings["epsilon"] != "median":
            self.positive_float("epsilon", allow_zero=True)

    def fit(self, threat: ThreatModel) -> MonteCarlo:
        super().fit(threat)
        x = as_records(threat.samples, "generated samples")
        if x.shape[0] < 2:
            raise GanguardError(f"attack {self.name}: needs at least 2 generated samples")
        n_comp = min(self.settings["n_components"], x.shape[0], x.shape[1])
        self._pca = PCA(n_components=n_comp, random_state=threat.seed).fit(x)
        z = torch.from_numpy(pca_project(self._pca, x))
        memory_mb = self.settings["memory_mb"]
        if self.settings["epsilon"] == "median":
            d2, _ = nearest(z, z, memory_mb=memory_mb, exclude_self=True)
            epsilon = float(np.median(np.sqrt(d2.numpy())))
        else:
            epsilon = self.settings["epsilon"]
        # "within epsilon" includes the boundary; the tolerance absorbs rounding (a candidate
        # equal to a sample must count it, also when epsilon = 0).
        scale = math.sqrt(float(row_norms(z).mean()))
        self._radius = epsilon + 1e-7 * max(scale, epsilon, 1.0)
        self._z = z
        self.settings["epsilon_used"] = epsilon
        self.settings["n_components_used"] = n_comp
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_z"):
            raise RuntimeError(f"attack {self.name}: score() before fit()")
        x = as_records(candidates, "candidates", self._pca.n_features_in_)
        if x.shape[0] == 0:
            return np.zeros(0)
        z = torch.from_numpy(pca_project(self._pca, x))
        counts = count_within(z, self._z, self._radius, self.settings["memory_mb"])
        return counts.numpy().astype(np.float64) / self._z.shape[0]
