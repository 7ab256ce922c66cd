"""Where a result came from: code version, packages, machine and time.

Every result the project writes embeds :func:`provenance` so it can be traced back to the commit
and environment that produced it (DESIGN.md section 5, item 8).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from functools import lru_cache

from common import paths

__all__ = ["provenance", "git_revision", "package_versions", "device_description"]

_PACKAGES = ("torch", "numpy", "scipy", "jax", "jaxlib", "scikit-learn", "dp-accounting",
             "opacus", "lucchi-repro")


@lru_cache(maxsize=1)
def git_revision() -> dict[str, object]:
    """``{"commit": <sha or "unknown">, "dirty": bool | None}`` of the repository checkout."""
    try:
        root = paths.repo_root()
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=10,
                                check=True).stdout
        return {"commit": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError, FileNotFoundError):
        return {"commit": "unknown", "dirty": None}


def package_versions(names=_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that decide numerical results (absent ones omitted)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@lru_cache(maxsize=1)
def device_description() -> str:
    """The CPU model (and the CUDA device when torch sees one)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    desc = f"{cpu} ({os.cpu_count()} logical cores)"
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            desc += f"; CUDA: {torch.cuda.get_device_name(0)}"
    return desc


def provenance() -> dict[str, object]:
    """Code version, package versions, python, platform, device and UTC time."""
    info: dict[str, object] = {
        "git": git_revision(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device_description(),
        "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if "torch" in sys.modules:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    return info
