"""nbval catches a changed claims output, and only in the claims cell."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

from tests.conftest import REPO
from tests.project.helpers import make_paper

pytestmark = pytest.mark.slow


def _nbval(path, root, *extra):
    env = {**os.environ, "REPRO_ROOT": str(root), "REPRO_RESULTS_DIR": str(root / "res"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p",
         "no:cacheprovider", "--nbval-sanitize-with", str(REPO / "tests/nbval_sanitize.cfg"),
         "-q", *extra, str(path)],
        capture_output=True, text=True, env=env, cwd=root, timeout=300)


def test_changed_claims_output_fails_nbval(scratch_repo):
    from common.project.notebooks import execute_in_place

    folder = make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "report")])
    nb_path = folder / "01_demo.ipynb"
    execute_in_place(nb_path)
    res = _nbval(nb_path, scratch_repo, "-p", "tests.nbval_timing")  # as `make nbval` runs it
    assert res.returncode == 0
    assert "notebook wall times" in res.stdout
    assert any(line.strip().endswith("01_demo.ipynb") for line in res.stdout.splitlines())

    def edit_claims(old, new):
        nb = nbformat.read(str(nb_path), 4)
        for out in nb.cells[-1].outputs:
            for key in ("text/plain", "text/markdown"):
                if key in out.get("data", {}):
                    out.data[key] = out.data[key].replace(old, new)
        nbformat.write(nb, str(nb_path))

    claims_text = nbformat.read(str(nb_path), 4).cells[-1].outputs[0].data["text/plain"]
    assert "value: 0.5 (need < 1) [holds]" in claims_text
    # other digits (another CPU's rounding) are masked: the numbers are not what must agree
    edit_claims("0.5 (need", "0.501 (need")
    assert _nbval(nb_path, scratch_repo).returncode == 0
    # a changed verdict or status is caught
    edit_claims("[holds]", "[does not hold]")
    res = _nbval(nb_path, scratch_repo)
    assert res.returncode != 0
    assert "does~not~hold" in res.stdout  # the report shows both outputs sanitized (spaces: ~)

    # a change in an unmarked cell's output is not compared (--nbval-lax)
    execute_in_place(nb_path)
    nb = nbformat.read(str(nb_path), 4)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="whatever\n")]
    nbformat.write(nb, str(nb_path))
    assert _nbval(nb_path, scratch_repo).returncode == 0


def test_nbval_timing_summary_orders_and_flags_the_budget():
    from tests.nbval_timing import timing_lines

    lines = timing_lines({"papers/a/01.ipynb": 12.0, "papers/b/02.ipynb": 95.5}, budget_s=90)
    assert lines[0].split() == ["95.5", "s", "papers/b/02.ipynb", "(over", "the", "90", "s",
                                "budget)"]
    assert lines[1].split() == ["12.0", "s", "papers/a/01.ipynb"]
    assert "107.5 s  total over 2 notebooks; 1 over the 90 s budget" in lines[2]
