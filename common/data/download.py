"""Verified dataset files: find a local copy or download it, always checking sha256.

A dataset file is described by an immutable :class:`Resource` (folder, file name, size, sha256 and
mirror URLs). :func:`fetch` resolves it in the order of DESIGN.md section 6:

1. ``$REPRO_DATA_DIR/<folder>/<file>`` (CI and tests point it at a verified offline copy);
2. ``<repository>/data/<folder>/<file>`` (where downloads land; git-ignored);
3. a download from each mirror in turn into ``<repository>/data/<folder>/``.

A local file whose size or sha256 differs from the record raises :class:`DataIntegrityError`,
which names the file, what was expected and how to fix it; it is never used. A download is
streamed into a temporary file in the target folder, hashed on the way, and renamed into place
only when size and sha256 match, so an interrupted or corrupted download never leaves a file
that looks complete. Offline with no local copy, :class:`DataUnavailableError` says what to
download and where to put it. ``REPRO_OFFLINE=1`` skips the download attempt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import paths

__all__ = [
    "Resource",
    "DataIntegrityError",
    "DataUnavailableError",
    "fetch",
    "sha256_file",
    "verify_file",
]

_CHUNK = 1 << 20
_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, per process


class DataIntegrityError(RuntimeError):
    """A dataset file exists but is truncated or corrupted (size or sha256 mismatch)."""


class DataUnavailableError(FileNotFoundError):
    """A dataset file is neither found locally nor downloadable."""


@dataclass(frozen=True)
class Resource:
    """One dataset file, as published by its official source.

    Attributes:
        folder: sub-folder of the data directory (``mnist``, ``fashion-mnist``, ...).
        filename: the file's official name.
        sha256: hex digest of the exact published bytes.
        size: size in bytes of the published file.
        urls: mirrors to try in order; each is the full URL of the file.
    """

    folder: str
    filename: str
    sha256: str
    size: int
    urls: tuple[str, ...]

    @property
    def relpath(self) -> str:
        return f"{self.folder}/{self.filename}"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, resource: Resource) -> None:
    """Raise :class:`DataIntegrityError` unless ``path`` has the resource's size and sha256."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if _verified.get(key) == resource.sha256:
        return
    problem = None
    if st.st_size != resource.size:
        problem = (f"it has {st.st_size:,} bytes, expected {resource.size:,} "
                   "(truncated or wrong file)")
    else:
        digest = sha256_file(path)
        if digest != resource.sha256:
            problem = (f"its sha256 is {digest}, expected {resource.sha256} "
                       "(corrupted or wrong file)")
    if problem:
        raise DataIntegrityError(
            f"dataset file {path} is not the published {resource.relpath}: {problem}. "
            f"Fix: delete it and rerun to download a verified copy, or replace it with the file "
            f"from {resource.urls[0]} (sha256 {resource.sha256})."
        )
    _verified[key] = resource.sha256


def _default_opener(url: str, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": "lucchi-repro/0.1 (dataset fetch)"})
    return urllib.request.urlopen(req, timeout=timeout)


def _download(resource: Resource, target: Path, opener: Callable, timeout: float) -> list[str]:
    """Try every mirror; return the list of per-mirror errors (empty on success)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in resource.urls:
        fd, tmp = tempfile.mkstemp(prefix=f".{resource.filename}.", suffix=".partial",
                                   dir=target.parent)
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out, opener(url, timeout) as resp:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if n != resource.size or h.hexdigest() != resource.sha256:
                errors.append(f"{url}: got {n:,} bytes with sha256 {h.hexdigest()}, "
                              f"expected {resource.size:,} bytes with sha256 {resource.sha256}")
                continue
            os.replace(tmp, target)
            _verified[(str(target), n, target.stat().st_mtime_ns)] = resource.sha256
            return []
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return errors


def fetch(resource: Resource, *, download: bool | None = None, opener: Callable | None = None,
          timeout: float = 60.0) -> Path:
    """Path of a verified local copy of ``resource``, downloading it if needed.

    Args:
        resource: the file to find.
        download: allow a download when no local copy exists; default: unless ``REPRO_OFFLINE=1``.
        opener: ``opener(url, timeout)`` returning a context manager with ``read(n)``; tests pass
            a fake one. Defaults to ``urllib.request.urlopen``.
        timeout: seconds per connection attempt.

    Raises:
        DataIntegrityError: a local copy exists but its size or sha256 is wrong.
        DataUnavailableError: no local copy, and the download was disabled or failed.
    """
    for folder in paths.data_search_path():
        candidate = folder / resource.folder / resource.filename
        if candidate.is_file():
            verify_file(candidate, resource)
            return candidate
    if download is None:
        download = os.environ.get("REPRO_OFFLINE", "") not in ("1", "true", "yes")
    target = paths.data_dir() / resource.folder / resource.filename
    errors = ["downloads disabled (REPRO_OFFLINE=1 or download=False)"]
    if download:
        errors = _download(resource, target, opener or _default_opener, timeout)
        if not errors:
            return target
    searched = ", ".join(str(p / resource.relpath) for p in paths.data_search_path())
    raise DataUnavailableError(
        f"dataset file {resource.relpath} is not available: not found at {searched}, and it could "
        f"not be downloaded ({'; '.join(errors)}). Fix: download {resource.urls[0]} "
        f"(sha256 {resource.sha256}) to {target}, or set REPRO_DATA_DIR to a folder that "
        f"contains {resource.relpath}."
    )


def copy_into_data_dir(src: str | os.PathLike, resource: Resource) -> Path:
    """Copy a file you downloaded yourself into ``data/``, verifying it first."""
    src = Path(src)
    verify_file(src, resource)
    target = paths.data_dir() / resource.folder / resource.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{resource.filename}.", suffix=".partial",
                               dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
