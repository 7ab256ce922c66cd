"""Generated files are in sync; the bootstrap cell is identical everywhere; TOC from paper.yml."""

from __future__ import annotations

import yaml

from common.project import notebooks as nbmod
from common.project.book_check import colab_url
from common.project.paperyml import list_papers, load_paper
from common.project.sync import render_toc, sync
from tests.conftest import REPO


def test_everything_generated_is_in_sync():
    assert sync(check=True) == [], "run `make sync` and commit"


def test_bootstrap_cell_is_a_noop_outside_colab():
    ns: dict = {}
    exec(compile(nbmod.bootstrap_source(), "bootstrap", "exec"), ns)
    assert "_repo" not in ns  # the install branch did not run


def test_bootstrap_uses_the_one_configured_repository():
    cfg = nbmod.repo_config()
    src = nbmod.bootstrap_source()
    assert cfg["repository"] in src and f'"{cfg["ref"]}"' in src
    book = yaml.safe_load((REPO / "book" / "_config.yml").read_text())
    assert book["repository"]["url"] == cfg["repository"]
    assert book["repository"]["branch"] == cfg["ref"]
    assert book["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_a_drifted_bootstrap_is_detected_and_repaired(scratch_repo):
    from tests.project.helpers import make_paper

    folder = make_paper(scratch_repo, "demo-paper")
    nb_path = folder / "01_demo.ipynb"
    import nbformat

    nb = nbformat.read(str(nb_path), 4)
    nb.cells[1].source = nb.cells[1].source.replace("--depth", "--deep")
    nbformat.write(nb, str(nb_path))
    assert nbmod.sync_bootstrap(nb_path, check=True)
    assert nbmod.sync_bootstrap(nb_path)
    assert not nbmod.sync_bootstrap(nb_path, check=True)


def test_toc_lists_every_paper_and_notebook():
    toc = yaml.safe_load(render_toc())
    chapters = toc["parts"][0]["chapters"]
    assert [c["file"] for c in chapters] == [f"papers/{s}/index" for s in list_papers()]
    for chapter, slug in zip(chapters, list_papers()):
        assert [s["file"] for s in chapter["sections"]] == [
            f"papers/{slug}/{nb.stem}" for nb in load_paper(slug).notebooks]


def test_colab_url():
    cfg = nbmod.repo_config()
    url = colab_url("ngn-m", "01_toy_stability.ipynb")
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith(f"/blob/{cfg['ref']}/papers/ngn-m/01_toy_stability.ipynb")
