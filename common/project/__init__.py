"""The repository's own machinery: the paper folder contract, a notebook's run and its claims,
the reproduce runner and the book/README sync. The library packages never import it.

Notebooks use three names from here::

    lib = paper_module("ngn-m")                                # papers/ngn-m/lib.py
    run = start_run("ngn-m", "02_mlp_mnist", cfg, scale=scale, seed=0)
    claims = run.claims()                                      # a :class:`Claims`
"""

from common.project.claims import Claims
from common.project.notebooks import paper_module
from common.project.paperyml import PaperSpecError, list_papers, load_paper
from common.project.run import SCALES, Run, start_run

__all__ = ["paper_module", "PaperSpecError", "list_papers", "load_paper", "Claims", "Run",
           "SCALES", "start_run"]
