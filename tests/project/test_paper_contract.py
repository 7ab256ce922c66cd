"""The paper folder contract, on every real paper and on broken copies of a fake one."""

from __future__ import annotations

import ast
import dataclasses
import re

import pytest
import yaml

from common.project.notebooks import anatomy_problems, notebook_parameters
from common.project.paperyml import PaperSpecError, list_papers, load_paper
from tests.conftest import REPO
from tests.project.helpers import make_paper

PAPERS = list_papers()


def test_there_are_papers():
    assert "ngn-m" in PAPERS


def test_bibliography_parses_and_cites_each_paper_once():
    """A brace lost in a merge breaks the whole book build (sphinxcontrib-bibtex); catch it here."""
    pybtex = pytest.importorskip("pybtex.database")
    bib = pybtex.parse_file(str(REPO / "book" / "references.bib"))  # raises on a syntax error
    keys = [load_paper(s).bibtex for s in PAPERS]
    missing = [k for k in keys if k not in bib.entries]
    assert not missing, f"paper.yml bibtex keys missing from book/references.bib: {missing}"


@pytest.mark.parametrize("slug", PAPERS)
def test_paper_yml_validates(slug):
    paper = load_paper(slug)
    assert paper.claims and paper.notebooks
    paper.paper_params()  # every paper-scale parameter exists in its notebook
    bib = (REPO / "book" / "references.bib").read_text()
    assert f"{{{paper.bibtex}," in bib, f"{paper.bibtex} is not in book/references.bib"
    index = (paper.dir / "index.md").read_text()
    assert "<!-- claims:start -->" in index and "## Deviations from the paper" in index


NOTEBOOKS = [(s, nb.file) for s in PAPERS for nb in load_paper(s).notebooks]


@pytest.mark.parametrize("slug,nb", NOTEBOOKS)
def test_notebook_anatomy(slug, nb):
    assert anatomy_problems(REPO / "papers" / slug / nb) == []


def test_math_in_a_notebook_title_is_an_anatomy_problem(tmp_path):
    """The title becomes the page <title> and a navigation entry on every page, where TeX is not
    rendered (the book's browser check found it only after a 5-minute build)."""
    import nbformat

    slug, nb = NOTEBOOKS[0]
    notebook = nbformat.read(REPO / "papers" / slug / nb, as_version=4)
    first, _, rest = notebook.cells[0].source.partition("\n")
    notebook.cells[0].source = "# The $\\sqrt{r/N}$ rate\n" + rest
    broken = tmp_path / nb
    nbformat.write(notebook, broken)
    assert any("must not contain math" in p for p in anatomy_problems(broken))


@pytest.mark.parametrize("slug", PAPERS)
def test_claims_are_checked_in_the_committed_outputs(slug):
    """Every claim of paper.yml appears in its notebook's committed claims output."""
    from common.project.sync import committed_claims

    paper = load_paper(slug)
    got = {r["id"]: r for r in committed_claims(paper)}
    assert set(got) == {c.id for c in paper.claims}
    for c in paper.claims:
        assert got[c.id]["notebook"] == c.notebook
        if c.hard:  # a hard check whose margin lies inside the seed spread is REPORT (fragile)
            assert (got[c.id]["status"] in ("PASS", "FAIL")
                    or (got[c.id]["status"] == "REPORT" and got[c.id].get("fragile")))
        else:
            assert got[c.id]["status"] == "REPORT"


def _edit(folder, fn):
    data = yaml.safe_load((folder / "paper.yml").read_text())
    fn(data)
    (folder / "paper.yml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("edit,match", [
    (lambda d: d.update(claimz=d.pop("claims")),
     r"unknown key 'claimz' \(did you mean 'claims'\?\)"),
    (lambda d: d.pop("venue"), "missing required key 'venue'"),
    (lambda d: d["notebooks"].append({"file": "02_missing.ipynb", "title": "x"}),
     "'02_missing.ipynb' does not exist"),
    (lambda d: d["claims"][0].update(check="soft"), "'check' must be 'hard' or 'report'"),
    (lambda d: d["claims"][0].update(id="claim1"), "must look like C1"),
    (lambda d: d["claims"][0].update(notebook="09_other"), "is not in 'notebooks'"),
    (lambda d: d["claims"][0].update(check="report"), "say why in 'reason'"),
    (lambda d: d["claims"].append(dict(d["claims"][0])), "duplicate claim ids"),
    (lambda d: d.update(arxiv="2501.1"), "'arxiv' must look like"),
    (lambda d: d["claims"][0].update(statment="x"), "did you mean 'statement'"),
])
def test_broken_paper_yml_is_a_clear_error(scratch_repo, edit, match):
    folder = make_paper(scratch_repo, "demo-paper")
    _edit(folder, edit)
    with pytest.raises(PaperSpecError, match=match):
        load_paper("demo-paper")


