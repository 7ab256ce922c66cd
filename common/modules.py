"""Loading a Python module from a file that is not on ``sys.path`` (a paper's ``lib.py``, the
script a sweep's function was defined in)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_module_file"]


def load_module_file(name: str, path: str | Path) -> ModuleType:
    """Import ``path`` as the module ``name``, once per process.

    The module is registered in ``sys.modules`` before it executes (so dataclasses and pickling
    inside it can find it by name) and removed again if executing it raises, so a failed import
    is retried rather than leaving a half-initialised module behind. A module already registered
    under ``name`` is returned as it is.
    """
    if name in sys.modules:
        return sys.modules[name]
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot load module {name!r}: {path} is not a file")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
