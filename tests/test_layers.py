"""The import layers of ``common``: the library never imports the repository tooling, and no two
packages import each other (directly or through others).

:data:`LAYERS` is the package order, written once, as data. A module of ``common`` belongs to the
package named by its first component (``common.sde.noise`` -> ``sde``; a top-level module such as
``common/fileio.py`` is its own package, ``fileio``). A package may import itself and packages of
*lower* layers only: not a package of its own layer, not one above. The walk reads every
``import`` statement of every module under ``common/`` with :mod:`ast`, including the lazy imports
inside functions, so the test sees imports that never run at import time.

Adding a package (``common/quantum``, ``common/vi``, ...): put it in the lowest layer above
everything it imports; the test fails with the package's name until it is listed.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

COMMON = Path(__file__).resolve().parent.parent / "common"

#: The package order, lowest first. A package imports only packages of lower layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    # leaves: the standard library and NumPy only
    ("fileio", "paths", "modules"),
    # infrastructure and statistics over arrays
    ("kernels", "experiment", "metrics"),
    # the library: datasets, models, optimizers, privacy, robustness, SDEs, figures
    ("data", "models", "optim", "privacy", "robust", "sde", "plotting", "quantum", "vi"),
    # simulations composed from the library
    ("federated", "rl"),
    # the repository's own tooling: paper.yml, a notebook's run and its claims, reproduce, book
    ("project",),
)

LIBRARY = tuple(p for layer in LAYERS[:-1] for p in layer)


def layer_of(package: str) -> int:
    for i, layer in enumerate(LAYERS):
        if package in layer:
            return i
    raise KeyError(package)


def _package(module: str) -> str:
    """``common.sde.noise`` -> ``sde``; ``common.fileio`` -> ``fileio``; ``common`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "common"


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """The ``common.*`` modules ``path`` imports (absolute and relative, lazy ones included)."""
    module = _module_name(path, root)
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)  # `from common import sde`
    top = root.name
    return {m for m in out if m == top or m.startswith(top + ".")}


def package_graph(root: Path = COMMON) -> dict[str, dict[str, list[str]]]:
    """``{package: {imported package: [importing modules]}}`` over every module under ``root``;
    submodules that do not exist as files (``from common import sde`` also yields
    ``common.sde``'s attribute names) are resolved to the package they name."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.rglob("*.py")):
        src = _package(_module_name(path, root))
        for target in imports_of(path, root):
            dst = _package(target)
            if dst not in (src, "common"):
                graph[src][dst].append(str(path.relative_to(root.parent)))
    return graph


def packages(root: Path = COMMON) -> set[str]:
    out = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return out | {p.stem for p in root.glob("*.py") if p.name != "__init__.py"}


def layer_violations(graph) -> list[str]:
    bad = []
    for src, targets in graph.items():
        for dst, where in targets.items():
            if layer_of(dst) >= layer_of(src):
                kind = "upward" if layer_of(dst) > layer_of(src) else "same-layer"
                bad.append(f"{kind} import {src} -> {dst} in {sorted(set(where))}")
    return sorted(bad)


def cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    nodes = set(graph) | {d for t in graph.values() for d in t}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_every_package_has_a_layer():
    missing = sorted(p for p in packages() if not any(p in layer for layer in LAYERS))
    assert not missing, (f"packages {missing} are not in tests/test_layers.py LAYERS: add each "
                         "to the lowest layer above everything it imports")


def test_layers_name_each_package_once():
    names = [p for layer in LAYERS for p in layer]
    assert len(names) == len(set(names))
    assert LAYERS[-1] == ("project",)


def test_no_upward_or_same_layer_import():
    assert layer_violations(package_graph()) == []


def test_library_never_imports_the_tooling():
    graph = package_graph()
    offenders = {src: sorted(graph[src]["project"]) for src in LIBRARY
                 if "project" in graph.get(src, {})}
    assert offenders == {}


def test_no_cycle_between_packages():
    assert cycles(package_graph()) == []


@pytest.mark.parametrize("case", ["upward", "cycle", "relative"])
def test_the_walk_detects_violations(tmp_path, case):
    """Negative controls: a scratch package tree with an upward import, a cycle, and a relative
    import must be caught (the checks above can fail)."""
    root = tmp_path / "common"
    for pkg in ("sde", "experiment", "project"):
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    if case == "upward":
        (root / "sde" / "a.py").write_text("def f():\n    from common.project import run\n")
        assert layer_violations(package_graph(root)) == [
            "upward import sde -> project in ['common/sde/a.py']"]
    elif case == "cycle":
        (root / "sde" / "a.py").write_text("import common.experiment.x\n")
        (root / "experiment" / "x.py").write_text("from common import sde\n")
        assert cycles(package_graph(root)) == [["experiment", "sde"]]
    else:
        (root / "sde" / "a.py").write_text("from ..project import run\n")
        assert "project" in package_graph(root)["sde"]
