"""Readers for datasets the user keeps on disk (nothing is downloaded).

* MNIST (and Fashion-MNIST) in the original idx format, gzip-compressed or not:
  ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
  ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``.
  An idx file is a big-endian header -- two zero bytes, a type code (0x08 = unsigned byte),
  the number of dimensions, then one uint32 per dimension -- followed by the data.
* CIFAR-10 / CIFAR-100 "python version": pickled dicts with ``b"data"`` (N x 3072 uint8, rows
  of 1024 red, 1024 green, 1024 blue pixels, each plane row-major 32 x 32) and ``b"labels"``
  (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). CIFAR-10: ``data_batch_1`` ... ``data_batch_5``
  and ``test_batch``; CIFAR-100: ``train`` and ``test``.

Pickles are read with a restricted unpickler that only rebuilds plain containers and numpy
arrays, so a malicious file cannot run code. Every problem (unknown directory, missing or
malformed file) is a ``FileNotFoundError`` or ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np

from analogeq.data.errors import DataError, DataFileNotFoundError, DataNotADirectoryError

IDX_UBYTE = 0x08

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"


def check_directory(root: str | Path | None, dataset: str) -> Path:
    """The dataset directory as a Path, or a clear error if it is not given or not there."""
    if root is None:
        raise DataError(f"dataset {dataset!r} is read from local files: give its directory (root / --data-root)")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataFileNotFoundError(f"dataset directory for {dataset!r} does not exist: {str(path)!r}")
    if not path.is_dir():
        raise DataNotADirectoryError(f"dataset directory for {dataset!r} is not a directory: {str(path)!r}")
    return path


# --------------------------------------------------------------------------- idx (MNIST)
def _find_file(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        p = root / name
        if p.is_file():
            return p
    # the usual archive names use a dot before idx ("train-images.idx3-ubyte")
    alt = stem.replace("-idx", ".idx")
    for name in (alt, alt + ".gz"):
        p = root / name
        if p.is_file():
            return p
    raise DataFileNotFoundError(f"missing file {stem!r} (or {stem + '.gz'!r}) in {str(root)!r}")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file of unsigned bytes (gzip or plain) into a numpy uint8 array."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{str(path)!r}: broken gzip data ({exc})") from exc
    if len(raw) < 4:
        raise DataError(f"{str(path)!r}: too short for an idx header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(f"{str(path)!r}: not an idx file (magic starts with {raw[:2]!r}, expected two zero bytes)")
    if dtype_code != IDX_UBYTE:
        raise DataError(f"{str(path)!r}: idx type code 0x{dtype_code:02x} is not supported (only 0x08 = unsigned byte)")
    if ndim < 1:
        raise DataError(f"{str(path)!r}: idx file with {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{str(path)!r}: truncated idx header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{str(path)!r}: idx header says shape {shape} ({expected} bytes) but the file holds {len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool = False) -> None:
    """Write a uint8 array as an idx file (used by tests to make tiny MNIST-format files)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">HBB", 0, IDX_UBYTE, a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()
    Path(path).write_bytes(gzip.compress(data) if compress else data)


def read_mnist(root: str | Path, dataset: str = "mnist") -> dict[str, np.ndarray]:
    """Train and test images (N, 1, 28, 28) uint8 and labels (N,) from an idx directory."""
    path = check_directory(root, dataset)
    out: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        images = read_idx(_find_file(path, MNIST_FILES[f"{part}_images"]))
        labels = read_idx(_find_file(path, MNIST_FILES[f"{part}_labels"]))
        if images.ndim != 3:
            raise DataError(f"{dataset} {part} images: expected an idx3 file (N, rows, cols), got shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{dataset} {part}: {images.shape[0]} images but labels of shape {labels.shape}"
            )
        if labels.size and int(labels.max()) > 9:
            raise DataError(f"{dataset} {part} labels: values must be 0..9, found {int(labels.max())}")
        out[f"{part}_images"] = images[:, None, :, :]
        out[f"{part}_labels"] = labels.astype(np.int64)
    return out


# --------------------------------------------------------------------------- CIFAR pickles
class _SafeUnpickler(pickle.Unpickler):
    """Rebuilds only builtin containers and numpy arrays; refuses every other global."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("_codecs", "encode"),  # Python 3 pickles of bytes with protocol 2 (string -> bytes only)
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (only numpy arrays are allowed)")


def read_cifar_pickle(path: str | Path) -> dict:
    """Load one CIFAR python pickle safely; keys are returned as ``str``."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"missing CIFAR file {str(path)!r}")
    try:
        with path.open("rb") as fh:
            obj = _SafeUnpickler(io.BufferedReader(fh), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{str(path)!r}: not a readable CIFAR python pickle ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{str(path)!r}: expected a pickled dict, got {type(obj).__name__}")
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _cifar_arrays(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    d = read_cifar_pickle(path)
    if "data" not in d or label_key not in d:
        raise DataError(f"{str(path)!r}: a CIFAR pickle needs keys 'data' and {label_key!r}, found {sorted(d)}")
    data = np.asarray(d["data"])
    labels = np.asarray(d[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{str(path)!r}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{str(path)!r}: {label_key!r} must be {data.shape[0]} integer labels, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{str(path)!r}: labels must be in [0, {num_classes - 1}]")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _cifar_dir(root: Path, marker: str, subdir: str) -> Path:
    """Accept either the extracted folder itself or its parent."""
    if (root / marker).is_file():
        return root
    if (root / subdir / marker).is_file():
        return root / subdir
    raise DataFileNotFoundError(f"missing file {marker!r} in {str(root)!r} (nor in {str(root / subdir)!r})")


def read_cifar10(root: str | Path) -> dict[str, np.ndarray]:
    """CIFAR-10 train (50000) and test (10000) images (N, 3, 32, 32) uint8 and labels."""
    path = _cifar_dir(check_directory(root, "cifar10"), CIFAR10_TEST, "cifar-10-batches-py")
    parts = [_cifar_arrays(_require(path, name), "labels", 10) for name in CIFAR10_TRAIN]
    test_x, test_y = _cifar_arrays(_require(path, CIFAR10_TEST), "labels", 10)
    return {
        "train_images": np.concatenate([p[0] for p in parts]),
        "train_labels": np.concatenate([p[1] for p in parts]),
        "test_images": test_x,
        "test_labels": test_y,
    }


def read_cifar100(root: str | Path) -> dict[str, np.ndarray]:
    """CIFAR-100 train and test images (N, 3, 32, 32) uint8 and fine labels (100 classes)."""
    path = _cifar_dir(check_directory(root, "cifar100"), "test", "cifar-100-python")
    train_x, train_y = _cifar_arrays(_require(path, "train"), "fine_labels", 100)
    test_x, test_y = _cifar_arrays(_require(path, "test"), "fine_labels", 100)
    return {"train_images": train_x, "train_labels": train_y, "test_images": test_x, "test_labels": test_y}


def _require(root: Path, name: str) -> Path:
    p = root / name
    if not p.is_file():
        raise DataFileNotFoundError(f"missing CIFAR file {name!r} in {str(root)!r}")
    return p


def write_cifar_pickle(path: str | Path, images: np.ndarray, labels: np.ndarray, *, label_key: str = "labels") -> None:
    """Write images (N, 3, 32, 32) uint8 in the CIFAR python format (used by tests)."""
    data = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    obj = {b"batch_label": b"analogeq test batch", label_key.encode(): [int(v) for v in labels], b"data": data}
    with Path(path).open("wb") as fh:
        pickle.dump(obj, fh, protocol=2)
