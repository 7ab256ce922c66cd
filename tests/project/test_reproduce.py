"""make reproduce end to end on fake papers in a scratch repository (real papermill kernels)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.project.helpers import make_paper

pytestmark = pytest.mark.slow


def _reproduce(root, *args):
    env_cmd = [sys.executable, "-m", "common.project.reproduce", *args]
    import os

    env = {**os.environ, "REPRO_ROOT": str(root)}
    env.pop("REPRO_RESULTS_DIR", None)
    return subprocess.run(env_cmd, capture_output=True, text=True, env=env, timeout=300)


def test_a_passing_paper_prints_its_table_and_publishes(scratch_repo):
    make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "report")])
    out = _reproduce(scratch_repo, "--paper", "demo-paper")
    assert out.returncode == 0, out.stderr
    assert "C1    PASS" in out.stdout and "C2    REPORT" in out.stdout
    nb_dir = scratch_repo / "results" / "demo-paper" / "cpu" / "01_demo"
    assert (nb_dir / "01_demo.ipynb").is_file()
    assert json.loads((nb_dir / "claims.json").read_text())["scale"] == "cpu"
    assert (scratch_repo / "results" / "demo-paper" / "claims-cpu.md").is_file()
    leftovers = [p.name for p in (scratch_repo / "results" / "demo-paper" / "cpu").iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_a_failing_hard_claim_exits_1_and_keeps_the_evidence(scratch_repo):
    make_paper(scratch_repo, "demo-paper", body="value = 3.0 * threshold")
    out = _reproduce(scratch_repo, "--paper", "demo-paper")
    assert out.returncode == 1
    assert "C1    FAIL" in out.stdout and "hard claim failed" in out.stderr
    assert (scratch_repo / "results/demo-paper/cpu/01_demo/claims.json").is_file()


def test_paper_scale_injects_params_yaml(scratch_repo):
    # threshold 2.0 at paper scale: value 1.5 < 2 passes, while at cpu scale 1.5 < 1 fails
    make_paper(scratch_repo, "demo-paper", body="value = 1.5")
    assert _reproduce(scratch_repo, "--paper", "demo-paper").returncode == 1
    out = _reproduce(scratch_repo, "--paper", "demo-paper", "--scale", "paper")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (scratch_repo / "results/demo-paper/paper/01_demo/claims.json").is_file()


def test_a_crashing_notebook_leaves_nothing_in_results(scratch_repo):
    body = "if threshold > 0:\n    raise ValueError('threshold=1.0 is invalid: must be <= 0')"
    make_paper(scratch_repo, "demo-paper", body=body)
    out = _reproduce(scratch_repo, "--paper", "demo-paper")
    assert out.returncode == 3
    assert "ValueError: threshold=1.0 is invalid" in out.stderr
    assert "nothing was written" in out.stderr
    cpu = scratch_repo / "results" / "demo-paper" / "cpu"
    assert not cpu.exists() or list(cpu.iterdir()) == []


def test_bad_arguments_exit_2(scratch_repo):
    make_paper(scratch_repo, "demo-paper")
    for args, match in [(["--paper", "nope"], "valid: demo-paper all"),
                        (["--paper", "demo-paper", "--scale", "huge"], "valid: cpu paper"),
                        (["--paper", "demo-paper", "--notebook", "07"], "valid: 01_demo")]:
        out = _reproduce(scratch_repo, *args)
        assert out.returncode == 2 and match in out.stderr, (args, out.stderr)


def test_a_misspelled_paper_yml_key_stops_before_running(scratch_repo):
    folder = make_paper(scratch_repo, "demo-paper")
    text = (folder / "paper.yml").read_text().replace("venue:", "veneu:")
    (folder / "paper.yml").write_text(text)
    out = _reproduce(scratch_repo, "--paper", "demo-paper")
    assert out.returncode == 2 and "did you mean 'venue'" in out.stderr
    assert not (scratch_repo / "results").exists()


def test_papermill_bad_parameter_names_it(scratch_repo):
    """`papermill ... -p lr -1` on a real notebook: the config cell names the parameter."""
    import os

    out_nb = scratch_repo / "out.ipynb"
    env = {**os.environ}
    env.pop("REPRO_ROOT", None)
    env["REPRO_RESULTS_DIR"] = str(scratch_repo / "scratch-results")
    res = subprocess.run(
        [sys.executable, "-m", "papermill", str(REPO / "papers/ngn-m/01_toy_stability.ipynb"),
         str(out_nb), "-p", "quadratic_steps", "-1", "--cwd", str(REPO / "papers/ngn-m")],
        capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0
    assert "quadratic_steps = -1 is invalid: must be >= 1" in res.stderr
