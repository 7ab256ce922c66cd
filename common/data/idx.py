"""Readers for the IDX format of MNIST and Fashion-MNIST, and the two datasets' loaders.

IDX (LeCun et al.): a 4-byte magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` big-endian uint32
sizes, then the data in C order, big-endian. Images are ``(N, 28, 28)`` uint8 (dtype ``0x08``);
labels are ``(N,)`` uint8.
"""

from __future__ import annotations

import gzip
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

from common.data.download import DataIntegrityError, Resource, fetch

__all__ = ["read_idx", "MNIST", "FASHION_MNIST", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN",
           "FASHION_MNIST_STD", "load_mnist", "load_fashion_mnist", "to_tensors",
           "pooled"]

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped if its name ends in ``.gz``) into a NumPy array.

    Raises :class:`DataIntegrityError` when the header is not IDX or the payload is shorter or
    longer than the header says.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip raises these on truncated/corrupted streams
        raise DataIntegrityError(f"{path} cannot be decompressed ({exc}); it is truncated or "
                                 "corrupted: delete it and fetch it again") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataIntegrityError(f"{path} is not an IDX file (bad magic {raw[:4]!r})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataIntegrityError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataIntegrityError(
            f"{path}: IDX header says shape {shape} ({expected:,} bytes) but the payload has "
            f"{len(raw) - header:,} bytes; the file is truncated or corrupted")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror torchvision uses
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # the mirror TensorFlow uses
    "http://yann.lecun.com/exdb/mnist/",  # the original page
)
_FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # official (Zalando README)
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)


def _resources(folder, mirrors, table):
    return {
        key: Resource(folder, name, sha, size, tuple(m + name for m in mirrors))
        for key, (name, sha, size) in table.items()
    }


# Sizes and sha256 of the official files (they match the MD5s torchvision checks and the SHA-256s
# of the TFDS/Keras checksum tables).
MNIST = _resources("mnist", _MNIST_MIRRORS, {
    "train-images": ("train-images-idx3-ubyte.gz",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train-labels": ("train-labels-idx1-ubyte.gz",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "test-images": ("t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "test-labels": ("t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
})
FASHION_MNIST = _resources("fashion-mnist", _FASHION_MIRRORS, {
    "train-images": ("train-images-idx3-ubyte.gz",
                     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
    "train-labels": ("train-labels-idx1-ubyte.gz",
                     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
    "test-images": ("t10k-images-idx3-ubyte.gz",
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
    "test-labels": ("t10k-labels-idx1-ubyte.gz",
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
})

#: Channel statistics of the MNIST training images (pixel / 255), used by ``to_tensors``.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530


def _split_key(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: allowed values are 'train' and 'test'")
    return split


@lru_cache(maxsize=8)
def _load(resources_name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    table = MNIST if resources_name == "mnist" else FASHION_MNIST
    images = read_idx(fetch(table[f"{split}-images"]))
    labels = read_idx(fetch(table[f"{split}-labels"])).astype(np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise DataIntegrityError(f"{resources_name} {split}: {images.shape[0]} images but "
                                 f"{labels.shape[0]} labels")
    if labels.min() < 0 or labels.max() > 9:
        raise DataIntegrityError(f"{resources_name} {split}: labels outside 0..9")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 (read-only arrays).

    N = 60,000 for ``split='train'`` and 10,000 for ``'test'``. Files are verified by sha256.
    """
    return _load("mnist", _split_key(split))


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 (read-only)."""
    return _load("fashion-mnist", _split_key(split))


def to_tensors(images: np.ndarray, labels: np.ndarray, *, flatten: bool = True,
               mean: float = MNIST_MEAN, std: float = MNIST_STD, dtype=None):
    """Torch tensors ``X`` (pixels/255 standardised by ``mean``/``std``) and ``y`` (int64).

    ``flatten=True`` gives ``X`` of shape ``(N, 784)``; otherwise ``(N, 1, 28, 28)``.
    """
    import torch

    dtype = dtype or torch.get_default_dtype()
    X = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
    X = ((X - mean) / std).to(dtype)
    X = X.reshape(len(X), -1) if flatten else X.reshape(len(X), 1, *X.shape[1:])
    return X, torch.from_numpy(np.array(labels, dtype=np.int64))


def pooled(images: np.ndarray, factor: int = 4):
    """Images average-pooled by ``factor`` (28 x 28 -> 7 x 7 for 4), flattened, in [0, 1].

    A float64 torch tensor ``(N, (28 // factor)^2)``. Small inputs keep the models of the
    federated and private notebooks small enough for a CPU (and for local DP noise, whose norm
    grows with the number of parameters).
    """
    import torch

    if factor < 1 or images.shape[1] % factor:
        raise ValueError(f"factor={factor}: must be >= 1 and divide the image size "
                         f"{images.shape[1]}")
    img = torch.tensor(np.asarray(images), dtype=torch.float64)[:, None] / 255.0
    return torch.nn.functional.avg_pool2d(img, factor).reshape(len(images), -1)
