"""Tables: reading CSV / Parquet / DataFrames, each column's kind, and the table's canonical matrix.

A table's columns are `continuous`, `discrete` (ordered integers) or `categorical`; one may be the
`target`. Kinds are inferred (SPEC §10) unless `data.columns` declares them. Every table becomes a
*canonical matrix* (one float32 per cell: the value of a numeric column, NaN when missing; the
index of a categorical cell's label in the column's sorted labels). The matrix identifies the
records (the split's fingerprint, the byte-wise "not in the private data" of a public R) and is
what the fitted encoding (`ganguard.data.codec`) turns into the networks' records. It is a fixed
dictionary of the file, not a model: nothing is fitted on it.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ganguard.errors import GanguardError

Kind = Literal["continuous", "discrete", "categorical"]
KINDS = ("continuous", "discrete", "categorical")
MAX_DISCRETE_VALUES = 20  # an integer column with at most this many values is discrete
MISSING_MARKERS = ["?", "", "NA", "N/A", "nan", "NaN", "null", "None"]


@dataclass(frozen=True)
class Column:
    """One column: its kind, its labels (categorical: sorted, as strings), whether it may hold
    missing values, and the pandas dtype decoded records get back."""

    name: str
    kind: Kind
    labels: tuple[str, ...] = ()
    missing: bool = False
    dtype: str = "float64"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "labels": list(self.labels),
                "missing": self.missing, "dtype": self.dtype}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Column:
        return cls(d["name"], d["kind"], tuple(d["labels"]), bool(d["missing"]), d["dtype"])


@dataclass(frozen=True)
class Schema:
    """The columns of a table, in order, and the target column's name (or None)."""

    columns: tuple[Column, ...]
    target: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise GanguardError(f"the table has no column {name!r}")

    @property
    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def to_json(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns], "target": self.target}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        return cls(tuple(Column.from_json(c) for c in d["columns"]), d.get("target"))

    def to_yaml_config(self) -> dict[str, Any]:
        """What `data.columns` / `data.target` would declare this schema as (for --inspect)."""
        columns = {c.name: c.kind for c in self.columns}
        data: dict[str, Any] = {"name": "csv", "columns": columns}
        guess = self.target or next((c.name for c in reversed(self.columns)
                                     if c.kind == "categorical" and len(c.labels) <= 20), None)
        data["target"] = guess  # a guess when inferred: the last categorical column
        return {"data": data}


