"""Data sets: loading by name, and the table behind `ganguard datasets`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ganguard.data.dataset import Dataset, append_reference
from ganguard.data.sources import SOURCES as IMAGE_SOURCES
from ganguard.data.table_sources import TABLE_SOURCES
from ganguard.errors import GanguardError

SOURCES = {**IMAGE_SOURCES, **TABLE_SOURCES}

if TYPE_CHECKING:
    from ganguard.config import DataConfig

__all__ = ["Dataset", "dataset_names", "dataset_table", "load_dataset", "load_run_data"]


def dataset_names() -> list[str]:
    return list(SOURCES)


def load_dataset(name: str, path: str | os.PathLike[str] | None = None,
                 columns: dict | None = None, target: str | None = None) -> Dataset:  # fmt: skip
    """The named data set as float32 NCHW in [-1, 1] (a table: its canonical matrix, see
    ganguard.data.tabular); `path` overrides where it is read from; `columns` and `target`
    declare a table's column kinds and target."""
    source = SOURCES.get(name)
    if source is None:
        raise GanguardError(f"unknown data set {name!r}; known: {', '.join(SOURCES)}")
    return source.load(path, columns, target)


def load_run_data(data: DataConfig) -> Dataset:
    """The data set a run's split indexes: `data.name`, followed by the records of R when
    `data.reference_data` names another data set to take them from. A table comes encoded, by
    the encoding fitted on the run's members (or on R, when R is taken from another data set):
    the same whenever it is loaded, so training, audit and evaluation read the same records."""
    ds = load_dataset(data.name, data.path, data.columns, data.target)
    if data.reference_data is not None:
        other = load_dataset(data.reference_data, data.reference_path, data.columns, data.target)
        ds = append_reference(ds, other, data.n_reference, data.seed)
    if not ds.is_table:
        return ds
    from ganguard.data.codec import TableCodec
    from ganguard.data.split import run_split

    split = run_split(ds, data)
    fit_on = split.reference if data.reference_data is not None else split.members
    codec = TableCodec.fit(ds.schema, ds.x[fit_on, 0, 0], data.seed)
    encoded = codec.encode(ds.x[:, 0, 0])[:, None, None, :]
    return Dataset(ds.name, encoded, ds.y, schema=ds.schema, codec=codec,
                   source_fingerprint=ds.fingerprint(), canonical=ds.x[:, 0, 0])  # fmt: skip


def dataset_table() -> list[dict]:
    """One row per data set, saying whether it can be loaded here without a data.path."""
    rows = []
    for source in SOURCES.values():
        available = source.available()
        rows.append(
            {
                "name": source.name,
                "description": source.description,
                "size": source.size,
                "shape": source.shape,
                "available": available,
                "how_to_get": "" if available else source.how_to_get,
            }
        )
    return rows
