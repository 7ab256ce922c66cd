"""The repository's own machinery: the paper folder contract, notebook anatomy, the reproduce
runner and the book/README sync. Researchers rarely need it; notebooks use :func:`paper_module`."""

from common.project.notebooks import paper_module
from common.project.paperyml import PaperSpecError, list_papers, load_paper

__all__ = ["paper_module", "PaperSpecError", "list_papers", "load_paper"]