def test_paper_params_must_name_notebook_parameters(scratch_repo):
    folder = make_paper(scratch_repo, "demo-paper")
    assert load_paper("demo-paper").paper_params() == {"01_demo": {"threshold": 2.0}}
    (folder / "params" / "paper.yaml").write_text("01_demo:\n  treshold: 2.0\n")
    with pytest.raises(PaperSpecError, match="did you mean 'threshold'"):
        load_paper("demo-paper").paper_params()
    (folder / "params" / "paper.yaml").write_text("02_demo: {}\n")
    with pytest.raises(PaperSpecError, match="unknown key '02_demo'"):
        load_paper("demo-paper").paper_params()


def test_parameters_cell_parsing(scratch_repo):
    folder = make_paper(scratch_repo, "demo-paper")
    params = notebook_parameters(folder / "01_demo.ipynb")
    assert params["threshold"].default == 1.0 and params["threshold"].annotation == "float"
    from common.project.notebooks import parse_parameters

    for bad, match in [("x = 1  # no type", "only `name: type"), ("x: int = 1", "needs a comment"),
                       ("x: list = [1]  # a list", "allowed"), ("x: int = f()  # call", "literal"),
                       ("x: int = 1  # stops at f <= 1", "papermill")]:
        with pytest.raises(ValueError, match=match):
            parse_parameters(bad)


_CONFIG_CALL = re.compile(r"lib\.(\w+)\.from_namespace\("
                          r"(\{\*\*globals\(\)(?P<extra>[^}]*)\}|globals\(\))\)")


def _assigned_names(source: str) -> set[str]:
    """Names a code cell binds at top level (assignments, annotated assignments, for targets)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: a cell we cannot parse defines nothing we rely on
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For)):
            targets = [node.target]
        for t in targets:
            names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("slug,nb", NOTEBOOKS)
def test_notebook_defines_every_config_field(slug, nb):
    """Every field of the config a notebook builds with ``lib.X.from_namespace`` is defined by a
    cell before it (in practice the parameters cell), so a field added to a paper's config cannot
    leave a committed notebook failing only in nbval (clip21-sgd2m 03 did, once)."""
    import nbformat

    from common.project.notebooks import paper_module

    notebook = nbformat.read(REPO / "papers" / slug / nb, as_version=4)
    defined: set[str] = set()
    calls = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for m in _CONFIG_CALL.finditer(cell.source):
            calls += 1
            extra = set(re.findall(r"[\"'](\w+)[\"']\s*:", m.group("extra") or ""))
            cls = getattr(paper_module(slug), m.group(1))
            fields = {f.name for f in dataclasses.fields(cls)}
            missing = sorted(fields - defined - extra)
            assert not missing, f"{nb}: {cls.__name__} field(s) {missing} are not defined before it"
        defined |= _assigned_names(cell.source)
    if "from_namespace" in "".join(c.source for c in notebook.cells):
        assert calls, f"{nb}: a from_namespace call this test does not recognise"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.mark.parametrize("slug", PAPERS)
def test_paper_sources_hold_no_control_characters(slug):
    """A TeX macro written into a non-raw Python string loses its backslash: '\\approx' becomes
    BEL + 'pprox', which MathJax cannot render (adaptive-sde 02 had one). No source of a paper
    (notebook cells, chapter, paper.yml) may hold a control character other than tab and newline."""
    import nbformat

    folder = REPO / "papers" / slug
    found = []
    for path in sorted(folder.glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(str(path), 4).cells):
            src = cell.source
            found += [f"{path.name} cell {i}: {m.group()!r} in "
                      f"{src[max(0, m.start() - 20):m.end() + 20]!r}"
                      for m in _CONTROL.finditer(src)]
    for path in (folder / "index.md", folder / "paper.yml"):
        found += [f"{path.name}: {m.group()!r}" for m in _CONTROL.finditer(path.read_text())]
    assert found == []