# -- reading ---------------------------------------------------------------------------------------
# a spreadsheet's export: ',' or, where ',' is the decimal mark, ';'; tab- and pipe-separated too
DELIMITERS = ",;\t|"
# tried in turn: UTF-8 (with or without a byte-order mark), then Windows' and ISO Latin-1 (which
# decodes any byte, so it comes last)
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def csv_format(path: Path) -> tuple[str, tuple[str, ...]]:
    """The field separator of a delimited text file, sniffed from its first lines (',' when in
    doubt: a ';'-separated export reads as its columns, not as one column named 'a;b;c'), and the
    encodings to try, in turn."""
    opener = _OPENERS.get(path.suffix.lower(), open)
    with opener(path, "rb") as handle:
        raw = handle.read(1 << 16)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)  # a spreadsheet's "Unicode text"
        head = raw[: len(raw) // 2 * 2].decode("utf-16", errors="ignore")
    elif b"\x00" in raw:
        raise GanguardError(f"{path}: not a text table (it holds NUL bytes: a binary file?)")
    else:
        encodings, head = ENCODINGS, raw.decode("latin-1")  # sniffing needs no exact characters
    lines = head.splitlines()[:50]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line may be cut
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    return (delimiter if lines and delimiter in lines[0] else ","), encodings


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (optionally compressed; ',', ';', tab or '|' separated, sniffed; UTF-8, else Windows
    or Latin-1 text) or Parquet file as a DataFrame; missing markers ('?', '', 'NA', ...) become
    missing values. Every failure is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise GanguardError(f"table {path} does not exist" if not path.exists()
                            else f"table {path} is not a file")  # fmt: skip
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = _read_delimited(path)
    except ImportError as err:
        raise GanguardError(f"{path}: reading Parquet needs pyarrow ({err}): pip install "
                            "pyarrow") from None  # fmt: skip
    except pd.errors.EmptyDataError:
        raise GanguardError(f"{path}: the file is empty") from None
    except GanguardError:
        raise
    except Exception as err:  # a parser error, a corrupt Parquet file, a bad encoding...
        text = " ".join(str(err).split())[:200]
        raise GanguardError(f"{path}: not a readable table ({text})") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise GanguardError(f"{path}: the table has no rows or no columns")
    return frame


def _without_written_index(frame: pd.DataFrame) -> pd.DataFrame:
    """`DataFrame.to_csv` writes the index as a first column with an empty header: unique whole
    numbers. That is a row number, not data (a generator would learn it as an identifier)."""
    first = frame.columns[0]
    if frame.shape[1] > 1 and str(first).startswith("Unnamed: 0"):
        values = frame[first]
        if pd.api.types.is_integer_dtype(values) and values.is_unique:
            return frame.drop(columns=first)
    return frame


def _read_delimited(path: Path) -> pd.DataFrame:
    sep, encodings = (",", ENCODINGS) if path.suffix.lower() == ".zip" else csv_format(path)
    for encoding in encodings:
        try:
            return _without_written_index(pd.read_csv(
                path, sep=sep, encoding=encoding, na_values=MISSING_MARKERS, keep_default_na=True,
                skipinitialspace=True))  # fmt: skip
        except UnicodeDecodeError:
            continue
    raise GanguardError(f"{path}: not a readable table (its text is not {encodings[0]})")


def as_frame(table: pd.DataFrame | str | Path, what: str = "table") -> pd.DataFrame:
    """A DataFrame given as is, or read from a CSV / Parquet path."""
    if isinstance(table, pd.DataFrame):
        if table.shape[1] == 0 or len(table) == 0:
            raise GanguardError(f"the {what} DataFrame has no rows or no columns")
        names = [str(c) for c in table.columns]  # a file's columns are text: so are the schema's
        if len(set(names)) < len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise GanguardError(f"the {what} DataFrame has two columns named {twice!r}")
        return table.set_axis(names, axis=1).reset_index(drop=True)
    return read_table(table)


# -- kinds -----------------------------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def infer_kind(name: str, values: pd.Series) -> Kind:
    """continuous: numeric with many distinct values (or non-integer); discrete: integers with at
    most MAX_DISCRETE_VALUES values; categorical: text or booleans. Text mixing numbers and words
    is refused: its kind must be declared."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values):
        if len(present) == 0:
            return "continuous"
        whole = bool(np.all(np.asarray(present, dtype=float) == np.round(present.astype(float))))
        return "discrete" if whole and present.nunique() <= MAX_DISCRETE_VALUES else "continuous"
    texts = present.astype(str)
    numeric = texts.map(_is_number)
    if numeric.any() and not numeric.all():
        a, b = texts[numeric].iloc[0], texts[~numeric].iloc[0]
        raise GanguardError(
            f"column {name!r} mixes numbers and text (e.g. {a!r} and {b!r}): declare its kind "
            "in data.columns (categorical, or clean the column)"
        )
    return "categorical"


def column_spec(declared: Any) -> tuple[str | None, bool | None]:
    """A `data.columns` entry: a kind, or {kind, missing}."""
    if isinstance(declared, str):
        return declared, None
    if isinstance(declared, dict):
        return declared.get("kind"), declared.get("missing")
    return None, None


def infer_schema(frame: pd.DataFrame, declared: dict[str, Any] | None = None,
                 target: str | None = None) -> Schema:  # fmt: skip
    """The schema of `frame`: declared kinds (and `missing: false` where said) over inferred
    ones; labels are the sorted distinct values of each categorical column."""
    declared = dict(declared or {})
    unknown = [k for k in declared if k not in frame.columns]
    if unknown:
        raise GanguardError(f"config key data.columns: no column {unknown[0]!r} in the table "
                            f"(its columns: {', '.join(map(str, frame.columns))})")  # fmt: skip
    if len(set(map(str, frame.columns))) != frame.shape[1]:
        raise GanguardError("the table has two columns of the same name")
    columns = []
    for name in frame.columns:
        values = frame[name]
        kind, allow_missing = column_spec(declared.get(name))
        if kind is not None and kind not in KINDS:
            raise GanguardError(f"config key data.columns.{name}: {kind!r} is not one of "
                                f"{', '.join(KINDS)}")  # fmt: skip
        kind = kind or infer_kind(str(name), values)
        has_missing = bool(values.isna().any())
        if allow_missing is False and has_missing:
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise GanguardError(f"column {name!r} is declared without missing values but row "
                                f"{row} has none")  # fmt: skip
        if kind in ("continuous", "discrete"):
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise GanguardError(f"column {name!r} is {kind} but holds "
                                    f"{values[bad].iloc[0]!r}")  # fmt: skip
            if not np.isfinite(numbers.dropna().to_numpy(float)).all():
                raise GanguardError(f"column {name!r} holds inf")
            present = numbers.dropna().to_numpy(float)
            whole = kind == "discrete" or bool(np.all(present == np.round(present)))
            dtype = ("Int64" if has_missing else "int64") if whole else "float64"
            columns.append(Column(str(name), kind, (), has_missing, dtype))
        else:
            labels = tuple(sorted(values.dropna().astype(str).unique()))
            dtype = "bool" if pd.api.types.is_bool_dtype(values) else "object"
            columns.append(Column(str(name), "categorical", labels, has_missing, dtype))
    schema = Schema(tuple(columns), target)
    if target is not None:
        if target not in schema.names:
            raise GanguardError(f"config key data.target: no column {target!r} in the table")
        if schema.column(target).kind == "continuous":
            raise GanguardError(f"config key data.target: column {target!r} is continuous; the "
                                "target must be categorical or discrete (a class)")  # fmt: skip
    return schema


# -- the canonical matrix --------------------------------------------------------------------------
def check_columns(frame: pd.DataFrame, names: list[str], what: str) -> None:
    """One line when `frame` lacks a column of `names` or has one more."""
    missing = [c for c in names if c not in frame.columns]
    extra = [str(c) for c in frame.columns if str(c) not in names]
    if missing or extra:
        detail = f"lacks {missing[0]!r}" if missing else f"has an extra column {extra[0]!r}"
        raise GanguardError(f"{what} {detail}: its columns must be the members' "
                            f"({', '.join(names)})")  # fmt: skip


def canonical_matrix(frame: pd.DataFrame, schema: Schema, what: str = "the table") -> np.ndarray:
    """(n, columns) float32: numeric values (NaN when missing), categorical label indices (NaN
    when missing). A label the schema does not know, a missing column or a value of the wrong
    type is one line naming it."""
    check_columns(frame, schema.names, what)
    out = np.empty((len(frame), len(schema.columns)), np.float32)
    for j, col in enumerate(schema.columns):
        values = frame[col.name]
        if not col.missing and values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise GanguardError(f"{what}: column {col.name!r} has a missing value (row {row}) "
                                "but the members' has none")  # fmt: skip
        if col.kind == "categorical":
            index = {label: i for i, label in enumerate(col.labels)}
            present = values.notna().to_numpy()
            texts = [str(v) if p else None for v, p in zip(values, present, strict=True)]
            codes = [math.nan if t is None else index.get(t, -1) for t in texts]
            unseen = [t for t, c in zip(texts, codes, strict=True) if c == -1]
            if unseen:
                raise GanguardError(f"{what}: column {col.name!r} has the category "
                                    f"{unseen[0]!r}, never seen in the members' table")  # fmt: skip
            out[:, j] = codes
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise GanguardError(f"{what}: column {col.name!r} is {col.kind} but holds "
                                    f"{values[bad].iloc[0]!r}")  # fmt: skip
            with np.errstate(over="ignore"):  # a value beyond float32 is refused just below
                out[:, j] = numbers.to_numpy(np.float64)
            infinite = np.isinf(out[:, j])  # 'inf' in the file, or beyond float32's range
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise GanguardError(f"{what}: column {col.name!r} holds an infinite value "
                                    f"({values.iloc[row]}, row {row})")  # fmt: skip
    return out


def frame_from_matrix(matrix: np.ndarray, schema: Schema) -> pd.DataFrame:
    """The table of a canonical matrix, with the original names, dtypes and labels."""
    data = {}
    for j, col in enumerate(schema.columns):
        v = matrix[:, j].astype(np.float64)
        if col.kind == "categorical":
            labels = np.asarray(col.labels, dtype=object)
            codes = np.nan_to_num(v, nan=-1).astype(np.int64)
            cells = np.full(len(v), np.nan, dtype=object)  # missing: NaN, as pandas reads it
            if len(labels):
                cells[codes >= 0] = labels[codes[codes >= 0]]
            series = pd.Series(cells, dtype=object)
            if col.dtype == "bool":
                series = series.map({"True": True, "False": False})
            data[col.name] = series
        elif col.dtype in ("int64", "Int64"):  # integers in the original table stay integers
            series = pd.Series(np.round(v))
            data[col.name] = series.astype("Int64" if series.isna().any() else col.dtype)
        else:  # a float32 cell as its shortest decimal: 52191.92, not 52191.91796875
            shortest = matrix[:, j].astype(np.float32).astype(str).astype(np.float64)
            data[col.name] = pd.Series(shortest, dtype="float64")
    return pd.DataFrame(data)


# what `write_table` can write a text table as, and how its bytes are packed
PACKERS_BY_SUFFIX = {f"{kind}{packed}": pack for kind in (".csv", ".tsv") for packed, pack in
                     (("", None), (".gz", partial(gzip.compress, mtime=0)), (".bz2", bz2.compress),
                      (".xz", lzma.compress))}  # fmt: skip
# what `read_table` reads as text (pandas opens a .zip too)
TEXT_TABLE_SUFFIXES = (*PACKERS_BY_SUFFIX, ".csv.zip", ".tsv.zip")


def is_table_path(path: str | Path) -> bool:
    """Whether a file name is a table's (.csv or .tsv, optionally compressed; .parquet)."""
    name = str(path).lower()
    return name.endswith((*TEXT_TABLE_SUFFIXES, ".parquet", ".pq"))


def check_writable_table(path: Path) -> None:
    """One line unless `write_table` can write `path` (checked before anything is drawn)."""
    name = path.name.lower()
    if not name.endswith((*PACKERS_BY_SUFFIX, ".parquet", ".pq")):
        raise GanguardError(f"--out {path}: a table is written as .csv or .tsv (optionally "
                            ".gz, .bz2, .xz) or .parquet")  # fmt: skip


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """`frame` to a CSV or Parquet file (by its suffix), written atomically."""
    import io

    from ganguard.runs import write_atomic

    path = Path(path)
    check_writable_table(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except ImportError as err:
            raise GanguardError(f"writing Parquet needs pyarrow ({err}): pip install "
                                "pyarrow") from None  # fmt: skip
        write_atomic(path, buffer.getvalue())
    else:
        packed = next(s for s in PACKERS_BY_SUFFIX if path.name.lower().endswith(s))
        text = frame.to_csv(index=False, sep="\t" if ".tsv" in packed else ",")
        pack = PACKERS_BY_SUFFIX[packed]
        write_atomic(path, text if pack is None else pack(text.encode("utf-8")))
