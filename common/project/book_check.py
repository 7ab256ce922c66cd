"""Check the built book's HTML: every paper chapter, its claims table and its notebooks' Colab
links, without a browser.

    python -m common.project.book_check book/_build/html

Run by ``make book`` after the build, before :mod:`common.project.browser_check` opens every page
in Chromium. Exits 1 with a list of problems.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

from common.project.notebooks import repo_config
from common.project.paperyml import list_papers, load_paper

__all__ = ["check_book", "colab_url"]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.tables = 0
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self._in_th = True
            self.headers.append("")

    def handle_endtag(self, tag):
        if tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th:
            self.headers[-1] += data.strip()


def colab_url(slug: str, notebook_file: str) -> str:
    """The Colab launch URL of a notebook, as the book's launch button builds it."""
    cfg = repo_config()
    owner_repo = cfg["repository"].removeprefix("https://github.com/").rstrip("/")
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/{cfg['ref']}/"
            f"papers/{slug}/{notebook_file}")


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def check_book(html_dir: str | Path) -> list[str]:
    """Every problem of the built book in ``html_dir`` (an empty list when there is none)."""
    html_dir = Path(html_dir)
    problems = []
    if not (html_dir / "index.html").is_file():
        return [f"{html_dir}/index.html is missing: the book did not build"]
    for slug in list_papers():
        paper = load_paper(slug)
        chapter = html_dir / "papers" / slug / "index.html"
        if not chapter.is_file():
            problems.append(f"chapter {chapter} is missing")
            continue
        page = _parse(chapter)
        if not {"Claim", "Kind", "Status", "Margin"} <= set(page.headers):
            problems.append(f"{chapter}: no claims table (headers seen: {page.headers})")
        for nb in paper.notebooks:
            nb_page = html_dir / "papers" / slug / f"{nb.stem}.html"
            if not nb_page.is_file():
                problems.append(f"notebook page {nb_page} is missing")
                continue
            if colab_url(slug, nb.file) not in _parse(nb_page).hrefs:
                problems.append(f"{nb_page}: no Colab launch link to {colab_url(slug, nb.file)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    problems = check_book(argv[0] if argv else "book/_build/html")
    for p in problems:
        print("book check:", p, file=sys.stderr)
    if not problems:
        print("book check: every chapter has its claims table and Colab links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
