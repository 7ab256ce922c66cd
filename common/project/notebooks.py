"""Notebook anatomy (DESIGN.md section 3): the bootstrap, parameters and claims cells.

Every notebook is, in order: a markdown title cell; the Colab bootstrap cell
(:func:`bootstrap_source`, identical everywhere); the ``parameters`` cell (literals only, each
annotated and commented); the config cell; compute and figure cells; and last the claims cell,
the only one marked ``# NBVAL_CHECK_OUTPUT``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
import tokenize
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from common import paths
from common.modules import load_module_file

__all__ = ["ParamSpec", "notebook_parameters", "parse_parameters", "bootstrap_source",
           "anatomy_problems", "sync_bootstrap", "execute_in_place", "local_kernel",
           "paper_module", "repo_config", "NBVAL_MARKER", "check_parameters",
           "check_injected_parameters", "claim_references"]

NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"
#: The book collapses the bootstrap cell's source (Jupyter Book's ``hide-input`` tag).
BOOTSTRAP_TAG = "hide-input"
_ALLOWED_TYPES = {"int", "float", "str", "bool", "tuple[int, ...]", "tuple[float, ...]",
                  "tuple[str, ...]", "int | None", "float | None", "str | None"}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    annotation: str
    default: Any
    comment: str


@lru_cache(maxsize=1)
def repo_config() -> dict[str, str]:
    """``[tool.repro]`` of pyproject.toml: the repository URL, the pinned ref and the branch."""
    data = tomllib.loads((paths.repo_root() / "pyproject.toml").read_text(encoding="utf-8"))
    cfg = data["tool"]["repro"]
    return {"repository": cfg["repository"], "ref": cfg["ref"], "branch": cfg["branch"]}


def bootstrap_source() -> str:
    """The Colab bootstrap cell, built from ``[tool.repro]`` (see :mod:`common.project.colab`)."""
    from common.project.colab import bootstrap_source as _source

    return _source(repo_config())


def parse_parameters(source: str, where: str = "parameters cell") -> dict[str, ParamSpec]:
    """Parse a parameters cell: ``name: type = literal  # comment`` lines only.

    Raises ``ValueError`` naming the line when a statement is not an annotated literal assignment,
    the type is not one of the allowed simple types, or the comment is missing.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{where}: not valid Python: {exc}") from None
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out: dict[str, ParamSpec] = {}
    for node in tree.body:
        line = node.lineno
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.value is not None):
            raise ValueError(f"{where}, line {line}: only `name: type = literal  # comment` "
                             "statements are allowed")
        name = node.target.id
        annotation = ast.unparse(node.annotation)
        if annotation not in _ALLOWED_TYPES:
            raise ValueError(f"{where}, line {line}: type of {name!r} is {annotation!r}; "
                             f"allowed: {sorted(_ALLOWED_TYPES)}")
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{where}, line {line}: {name!r} must be a literal") from None
        comment = comments.get(node.end_lineno, "")
        if not comment:
            raise ValueError(f"{where}, line {line}: {name!r} needs a comment saying what it is")
        if "=" in comment:
            raise ValueError(f"{where}, line {line}: the comment of {name!r} contains '=', which "
                             "papermill's parameter parser cannot read; rephrase it")
        out[name] = ParamSpec(name, annotation, default, comment)
    return out


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def _parameters_cell(nb):
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def notebook_parameters(path: str | Path) -> dict[str, ParamSpec]:
    """The parameters declared in a notebook's ``parameters``-tagged cell."""
    path = Path(path)
    cell = _parameters_cell(_read(path))
    if cell is None:
        raise ValueError(f"{path.name}: no cell tagged 'parameters'")
    return parse_parameters(cell.source, f"{path.name} parameters cell")


def _matches(annotation: str, value: Any) -> bool:
    """Whether ``value`` (a YAML or papermill value) fits a parameters-cell annotation."""
    if " | None" in annotation:
        return value is None or _matches(annotation.replace(" | None", ""), value)
    if annotation.startswith("tuple["):
        inner = annotation[len("tuple["):-len(", ...]")]
        return isinstance(value, (list, tuple)) and all(_matches(inner, v) for v in value)
    if annotation == "bool":
        return isinstance(value, bool)
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation == "str":
        return isinstance(value, str)
    return True


