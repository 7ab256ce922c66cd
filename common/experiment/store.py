"""A JSON results store: one record per key under a folder, written atomically.

The atomic writes and the JSON conversion it uses live in the leaf module :mod:`common.fileio`
(shared with the datasets' caches, the figures and the repository tooling); they are re-exported
here and from :mod:`common.experiment` under their old names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.fileio import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    to_jsonable,
)

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_json",
           "to_jsonable", "ResultsStore"]


class ResultsStore:
    """JSON records under one folder, one file per key, written atomically.

    Keys are relative names such as ``"rosenbrock"`` or ``"runs/3f2a9c"``; ``.json`` is added.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in Path(key).parts:
            raise ValueError(f"key={key!r}: must be a relative name without '..'")
        return self.root / f"{key}.json"

    def save(self, key: str, record: Any) -> Path:
        return atomic_write_json(self.path(key), record)

    def load(self, key: str) -> Any:
        return read_json(self.path(key))

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(str(p.relative_to(self.root).with_suffix("")) for p in
                      self.root.rglob("*.json") if not p.name.startswith("."))

