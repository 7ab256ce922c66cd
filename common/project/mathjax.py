"""A pinned, checksummed MathJax for the book, so its math renders without network.

    python -m common.project.mathjax            # make mathjax (run by make book)

The official ``mathjax`` package of the npm registry, version :data:`VERSION`, is fetched with
npm's own client (:mod:`common.project.npm`), its tarball is checked against :data:`INTEGRITY`
(the registry's SHA-512 ``dist.integrity``), and the browser build (``es5/``: the combined TeX +
MathML + CHTML entry point and the components it loads on demand: fonts, TeX extensions, menu,
accessibility) is unpacked into ``book/_static/mathjax/`` (git-ignored). Sphinx copies
``book/_static`` into the built HTML and ``mathjax_path`` (``book/_config.yml``) points there, so
no page loads anything from a CDN.

The book extension (:mod:`common.project.bookext`) refuses to build when the unpacked copy is
missing or was unpacked from another tarball.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import paths
from common.project import npm

__all__ = ["VERSION", "INTEGRITY", "ENTRY", "target_dir", "installed_problem", "ensure", "main"]

VERSION = "3.2.2"
#: ``npm view mathjax@3.2.2 dist.integrity``
INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+"
             "geW0OhGw==")
#: The entry point Sphinx loads (``mathjax_path``, relative to ``_static``).
ENTRY = "mathjax/tex-mml-chtml.js"
#: What of ``package/es5/`` the book needs: the entry point and the components it loads lazily.
_KEEP = ("tex-mml-chtml.js", "a11y/", "adaptors/", "input/", "output/", "sre/", "ui/")


def target_dir(root: Path | None = None) -> Path:
    """``book/_static/mathjax``, where the pinned MathJax is unpacked."""
    return Path(root or paths.repo_root()) / "book" / "_static" / "mathjax"


def installed_problem(root: Path | None = None) -> str | None:
    """Why the unpacked MathJax cannot be used, or None when it is the pinned one."""
    target = target_dir(root)
    if not (target / "tex-mml-chtml.js").is_file():
        return f"MathJax {VERSION} is not unpacked in {target}: run `make mathjax`"
    if not npm.installed(target, INTEGRITY):
        return (f"{target} was unpacked from another MathJax tarball than the pinned {VERSION}: "
                "run `make mathjax`")
    return None


def ensure(root: Path | None = None) -> Path:
    """Unpack the pinned MathJax into ``book/_static/mathjax`` unless it is there already."""
    return npm.fetch("mathjax", VERSION, INTEGRITY, target_dir(root), subdir="es5",
                     keep=lambda rel: any(rel == k or rel.startswith(k) for k in _KEEP))


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