def check_parameters(path: str | Path, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless every name in ``params`` is a parameter of the notebook at
    ``path`` (its ``parameters`` cell) and every value fits that parameter's type.

    papermill only warns about an unknown name and runs the notebook with its default, so a
    misspelled parameter would silently change nothing; this check runs before execution.
    """
    path = Path(path)
    declared = notebook_parameters(path)
    problems = _unknown_names(path, declared, params)
    problems += [f"{name} = {value!r} does not match its type {declared[name].annotation} in "
                 f"{path.name}" for name, value in params.items()
                 if name in declared and not _matches(declared[name].annotation, value)]
    if problems:
        raise ValueError("; ".join(problems))


def _unknown_names(path: Path, declared: dict[str, ParamSpec], names) -> list[str]:
    import difflib

    problems = []
    for name in names:
        if name not in declared:
            close = difflib.get_close_matches(str(name), list(declared), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{name!r} is not a parameter of {path.name}{hint}; its "
                            f"parameters are {', '.join(declared)}")
    return problems


#: The first line papermill writes into the cell of injected parameters (Python kernels).
_INJECTED_HEADER = "# Parameters"


def check_injected_parameters(paper: str, notebook: str) -> None:
    """Inside a kernel run by papermill: raise ``ValueError`` if papermill injected a name that
    the notebook's ``parameters`` cell does not declare (``-p sanity_lrr 0.5``).

    papermill warns and runs on, so the misspelled value would be ignored and the defaults
    used; this is called by :func:`common.project.start_run`, before any computation. The names
    are read from the kernel's input history (papermill's injected cell starts with
    ``# Parameters``) and compared with the notebook file's ``parameters`` cell. Outside IPython,
    or without injected parameters, it does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover (IPython comes with ipykernel)
        return
    shell = get_ipython()
    if shell is None:
        return
    injected = [src for src in shell.user_ns.get("_ih", []) or []
                if isinstance(src, str) and src.startswith(_INJECTED_HEADER + "\n")]
    if not injected:
        return
    try:
        tree = ast.parse(injected[-1])
    except SyntaxError:
        return
    names = {t.id for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    path = paths.paper_dir(paper) / f"{notebook}.ipynb"
    if path.is_file():
        problems = _unknown_names(path, notebook_parameters(path), sorted(names))
        if problems:
            raise ValueError("papermill injected " + "; ".join(problems))


def claim_references(path: str | Path) -> set[str]:
    """The claim ids the notebook's claims cell mentions: every string literal of that cell that
    is a claim id (``"C3"``, ``"C5b"``), whether passed to ``claims.check`` directly or through a
    loop over ids."""
    from common.project.paperyml import CLAIM_ID_RE

    nb = _read(Path(path))
    cells = [c for c in nb.cells if c.cell_type == "code" and NBVAL_MARKER in c.source]
    ids: set[str] = set()
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        ids.update(node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)
                   and CLAIM_ID_RE.match(node.value))
    return ids


def anatomy_problems(path: str | Path) -> list[str]:
    """Every way a notebook departs from the anatomy; an empty list when it conforms."""
    path = Path(path)
    nb = _read(path)
    cells = nb.cells
    problems = []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        problems.append("the first cell must be a markdown cell starting with '# <title>'")
    elif "$" in cells[0].source.splitlines()[0]:
        # the title is the page's <title> and every page's navigation entry, where MathJax does
        # not run: TeX would show as source on all pages (the book's browser check)
        problems.append("the title (first line) must not contain math: write it in Unicode")
    if len(cells) < 2 or cells[1].cell_type != "code" or cells[1].source != bootstrap_source() \
            or BOOTSTRAP_TAG not in cells[1].get("metadata", {}).get("tags", []):
        problems.append("the second cell must be the bootstrap cell (run `make sync`)")
    if len(cells) < 3 or _parameters_cell(nb) is not cells[2]:
        problems.append("the third cell must be the code cell tagged 'parameters'")
    else:
        try:
            params = parse_parameters(cells[2].source, "parameters cell")
            if "scale" not in params or params["scale"].default != "cpu":
                problems.append("the parameters cell must declare `scale: str = \"cpu\"`")
        except ValueError as exc:
            problems.append(str(exc))
    code = [c for c in cells if c.cell_type == "code"]
    marked = [c for c in code if NBVAL_MARKER in c.source]
    if not code or NBVAL_MARKER not in code[-1].source or len(marked) != 1:
        problems.append(f"the last code cell (and only it) must be the claims cell with "
                        f"'{NBVAL_MARKER}'")
    for i, c in enumerate(code):
        if c.source.strip() and c.get("execution_count") is None:
            problems.append(f"code cell {i} has not been executed: commit the notebook with "
                            "the outputs of its default scale (`make notebooks PAPER=...`)")
            break
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            problems.append(f"code cell {i} has an error output")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernelspec must be 'python3'")
    return problems


def sync_bootstrap(path: str | Path, *, check: bool = False) -> bool:
    """Make the second cell the current bootstrap cell; return True if the file changed.

    With ``check=True`` nothing is written (returns whether a change is needed).
    """
    path = Path(path)
    nb = _read(path)
    source = bootstrap_source()
    second = nb.cells[1] if len(nb.cells) > 1 else None
    if (second is not None and second.cell_type == "code" and second.source == source
            and BOOTSTRAP_TAG in second.get("metadata", {}).get("tags", [])):
        return False
    if check:
        return True
    if second is None or second.cell_type != "code" or "Colab bootstrap" not in second.source:
        second = nbformat.v4.new_code_cell(source)
        second.pop("id", None)
        nb.cells.insert(1, second)
    second.source = source
    tags = second.metadata.setdefault("tags", [])
    if BOOTSTRAP_TAG not in tags:
        tags.append(BOOTSTRAP_TAG)
    _write(nb, path)
    return True


def _write(nb, path: Path) -> None:
    from common.experiment.store import atomic_write_text

    atomic_write_text(path, nbformat.writes(nb) + "\n")


def _clean_metadata(nb) -> None:
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)


