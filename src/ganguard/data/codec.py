"""The reversible encoding of a table's records into the networks' flat records, and back.

Fitted on the members S only (or on a public R when the run takes R from another data set): never
on H, T or a private R, which would carry non-members into the model.

- continuous and discrete columns: a quantile transform (scikit-learn's `QuantileTransformer`,
  uniform output, at most 1 000 quantiles), so every column's value u in [0, 1] whatever its
  scale or skew; discrete values are rounded on decoding. A column with missing values in S also
  gets a two-way block (present / missing), and its missing cells the median of S.
- a numeric column whose most frequent value holds at least SPIKE_SHARE of S's values (a spike:
  adult's capital-gain is 0 in 92% of records, its hours-per-week 40 in 47%) also gets a two-way
  block (the spike / another value), and its quantiles are those of the other values: a
  generator then chooses the spike or the rest as it chooses a label, where one scalar made it
  spread its values around the spike and never reach the rest (CTGAN's mode-specific
  normalisation does the same with a mixture's modes). A spike record's scalar is 0.
- categorical columns: one-hot over the labels seen in S. A record of H or T with a label S never
  held gets an all-zero block (no model may know of it).

The record is scaled so that Euclidean distance weighs every column alike: a continuous value is
u − 1/2 (diameter 1), a one-hot block is multiplied by 1/√2 (two labels are 1 apart). So every
distance-based attack and metric on these records compares columns fairly, as SPEC §10 asks
(Euclidean on the encoding with each block of unit diameter). `layout` names the blocks for the
generator's heads. The quantile transform was chosen over CTGAN's variational Gaussian mixture
for speed (docs/datasets.md has the measurement); both are one scalar per value here.

Saved with a run as `codec.json` (columns, blocks) and `codec.safetensors` (the quantiles):
nothing is pickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save
from sklearn.preprocessing import QuantileTransformer

from ganguard.data.tabular import (
    Column,
    Schema,
    as_frame,
    canonical_matrix,
    check_columns,
    frame_from_matrix,
    infer_schema,
)
from ganguard.errors import GanguardError

ONE_HOT_SCALE = 1 / math.sqrt(2)  # two one-hot vectors are 1 apart
SPIKE_SHARE = 0.1  # a value this common in a numeric column is encoded apart (see the top)
MAX_QUANTILES = 1000
FORMAT = "ganguard-codec-1"


@dataclass
class ColumnCode:
    """How one column is encoded: its quantiles (numeric), whether it has a missing block and
    its fill value, or the labels (indices into the schema's) that S held (categorical)."""

    kind: str
    quantiles: np.ndarray | None = None  # (q,) values at the `references` levels
    references: np.ndarray | None = None  # (q,) levels in [0, 1]
    missing_block: bool = False
    fill: float = 0.0
    seen: np.ndarray | None = None  # categorical: the label indices of the one-hot, sorted
    low: float = 0.0  # discrete: the range of S, where decoded values are clipped
    high: float = 0.0
    spike: float | None = None  # numeric: the value encoded apart, if any (quantiles: the rest)

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.seen)
        return 1 + (2 if self.spike is not None else 0) + (2 if self.missing_block else 0)


def quantile_levels(values: np.ndarray, quantiles: np.ndarray, references: np.ndarray,
                    inverse: bool = False) -> np.ndarray:  # fmt: skip
    """The quantile transform as scikit-learn computes it (the mean of the forward and backward
    interpolations, so that tied quantiles map to the middle of their levels), and its inverse."""
    if inverse:
        return np.interp(values, references, quantiles)
    forward = np.interp(values, quantiles, references)
    backward = -np.interp(-values, -quantiles[::-1], -references[::-1])
    return np.clip(0.5 * (forward + backward), 0.0, 1.0)


