"""Token shards (llm.c / modded-nanogpt format) on shards the test writes: header, round trip,
the stream's windows against direct slicing, the errors for missing or corrupt shards."""

from __future__ import annotations

import numpy as np
import pytest

from common.data.download import DataUnavailableError
from common.data.token_shards import (
    SHARD_MAGIC,
    TokenStream,
    find_shards,
    read_shard,
    write_shard,
)


def test_header_and_round_trip(tmp_path):
    tokens = np.arange(1000) * 61 % 50257
    path = write_shard(tmp_path / "s.bin", tokens)
    raw = np.fromfile(path, dtype="<i4", count=3)
    assert raw.tolist() == [SHARD_MAGIC, 1, 1000]
    assert path.stat().st_size == 1024 + 2000
    np.testing.assert_array_equal(read_shard(path), tokens)


def test_stream_windows_equal_direct_slices(tmp_path, monkeypatch):
    """Two shards of 50 and 30 tokens, B x S = 3 x 4 (13 tokens per read, 12 consumed): the first
    shard gives windows at 0, 12, 24 (the rest, 14 tokens from 36, still fits one at 36) and the
    second at 0; then the stream wraps to the first shard (epoch 1)."""
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    a, b = np.arange(50), 1000 + np.arange(30)
    write_shard(tmp_path / "toks" / "x_train_000001.bin", a)
    write_shard(tmp_path / "toks" / "x_train_000002.bin", b)
    write_shard(tmp_path / "toks" / "x_val_000000.bin", b)
    shards = find_shards("x_train_*.bin", folder="toks")
    assert [s.name for s in shards] == ["x_train_000001.bin", "x_train_000002.bin"]
    stream = TokenStream(shards, batch_size=3, seq_len=4)
    starts = [(a, 0), (a, 12), (a, 24), (a, 36), (b, 0), (b, 12), (a, 0)]
    for src, s in starts:
        x, y = stream.next_batch()
        assert x.dtype == np.int64 and x.shape == (3, 4)
        np.testing.assert_array_equal(x.ravel(), src[s:s + 12])
        np.testing.assert_array_equal(y.ravel(), src[s + 1:s + 13])
    assert stream.epoch == 1


def test_missing_and_corrupt_shards_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="user-supplied.*cached_fineweb10B"):
        find_shards(folder="no_such_shards_here")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(np.zeros(256, dtype="<i4").tobytes())
    with pytest.raises(ValueError, match="not a token shard"):
        read_shard(bad)
    path = write_shard(tmp_path / "t.bin", np.arange(10))
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ValueError, match="truncated"):
        read_shard(path)
    good = write_shard(tmp_path / "g.bin", np.arange(10))
    with pytest.raises(ValueError, match="exceeds every shard"):
        TokenStream([good], batch_size=2, seq_len=5)
    with pytest.raises(ValueError, match="batch_size"):
        TokenStream([good], batch_size=0, seq_len=5)
    with pytest.raises(ValueError, match=r"\[0, 65535\]"):
        write_shard(tmp_path / "h.bin", np.array([70000]))
