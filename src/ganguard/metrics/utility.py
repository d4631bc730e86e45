"""Sample-quality metrics (SPEC §6), one file each behind one registry.

A utility metric compares two sets of records, a real one (the holdout part H) and another (the
generated samples, or real records for the floor), and returns a few named figures, its
`columns`. `evaluate` writes every registered metric's columns to utility.json, for the generated
samples and for the real-vs-real floor; the CLI table, the sweep's tables and the report show
them. Registering: `register(name, columns)` on the function, in a module of this package (every
module of `ganguard.metrics` is imported with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.errors import GanguardError

Figures = dict[str, float | None]


@dataclass
class Comparison:
    """What a metric is given: real records, the records compared with them, the feature map
    (the feature network's penultimate layer), and the settings of the evaluation."""

    real: np.ndarray
    fake: np.ndarray
    features: Callable[[np.ndarray], np.ndarray]
    real_features: np.ndarray | None = None  # given when computed once for several comparisons
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    k: int = 5  # neighbours of the precision / recall / density / coverage balls
    inception: bool = True  # Inception-v3 FID wanted (when its package is installed)
    inception_path: str | Path | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # kept between the comparisons of a run
    notes: list[str] = field(default_factory=list)  # what a metric wants the reader to know

    @cached_property
    def real_feats(self) -> np.ndarray:
        return self.features(self.real) if self.real_features is None else self.real_features

    @cached_property
    def fake_feats(self) -> np.ndarray:
        return self.features(self.fake)


@dataclass(frozen=True)
class UtilityMetric:
    name: str
    columns: tuple[str, ...]  # the figures it adds, in the order tables show them
    compute: Callable[[Comparison], Figures]
    order: float = 100.0  # where its columns go among the others' (lower: further left)


UTILITY_METRICS: dict[str, UtilityMetric] = {}


def register(name: str, columns: tuple[str, ...], order: float = 100.0) -> Callable:
    """A decorator: `fn(comparison) -> {column: value}` becomes the utility metric `name`."""

    def add(fn: Callable[[Comparison], Figures]) -> Callable[[Comparison], Figures]:
        known = UTILITY_METRICS.get(name)
        if known is not None and known.compute.__qualname__ != fn.__qualname__:
            raise TypeError(f"two utility metrics are called {name}")
        UTILITY_METRICS[name] = UtilityMetric(name, tuple(columns), fn, order)
        return fn

    return add


def metrics() -> list[UtilityMetric]:
    """Every registered metric, in the order of their columns."""
    return sorted(UTILITY_METRICS.values(), key=lambda m: (m.order, m.name))


def columns() -> list[str]:
    """Every column the registered metrics add, in table order."""
    return [c for m in metrics() for c in m.columns]


def compare(comparison: Comparison) -> Figures:
    """Every registered metric on one comparison; a metric must return exactly its columns."""
    out: Figures = {}
    for metric in metrics():
        figures = metric.compute(comparison)
        if set(figures) != set(metric.columns):
            raise GanguardError(
                f"utility metric {metric.name} returned {sorted(figures)}, "
                f"not its columns {list(metric.columns)}"
            )
        out.update({c: figures[c] for c in metric.columns})
    return out


def check_features(a: np.ndarray, b: np.ndarray, least: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets as float64 matrices of equal width, finite, with `least` rows each."""
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


def utility(
    generated: np.ndarray,
    holdout: np.ndarray,
    floor_real: np.ndarray,
    feature_fn: Callable[[np.ndarray], np.ndarray],
    **settings: Any,
) -> dict[str, Any]:
    """Quality of `generated` records against the real `holdout` records, and the floor: real
    records `floor_real` (the caller picks R, or a slice of T, of the generated set's size)
    against the same holdout. `feature_fn` maps records to features (rows); `settings` are the
    fields of `Comparison` (seed, kid_subsets, k, inception, ...).

    Returns {"generated": figures, "floor": figures, "sizes": ..., "notes": [...]}, figures
    holding every registered metric's columns (None where a metric could not be computed).
    """
    f_hold = feature_fn(holdout)
    shared: dict[str, Any] = {}
    notes: list[str] = []
    result: dict[str, Any] = {}
    for part, records in (("generated", generated), ("floor", floor_real)):
        comparison = Comparison(holdout, records, feature_fn, f_hold, shared=shared, notes=notes,
                                **settings)  # fmt: skip
        result[part] = compare(comparison)
    result["sizes"] = {"generated": len(generated), "holdout": len(holdout),
                       "floor": len(floor_real)}  # fmt: skip
    result["notes"] = list(dict.fromkeys(notes))  # once each, in order
    return result
