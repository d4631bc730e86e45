"""Data sets: loading by name, and the table behind `ganguard datasets`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ganguard.data.dataset import Dataset, append_reference
from ganguard.data.sources import SOURCES
from ganguard.errors import GanguardError

if TYPE_CHECKING:
    from ganguard.config import DataConfig

__all__ = ["Dataset", "dataset_names", "dataset_table", "load_dataset", "load_run_data"]


def dataset_names() -> list[str]:
    return list(SOURCES)


def load_dataset(name: str, path: str | os.PathLike[str] | None = None) -> Dataset:
    """The named data set as float32 NCHW in [-1, 1]; `path` overrides where it is read from."""
    source = SOURCES.get(name)
    if source is None:
        raise GanguardError(f"unknown data set {name!r}; known: {', '.join(SOURCES)}")
    return source.load(path)


def load_run_data(data: DataConfig) -> Dataset:
    """The data set a run's split indexes: `data.name`, followed by the records of R when
    `data.reference_data` names another data set to take them from."""
    ds = load_dataset(data.name, data.path)
    if data.reference_data is None:
        return ds
    other = load_dataset(data.reference_data, data.reference_path)
    return append_reference(ds, other, data.n_reference, data.seed)


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
