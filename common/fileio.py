"""Atomic file writes and JSON conversion: the small I/O helpers every layer of ``common`` uses.

This module is a leaf (it imports nothing from ``common``), so the datasets' caches
(:mod:`common.data.imdb`), the figures (:mod:`common.plotting`), the results store and sweeps
(:mod:`common.experiment`) and the repository tooling (:mod:`common.project`) all write through
the same code without importing each other.

Every file goes through :func:`atomic_write_bytes`: the bytes go to a temporary file in the
destination folder, are flushed to disk, and the file is renamed over the destination
(``os.replace`` is atomic on POSIX and Windows). A reader sees the old file or the new one, never
a partial one, and a crash leaves no half-written result behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_json",
           "to_jsonable"]


def _default_mode(path: Path) -> int:
    """The mode a normal ``open(path, "w")`` would give: the existing file's, else 0o666 - umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _default_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp creates 0o600; keep the permissions a plain write gives
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy / torch values, dataclasses, tuples and paths to JSON-ready Python objects.

    Non-finite floats are kept as ``NaN`` / ``Infinity`` (Python's JSON dialect): a diverged run
    must stay distinguishable from a missing one.
    """
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return to_jsonable(obj.to_dict())
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if type(obj).__module__.startswith("torch"):
        return to_jsonable(obj.detach().cpu().numpy())
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON (through :func:`to_jsonable`; NaN and inf kept) atomically."""
    text = json.dumps(to_jsonable(obj), indent=1, sort_keys=False, allow_nan=True)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
