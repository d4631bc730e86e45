"""Low-level readers for the on-disk formats: gzip, IDX, CSV, pickles of numpy arrays, npz.

Every reader turns any failure into a one-line GanguardError naming the file, so that a corrupt or
truncated download never surfaces as a traceback.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.errors import GanguardError

IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions (n, rows, cols)
IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension (n,)

# The exact callables numpy uses to rebuild arrays, resolved from the running numpy rather than
# imported by name: numpy 2 renamed numpy.core to numpy._core, and old pickles use the old name.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(0).__reduce_ex__(5)[0]  # used by pickle protocol 5
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


def reason(exc: BaseException) -> str:
    """An exception as a short single line, for wrapping into a GanguardError."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise GanguardError(
            f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file"
        )


def read_bytes(path: Path) -> bytes:
    """The content of a file, gunzipped when its name ends in .gz."""
    require_file(path, "data file")
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as exc:
        kind = "corrupt or truncated gzip file" if path.suffix == ".gz" else "unreadable file"
        raise GanguardError(f"{path}: {kind} ({reason(exc)})") from exc


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (the MNIST format) of unsigned bytes, checked against its header."""
    data = read_bytes(path)
    if len(data) < 4:
        raise GanguardError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise GanguardError(f"{path}: wrong IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GanguardError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise GanguardError(
            f"{path}: IDX header says {'x'.join(map(str, dims))} = {expected} bytes "
            f"but the file holds {len(data) - header} (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_csv(path: Path) -> np.ndarray:
    """A numeric CSV (gzipped when named .gz) as a 2-D float32 array."""
    text = read_bytes(path)
    try:
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise GanguardError(f"{path}: not a numeric CSV ({reason(exc)})") from exc
    if table.size == 0:
        raise GanguardError(f"{path}: the CSV holds no rows")
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays, nothing else: a pickle can run arbitrary code
    through the globals it names, so every global outside the numpy-array allow-list is refused."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise GanguardError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed"
            ) from None


def load_pickle(path: Path, encoding: str) -> Any:
    """A (possibly gzipped) pickle of numpy arrays and plain containers, read safely."""
    require_file(path, "data file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            return RestrictedUnpickler(stream, encoding=encoding).load()
    except GanguardError as exc:
        raise GanguardError(f"{path}: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise GanguardError(f"{path}: corrupt or truncated file ({reason(exc)})") from exc
    except Exception as exc:  # a malformed pickle can raise almost any exception type
        raise GanguardError(f"{path}: not a valid pickle ({reason(exc)})") from exc


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, without ever unpickling (allow_pickle=False)."""
    require_file(path, "npz file")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, ValueError (looks like a pickle), OSError...
        raise GanguardError(f"{path}: not a valid .npz file ({reason(exc)})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise GanguardError(f"{path}: a single .npy array, expected an .npz archive")
    try:
        with npz:
            return {key: npz[key] for key in npz.files}
    except Exception as exc:  # a damaged member, or an object array that would need pickle
        raise GanguardError(f"{path}: not a valid .npz file ({reason(exc)})") from exc
