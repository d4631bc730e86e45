"""The in-memory data set every loader returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganguard.errors import GanguardError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images as float32 NCHW in [-1, 1], with optional int64 labels.

    A table is held the same way, one record per row of shape (1, 1, columns): its canonical
    matrix (`schema` set, see ganguard.data.tabular), or, once a run's encoding is fitted, the
    encoded records (`codec` set, `source_fingerprint` the fingerprint of the canonical table,
    which is what a split names).

    The arrays are normalised to C-contiguous float32/int64 on construction so that the
    fingerprint does not depend on how a loader happened to build them.
    """

    name: str
    x: np.ndarray
    y: np.ndarray | None = None
    schema: Any = None  # ganguard.data.tabular.Schema of a table
    codec: Any = None  # ganguard.data.codec.TableCodec once the records are encoded
    source_fingerprint: str | None = None
    canonical: np.ndarray | None = None  # an encoded table's canonical matrix (n, columns)

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.x, dtype=np.float32)
        if x.ndim != 4 or x.shape[0] == 0:
            raise GanguardError(
                f"data set {self.name}: expected a non-empty (N, C, H, W) array, got {x.shape}"
            )
        object.__setattr__(self, "x", x)
        if self.y is not None:
            y = np.ascontiguousarray(self.y, dtype=np.int64)
            if y.shape != (len(x),):
                raise GanguardError(f"data set {self.name}: {y.shape} labels for {len(x)} records")
            object.__setattr__(self, "y", y)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one record, (C, H, W)."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def is_table(self) -> bool:
        return self.schema is not None

    def fingerprint(self) -> str:
        """SHA-256 of the x bytes, then the y bytes when there are labels (and a table's
        schema); an encoded table's is its canonical table's."""
        if self.source_fingerprint is not None:
            return self.source_fingerprint
        digest = hashlib.sha256(self.x)  # hashes the buffer, no copy
        if self.y is not None:
            digest.update(self.y)
        if self.schema is not None:
            digest.update(json.dumps(self.schema.to_json(), sort_keys=True).encode())
        return f"sha256:{digest.hexdigest()}"

    def __repr__(self) -> str:  # the default would print the arrays
        labels = "labels" if self.y is not None else "no labels"
        return f"Dataset({self.name!r}, {len(self)} x {self.shape}, {labels})"


def records_not_in(records: np.ndarray, private: np.ndarray) -> np.ndarray:
    """The indices of `records` that are not, byte for byte, records of `private`."""
    private_records = {record.tobytes() for record in private}
    keep = [i for i, record in enumerate(records) if record.tobytes() not in private_records]
    return np.array(keep, dtype=np.int64)


def append_reference(private: Dataset, other: Dataset, n: int, seed: int) -> Dataset:
    """`private` followed by `n` records of `other` (seeded draw) that are not in `private`
    (compared byte for byte), so that a split can take all of R from `other` without ever
    putting a member there. When both have labels, R has the class proportions of `private`
    (and keeps its labels)."""
    if other.is_table != private.is_table or (
            private.is_table and other.schema.to_json() != private.schema.to_json()):
        raise GanguardError(
            f"data.reference_data {other.name} is not a table with the columns and labels of "
            f"{private.name}: R must be records of the same kind"
        )
    if other.shape != private.shape:
        raise GanguardError(
            f"data.reference_data {other.name} has records of shape {other.shape}, "
            f"data.name {private.name} {private.shape}: R must be records of the same kind"
        )
    fresh = records_not_in(other.x, private.x)
    if len(fresh) < n:
        raise GanguardError(
            f"data.n_reference = {n} but {other.name} has only {len(fresh)} records that are "
            f"not in {private.name}"
        )
    rng = np.random.default_rng(seed)
    labelled = private.y is not None and other.y is not None
    if not labelled:
        pick = rng.permutation(fresh)[:n]
    else:  # the private data's class proportions: the critic must not tell S from R by them
        classes, counts = np.unique(private.y, return_counts=True)
        pick = []
        for c, k in zip(classes, proportional_counts(counts, n), strict=True):
            pool = fresh[other.y[fresh] == c]
            if len(pool) < k:
                raise GanguardError(
                    f"data.n_reference = {n} needs {k} records of class {c} from {other.name} "
                    f"(the class proportions of {private.name}), it has {len(pool)}"
                )
            pick.append(rng.permutation(pool)[:k])
        pick = np.concatenate(pick)
    pick = np.sort(pick)
    y = np.concatenate([private.y, other.y[pick]]) if labelled else None
    x = np.concatenate([private.x, other.x[pick]])
    return Dataset(f"{private.name}+{other.name}", x, y, schema=private.schema)


def proportional_counts(counts: np.ndarray, n: int) -> np.ndarray:
    """`n` shared out in proportion to `counts` (largest remainders), summing to exactly `n`."""
    exact = n * counts / counts.sum()
    whole = np.floor(exact).astype(np.int64)
    rest = np.argsort(-(exact - whole), kind="stable")[: n - whole.sum()]
    whole[rest] += 1
    return whole
