"""The deterministic members / holdout / reference / test split of a data set (SPEC section 2)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.data.dataset import Dataset
from ganguard.errors import GanguardError

PARTS = ("members", "holdout", "reference", "test")


@dataclass(frozen=True, eq=False)
class Split:
    """Index arrays (int64) into one data set, identified by its fingerprint."""

    members: np.ndarray
    holdout: np.ndarray
    reference: np.ndarray
    test: np.ndarray
    seed: int
    fingerprint: str
    dataset: str
    # the one-run audit's canaries (train.canaries): records of the data set taken out of R
    # (`canary_source: reference`, their indices here) or crafted from the seed (`crafted`, no
    # indices), each put into the training set by the coin in `canary_in`
    canaries: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    canary_in: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    canary_source: str = "reference"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (self.seed, self.fingerprint, self.dataset) == (
            other.seed,
            other.fingerprint,
            other.dataset,
        ) and all(np.array_equal(getattr(self, p), getattr(other, p))
                  for p in (*PARTS, "canaries", "canary_in"))  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # holds mutable arrays

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "dataset": self.dataset,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
        }
        d.update({part: getattr(self, part).tolist() for part in PARTS})
        if len(self.canary_in):
            d["canaries"] = {"source": self.canary_source, "indices": self.canaries.tolist(),
                             "included": [int(c) for c in self.canary_in]}  # fmt: skip
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Split:
        if not isinstance(d, dict):
            raise GanguardError("a split must be a JSON object")
        missing = [k for k in ("dataset", "fingerprint", "seed", *PARTS) if k not in d]
        if missing:
            raise GanguardError(f"the split lacks {', '.join(missing)}")
        parts = {}
        for part in PARTS:
            values = d[part]
            if not isinstance(values, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values
            ):
                raise GanguardError(f"the split's {part} must be a list of integer indices")
            parts[part] = np.asarray(values, dtype=np.int64).reshape(-1)
        if not isinstance(d["seed"], int) or not isinstance(d["fingerprint"], str):
            raise GanguardError("the split's seed must be an integer and fingerprint a string")
        canaries = d.get("canaries") or {}
        try:
            extra = {"canaries": np.asarray(canaries.get("indices", []), np.int64).reshape(-1),
                     "canary_in": np.asarray(canaries.get("included", []), bool).reshape(-1),
                     "canary_source": str(canaries.get("source", "reference"))}  # fmt: skip
        except (TypeError, ValueError, AttributeError):
            raise GanguardError("the split's canaries are malformed") from None
        return cls(seed=d["seed"], fingerprint=d["fingerprint"], dataset=str(d["dataset"]),
                   **parts, **extra)  # fmt: skip

    @property
    def n_canaries(self) -> int:
        return len(self.canary_in)


def make_split(
    ds: Dataset,
    n_members: int,
    n_holdout: int,
    n_reference: int,
    n_test: int,
    seed: int,
    reference_from: int | None = None,
) -> Split:
    """Disjoint parts from one seeded permutation, cut into consecutive slices. With
    `reference_from`, R is the records from that index on (appended from another data set) and
    the other parts come from the records before it."""
    sizes = {
        "n_members": n_members,
        "n_holdout": n_holdout,
        "n_reference": n_reference,
        "n_test": n_test,
    }
    for key, n in sizes.items():
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
            raise GanguardError(f"data.{key} must be a non-negative integer, got {n!r}")
    if n_members < 1:
        raise GanguardError("data.n_members must be at least 1")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise GanguardError(f"data.seed must be a non-negative integer, got {seed!r}")
    own = len(ds) if reference_from is None else int(reference_from)
    if reference_from is not None:  # R is appended: the other parts share what comes before
        if len(ds) - own != n_reference:
            raise GanguardError(
                f"{ds.name}: {len(ds) - own} appended reference records for data.n_reference "
                f"= {n_reference}"
            )
        sizes["n_reference"] = 0
    total = sum(int(n) for n in sizes.values())
    if total > own:
        raise GanguardError(
            f"{' + '.join('data.' + k for k in sizes if sizes[k])} = {total} exceeds the "
            f"{own} records of {ds.name.split('+')[0]}"
        )
    order = np.random.default_rng(int(seed)).permutation(own).astype(np.int64)
    bounds = np.cumsum([0, *(int(n) for n in sizes.values())])
    parts = {part: order[bounds[i] : bounds[i + 1]].copy() for i, part in enumerate(PARTS)}
    if reference_from is not None:
        parts["reference"] = np.arange(own, len(ds), dtype=np.int64)
    return Split(seed=int(seed), fingerprint=ds.fingerprint(), dataset=ds.name, **parts)


def run_split(ds: Dataset, data: Any) -> Split:
    """The split a run's `data` config makes of `ds` (its `load_run_data`), canaries aside."""
    appended = None if data.reference_data is None else len(ds) - data.n_reference
    return make_split(ds, data.n_members, data.n_holdout, data.n_reference, data.n_test,
                      data.seed, appended)  # fmt: skip


