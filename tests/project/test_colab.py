"""The Colab bootstrap in a simulated Colab runtime.

The runtime is a fresh virtual environment whose site-packages sees this environment's packages
(a ``.pth`` line, standing in for what Colab pre-installs: torch, numpy, the Jupyter stack, ...)
plus a fake ``google.colab`` module. The remote is a local bare repository holding a commit of the
current tree, tagged, whose ``constraints.txt`` pins every runtime-owned package (``keep``) to a
version that does not exist: had the installer applied the constraints to them, pip (offline,
``PIP_NO_INDEX``) would have to replace them and fail. The negative control runs the same cell
against a ref whose ``keep`` list is empty, and that install must fail with pip's own message.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

from common.project.colab import MARKER, bootstrap_source, colab_config, install_plan
from tests.conftest import REPO

pytestmark = pytest.mark.slow
TAG, NO_KEEP_TAG = "v9.9.9-colab-test", "v9.9.9-colab-nokeep"


def _git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def _poisoned_constraints(text: str, keep: list[str]) -> str:
    """constraints.txt with every ``keep`` package pinned to a version that does not exist."""
    out = []
    for line in text.splitlines():
        name = re.split(r"[=<>!~ ]", line.split("#", 1)[0].strip(), maxsplit=1)[0]
        canon = re.sub(r"[-_.]+", "-", name).lower()
        out.append(f"{name}==0.0.1" if name and canon in keep else line)
    return "\n".join(out) + "\n" + "\n".join(f"{k}==0.0.1" for k in keep) + "\n"


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(remote URL, runtime python, env, workdir) of the simulated Colab."""
    tmp = tmp_path_factory.mktemp("colab")
    src = tmp / "src"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    keep = colab_config(REPO)["keep"]
    cons = src / "constraints.txt"
    cons.write_text(_poisoned_constraints(cons.read_text(), keep))
    _git("init", "-q", "-b", "main", str(src))
    _git("add", "-A", cwd=src)
    _git("commit", "-q", "-m", "snapshot", cwd=src)
    _git("tag", TAG, cwd=src)
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r"(?m)^keep = \[[^\]]*\]", "keep = []", pyproject.read_text()))
    _git("commit", "-q", "-am", "no keep list", cwd=src)
    _git("tag", NO_KEEP_TAG, cwd=src)
    remote = tmp / "remote.git"
    _git("clone", "-q", "--bare", str(src), str(remote))

    runtime = tmp / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    python = runtime / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True).stdout
    # the runtime's pre-installed packages: this environment's (torch, numpy, ipykernel, pip, ...)
    Path(purelib.strip(), "_colab_runtime.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    fake = tmp / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab."""\n')
    # jax imports google.colab.output when it sees google.colab loaded
    (fake / "google" / "colab" / "output.py").write_text(
        '"""A stand-in for the Colab output module."""\n\n'
        'def eval_js(*args, **kwargs):\n    return None\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "REPRO_"))}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               MPLBACKEND="Agg")
    return {"remote": remote.as_uri(), "python": python, "env": env, "fake": fake, "tmp": tmp}


def _notebook_imports() -> str:
    """Every top-level import statement of every notebook (what the notebooks need to import)."""
    import nbformat

    stmts = []
    for nb_path in sorted((REPO / "papers").glob("*/*.ipynb")):
        for cell in nbformat.read(str(nb_path), 4).cells:
            if cell.cell_type != "code" or "Colab bootstrap" in cell.source:
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            stmts += [ast.unparse(n) for n in tree.body
                      if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(stmts))


def _kernel(colab, ref: str, dest: Path, after: str = "") -> subprocess.CompletedProcess:
    """A fresh 'kernel' of the runtime: Colab's modules loaded, then the bootstrap cell."""
    cell = bootstrap_source({"repository": colab["remote"], "ref": ref}, dest=str(dest))
    script = colab["tmp"] / "kernel.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(colab['fake'])!r})\n"
                      f"import google.colab\nimport numpy\n{cell}\n{after}\n")
    return subprocess.run([colab["python"], str(script)], capture_output=True, text=True,
                          env=colab["env"], cwd=colab["tmp"], timeout=600)


def _runtime_versions(colab, keep: list[str]) -> dict[str, str]:
    code = textwrap.dedent(f"""
        import importlib.metadata as md, json
        out = {{}}
        for name in {keep!r}:
            try:
                d = md.distribution(name)
                out[name] = d.version + " @ " + str(d.locate_file(""))
            except md.PackageNotFoundError:
                pass
        print(json.dumps(out))""")
    out = subprocess.run([colab["python"], "-c", code], capture_output=True, text=True, check=True,
                         env=colab["env"])
    import json

    return json.loads(out.stdout)


def test_bootstrap_installs_keeps_runtime_packages_and_is_idempotent(colab):
    keep = colab_config(REPO)["keep"]
    before = _runtime_versions(colab, keep)
    assert {"torch", "numpy", "ipykernel"} <= set(before)
    dest = colab["tmp"] / "content" / "lucchi-repro"
    imports = _notebook_imports()
    assert "from common" in imports
    check = imports + "\nimport common, torch, numpy\nprint('IMPORTS-OK', common.__file__)"
    first = _kernel(colab, TAG, dest, check)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "IMPORTS-OK " + str(dest / "common") in first.stdout, first.stdout
    assert f"Installed {colab['remote']} at {TAG}" in first.stdout
    assert "replaced" not in first.stdout, first.stdout  # nothing the runtime owns was touched
    assert _runtime_versions(colab, keep) == before
    assert (dest / MARKER).read_text() == TAG

    # a new process (a papermill kernel, a sweep worker) imports the checkout through the .pth
    fresh = subprocess.run([colab["python"], "-c", "import common; print(common.__file__)"],
                           capture_output=True, text=True, env=colab["env"], cwd=colab["tmp"])
    assert fresh.stdout.strip() == str(dest / "common" / "__init__.py"), fresh.stderr

    # rerun: nothing to do
    again = _kernel(colab, TAG, dest, check)
    assert again.returncode == 0 and "Installed" not in again.stdout, again.stdout + again.stderr
    assert "IMPORTS-OK" in again.stdout

    # a failed earlier run (checkout damaged, no marker): the rerun fetches again and repairs
    shutil.rmtree(dest / "common")
    (dest / MARKER).unlink()
    repaired = _kernel(colab, TAG, dest, check)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "IMPORTS-OK" in repaired.stdout and "Installed" in repaired.stdout
    assert _runtime_versions(colab, keep) == before


def test_errors_show_git_and_pip_text(colab):
    dest = colab["tmp"] / "content-errors" / "lucchi-repro"
    missing = _kernel(colab, "v0.0.0-does-not-exist", dest)
    assert missing.returncode != 0
    assert "couldn't find remote ref" in missing.stderr, missing.stderr  # git's own message
    # negative control: without the keep list the poisoned pins apply and pip must fail
    nokeep = _kernel(colab, NO_KEEP_TAG, dest)
    assert nokeep.returncode != 0
    assert "installing the repository failed" in nokeep.stderr
    assert re.search(r"No matching distribution|Could not find a version|ResolutionImpossible",
                     nokeep.stdout + nokeep.stderr), nokeep.stdout + nokeep.stderr
    assert not (dest / MARKER).exists()


def test_install_plan_holds_runtime_packages():
    keep = colab_config(REPO)["keep"]
    reqs, cons = install_plan(REPO, {"torch": "2.8.0+cu126", "numpy": "2.0.2", "scipy": "1.0"})
    names = {re.split(r"[\[=<>!~; ]", r, maxsplit=1)[0].lower() for r in reqs}
    assert not names & set(keep)
    assert "torch==2.8.0+cu126" in cons.splitlines() and "numpy==2.0.2" in cons.splitlines()
    pins = [line.split("#", 1)[0].strip() for line in cons.splitlines()]
    assert "torch==2.13.0" not in pins and any(p.startswith("scipy==") for p in pins)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(colab_config(REPO)["extras"]) <= set(project["optional-dependencies"])


def test_bootstrap_is_a_noop_outside_colab():
    ns: dict = {}
    exec(compile(bootstrap_source({"repository": "file:///nowhere/x.git", "ref": "v0"}),
                 "bootstrap", "exec"), ns)
    assert "_repo" not in ns


def test_python_requirement_allows_colab():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(project["requires-python"])
    assert "3.11" in spec and "3.12" in spec and "3.13" in spec and "3.10" not in spec
