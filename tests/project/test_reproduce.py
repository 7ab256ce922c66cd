"""make reproduce end to end on fake papers in a scratch repository (real papermill kernels)."""

from __future__ import annotations

import json
import re
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
    assert re.search(r"^C1 +paper +PASS", out.stdout, re.M)
    assert re.search(r"^C2 +paper +REPORT", out.stdout, re.M)
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
    assert re.search(r"^C1 +paper +FAIL", out.stdout, re.M) and "hard claim failed" in out.stderr
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
                        (["--paper", "demo-paper", "--executor", "gpu"],
                         "valid: debug local slurm"),
                        (["--paper", "demo-paper", "--notebook", "07"], "valid: 01_demo")]:
        out = _reproduce(scratch_repo, *args)
        assert out.returncode == 2 and match in out.stderr, (args, out.stderr)


SWEEP_LIB = """
import os
from dataclasses import dataclass

from common import paths
from common.experiment import Config, param, sweep


@dataclass(frozen=True)
class Point(Config):
    x: int = param(0, doc="input")


def square(cfg: Point) -> dict:
    return {"y": cfg.x ** 2, "pid": os.getpid()}


def run_grid(executor: str):
    return sweep(square, [Point(x=i) for i in range(3)], executor=executor,
                 store_dir=paths.results_root() / "demo-sweep")
"""


def test_executor_reaches_the_notebooks_sweep_and_a_rerun_resumes(scratch_repo):
    """EXECUTOR=local: the notebook's `executor` parameter is injected, its sweep runs in worker
    processes that load the paper's lib.py from its file, the progress bar is streamed to the
    runner's stderr, and a rerun (another executor) reuses the stored runs."""
    import nbformat

    body = ("from common.project import paper_module\n"
            "result = paper_module('demo-paper').run_grid(executor)\n"
            "value = 0.5 * threshold if result.ok else 3.0 * threshold")
    folder = make_paper(scratch_repo, "demo-paper", body=body)
    (folder / "lib.py").write_text(SWEEP_LIB)
    nb_path = folder / "01_demo.ipynb"
    nb = nbformat.read(str(nb_path), 4)
    nb.cells[2].source += 'executor: str = "debug"  # sweep executor\n'
    nbformat.write(nb, str(nb_path))

    out = _reproduce(scratch_repo, "--paper", "demo-paper", "--executor", "local")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(scale=cpu, executor=local)" in out.stdout
    assert "square: 100%|" in out.stderr  # the notebook's stderr, streamed while it runs
    store = scratch_repo / "results" / "demo-sweep"
    records = [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]
    assert sorted(r["results"]["y"] for r in records) == [0, 1, 4]
    assert {r["worker"]["executor"] for r in records} == {"local"}

    again = _reproduce(scratch_repo, "--paper", "demo-paper", "--executor", "debug")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))] == records


SLOW_SWEEP_LIB = SWEEP_LIB.replace(
    'return {"y": cfg.x ** 2, "pid": os.getpid()}',
    'import time\n    time.sleep(0.5)\n    with open(os.environ["DEMO_MARKER"], "a") as f:\n'
    '        f.write(f"{cfg.x}\\n")\n    return {"y": cfg.x ** 2}').replace("range(3)", "range(8)")


def test_ctrl_c_interrupts_the_notebook_and_the_same_command_resumes_its_sweep(scratch_repo):
    """Ctrl-C during a sweep: the kernel is interrupted, the stored runs stay, nothing is
    published, exit 130; the rerun computes only the runs that were not stored."""
    import os
    import signal
    import time

    body = ("from common.project import paper_module\n"
            "result = paper_module('demo-paper').run_grid('debug')\n"
            "value = 0.5 * threshold if result.ok else 3.0 * threshold")
    folder = make_paper(scratch_repo, "demo-paper", body=body)
    (folder / "lib.py").write_text(SLOW_SWEEP_LIB)
    marker = scratch_repo / "marker.txt"
    env = {**os.environ, "REPRO_ROOT": str(scratch_repo), "DEMO_MARKER": str(marker)}
    env.pop("REPRO_RESULTS_DIR", None)
    cmd = [sys.executable, "-m", "common.project.reproduce", "--paper", "demo-paper"]
    # as from a terminal: Ctrl-C raises KeyboardInterrupt even if this test runs where SIGINT is
    # ignored (a background job inherits an ignored SIGINT)
    as_terminal = [sys.executable, "-c", "import runpy, signal, sys; "
                   "signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "sys.argv = ['reproduce', '--paper', 'demo-paper']; "
                   "runpy.run_module('common.project.reproduce', run_name='__main__')"]
    proc = subprocess.Popen(as_terminal, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    store = scratch_repo / "results" / "demo-sweep"
    deadline = time.monotonic() + 120
    while len(list(store.glob("*.json"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupting the notebook" in err and "Interrupted (Ctrl-C)" in err
    assert "runs are stored in" in err  # the sweep's own message, from inside the kernel
    stored = len(list(store.glob("*.json")))
    assert 2 <= stored < 8
    cpu = scratch_repo / "results" / "demo-paper" / "cpu"
    assert not cpu.exists() or list(cpu.iterdir()) == []
    executed = len(marker.read_text().split())

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(marker.read_text().split()) - executed == 8 - stored


def test_a_notebook_without_an_executor_parameter_gets_none(scratch_repo):
    make_paper(scratch_repo, "demo-paper")
    out = _reproduce(scratch_repo, "--paper", "demo-paper", "--executor", "slurm")
    assert out.returncode == 0, out.stderr
    executed = (scratch_repo / "results/demo-paper/cpu/01_demo/01_demo.ipynb").read_text()
    assert "executor" not in executed


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