class TableCodec:
    """Canonical matrices (see ganguard.data.tabular) <-> the networks' records (n, width)."""

    def __init__(self, schema: Schema, codes: list[ColumnCode]):
        self.schema, self.codes = schema, codes

    @classmethod
    def fit(cls, schema: Schema, matrix: np.ndarray, seed: int = 0) -> TableCodec:
        """Fit on the canonical rows `matrix` (S, or a public R)."""
        if len(matrix) < 2:
            raise GanguardError("the encoding needs at least 2 records to fit on")
        codes = []
        for j, col in enumerate(schema.columns):
            v = matrix[:, j].astype(np.float64)
            present = v[~np.isnan(v)]
            if col.kind == "categorical":  # a missing cell is a label of its own
                seen = np.unique(categorical_codes(v, col.labels))
                codes.append(ColumnCode("categorical", seen=seen))
                continue
            if len(present) == 0:
                raise GanguardError(f"column {col.name!r} has no value in the records the "
                                    "encoding is fitted on")  # fmt: skip
            values, counts = np.unique(present, return_counts=True)
            spike = None
            if counts.max() >= SPIKE_SHARE * len(present) and len(values) > 1:
                spike = float(values[counts.argmax()])
            rest = present[present != spike] if spike is not None else present
            qt = QuantileTransformer(n_quantiles=min(MAX_QUANTILES, len(rest)),
                                     output_distribution="uniform", subsample=10**9,
                                     random_state=seed)  # fmt: skip
            qt.fit(rest[:, None])
            codes.append(ColumnCode(col.kind, qt.quantiles_[:, 0].copy(), qt.references_.copy(),
                                    missing_block=bool(np.isnan(v).any()) or col.missing,
                                    fill=float(np.median(present)), low=float(present.min()),
                                    high=float(present.max()), spike=spike))  # fmt: skip
        return cls(schema, codes)

    # -- the records' layout ------------------------------------------------------------------
    @property
    def layout(self) -> list[list[Any]]:
        """The blocks of an encoded record, in order: ["scalar", 1] (tanh head, scaled to
        [-1/2, 1/2]) or ["onehot", k] (a softmax over k, scaled by 1/√2)."""
        blocks: list[list[Any]] = []
        for code in self.codes:
            if code.kind == "categorical":
                blocks.append(["onehot", code.width])
            else:
                blocks.append(["scalar", 1])
                if code.spike is not None:
                    blocks.append(["onehot", 2])
                if code.missing_block:
                    blocks.append(["onehot", 2])
        return blocks

    @property
    def width(self) -> int:
        return sum(code.width for code in self.codes)

    # -- encoding and decoding ----------------------------------------------------------------
    def encode(self, matrix: np.ndarray) -> np.ndarray:
        """(n, width) float32 records from canonical rows."""
        parts = []
        for j, code in enumerate(self.codes):
            v = matrix[:, j].astype(np.float64)
            if code.kind == "categorical":
                labels = categorical_codes(v, self.schema.columns[j].labels)
                lookup = np.full(len(self.schema.columns[j].labels) + 1, -1)
                lookup[code.seen] = np.arange(code.width)
                where = lookup[labels]
                rows = np.flatnonzero(where >= 0)  # a label S never held: an all-zero block
                block = np.zeros((len(v), code.width), np.float32)
                block[rows, where[rows]] = ONE_HOT_SCALE
                parts.append(block)
                continue
            missing = np.isnan(v)
            filled = np.where(missing, code.fill, v)
            u = quantile_levels(filled, code.quantiles, code.references)
            if code.spike is not None:
                at_spike = filled == code.spike
                u = np.where(at_spike, 0.5, u)  # the spike's scalar carries nothing
                parts.append((u - 0.5)[:, None].astype(np.float32))
                block = np.zeros((len(v), 2), np.float32)
                block[np.arange(len(v)), (~at_spike).astype(np.int64)] = ONE_HOT_SCALE
                parts.append(block)
            else:
                parts.append((u - 0.5)[:, None].astype(np.float32))
            if code.missing_block:
                block = np.zeros((len(v), 2), np.float32)
                block[np.arange(len(v)), missing.astype(np.int64)] = ONE_HOT_SCALE
                parts.append(block)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def decode(self, records: np.ndarray) -> np.ndarray:
        """Canonical rows from (n, width) records (a generator's, or encoded ones): each one-hot
        block read by its largest entry, each value by the inverse quantile transform."""
        records = np.asarray(records, np.float64).reshape(len(records), -1)
        if records.shape[1] != self.width:
            raise GanguardError(f"records of {records.shape[1]} values, the encoding has "
                                f"{self.width}")  # fmt: skip
        out = np.empty((len(records), len(self.codes)), np.float32)
        at = 0
        for j, code in enumerate(self.codes):
            if code.kind == "categorical":
                block = records[:, at : at + code.width]
                labels = code.seen[block.argmax(1)].astype(np.float32)
                labels[labels == len(self.schema.columns[j].labels)] = math.nan  # missing
                out[:, j] = labels
                at += code.width
                continue
            u = np.clip(records[:, at] + 0.5, 0.0, 1.0)
            value = quantile_levels(u, code.quantiles, code.references, inverse=True)
            if code.kind == "discrete":
                value = np.clip(np.round(value), code.low, code.high)
            flags = at + 1  # the spike's block, then the missing block, as present
            if code.spike is not None:
                value = np.where(records[:, flags : flags + 2].argmax(1) == 0, code.spike, value)
                flags += 2
            if code.missing_block:
                value = np.where(records[:, flags : flags + 2].argmax(1) == 1, np.nan, value)
            out[:, j] = value
            at += code.width
        return out

    def to_frame(self, records: np.ndarray, labels: np.ndarray | None = None) -> pd.DataFrame:
        """Decoded records as the table, with its column names, dtypes and labels; `labels`
        (a conditional run's classes) set a categorical target column."""
        matrix = self.decode(records)
        target = self.schema.target
        if labels is not None and target is not None:
            j = self.schema.names.index(target)
            if self.schema.columns[j].kind == "categorical":
                matrix[:, j] = labels
        return frame_from_matrix(matrix, self.schema)

    # -- saving -------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """`codec.json` and `codec.safetensors` in `folder` (each written atomically)."""
        from ganguard.runs import write_atomic, write_json

        folder = Path(folder)
        arrays, columns = {}, []
        for j, code in enumerate(self.codes):
            entry = {"kind": code.kind, "missing_block": code.missing_block, "fill": code.fill,
                     "low": code.low, "high": code.high, "spike": code.spike}  # fmt: skip
            for key in ("quantiles", "references", "seen"):
                value = getattr(code, key)
                if value is not None:
                    arrays[f"{j}/{key}"] = np.ascontiguousarray(value)
            columns.append(entry)
        write_atomic(folder / "codec.safetensors", save(arrays))
        write_json(folder / "codec.json", {"format": FORMAT, "schema": self.schema.to_json(),
                                          "columns": columns, "layout": self.layout})  # fmt: skip

    @classmethod
    def load(cls, folder: Path) -> TableCodec:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "codec.json").read_text())
            arrays = load_file(str(folder / "codec.safetensors"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            schema = Schema.from_json(meta["schema"])
            codes = []
            for j, entry in enumerate(meta["columns"]):
                codes.append(ColumnCode(entry["kind"], arrays.get(f"{j}/quantiles"),
                                        arrays.get(f"{j}/references"), entry["missing_block"],
                                        entry["fill"], arrays.get(f"{j}/seen"), entry["low"],
                                        entry["high"], entry.get("spike")))  # fmt: skip
        except FileNotFoundError as err:
            raise GanguardError(f"{folder}: missing the table encoding ({err.filename})") from None
        except Exception as err:  # a damaged file: any of json, safetensors or key errors
            raise GanguardError(f"{folder}: unreadable table encoding ({err})") from None
        return cls(schema, codes)


def categorical_codes(v: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """A canonical categorical column as label indices, a missing cell as len(labels)."""
    return np.where(np.isnan(v), len(labels), np.nan_to_num(v, nan=0)).astype(np.int64)


def has_codec(folder: Path) -> bool:
    return (Path(folder) / "codec.json").is_file()


# -- tables an outside generator made, audited from their files --------------------------------
def encode_audit_tables(
    samples: pd.DataFrame | str | Path, members: pd.DataFrame | str | Path,
    nonmembers: pd.DataFrame | str | Path, reference: pd.DataFrame | str | Path | None = None,
    columns: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """The four tables of a samples-only audit as encoded records (n, 1, 1, width), all by one
    encoding: the members' column kinds (inferred, or `columns`), the labels of every real
    record given (members, non-members, reference), fitted on all of those real records (so
    that members and non-members are treated alike). The
    samples must have the members' columns and only labels the members hold (a generator trained
    on them cannot know others): anything else is one line, before any attack runs."""
    frames = {"--members": as_frame(members, "members"),
              "--nonmembers": as_frame(nonmembers, "non-members"),
              "--samples": as_frame(samples, "samples")}  # fmt: skip
    if reference is not None:
        frames["--reference"] = as_frame(reference, "reference")
    try:
        own = infer_schema(frames["--members"], columns)
    except GanguardError as err:
        raise GanguardError(f"--members: {err}") from None
    for what, frame in frames.items():
        check_columns(frame, own.names, what)
    real = [f for w, f in frames.items() if w != "--samples"]
    widened = []
    for col in own.columns:
        missing = any(bool(f[col.name].isna().any()) for f in real)
        labels = col.labels
        if col.kind == "categorical":
            labels = tuple(sorted({str(v) for f in real for v in f[col.name].dropna()}))
            held = set(col.labels)
            unseen = [str(v) for v in frames["--samples"][col.name].dropna()
                      if str(v) not in held]  # fmt: skip
            if unseen:
                raise GanguardError(f"--samples: column {col.name!r} has the category "
                                    f"{unseen[0]!r}, which no member has")  # fmt: skip
        widened.append(Column(col.name, col.kind, labels, missing, col.dtype))
    schema = Schema(tuple(widened), own.target)
    matrices = {w: canonical_matrix(f, schema, w) for w, f in frames.items()}
    # fitted on every real record given, members and non-members alike: an encoding fitted on
    # the members alone spreads them evenly (each one a quantile) and so marks them apart
    codec = TableCodec.fit(schema, np.concatenate([m for w, m in matrices.items()
                                                   if w != "--samples"]))  # fmt: skip
    encoded = {w: codec.encode(m)[:, None, None, :] for w, m in matrices.items()}
    return (encoded["--samples"], encoded["--members"], encoded["--nonmembers"],
            encoded.get("--reference"))  # fmt: skip
