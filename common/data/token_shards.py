"""Pre-tokenised corpora in the llm.c / modded-nanogpt shard format (FineWeb at paper scale).

A shard is a binary file: a header of 256 little-endian int32 (``header[0] = 20240520`` the magic,
``header[1] = 1`` the version, ``header[2]`` the number of tokens), then that many uint16 GPT-2
token ids. modded-nanogpt's ``data/cached_fineweb10B.py`` writes them as
``fineweb_train_000001.bin``, ... and ``fineweb_val_000000.bin`` (100M tokens each); the Scion
papers train on these (Islamov et al., arXiv 2603.21191, App. A). The shards are
**user-supplied**: this repository never downloads them (about 20 GB for the 10B-token set).
They are looked up in ``<data dir>/<folder>/`` along :func:`common.paths.data_search_path`
(``$REPRO_DATA_DIR`` first); if none is found, :class:`common.data.download.DataUnavailableError`
says where to put them.

:class:`TokenStream` serves consecutive ``(batch_size, seq_len)`` windows with next-token targets,
reading the shards in order, as modded-nanogpt's loader does on one device (each window starts
where the previous one ended; a window never crosses a shard boundary: the rest of a shard too
short for a whole batch is skipped).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import paths
from common.data.download import DataUnavailableError
from common.fileio import atomic_write_bytes

__all__ = ["SHARD_MAGIC", "read_shard", "write_shard", "find_shards", "TokenStream"]

#: ``header[0]`` of a valid shard (llm.c / modded-nanogpt).
SHARD_MAGIC = 20240520
_HEADER = 256


def read_shard(path: str | os.PathLike) -> np.ndarray:
    """The uint16 tokens of one shard (memory-mapped), after checking its header and size."""
    path = Path(path)
    header = np.fromfile(path, dtype="<i4", count=_HEADER)
    if header.size < _HEADER or header[0] != SHARD_MAGIC or header[1] != 1:
        raise ValueError(f"{path}: not a token shard (expected magic {SHARD_MAGIC} and version 1 "
                         f"in a 1024-byte header)")
    n = int(header[2])
    expected = 4 * _HEADER + 2 * n
    if path.stat().st_size != expected:
        raise ValueError(f"{path}: header says {n} tokens ({expected} bytes), the file has "
                         f"{path.stat().st_size} bytes (truncated or corrupt)")
    return np.memmap(path, dtype="<u2", mode="r", offset=4 * _HEADER, shape=(n,))


def write_shard(path: str | os.PathLike, tokens) -> Path:
    """Write ``tokens`` (ids < 65536) as one shard, atomically (tests and small corpora)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or (tokens.size and (tokens.min() < 0 or tokens.max() >= 2**16)):
        raise ValueError("tokens must be a 1-D array of ids in [0, 65535]")
    header = np.zeros(_HEADER, dtype="<i4")
    header[:3] = (SHARD_MAGIC, 1, tokens.size)
    path = Path(path)
    atomic_write_bytes(path, header.tobytes() + tokens.astype("<u2").tobytes())
    return path


def find_shards(pattern: str = "fineweb_train_*.bin", folder: str = "fineweb10B") -> list[Path]:
    """The shards matching ``pattern`` in the first ``<data dir>/<folder>`` that has any, sorted.

    Raises:
        DataUnavailableError: no folder on the search path holds a matching file; the message
            names the folders searched and the script that makes the shards.
    """
    for root in paths.data_search_path():
        found = sorted((root / folder).glob(pattern))
        if found:
            return found
    searched = ", ".join(str(p / folder) for p in paths.data_search_path())
    raise DataUnavailableError(
        f"no token shards {pattern!r} found in {searched}. They are user-supplied (never "
        f"downloaded here): run modded-nanogpt's data/cached_fineweb10B.py (or write shards with "
        f"common.data.token_shards.write_shard) and put them in <data dir>/{folder}/, or set "
        f"REPRO_DATA_DIR to a folder that contains {folder}/.")


class TokenStream:
    """Consecutive ``(x, y)`` windows of ``batch_size`` sequences of ``seq_len`` tokens.

    ``next_batch()`` returns int64 arrays ``x`` and ``y = x`` shifted by one token, read from one
    contiguous stretch of ``batch_size * seq_len + 1`` tokens of the current shard; the stream
    moves to the next shard when the current one cannot fill a batch, and wraps around after the
    last one (``epoch`` counts the wraps).
    """

    def __init__(self, shards, batch_size: int, seq_len: int):
        self.shards = [Path(s) for s in shards]
        if not self.shards:
            raise ValueError("shards: need at least one shard file")
        for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r}: must be a positive integer")
        self.batch_size, self.seq_len = batch_size, seq_len
        need = batch_size * seq_len + 1
        sizes = [read_shard(s).size for s in self.shards]
        if max(sizes) < need:
            raise ValueError(f"batch_size * seq_len + 1 = {need} tokens exceeds every shard "
                             f"(largest: {max(sizes)})")
        self.epoch, self._shard, self._pos = 0, 0, 0
        self._tokens = read_shard(self.shards[0])

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next ``(x, y)``, each of shape ``(batch_size, seq_len)``, dtype int64."""
        need = self.batch_size * self.seq_len + 1
        while self._pos + need > self._tokens.size:
            self._shard += 1
            if self._shard == len(self.shards):
                self._shard, self.epoch = 0, self.epoch + 1
            self._tokens, self._pos = read_shard(self.shards[self._shard]), 0
        chunk = np.asarray(self._tokens[self._pos:self._pos + need], dtype=np.int64)
        self._pos += need - 1
        shape = (self.batch_size, self.seq_len)
        return chunk[:-1].reshape(shape), chunk[1:].reshape(shape)
