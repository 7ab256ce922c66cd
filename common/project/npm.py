"""Packages from the npm registry that the repository's tooling runs, pinned and checksummed.

Fetched with npm's own client (``npm pack <name>@<version>``) when a ``make`` target needs them
(``make mathjax``, ``make lint``), checked against the registry's SHA-512 ``dist.integrity``
pinned here, and unpacked into a git-ignored folder. Nothing is fetched at test or build time: a
missing package is an error that names the make target. Offline, put the tarball where
``REPRO_NPM_TARBALLS`` (a folder) says, named as ``npm pack`` names it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["integrity_of", "installed", "fetch"]

_STAMP = ".integrity"


def integrity_of(data: bytes) -> str:
    """npm's ``dist.integrity`` of a tarball: ``sha512-<base64 digest>``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def installed(target: Path, integrity: str) -> bool:
    """Whether ``target`` holds the package unpacked from the tarball with ``integrity``."""
    stamp = Path(target) / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == integrity


def _tarball(name: str, version: str, tmp: Path) -> bytes:
    filename = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    local = os.environ.get("REPRO_NPM_TARBALLS")
    if local and (Path(local) / filename).is_file():
        return (Path(local) / filename).read_bytes()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is not installed, so {name}@{version} cannot be fetched. Install Node.js's npm "
            f"(Debian: apt-get install npm), or run `npm pack {name}@{version}` elsewhere and "
            "put the tarball in the folder REPRO_NPM_TARBALLS names")
    proc = subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(tmp)],
                          capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError(f"npm pack {name}@{version} failed:\n{proc.stderr.strip()}")
    return (tmp / filename).read_bytes()


def fetch(name: str, version: str, integrity: str, target: Path, *, subdir: str = "",
          keep: Callable[[str], bool] = lambda path: True) -> Path:
    """Unpack ``name@version`` into ``target`` unless it is there already: the files under the
    tarball's ``package/<subdir>`` for which ``keep(path relative to it)`` is true. The tarball
    must match ``integrity``; the folder is replaced in one step."""
    target = Path(target)
    if installed(target, integrity):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        data = _tarball(name, version, Path(tmp))
        got = integrity_of(data)
        if got != integrity:
            raise RuntimeError(f"{name}@{version}: checksum {got} is not the pinned {integrity}; "
                               "refusing to use it")
        staging = target.with_name(f".{target.name}-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = []
            prefix = "package/" + (subdir.strip("/") + "/" if subdir else "")
            for m in tar.getmembers():
                rel = m.name.removeprefix(prefix)
                if m.name.startswith(prefix) and (m.isfile() or m.isdir()) and keep(rel):
                    m.name = rel
                    members.append(m)
            tar.extractall(staging, members=members, filter="data")
        (staging / _STAMP).write_text(integrity + "\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    return target
