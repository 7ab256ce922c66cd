"""The newcomer documents point at things that exist and say where the book is."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO


def _paths_named(text: str) -> set[str]:
    """Repository paths a document names: in backquotes or as Markdown link targets."""
    names = set(re.findall(r"`([^`\s]+)`", text)) | set(re.findall(r"\]\(([^)#\s]+)\)", text))
    out = set()
    for n in names:
        n = n.rstrip(".,:;")
        if re.search(r"[<>*{}$=]|^https?:|^\.\.|^-", n) or "NN_" in n:
            continue  # placeholders, URLs, options
        if "/" in n or re.search(r"\.(py|md|yml|yaml|toml|txt|cfg)$", n):
            out.add(n.split("::")[0])
    return out


def test_contributing_references_exist():
    """Each path CONTRIBUTING.md names exists, at the root or in every paper folder (``index.md``,
    ``paper.yml``, ``params/paper.yaml`` are the paper folder contract's files)."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    folders = [REPO, *(p.parent for p in (REPO / "papers").glob("*/paper.yml"))]
    missing = [name for name in sorted(_paths_named(text))
               if not any((f / name.rstrip("/")).exists() for f in folders)
               and not (name == "lib.py" and any((f / "lib.py").exists() for f in folders))]
    assert "DESIGN.md" in text and (REPO / "DESIGN.md").is_file()
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_readme_says_how_to_build_and_where_the_book_is():
    readme = (REPO / "README.md").read_text()
    book_url = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["repro"]["book"]
    assert book_url in readme and "make book" in readme
    assert "book/_build/html/index.html" in readme
    intro = (REPO / "book" / "intro.md").read_text()
    assert book_url.rstrip("/") in intro


def test_no_fixed_paper_count_in_the_newcomer_text():
    for doc in ("README.md", "book/intro.md", "book/_config.yml"):
        assert "sixteen" not in (REPO / doc).read_text().lower(), doc
