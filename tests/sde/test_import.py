"""Importing ``common.sde`` is cheap: it initialises no JAX backend and compiles nothing."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import common.sde
from jax._src import xla_bridge
probe = getattr(xla_bridge, "backends_are_initialized", None)
print("unknown" if probe is None else probe())
"""


def test_import_initialises_no_backend():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out in ("False", "unknown"), out  # "unknown": this JAX has no such probe
