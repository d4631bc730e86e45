"""Distance-based black-box attacks on generated samples.

- `GanLeaksFBB` (GAN-Leaks full black box, Chen et al., 2020): -min_j ||v - x_j||^2 over the
  first k generated samples x_j, records flattened to vectors.
- `MonteCarlo` (Hilprecht et al., 2019): the share of generated samples within epsilon of v in a
  PCA space, epsilon = the median distance from a generated sample to its nearest other one.

The nearest-sample search (`min_squared_distances`) and the neighbour count (`count_within`) are
chunked, memory-bounded torch kernels. `ConfiguredAttack` gives attacks declared settings with
defaults (DOMIAS in density.py uses it too).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.decomposition import PCA

from ganguard.attacks.base import SAMPLES, Attack, ThreatModel
from ganguard.errors import GanguardError

_MIB = 2**20


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


CACHE_MB = 8.0  # block size that keeps a distance block in the CPU cache


def chunk_sizes(
    n_queries: int, n_samples: int, memory_mb: float, itemsize: int = 4
) -> tuple[int, int]:
    """(query rows, sample columns) of the largest blocks whose distance matrix fits memory_mb.

    A block of rows x columns elements of `itemsize` bytes never exceeds memory_mb MiB (at least
    one element). Whole rows of samples are preferred (no running minimum to merge); when they
    do not fit, blocks are about square, which keeps the matrix products efficient.
    """
    if not (isinstance(memory_mb, (int, float)) and math.isfinite(memory_mb) and memory_mb > 0):
        raise GanguardError(f"memory_mb must be a positive number, not {memory_mb!r}")
    budget = max(1, int(memory_mb * _MIB // itemsize))
    nq, ns = max(1, n_queries), max(1, n_samples)
    cols = min(ns, max(math.isqrt(budget), budget // nq))
    rows = min(nq, max(1, budget // cols))
    return rows, cols


def _matrix(x: Any) -> torch.Tensor:
    """A (n, d) contiguous floating tensor: records flattened; float64 kept, else float32."""
    t = torch.as_tensor(x)
    if t.ndim == 0:
        raise GanguardError("expected an array of records, got a scalar")
    t = t.reshape(t.shape[0], -1)
    if t.dtype != torch.float64:
        t = t.to(torch.float32)
    return t.contiguous()


@torch.no_grad()
def _nearest(
    queries: torch.Tensor,
    samples: torch.Tensor,
    memory_mb: float,
    sample_norms: torch.Tensor | None = None,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance from each query row to its nearest sample row, and that sample's index.

    ||q - s||^2 = ||q||^2 + ||s||^2 - 2 q.s, computed block by block with one addmm per block
    (the block of ||s||^2 - 2 q.s; ||q||^2 is constant along a row so it is added after the
    minimum), a running minimum over sample blocks, clamped at 0. `exclude_self` skips the
    pair (i, i): for a set against itself (then queries is samples).
    """
    nq, ns = queries.shape[0], samples.shape[0]
    best = torch.full((nq,), math.inf, dtype=queries.dtype, device=queries.device)
    best_index = torch.zeros(nq, dtype=torch.int64, device=queries.device)
    if nq == 0 or ns == 0:
        return best, best_index
    if sample_norms is None:
        sample_norms = torch.einsum("ij,ij->i", samples, samples)
    sn = sample_norms.unsqueeze(0)
    # Blocks that stay in the CPU cache beat big ones: measured 2.1 s against 3.0 s for 100 000
    # samples x 2 000 queries (benchmarks/audit_speed.py), whatever the memory budget allows.
    rows, cols = chunk_sizes(nq, ns, min(memory_mb, CACHE_MB), samples.element_size())
    buffer = torch.empty(rows * cols, dtype=queries.dtype, device=queries.device)
    for q0 in range(0, nq, rows):
        q = queries[q0 : q0 + rows]
        nr = q.shape[0]
        run_val: torch.Tensor | None = None
        run_idx: torch.Tensor | None = None
        for s0 in range(0, ns, cols):
            s = samples[s0 : s0 + cols]
            nc = s.shape[0]
            block = buffer[: nr * nc].view(nr, nc)
            torch.addmm(sn[:, s0 : s0 + nc], q, s.T, alpha=-2.0, out=block)
            if exclude_self:
                lo, hi = max(q0, s0), min(q0 + nr, s0 + nc)
                if lo < hi:
                    diag = torch.arange(lo, hi, device=block.device)
                    block[diag - q0, diag - s0] = math.inf
            val, idx = block.min(dim=1)
            if run_val is None or run_idx is None:
                run_val, run_idx = val, idx
            else:
                better = val < run_val  # strict: ties keep the earlier sample, like argmin
                run_val = torch.where(better, val, run_val)
                run_idx = torch.where(better, idx + s0, run_idx)
        assert run_val is not None and run_idx is not None
        qn = torch.einsum("ij,ij->i", q, q)
        best[q0 : q0 + nr] = (run_val + qn).clamp_(min=0)
        best_index[q0 : q0 + nr] = run_idx
    return best, best_index


