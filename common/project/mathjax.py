"""A pinned, checksummed MathJax for the book, so its math renders without network.

    python -m common.project.mathjax            # make mathjax (run by make book)

The official ``mathjax`` package of the npm registry, version :data:`VERSION`, is fetched with
npm's own client (``npm pack``), its tarball is checked against :data:`INTEGRITY` (the registry's
SHA-512 ``dist.integrity``), and the browser build (``es5/``: the combined TeX + MathML + CHTML
entry point and the components it loads on demand: fonts, TeX extensions, menu, accessibility)
is unpacked into ``book/_static/mathjax/`` (git-ignored). Sphinx copies ``book/_static`` into the
built HTML and ``mathjax_path`` (``book/_config.yml``) points there, so no page loads anything
from a CDN. Offline, or without npm, put the tarball where ``REPRO_MATHJAX_TARBALL`` says (it is
checked the same way).

The book extension (:mod:`common.project.bookext`) refuses to build when the unpacked copy is
missing or was unpacked from another tarball.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import paths

__all__ = ["VERSION", "INTEGRITY", "ENTRY", "target_dir", "installed_problem", "ensure", "main"]

VERSION = "3.2.2"
#: ``npm view mathjax@3.2.2 dist.integrity``
INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+"
             "geW0OhGw==")
#: The entry point Sphinx loads (``mathjax_path``, relative to ``_static``).
ENTRY = "mathjax/tex-mml-chtml.js"
#: What of ``package/es5/`` the book needs: the entry point and the components it loads lazily.
_KEEP = ("tex-mml-chtml.js", "a11y/", "adaptors/", "input/", "output/", "sre/", "ui/")
_STAMP = ".integrity"


def target_dir(root: Path | None = None) -> Path:
    """``book/_static/mathjax``, where the pinned MathJax is unpacked."""
    return Path(root or paths.repo_root()) / "book" / "_static" / "mathjax"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def installed_problem(root: Path | None = None) -> str | None:
    """Why the unpacked MathJax cannot be used, or None when it is the pinned one."""
    target = target_dir(root)
    stamp = target / _STAMP
    if not (target / "tex-mml-chtml.js").is_file() or not stamp.is_file():
        return f"MathJax {VERSION} is not unpacked in {target}: run `make mathjax`"
    if stamp.read_text().strip() != INTEGRITY:
        return (f"{target} was unpacked from another MathJax tarball than the pinned {VERSION}: "
                "run `make mathjax`")
    return None


def _fetch(tmp: Path) -> Path:
    local = os.environ.get("REPRO_MATHJAX_TARBALL")
    if local:
        return Path(local)
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is not installed, so MathJax {VERSION} cannot be fetched. Install Node.js's npm "
            f"(Debian: apt-get install npm), or get the tarball `npm pack mathjax@{VERSION}` "
            "elsewhere and set REPRO_MATHJAX_TARBALL to its path")
    proc = subprocess.run([npm, "pack", f"mathjax@{VERSION}", "--pack-destination", str(tmp)],
                          capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError(f"npm pack mathjax@{VERSION} failed:\n{proc.stderr.strip()}")
    return tmp / f"mathjax-{VERSION}.tgz"


def ensure(root: Path | None = None) -> Path:
    """Unpack the pinned MathJax into ``book/_static/mathjax`` unless it is there already."""
    target = target_dir(root)
    if installed_problem(root) is None:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tarball = _fetch(tmp)
        data = tarball.read_bytes()
        got = _integrity(data)
        if got != INTEGRITY:
            raise RuntimeError(f"{tarball}: checksum {got} is not the pinned MathJax {VERSION} "
                               f"({INTEGRITY}); refusing to use it")
        staging = target.with_name(f".mathjax-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = []
            for m in tar.getmembers():
                rel = m.name.removeprefix("package/es5/")
                if m.name.startswith("package/es5/") and (m.isfile() or m.isdir()) \
                        and any(rel == k or rel.startswith(k) for k in _KEEP):
                    m.name = rel
                    members.append(m)
            tar.extractall(staging, members=members, filter="data")
        (staging / _STAMP).write_text(INTEGRITY + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``make mathjax``: exit status 0, or 1 when MathJax could not be fetched or checked."""
    try:
        target = ensure()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MathJax {VERSION} ({INTEGRITY[:19]}...) in {target.relative_to(paths.repo_root())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
