"""CIFAR-10/100 loaders on tiny archives built here in the official binary format (nothing is
downloaded): record layout, channel order, scaling, labels, integrity and offline errors."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile

import numpy as np
import pytest
import torch

from common.data import download
from common.data.cifar import (
    CIFAR10,
    CIFAR100,
    load_cifar10,
    load_cifar100,
    read_cifar_records,
)
from common.data.download import DataIntegrityError, DataUnavailableError, Resource


def _image(k: int) -> np.ndarray:
    """A (3, 32, 32) uint8 image whose value says where it is: channel c holds 80 c + k, plus
    the row index in the top-left pixel, so a channel or row mix-up shows."""
    img = np.empty((3, 32, 32), dtype=np.uint8)
    for c in range(3):
        img[c] = (80 * c + k) % 256
    img[:, :, 0] = np.arange(32, dtype=np.uint8)[None, :]  # column 0 holds the row index
    return img


def _records(labels: list[tuple[int, ...]], start: int) -> bytes:
    out = bytearray()
    for i, lab in enumerate(labels):
        out += bytes(lab)
        out += _image(start + i).tobytes()  # C order: R plane, G plane, B plane, rows first
    return bytes(out)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in reversed(list(members.items())):  # tar order must not matter
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        extra = b"airplane\nautomobile\n"  # the real archive also holds a meta file
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.size = len(extra)
        tar.addfile(info, io.BytesIO(extra))
    return buf.getvalue()


def _install(tmp_path, monkeypatch, official: Resource, payload: bytes) -> Resource:
    data = tmp_path / "data"
    (data / official.folder).mkdir(parents=True)
    (data / official.folder / official.filename).write_bytes(payload)
    monkeypatch.setenv("REPRO_DATA_DIR", str(data))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    download._verified.clear()
    return Resource(official.folder, official.filename, hashlib.sha256(payload).hexdigest(),
                    len(payload), official.urls)


# CIFAR-10: five train batches of 2 records and a test batch of 3
C10_TRAIN = [[(3,), (7,)], [(0,), (9,)], [(1,), (1,)], [(2,), (5,)], [(4,), (6,)]]
C10_TEST = [(8,), (0,), (2,)]


@pytest.fixture
def tiny_cifar10(tmp_path, monkeypatch):
    members = {f"cifar-10-batches-bin/data_batch_{i + 1}.bin": _records(labs, 2 * i)
               for i, labs in enumerate(C10_TRAIN)}
    members["cifar-10-batches-bin/test_batch.bin"] = _records(C10_TEST, 100)
    return _install(tmp_path, monkeypatch, CIFAR10, _tar(members))


@pytest.fixture
def tiny_cifar100(tmp_path, monkeypatch):
    members = {"cifar-100-binary/train.bin": _records([(19, 99), (0, 0), (7, 42)], 0),
               "cifar-100-binary/test.bin": _records([(3, 15)], 50)}
    return _install(tmp_path, monkeypatch, CIFAR100, _tar(members))


def test_official_resources_are_pinned():
    for res, size in ((CIFAR10, 170052171), (CIFAR100, 168513733)):
        assert re.fullmatch(r"[0-9a-f]{64}", res.sha256)
        assert res.size == size
        assert res.urls[0] == f"https://www.cs.toronto.edu/~kriz/{res.filename}"
        assert res.filename.endswith("-binary.tar.gz")  # never the pickled python version


def test_cifar10_layout_scaling_and_labels(tiny_cifar10):
    X, y = load_cifar10("train", resource=tiny_cifar10)
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    assert X.shape == (10, 3, 32, 32) and y.shape == (10,)
    assert y.tolist() == [lab[0] for batch in C10_TRAIN for lab in batch]  # batches 1..5 in order
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    raw = (X * 255).round().to(torch.uint8).numpy()
    for k in range(10):  # image k of the train split was written with value k
        np.testing.assert_array_equal(raw[k], _image(k))
    assert raw[4, 1, 5, 7] == 80 + 4  # channel 1 (green) of image 4
    assert raw[0, 2, 17, 0] == 17     # rows are the second axis
    Xt, yt = load_cifar10("test", resource=tiny_cifar10)
    assert Xt.shape == (3, 3, 32, 32) and yt.tolist() == [8, 0, 2]
    np.testing.assert_array_equal((Xt[1] * 255).round().to(torch.uint8).numpy(), _image(101))


def test_cifar100_fine_and_coarse(tiny_cifar100):
    X, fine = load_cifar100("train", resource=tiny_cifar100)
    _, coarse = load_cifar100("train", "coarse", resource=tiny_cifar100)
    assert X.shape == (3, 3, 32, 32)
    assert fine.tolist() == [99, 0, 42] and coarse.tolist() == [19, 0, 7]
    Xt, yt = load_cifar100("test", label="fine", resource=tiny_cifar100)
    assert yt.tolist() == [15]
    np.testing.assert_array_equal((Xt[0] * 255).round().to(torch.uint8).numpy(), _image(50))


def test_bad_arguments_name_the_parameter(tiny_cifar10, tiny_cifar100):
    with pytest.raises(ValueError, match="split='val'"):
        load_cifar10("val", resource=tiny_cifar10)
    with pytest.raises(ValueError, match="label='medium'"):
        load_cifar100("train", "medium", resource=tiny_cifar100)


def test_offline_without_the_file_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    for loader, res in ((load_cifar10, CIFAR10), (load_cifar100, CIFAR100)):
        with pytest.raises(DataUnavailableError) as err:
            loader("train")
        msg = str(err.value)
        assert res.filename in msg and str(tmp_path / "nothing" / res.folder) in msg
        assert res.urls[0] in msg and res.sha256 in msg


def test_a_corrupted_archive_is_refused(tiny_cifar10, tmp_path):
    path = tmp_path / "data" / "cifar10" / CIFAR10.filename
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    download._verified.clear()
    with pytest.raises(DataIntegrityError, match="sha256"):
        load_cifar10("test", resource=tiny_cifar10)


def test_records_must_be_whole():
    ok = _records([(1,), (2,)], 0)
    X, y = read_cifar_records(ok, 1)
    assert X.shape == (2, 3, 32, 32) and y[:, 0].tolist() == [1, 2]
    with pytest.raises(DataIntegrityError, match="3073-byte records"):
        read_cifar_records(ok[:-5], 1)
    with pytest.raises(DataIntegrityError, match="3074-byte records"):
        read_cifar_records(ok, 2)  # a CIFAR-10 batch read as CIFAR-100


def test_an_archive_without_the_expected_member_is_refused(tmp_path, monkeypatch):
    payload = _tar({"cifar-10-batches-py/data_batch_1": b"\x80\x04pickled"})  # the python one
    res = _install(tmp_path, monkeypatch, CIFAR10, payload)
    with pytest.raises(DataIntegrityError, match="no member"):
        load_cifar10("train", resource=res)
