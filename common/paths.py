"""Where things live: the repository root, the papers, the data and the results folders.

Nothing here touches the disk at import time. Every function resolves its answer when called, so
environment variables set after import (by the reproduce runner, by tests) are honoured.

Environment variables:

- ``REPRO_DATA_DIR``     a folder with verified dataset files (laid out as ``<dataset>/<file>``);
                         searched before ``<root>/data`` (DESIGN.md section 6).
- ``REPRO_RESULTS_DIR``  the folder one notebook run writes to; set by ``make reproduce`` to a
                         staging folder so nothing half-written lands in ``results/``.
- ``REPRO_ROOT``         use another folder as the repository root (it must hold ``papers/`` and
                         ``pyproject.toml``); tests use it to run the machinery on a scratch copy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "repo_root",
    "papers_dir",
    "paper_dir",
    "data_dir",
    "data_search_path",
    "results_root",
    "notebook_results_dir",
    "SLUG_RE",
]

#: A paper slug: lower-case words joined by single hyphens (``ngn-m``, ``clip21-sgd2m``).
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def repo_root() -> Path:
    """The repository root: the folder holding ``pyproject.toml`` and ``papers/``.

    Found from this file's location (an editable install or a checkout), so it works from any
    working directory, in papermill, in nbval and in Colab after the bootstrap cell.
    """
    env = os.environ.get("REPRO_ROOT")
    here = Path(env).expanduser().resolve() if env else Path(__file__).resolve().parent.parent
    if (here / "papers").is_dir() and (here / "pyproject.toml").is_file():
        return here
    if env:
        raise FileNotFoundError(f"REPRO_ROOT={env} has no papers/ and pyproject.toml")
    raise FileNotFoundError(
        f"common is installed from {here}, which is not a checkout of the repository "
        "(no papers/ and pyproject.toml beside it). Install it editable from a clone: "
        "`pip install -c constraints.txt -e .`"
    )


def papers_dir() -> Path:
    """``<root>/papers``, one folder per paper."""
    return repo_root() / "papers"


def paper_dir(slug: str) -> Path:
    """``papers/<slug>``; raises ``ValueError`` for a malformed or unknown slug."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValueError(f"paper slug {slug!r} is malformed: use lower-case words and hyphens")
    path = papers_dir() / slug
    if not path.is_dir():
        known = sorted(p.name for p in papers_dir().iterdir() if (p / "paper.yml").is_file())
        raise ValueError(f"unknown paper {slug!r}; known papers: {', '.join(known)}")
    return path


def data_search_path() -> list[Path]:
    """Folders searched for dataset files, in order: ``$REPRO_DATA_DIR``, then ``<root>/data``."""
    out = []
    env = os.environ.get("REPRO_DATA_DIR")
    if env:
        out.append(Path(env).expanduser().resolve())
    out.append(data_dir())
    return out


def data_dir() -> Path:
    """``<root>/data``: where downloads go (git-ignored)."""
    return repo_root() / "data"


def results_root() -> Path:
    """``<root>/results``: everything runs write (git-ignored)."""
    return repo_root() / "results"


def notebook_results_dir(paper: str, notebook: str, scale: str) -> Path:
    """The folder one notebook run writes to.

    ``$REPRO_RESULTS_DIR`` when set (the reproduce runner points it at a staging folder that is
    moved into place only when the notebook finished), else
    ``results/<paper>/<scale>/<notebook>``.
    """
    env = os.environ.get("REPRO_RESULTS_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return results_root() / paper / scale / notebook