@contextlib.contextmanager
def local_kernel():
    """A python3 kernel manager on local IPC sockets (no TCP port, so no unencrypted-TCP
    warning), shut down on exit (else the kernel outlives its parent and prints "Parent appears
    to have exited"). Used by ``make reproduce`` and ``make notebooks``."""
    import tempfile

    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="repro-kernel-") as tmp:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(tmp) / "k"))
        try:
            yield km
        finally:
            try:
                if km.has_kernel:
                    km.shutdown_kernel(now=False)
                km.cleanup_resources()
            except Exception:  # best effort: the kernel may be gone already (a crash, Ctrl-C)
                pass


def execute_in_place(path: str | Path, *, timeout: int = 900) -> float:
    """Re-execute a notebook at its default (cpu) scale and save its outputs; returns seconds.

    Volatile metadata (timings, papermill records) is stripped so diffs show only real changes.
    """
    import os
    import time

    from nbclient import NotebookClient

    path = Path(path)
    nb = _read(path)
    env_backup = os.environ.pop("REPRO_RESULTS_DIR", None)
    t0 = time.perf_counter()
    try:
        with local_kernel() as km:
            NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                           record_timing=False,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_backup is not None:
            os.environ["REPRO_RESULTS_DIR"] = env_backup
    _clean_metadata(nb)
    _write(nb, path)
    return time.perf_counter() - t0


def paper_module(slug: str):
    """Import ``papers/<slug>/lib.py`` (code only that paper needs) and return the module.

    Works from any working directory (papermill, nbval, Colab), unlike ``import lib``.
    """
    path = paths.paper_dir(slug) / "lib.py"
    name = f"papers_{slug.replace('-', '_')}_lib"
    if name not in sys.modules and not path.is_file():
        raise FileNotFoundError(f"papers/{slug} has no lib.py")
    return load_module_file(name, path)
