"""IDX reader against files written here, and the real MNIST / Fashion-MNIST when available."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from common.data import DataIntegrityError, load_fashion_mnist, load_mnist, read_idx, to_tensors
from common.data.idx import FASHION_MNIST, MNIST


def _write_idx(path, arr: np.ndarray, code: int, compress=True):
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    (gzip.open if compress else open)(path, "wb").write(raw)


@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C),
                                        (np.float32, 0x0D), (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, dtype, code, compress):
    arr = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    _write_idx(path, arr, code, compress)
    out = read_idx(path)
    assert out.dtype.isnative and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_truncated_payload_is_reported(tmp_path):
    path = tmp_path / "t.gz"
    arr = np.zeros((5, 4), np.uint8)
    raw = bytes([0, 0, 8, 2]) + struct.pack(">2I", 5, 4) + arr.tobytes()[:-3]
    gzip.open(path, "wb").write(raw)
    with pytest.raises(DataIntegrityError, match="truncated"):
        read_idx(path)


def test_truncated_gzip_stream_is_reported(tmp_path):
    good = tmp_path / "g.gz"
    _write_idx(good, np.zeros((50, 50), np.uint8), 8)
    bad = tmp_path / "b.gz"
    bad.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(DataIntegrityError, match="truncated or corrupted"):
        read_idx(bad)


def test_not_idx(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataIntegrityError, match="not an IDX"):
        read_idx(path)


def test_resources_are_consistent():
    for table in (MNIST, FASHION_MNIST):
        assert set(table) == {"train-images", "train-labels", "test-images", "test-labels"}
        for res in table.values():
            assert len(res.sha256) == 64 and res.size > 0
            assert all(url.endswith(res.filename) for url in res.urls)


def test_real_mnist_and_fashion(shared_data):
    for loader in (load_mnist, load_fashion_mnist):
        X, y = loader("train")
        Xt, yt = loader("test")
        assert X.shape == (60000, 28, 28) and Xt.shape == (10000, 28, 28)
        assert X.dtype == np.uint8 and y.dtype == np.int64
        assert np.bincount(y).min() >= 5000  # every class present in quantity
        assert not X.flags.writeable
    X, y = load_mnist("test")
    Xf, yf = to_tensors(X, y)
    assert tuple(Xf.shape) == (10000, 784)
    assert abs(float(Xf.mean())) < 0.1  # standardised with the training statistics
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
