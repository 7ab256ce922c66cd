"""``make reproduce ... EXECUTOR=slurm`` on a real SLURM: a paper's notebook grid runs as a job
array and prints the claims the in-process run prints; a notebook whose grid has a failing run
stops and names it.

Both run on a scratch repository (``REPRO_ROOT``) with the repository's Makefile and ``.venv``,
so nothing is written into the repository's own ``results/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import nbformat
import pytest

from common.project.notebooks import notebook_parameters
from tests.conftest import REPO
from tests.project.helpers import make_paper

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("cluster")]


def _make_reproduce(root, *args, env_extra=None):
    """``make reproduce`` with the repository's Makefile and .venv on the scratch repository."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = REPO / ".venv"
    env = {**os.environ, "REPRO_ROOT": str(root), **(env_extra or {})}
    for name in ("REPRO_RESULTS_DIR", "PAPER", "SCALE", "NOTEBOOK", "EXECUTOR", "MAKEFLAGS",
                 "MAKELEVEL"):
        env.pop(name, None)
    return subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-C",
                           str(root), f"VENV={venv}", "-o", str(venv / ".installed-stamp"),
                           "reproduce", *args], capture_output=True, text=True, env=env,
                          timeout=900)


def _claims_output(notebook) -> str:
    nb = nbformat.read(str(notebook), 4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source)
    return " ".join(str(v) for o in cell.outputs for v in o.get("data", {}).values())


def test_the_ngn_m_mlp_grid_through_make_reproduce_on_slurm_measures_what_in_process_does(
        scratch_repo, shared_data):
    """ngn-m notebook 02 (70 runs, 5 optimizers x 7 step sizes x 2 seeds, counted from its
    parameters cell): every run is an array task's, and every claim check measures the value of
    the committed (in-process) notebook."""
    defaults = {k: v.default for k, v in
                notebook_parameters(REPO / "papers" / "ngn-m" / "02_mlp_mnist.ipynb").items()}
    num_runs = len(defaults["methods"]) * len(defaults["grid"]) * len(defaults["seeds"])
    shutil.copytree(REPO / "papers" / "ngn-m", scratch_repo / "papers" / "ngn-m")
    out = _make_reproduce(scratch_repo, "PAPER=ngn-m", "NOTEBOOK=02", "EXECUTOR=slurm")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "(scale=cpu, executor=slurm)" in out.stdout
    assert re.search(r"submitted SLURM job array \d+: \d+ tasks", out.stderr), out.stderr[-2000:]
    assert "Bypassing sacct error" not in out.stderr
    store = scratch_repo / "results" / "ngn-m" / "cpu" / "sweeps" / "02_mlp_mnist"
    records = [json.loads(p.read_text()) for p in store.glob("*.json")]
    assert len(records) == num_runs and all(r["status"] == "done" for r in records)
    assert len({r["worker"]["slurm_array_job_id"] for r in records}) == 1
    assert all(r["worker"]["executor"] == "slurm" for r in records)

    claims = json.loads((scratch_repo / "results/ngn-m/cpu/02_mlp_mnist/claims.json").read_text())
    committed = _claims_output(REPO / "papers" / "ngn-m" / "02_mlp_mnist.ipynb")
    texts = [check["text"] for claim in claims["claims"] for check in claim["checks"]]
    assert texts and all(text in committed for text in texts), (texts, committed[:2000])


FAILING_LIB = """
from dataclasses import dataclass

from common import paths
from common.experiment import Config, param, sweep


@dataclass(frozen=True)
class Point(Config):
    x: int = param(0, doc="input")


def square(cfg: Point) -> dict:
    if cfg.x == 1:
        raise ValueError(f"x={cfg.x} fails on purpose")
    return {"y": cfg.x ** 2}


def run_grid(executor: str):
    return sweep(square, [Point(x=i) for i in range(4)], executor=executor, progress=False,
                 store_dir=paths.results_root() / "demo-sweep").raise_for_failures()
"""


def test_a_notebook_whose_grid_has_a_failing_run_names_it(scratch_repo):
    body = ("from common.project import paper_module\n"
            "result = paper_module('demo-paper').run_grid(executor)\n"
            "value = 0.5 * threshold")
    folder = make_paper(scratch_repo, "demo-paper", body=body)
    (folder / "lib.py").write_text(FAILING_LIB)
    nb_path = folder / "01_demo.ipynb"
    nb = nbformat.read(str(nb_path), 4)
    nb.cells[2].source += 'executor: str = "debug"  # sweep executor\n'
    nbformat.write(nb, str(nb_path))

    out = _make_reproduce(scratch_repo, "PAPER=demo-paper", "EXECUTOR=slurm")
    text = out.stdout + out.stderr
    assert out.returncode == 2 and "Error 3" in out.stderr, text[-3000:]  # a notebook error
    assert "SweepError" in text and "1 of 4 runs have no finished record" in text, text[-3000:]
    assert "configs[1] Point(x=1" in text and "ValueError: x=1 fails on purpose" in text
    store = scratch_repo / "results" / "demo-sweep"
    records = {json.loads(p.read_text())["config"]["x"]: json.loads(p.read_text())
               for p in store.glob("*.json")}
    assert sorted(records) == [0, 1, 2, 3]
    assert [records[x]["status"] for x in range(4)] == ["done", "failed", "done", "done"]
    assert "fails on purpose" in records[1]["error"]["traceback"]
    assert records[1]["worker"]["slurm_array_job_id"]
