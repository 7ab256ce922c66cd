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


# ---- issue 16: exit codes through python and through make, the summary, killed runs ----------


def _make_reproduce(root, *args):
    """``make reproduce`` with the repository's Makefile and .venv on the scratch repository
    (``-o``: never rebuild the shared .venv)."""
    import os
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = REPO / ".venv"
    env = {**os.environ, "REPRO_ROOT": str(root)}
    for name in ("REPRO_RESULTS_DIR", "PAPER", "SCALE", "NOTEBOOK", "EXECUTOR", "MAKEFLAGS",
                 "MAKELEVEL"):
        env.pop(name, None)
    return subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-C",
                           str(root), f"VENV={venv}", "-o", str(venv / ".installed-stamp"),
                           "reproduce", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("case,code", [("pass", 0), ("hard claim fails", 1),
                                       ("bad notebook name", 2), ("bad paper", 2),
                                       ("notebook error", 3)])
def test_each_exit_code_through_python_and_through_make(scratch_repo, case, code):
    """Before: through make a notebook error and a bad argument both ended as exit 2, and
    `make help` promised otherwise. Now the runner exits with the code, make exits 0 or 2 as GNU
    make must, and make's last line carries the runner's code."""
    body = {"hard claim fails": "value = 3.0 * threshold",
            "notebook error": "raise FileNotFoundError('mnist/train-images-idx3-ubyte.gz')"}
    make_paper(scratch_repo, "demo-paper", body=body.get(case, ""))
    args = {"bad notebook name": ["NOTEBOOK=07"], "bad paper": []}.get(case, [])
    paper = "nope" if case == "bad paper" else "demo-paper"
    py = _reproduce(scratch_repo, "--paper", paper,
                    *(["--notebook", "07"] if case == "bad notebook name" else []))
    assert py.returncode == code, py.stdout + py.stderr
    if code:
        assert f"exit status {code}: " in py.stderr
    mk = _make_reproduce(scratch_repo, f"PAPER={paper}", *args)
    assert mk.returncode == (0 if code == 0 else 2), mk.stdout + mk.stderr
    if case == "bad paper":  # refused by make itself, before any recipe
        assert "unknown PAPER 'nope'" in mk.stderr
    elif code:
        assert f"exit status {code}: " in mk.stderr
        assert re.search(rf"make: \*\*\* \[.*reproduce\] Error {code}\n", mk.stderr), \
            mk.stderr[-300:]
        assert "Parent appears to have exited" not in mk.stderr  # no kernel outlives the run


def test_running_one_notebook_keeps_the_others_in_the_summary(scratch_repo):
    """Before: after NOTEBOOK=02 then NOTEBOOK=01, claims-cpu.{json,md} held only 01's claims."""
    from tests.project.test_publish_and_checks import _two_notebook_paper

    _two_notebook_paper(scratch_repo)
    assert _reproduce(scratch_repo, "--paper", "demo-paper", "--notebook", "02").returncode == 0
    out = _reproduce(scratch_repo, "--paper", "demo-paper", "--notebook", "01")
    assert out.returncode == 0, out.stderr
    data = json.loads((scratch_repo / "results/demo-paper/claims-cpu.json").read_text())
    assert [r["id"] for r in data["claims"]] == ["C1", "C2"]
    assert [(n["notebook"], n["this_command"]) for n in data["notebooks"]] == [
        ("01_demo", True), ("02_more", False)]
    assert "02_more: ran " in out.stdout and "(an earlier command)" in out.stdout
    md = (scratch_repo / "results/demo-paper/claims-cpu.md").read_text()
    assert "<strong>C1</strong>" in md and "<strong>C2</strong>" in md  # compact claims table


def test_a_killed_run_leaves_a_staging_folder_that_the_next_run_removes(scratch_repo):
    """Before: a SIGKILLed make reproduce left .staging-<notebook>-<pid>/ that no run removed."""
    import os
    import signal
    import time

    make_paper(scratch_repo, "demo-paper", body="import time\ntime.sleep(60)\nvalue = 0.5")
    env = {**os.environ, "REPRO_ROOT": str(scratch_repo)}
    env.pop("REPRO_RESULTS_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "common.project.reproduce", "--paper",
                             "demo-paper"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    cpu = scratch_repo / "results" / "demo-paper" / "cpu"
    try:
        deadline = time.monotonic() + 120
        while not (cpu.is_dir() and list(cpu.glob(".staging-*/01_demo.ipynb"))):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, as a lost node would
        proc.wait(timeout=30)
    assert [p for p in cpu.iterdir() if p.is_dir()], "the killed run left its staging folder"
    make_paper(scratch_repo, "demo-paper")  # a quick notebook this time
    out = _reproduce(scratch_repo, "--paper", "demo-paper")
    assert out.returncode == 0, out.stderr
    assert "left behind by a run that was killed" in out.stderr
    assert sorted(p.name for p in cpu.iterdir()) == ["01_demo"]


def test_a_misspelled_papermill_parameter_stops_the_notebook(scratch_repo):
    """Before: `papermill ... -p sanity_lrr 0.5` warned, ran with the defaults and exited 0."""
    import os

    body = ("from common.experiment import Config\nfrom common.project import start_run\n"
            "run = start_run('demo-paper', '01_demo', Config(), scale=scale, seed=0)\n"
            "value = 0.5 * threshold")
    folder = make_paper(scratch_repo, "demo-paper", body=body)
    env = {**os.environ, "REPRO_ROOT": str(scratch_repo),
           "REPRO_RESULTS_DIR": str(scratch_repo / "scratch-results")}
    cmd = [sys.executable, "-m", "papermill", str(folder / "01_demo.ipynb"),
           str(scratch_repo / "out.ipynb"), "--cwd", str(folder)]
    ok = subprocess.run([*cmd, "-p", "threshold", "2.0"], capture_output=True, text=True,
                        env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*cmd, "-p", "threshhold", "2.0"], capture_output=True, text=True,
                         env=env, timeout=300)
    assert bad.returncode != 0
    assert ("papermill injected 'threshhold' is not a parameter of 01_demo.ipynb (did you mean "
            "'threshold'?)") in bad.stderr
