"""``make notebooks PAPER=<slug> [NOTEBOOK=<name>]``: re-execute notebooks in place at cpu scale.

Run this after changing a notebook or the code it calls, then commit the notebooks: the book
renders their outputs and nbval compares their claims cells. ``PAPER=all`` re-executes every paper.
"""

from __future__ import annotations

import argparse
import os
import sys

from common.project.notebooks import execute_in_place
from common.project.paperyml import PaperSpecError, list_papers, load_paper
from common.project.reproduce import UsageError, select_notebooks


def main(argv: list[str] | None = None) -> int:
    """``make notebooks``: exit status 0, or 2 for bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", default=os.environ.get("PAPER", ""))
    parser.add_argument("--notebook", default=os.environ.get("NOTEBOOK") or None)
    args = parser.parse_args(argv)
    valid = list_papers()
    if args.paper not in [*valid, "all"]:
        print(f"error: unknown PAPER {args.paper!r}; valid: {' '.join(valid)} all", file=sys.stderr)
        return 2
    for slug in valid if args.paper == "all" else [args.paper]:
        try:
            paper = load_paper(slug)
            stems = select_notebooks(paper, args.notebook)
        except (UsageError, PaperSpecError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for stem in stems:
            seconds = execute_in_place(paper.dir / f"{stem}.ipynb")
            print(f"[{slug}] {stem}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
