r"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official *binary* archives.

The archives from the Toronto mirror (https://www.cs.toronto.edu/~kriz/cifar.html) hold
fixed-length records, read here with NumPy, never with pickle:

- ``cifar-10-binary.tar.gz``: ``cifar-10-batches-bin/data_batch_{1..5}.bin`` (train, 10,000
  records each) and ``test_batch.bin``; a record is 1 label byte (0-9) then 3,072 pixel bytes;
- ``cifar-100-binary.tar.gz``: ``cifar-100-binary/train.bin`` (50,000 records) and ``test.bin``
  (10,000); a record is 1 coarse label byte (0-19), 1 fine label byte (0-99), then 3,072 pixels.

The pixels are the 1,024 red values, then green, then blue, each 32 x 32 in row-major order,
so a record's payload reshapes to ``(3, 32, 32)`` (channels first) directly.

:func:`load_cifar10` and :func:`load_cifar100` return torch tensors ``X`` (float32 in [0, 1],
shape ``(N, 3, 32, 32)``) and ``y`` (int64). The archive is found or downloaded by
:func:`common.data.download.fetch` (``$REPRO_DATA_DIR/cifar10/`` or ``cifar100/``, then
``data/``, then the official URL) and checked against its size and SHA-256 before it is read.
Offline without the file, :class:`~common.data.download.DataUnavailableError` names the file,
the folders searched and the URL to download it from.
"""

from __future__ import annotations

import tarfile
from functools import lru_cache

import numpy as np

from common.data.download import DataIntegrityError, Resource, fetch

__all__ = ["CIFAR10", "CIFAR100", "load_cifar10", "load_cifar100", "read_cifar_records",
           "CIFAR10_CLASSES"]

_TORONTO = "https://www.cs.toronto.edu/~kriz/"

# Sizes and SHA-256 of the official binary archives. The Toronto page publishes MD5s
# (c32a1d4ab5d03f1284b67883e8d87530 for CIFAR-10, 03b5dce01913d631647c71ecec9e9cb8 for CIFAR-100);
# the SHA-256s below are the ones independent dataset packages pin for the same URLs (Julia's
# MLDatasets.jl and the gomlx and red-datasets loaders agree on both).
CIFAR10 = Resource(
    "cifar10", "cifar-10-binary.tar.gz",
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170052171,
    (_TORONTO + "cifar-10-binary.tar.gz",),
)
CIFAR100 = Resource(
    "cifar100", "cifar-100-binary.tar.gz",
    "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec", 168513733,
    (_TORONTO + "cifar-100-binary.tar.gz",),
)

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

_PIXELS = 3 * 32 * 32
# members of each split, in order, and the number of label bytes per record
_LAYOUT = {
    "cifar10": ({"train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
                 "test": ("cifar-10-batches-bin/test_batch.bin",)}, 1),
    "cifar100": ({"train": ("cifar-100-binary/train.bin",),
                  "test": ("cifar-100-binary/test.bin",)}, 2),
}


def read_cifar_records(raw: bytes, label_bytes: int, *, source: str = "") -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Split the bytes of a CIFAR binary batch into images ``(N, 3, 32, 32)`` uint8 and labels
    ``(N, label_bytes)`` uint8.

    Raises :class:`DataIntegrityError` when the length is not a whole number of records.
    """
    record = label_bytes + _PIXELS
    if len(raw) == 0 or len(raw) % record:
        raise DataIntegrityError(
            f"{source or 'CIFAR batch'}: {len(raw):,} bytes is not a whole number of "
            f"{record}-byte records; the archive is truncated or not the binary version")
    arr = np.frombuffer(raw, dtype=np.uint8).reshape(-1, record)
    return arr[:, label_bytes:].reshape(-1, 3, 32, 32), arr[:, :label_bytes]


def _load(kind: str, split: str, resource: Resource) -> tuple[np.ndarray, np.ndarray]:
    archive = fetch(resource)  # verifies size and sha256 (once per file version and process)
    st = archive.stat()
    return _read(kind, split, resource, str(archive), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read(kind: str, split: str, resource: Resource, archive: str, size: int,
          mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The split's records, cached per process and file version (size, mtime)."""
    members, label_bytes = _LAYOUT[kind]
    images, labels = [], []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in members[split]:
                try:
                    f = tar.extractfile(name)
                except KeyError:
                    f = None
                if f is None:
                    raise DataIntegrityError(
                        f"{archive} has no member {name}: not the official binary archive "
                        f"{resource.filename}")
                img, lab = read_cifar_records(f.read(), label_bytes, source=f"{archive}:{name}")
                images.append(img)
                labels.append(lab)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataIntegrityError(f"{archive} cannot be read as {resource.filename} ({exc}); it "
                                 "is truncated or corrupted: delete it and fetch it again") from exc
    X = np.concatenate(images)
    y = np.concatenate(labels)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: allowed values are 'train' and 'test'")
    return split


def _tensors(X: np.ndarray, y: np.ndarray):
    import torch

    return (torch.from_numpy(X.astype(np.float32) / 255.0),
            torch.from_numpy(y.astype(np.int64)))


def load_cifar10(split: str = "train", *, resource: Resource = CIFAR10):
    """CIFAR-10 images ``X`` (float32 in [0, 1], ``(N, 3, 32, 32)``) and labels ``y`` (int64,
    0-9 in the order of :data:`CIFAR10_CLASSES`); N = 50,000 (train) or 10,000 (test).

    ``resource`` is the archive to read (tests pass a small archive in the same format with its
    own size and SHA-256).
    """
    X, y = _load("cifar10", _split(split), resource)
    if y.max() > 9:
        raise DataIntegrityError(f"{resource.filename}: labels outside 0..9")
    return _tensors(X, y[:, 0])


def load_cifar100(split: str = "train", label: str = "fine", *, resource: Resource = CIFAR100):
    """CIFAR-100 images ``X`` (float32 in [0, 1], ``(N, 3, 32, 32)``) and labels ``y`` (int64):
    ``label="fine"`` (100 classes, 0-99) or ``"coarse"`` (20 superclasses, 0-19)."""
    if label not in ("fine", "coarse"):
        raise ValueError(f"label={label!r}: allowed values are 'fine' and 'coarse'")
    X, y = _load("cifar100", _split(split), resource)
    col, top = (1, 99) if label == "fine" else (0, 19)
    if y[:, col].max() > top:
        raise DataIntegrityError(f"{resource.filename}: {label} labels outside 0..{top}")
    return _tensors(X, y[:, col])
