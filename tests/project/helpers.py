"""Build fake papers in a scratch repository (see the ``scratch_repo`` fixture)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from common.project.notebooks import NBVAL_MARKER, bootstrap_source

PARAMS = 'scale: str = "cpu"  # results folder\nthreshold: float = 1.0  # bound of the claim\n'


def claims_cell(slug: str, stem: str, checks: str) -> str:
    return (f"{NBVAL_MARKER}\nfrom common.project.claims import Claims\n"
            f"claims = Claims({slug!r}, {stem!r})\n{checks}\nclaims.finish()")


def make_notebook(path: Path, slug: str, stem: str, checks: str, body: str = "") -> Path:
    cells = [nbformat.v4.new_markdown_cell("# Demo\n\nA test notebook."),
             nbformat.v4.new_code_cell(bootstrap_source()),
             nbformat.v4.new_code_cell(PARAMS),
             nbformat.v4.new_code_cell(body or "value = 0.5 * threshold"),
             nbformat.v4.new_code_cell(claims_cell(slug, stem, checks))]
    cells[1].metadata["tags"] = ["hide-input"]
    cells[2].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(path))
    return path


def make_paper(root: Path, slug: str, *, claims=(("C1", "hard"),), checks: str | None = None,
               body: str = "", extra: dict | None = None,
               claim_extra: dict[str, dict] | None = None) -> Path:
    """A paper with one notebook; ``claim_extra`` adds keys to a claim's entry, by id."""
    folder = root / "papers" / slug
    (folder / "params").mkdir(parents=True, exist_ok=True)
    spec = {
        "title": "A demo paper", "short_title": "Demo", "authors": ["A. Author"],
        "arxiv": "2501.00001", "venue": "preprint", "year": 2025, "official_code": None,
        "notes_confidence": "reconstructed", "bibtex": "demo2025", "summary": "A demo.",
        "notebooks": [{"file": "01_demo.ipynb", "title": "Demo"}],
        "claims": [{"id": cid, "kind": "paper", "statement": f"claim {cid}", "where": "Fig. 1",
                    "paper_reports": "something", "check": kind, "notebook": "01_demo",
                    **({"reason": "too small"} if kind == "report" else {})}
                   for cid, kind in claims],
    }
    for c in spec["claims"]:
        c.update((claim_extra or {}).get(c["id"], {}))
    spec.update(extra or {})
    (folder / "paper.yml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    (folder / "params" / "paper.yaml").write_text("01_demo:\n  threshold: 2.0\n")
    if checks is None:
        checks = "\n".join(f'claims.check({cid!r}, "value", value, "<", threshold)'
                           for cid, _ in claims)
    make_notebook(folder / "01_demo.ipynb", slug, "01_demo", checks, body)
    (folder / "index.md").write_text("# Demo\n\n<!-- claims:start -->\n<!-- claims:end -->\n")
    return folder