def min_squared_distances(
    queries: torch.Tensor,
    samples: torch.Tensor,
    memory_mb: float = 256,
    *,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query record, min_j ||query - samples_j||^2 and the argmin j (int64).

    Records are flattened to vectors; float32 unless given as float64. The distance blocks held
    at any time never exceed `memory_mb` MiB (see `chunk_sizes`). With no samples the
    distances are +inf. `exclude_self` (queries and samples the same set) skips pair (i, i),
    giving each record's distance to its nearest other record.
    """
    q, s = _matrix(queries), _matrix(samples)
    if q.shape[1] != s.shape[1]:
        raise GanguardError(f"queries have {q.shape[1]} values per record, samples {s.shape[1]}")
    s = s.to(q.dtype)
    if exclude_self and q.shape[0] != s.shape[0]:
        raise ValueError("exclude_self needs queries and samples to be the same records")
    return _nearest(q, s, memory_mb, exclude_self=exclude_self)


@torch.no_grad()
def count_within(
    queries: torch.Tensor, samples: torch.Tensor, radius: float, memory_mb: float = 256
) -> torch.Tensor:
    """For each query record, how many sample records lie within `radius` (distance <= radius).

    Chunked like `min_squared_distances`; the block of distances and its comparison mask
    together stay within `memory_mb` MiB.
    """
    q, s = _matrix(queries), _matrix(samples)
    if q.shape[1] != s.shape[1]:
        raise GanguardError(f"queries have {q.shape[1]} values per record, samples {s.shape[1]}")
    s = s.to(q.dtype)
    nq, ns = q.shape[0], s.shape[0]
    counts = torch.zeros(nq, dtype=torch.int64, device=q.device)
    if nq == 0 or ns == 0:
        return counts
    r2 = float(radius) ** 2
    sn = torch.einsum("ij,ij->i", s, s).unsqueeze(0)
    # + 1 byte of mask; cache-sized blocks as in _nearest
    rows, cols = chunk_sizes(nq, ns, min(memory_mb, CACHE_MB), s.element_size() + 1)
    buffer = torch.empty(rows * cols, dtype=q.dtype, device=q.device)
    for q0 in range(0, nq, rows):
        qc = q[q0 : q0 + rows]
        nr = qc.shape[0]
        limit = (r2 - torch.einsum("ij,ij->i", qc, qc)).unsqueeze(1)
        for s0 in range(0, ns, cols):
            sc = s[s0 : s0 + cols]
            block = buffer[: nr * sc.shape[0]].view(nr, sc.shape[0])
            torch.addmm(sn[:, s0 : s0 + sc.shape[0]], qc, sc.T, alpha=-2.0, out=block)
            counts[q0 : q0 + nr] += (block <= limit).sum(dim=1)
    return counts


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
        self._norms = torch.einsum("ij,ij->i", self._samples, self._samples)
        self.nearest_index = None
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_samples"):
            raise RuntimeError(f"attack {self.name}: score() before fit()")
        q = torch.from_numpy(as_records(candidates, "candidates", self._samples.shape[1]))
        dist, index = _nearest(q, self._samples, self.settings["memory_mb"], self._norms)
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
            d2, _ = _nearest(z, z, memory_mb, exclude_self=True)
            epsilon = float(np.median(np.sqrt(d2.numpy())))
        else:
            epsilon = self.settings["epsilon"]
        # "within epsilon" includes the boundary; the tolerance absorbs rounding (a candidate
        # equal to a sample must count it, also when epsilon = 0).
        scale = math.sqrt(float(torch.einsum("ij,ij->i", z, z).mean()))
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
