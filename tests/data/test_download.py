"""Dataset files: lookup order, sha256 verification, atomic downloads, clear errors offline."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from common.data import download
from common.data.download import (
    DataIntegrityError,
    DataUnavailableError,
    Resource,
    fetch,
    verify_file,
)

PAYLOAD = b"lucchi-repro test payload\n" * 100


def _resource(payload=PAYLOAD, name="blob.bin"):
    return Resource("testset", name, hashlib.sha256(payload).hexdigest(), len(payload),
                    ("https://mirror-a.invalid/" + name, "https://mirror-b.invalid/" + name))


class FakeOpener:
    """Serves fixed bytes per URL; records the URLs asked for."""

    def __init__(self, responses):
        self.responses = responses
        self.calls = []

    def __call__(self, url, timeout):
        self.calls.append(url)
        value = self.responses.get(url)
        if isinstance(value, Exception):
            raise value
        if value is None:
            raise urllib.error.URLError("no route to host")
        return io.BytesIO(value)


@pytest.fixture
def repo_data(scratch_repo, monkeypatch):
    monkeypatch.delenv("REPRO_DATA_DIR", raising=False)
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    download._verified.clear()
    return scratch_repo / "data"


def test_env_dir_is_searched_first(repo_data, tmp_path, monkeypatch):
    res = _resource()
    env = tmp_path / "shared"
    (env / "testset").mkdir(parents=True)
    (env / "testset" / "blob.bin").write_bytes(PAYLOAD)
    (repo_data / "testset").mkdir(parents=True)
    (repo_data / "testset" / "blob.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("REPRO_DATA_DIR", str(env))
    assert fetch(res, download=False) == (env / "testset" / "blob.bin").resolve()
    monkeypatch.delenv("REPRO_DATA_DIR")
    assert fetch(res, download=False) == repo_data / "testset" / "blob.bin"


def test_download_falls_back_to_the_next_mirror_and_verifies(repo_data):
    res = _resource()
    opener = FakeOpener({res.urls[1]: PAYLOAD})
    path = fetch(res, opener=opener)
    assert path.read_bytes() == PAYLOAD
    assert opener.calls == list(res.urls)
    assert sorted(p.name for p in path.parent.iterdir()) == ["blob.bin"]  # no temporary files


def test_a_corrupted_download_is_never_kept(repo_data):
    res = _resource()
    bad = bytearray(PAYLOAD)
    bad[10] ^= 0xFF
    opener = FakeOpener({res.urls[0]: bytes(bad), res.urls[1]: PAYLOAD[:-5]})
    with pytest.raises(DataUnavailableError) as err:
        fetch(res, opener=opener)
    msg = str(err.value)
    assert "sha256" in msg and "REPRO_DATA_DIR" in msg and res.urls[0] in msg
    assert not (repo_data / "testset").exists() or not any((repo_data / "testset").iterdir())


def test_an_interrupted_download_leaves_nothing(repo_data):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            raise TimeoutError("connection reset")

    res = _resource()
    with pytest.raises(DataUnavailableError, match="connection reset"):
        fetch(res, opener=lambda url, timeout: Broken())
    assert not any((repo_data / "testset").iterdir())


def test_offline_error_says_what_to_download_and_where(repo_data, monkeypatch):
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    res = _resource()
    with pytest.raises(DataUnavailableError) as err:
        fetch(res, opener=FakeOpener({res.urls[0]: PAYLOAD}))
    msg = str(err.value)
    assert res.urls[0] in msg and str(repo_data / "testset" / "blob.bin") in msg
    assert "REPRO_OFFLINE" in msg


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_local_file_is_an_error_naming_the_fix(repo_data, damage):
    res = _resource()
    (repo_data / "testset").mkdir(parents=True)
    data = PAYLOAD[:-100] if damage == "truncate" else PAYLOAD.replace(b"test", b"tezt", 1)
    (repo_data / "testset" / "blob.bin").write_bytes(data)
    with pytest.raises(DataIntegrityError) as err:
        fetch(res, download=False)
    msg = str(err.value)
    assert "blob.bin" in msg and "delete it" in msg
    assert ("truncated" in msg) if damage == "truncate" else ("sha256" in msg)


def test_verification_is_cached_per_file_state(repo_data, monkeypatch):
    res = _resource()
    path = repo_data / "x.bin"
    repo_data.mkdir(parents=True)
    path.write_bytes(PAYLOAD)
    calls = []
    real = download.sha256_file
    monkeypatch.setattr(download, "sha256_file", lambda p: calls.append(p) or real(p))
    verify_file(path, res)
    verify_file(path, res)
    assert len(calls) == 1