def add_canaries(split: Split, m: int, source: str, seed: int) -> Split:
    """`split` with m canaries, each in the training set by a fair coin (seeded by `seed`):
    the first m records of R (taken out of R, so that no defence and no auditor sees them as
    non-members), or, with `source: crafted`, records made out of distribution from the seed."""
    if m <= 0:
        return split
    rng = np.random.default_rng([int(seed), 7919])  # a stream of its own, apart from the split's
    coins = rng.random(m) < 0.5
    if source == "crafted":
        return replace(split, canary_in=coins, canary_source="crafted")
    if m > len(split.reference):
        raise GanguardError(
            f"config key train.canaries: {m} canaries from R, but R holds {len(split.reference)} "
            "records: raise data.n_reference, or use train.canary_source: crafted"
        )
    return replace(split, reference=split.reference[m:], canaries=split.reference[:m],
                   canary_in=coins, canary_source="reference")  # fmt: skip


def canary_records(split: Split, ds: Dataset) -> np.ndarray:
    """The canaries' records: from the data set, or crafted: uniform noise in [-1, 1] of the
    data's shape, the same from the same split seed."""
    if split.canary_source == "crafted":
        rng = np.random.default_rng([split.seed, 104729])
        return rng.uniform(-1, 1, (split.n_canaries, *ds.shape)).astype(np.float32)
    return ds.x[split.canaries]


def save_split(split: Split, path: Path) -> None:
    """Write atomically, so a crash never leaves a half-written split.json behind."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(split.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise GanguardError(f"cannot write the split to {path}: {exc.strerror or exc}") from exc


def load_split(path: Path) -> Split:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GanguardError(f"split file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GanguardError(f"cannot read the split file {path}: {exc}") from exc
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GanguardError(f"split file {path} is not valid JSON ({exc})") from exc
    try:
        return Split.from_json(d)
    except GanguardError as exc:
        raise GanguardError(f"split file {path}: {exc}") from None


def check_split(split: Split, ds: Dataset, layout: list | None = None) -> None:
    """Refuse a split made from other data, or one whose indices are out of range or overlap;
    and a table run whose networks' `layout` is not the encoding's of today (an older
    ganguard encoded its table otherwise)."""
    if layout is not None and ds.codec is not None and ds.codec.layout != layout:
        raise GanguardError(
            f"the run's networks read {len(layout)} blocks per record, this ganguard encodes "
            f"{ds.name} in {len(ds.codec.layout)}: the run was trained with an older encoding "
            "of its table; train it again"
        )
    fingerprint = ds.fingerprint()
    if split.fingerprint != fingerprint:
        raise GanguardError(
            f"the split was made from other data (fingerprint {split.fingerprint}, but "
            f"{ds.name} here has {fingerprint}); use the original data or a new run directory"
        )
    every = np.concatenate([getattr(split, part) for part in PARTS] + [split.canaries])
    if every.size and (every.min() < 0 or every.max() >= len(ds)):
        raise GanguardError(
            f"the split has indices outside 0..{len(ds) - 1}, the records of {ds.name}"
        )
    if len(np.unique(every)) != len(every):
        raise GanguardError("the split's parts overlap: a record is in two parts")
