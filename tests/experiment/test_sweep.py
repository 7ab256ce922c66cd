"""common.experiment.sweep: records, resuming, failures, versions, executors, interruption.

Every run appends one line to a marker file when it starts, so a test counts executions instead
of trusting the summary. Stores live under ``tmp_path``, never in ``results/``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from common.experiment import (
    Config,
    LocalExecutor,
    SubmititExecutor,
    SweepError,
    SweepExecutor,
    code_version,
    param,
    run_key,
    sweep,
)
from common.experiment import store as store_mod
from tests.conftest import REPO


@dataclass(frozen=True)
class Point(Config):
    x: float = param(0.0, doc="input")
    marker: str = param("", doc="file each execution appends a line to")
    fail_if: str = param("", doc="the run raises while this file exists")
    sleep: float = param(0.0, ge=0, doc="seconds to sleep")
    kill: bool = param(False, doc="the run kills its own process (only in a worker!)")


def square(cfg: Point) -> dict:
    if cfg.marker:
        with open(cfg.marker, "a") as f:
            f.write(f"{cfg.x}\n")
    time.sleep(cfg.sleep)
    if cfg.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.fail_if and os.path.exists(cfg.fail_if):
        raise ValueError(f"x={cfg.x} fails on purpose")
    return {"y": cfg.x ** 2, "parts": np.array([cfg.x, -cfg.x]), "pid": os.getpid()}


def cube(cfg: Point) -> dict:
    return {"y": cfg.x ** 3}


def _grid(tmp_path, n=4, **kw) -> list[Point]:
    return [Point(x=float(i), marker=str(tmp_path / "marker.txt"), **kw) for i in range(n)]


def _executions(tmp_path) -> list[float]:
    marker = tmp_path / "marker.txt"
    return [float(v) for v in marker.read_text().split()] if marker.exists() else []


def _records(store: Path) -> list[Path]:
    return sorted(store.glob("*.json"))


# ---- records, summary, loading back ----------------------------------------------------------


def test_debug_sweep_stores_one_complete_record_per_run(tmp_path):
    store = tmp_path / "store"
    configs = _grid(tmp_path)
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (res.done, res.failed, res.skipped, res.ok) == ([0, 1, 2, 3], [], [], True)
    assert len(_records(store)) == 4
    rec = json.loads(res.path(2).read_text())
    assert rec["status"] == "done" and rec["key"] == res.keys[2]
    assert rec["function"] == "tests.experiment.test_sweep.square"
    assert rec["config"] == configs[2].to_dict() and rec["config_hash"] == configs[2].config_hash()
    assert rec["results"]["parts"] == [2.0, -2.0]
    assert rec["version"] == code_version(square) and rec["version"].startswith("src-")
    assert {"git", "packages", "python"} <= set(rec["provenance"])
    assert rec["worker"]["executor"] == "debug" and rec["worker"]["pid"] == os.getpid()
    assert rec["wall_time_s"] >= 0
    assert [r["y"] for r in res.results()] == [0.0, 1.0, 4.0, 9.0]
    df = res.to_frame()
    assert list(df["x"]) == [0.0, 1.0, 2.0, 3.0] and list(df["y"]) == [0.0, 1.0, 4.0, 9.0]
    assert set(df["status"]) == {"done"}
    summary = res.summary()
    assert re.search(r"done\s+4", summary) and re.search(r"skipped\s+0", summary)


def test_a_rerun_skips_finished_runs_and_resume_false_recomputes(tmp_path):
    store, configs = tmp_path / "store", _grid(tmp_path)
    sweep(square, configs, store_dir=store, executor="debug", progress=False)
    again = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (again.done, again.skipped) == ([], [0, 1, 2, 3])
    assert _executions(tmp_path) == [0.0, 1.0, 2.0, 3.0]  # nothing ran twice
    assert [r["y"] for r in again.results()] == [0.0, 1.0, 4.0, 9.0]
    fresh = sweep(square, configs, store_dir=store, executor="debug", progress=False,
                  resume=False)
    assert (fresh.done, fresh.skipped) == ([0, 1, 2, 3], [])
    assert len(_executions(tmp_path)) == 8 and len(_records(store)) == 4


# ---- failures ----------------------------------------------------------------------------------


def test_a_failing_run_is_recorded_with_its_traceback_and_retried(tmp_path):
    store, poison = tmp_path / "store", tmp_path / "poison"
    poison.touch()
    configs = _grid(tmp_path, n=3)
    configs[1] = configs[1].replace(fail_if=str(poison))
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (res.done, res.failed, res.ok) == ([0, 2], [1], False)
    rec = json.loads(res.path(1).read_text())
    assert rec["status"] == "failed" and "results" not in rec
    assert rec["error"]["type"] == "ValueError"
    assert rec["error"]["message"] == "x=1.0 fails on purpose"
    assert "Traceback" in rec["error"]["traceback"] and "in square" in rec["error"]["traceback"]
    assert "configs[1]" in res.summary() and "x=1.0 fails on purpose" in res.summary()
    assert list(res.to_frame()["status"]) == ["done", "failed", "done"]
    with pytest.raises(SweepError, match=r"1 of 3 runs have no finished record"):
        res.raise_for_failures()
    with pytest.raises(SweepError):
        res.results()

    poison.unlink()  # the cause is fixed: the rerun retries only the failed run
    rerun = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (rerun.done, rerun.failed, rerun.skipped) == ([1], [], [0, 2])
    assert _executions(tmp_path) == [0.0, 1.0, 2.0, 1.0]
    assert rerun.raise_for_failures() is rerun


# ---- what is reused and what is not -------------------------------------------------------------


def test_a_changed_config_or_version_is_not_reused(tmp_path):
    store, configs = tmp_path / "store", _grid(tmp_path, n=2)
    sweep(square, configs, store_dir=store, executor="debug", progress=False, version="v1")
    changed = [configs[0], configs[1].replace(x=5.0)]
    res = sweep(square, changed, store_dir=store, executor="debug", progress=False, version="v1")
    assert (res.done, res.skipped) == ([1], [0])
    assert res.results()[1]["y"] == 25.0
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False, version="v2")
    assert (res.done, res.skipped) == ([0, 1], [])
    res = sweep(cube, configs, store_dir=store, executor="debug", progress=False, version="v2")
    assert res.done == [0, 1] and res.results()[1]["y"] == 1.0  # another function, other keys
    assert _executions(tmp_path) == [0.0, 1.0, 5.0, 0.0, 1.0]
    assert len({run_key(square, configs[0], "v1"), run_key(square, configs[0], "v2"),
                run_key(cube, configs[0], "v1"), run_key(square, configs[1], "v1")}) == 4


def test_the_code_version_follows_the_source_of_the_function_module(tmp_path, monkeypatch):
    import importlib.util

    source = tmp_path / "paper_lib.py"
    source.write_text("def work(cfg):\n    return {'y': 1}\n")
    spec = importlib.util.spec_from_file_location("scratch_paper_lib", source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "scratch_paper_lib", module)
    spec.loader.exec_module(module)
    before = code_version(module.work)
    assert code_version(module.work) == before  # stable
    source.write_text("def work(cfg):\n    return {'y': 2}  # an uncommitted edit\n")
    assert code_version(module.work) != before
    assert code_version(square) != code_version(module.work)


# ---- atomicity and interruption ---------------------------------------------------------------


def test_no_partial_record_is_ever_visible(tmp_path, monkeypatch):
    """The third record's rename fails (a full disk, a crash): the first two records are
    complete, nothing else is left behind, and the rerun computes only the missing runs."""
    store, configs = tmp_path / "store", _grid(tmp_path)
    calls = {"n": 0}
    real_replace = os.replace

    def flaky_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert sorted(p.name for p in store.iterdir()) == sorted(p.name for p in _records(store))
    assert len(_records(store)) == 2
    assert all(json.loads(p.read_text())["status"] == "done" for p in _records(store))
    monkeypatch.undo()
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (res.done, res.skipped) == ([2, 3], [0, 1])
    assert _executions(tmp_path) == [0.0, 1.0, 2.0, 2.0, 3.0]


def test_a_sweep_killed_midway_resumes_with_only_the_missing_runs(tmp_path):
    """SIGKILL a process running a sweep once three runs are stored; the rerun executes exactly
    the runs without a record."""
    n, store = 8, tmp_path / "store"
    script = tmp_path / "run_sweep.py"
    script.write_text(textwrap.dedent(f"""
        from pathlib import Path
        from common.experiment import sweep
        from tests.experiment.test_sweep import Point, square
        configs = [Point(x=float(i), marker={str(tmp_path / 'marker.txt')!r}, sleep=0.2)
                   for i in range({n})]
        sweep(square, configs, store_dir={str(store)!r}, executor="debug", progress=False)
        """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while len(_records(store)) < 3:
            assert proc.poll() is None, "the sweep ended before it was killed"
            assert time.monotonic() < deadline, "no runs were stored within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    stored = {json.loads(p.read_text())["config"]["x"] for p in _records(store)}
    assert 3 <= len(stored) < n
    before = len(_executions(tmp_path))

    configs = [Point(x=float(i), marker=str(tmp_path / "marker.txt"), sleep=0.2)
               for i in range(n)]
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    rerun = _executions(tmp_path)[before:]
    assert sorted(rerun) == sorted(set(range(n)) - stored)
    assert [configs[i].x for i in res.skipped] == sorted(stored)
    assert res.ok and len(_records(store)) == n


# ---- executors -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_process_pool_gives_the_same_records_and_survives_a_killed_worker(tmp_path):
    store, configs = tmp_path / "store", _grid(tmp_path, n=4)
    configs[1] = configs[1].replace(kill=True)  # its worker process dies
    res = sweep(square, configs, store_dir=store, executor=LocalExecutor(workers=1),
                progress=False)
    assert (res.done, res.failed) == ([0, 2, 3], [1])
    lost = json.loads(res.path(1).read_text())
    assert lost["status"] == "failed" and lost["error"]["type"] == "WorkerDied"
    assert "BrokenProcessPool" in lost["error"]["message"]
    records = res.records()
    assert all(r["worker"]["executor"] == "local" for r in records)
    assert records[0]["worker"]["pid"] != os.getpid()
    assert records[2]["worker"]["pid"] != records[0]["worker"]["pid"]  # a fresh pool
    debug = sweep(square, configs[2:], store_dir=tmp_path / "debug", executor="debug",
                  progress=False)
    strip = [{k: v for k, v in r.items() if k != "pid"} for r in debug.results()]
    assert strip == [{k: v for k, v in r["results"].items() if k != "pid"} for r in records[2:]]


@pytest.mark.slow
def test_a_real_sweep_through_submitit_in_subprocesses(tmp_path):
    """submitit.LocalExecutor: every array task is its own Python process; two runs per task."""
    import submitit

    poison = tmp_path / "poison"
    poison.touch()
    store, configs = tmp_path / "store", _grid(tmp_path, n=5)
    configs[3] = configs[3].replace(fail_if=str(poison))
    ex = submitit.LocalExecutor(folder=tmp_path / "jobs")
    ex.update_parameters(timeout_min=5)
    res = sweep(square, configs, store_dir=store, progress=False,
                executor=SubmititExecutor(ex, runs_per_task=2, poll_s=0.2))
    assert (res.done, res.failed, res.skipped) == ([0, 1, 2, 4], [3], [])
    records = res.records()
    pids = {r["worker"]["pid"] for r in records}
    assert os.getpid() not in pids and len(pids) == 3  # three array tasks of <= 2 runs
    assert records[3]["error"]["type"] == "ValueError"
    assert [records[i]["results"]["y"] for i in (0, 1, 2, 4)] == [0.0, 1.0, 4.0, 16.0]
    assert all(r["worker"]["executor"] == "submitit-local" for r in records)
    poison.unlink()
    again = sweep(square, configs, store_dir=store, executor=ex, progress=False)
    assert (again.done, again.skipped) == ([3], [0, 1, 2, 4])


class LostNode(SweepExecutor):
    """Runs nothing and reports every task as lost (a node that vanished), or as returned."""

    name = "lost-node"
    uses_processes = False

    def __init__(self, error):
        self.error = error

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        on_finished(tasks, self.error)


def test_runs_a_dead_worker_never_stored_are_failures_but_never_replace_a_finished_one(tmp_path):
    store, configs = tmp_path / "store", _grid(tmp_path, n=2)
    res = sweep(square, configs, store_dir=store, progress=False,
                executor=LostNode(RuntimeError("node lost")))
    assert (res.done, res.failed) == ([], [0, 1])
    rec = json.loads(res.path(0).read_text())
    assert rec["error"]["type"] == "WorkerDied" and "node lost" in rec["error"]["message"]
    res = sweep(square, configs, store_dir=store, progress=False, executor=LostNode(None))
    assert res.failed == [0, 1] and "without storing" in res.records()[1]["error"]["message"]
    assert res.records()[1]["attempt"] != rec["attempt"]  # the record is this call's

    # resume=False recomputes finished runs; a worker that dies while doing so leaves the
    # finished record in place (issue 16: it was replaced by a WorkerDied failure)
    old = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    old_records = old.records()
    res = sweep(square, configs, store_dir=store, progress=False, resume=False,
                executor=LostNode(RuntimeError("node lost")))
    assert (res.done, res.failed, res.skipped, res.ok) == ([], [], [0, 1], True)
    assert res.records() == old_records
    assert _executions(tmp_path) == [0.0, 1.0]
    assert list(store.glob("*.claim")) == []


# ---- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_refused_before_anything_runs(tmp_path, monkeypatch):
    store, configs = tmp_path / "store", _grid(tmp_path, n=2)

    def run(*args, **kw):
        return sweep(*args, store_dir=store, progress=False, **kw)

    with pytest.raises(ValueError, match=r"executor='gpu': allowed values are 'debug', "
                                         r"'local', 'slurm'"):
        run(square, configs, executor="gpu")
    with pytest.raises(TypeError, match=r"executor=3 .*allowed values"):
        run(square, configs, executor=3)
    with pytest.raises(TypeError, match=r"configs\[1\] is a dict, not a common.experiment.Config"):
        run(square, [configs[0], {"x": 1.0}], executor="debug")
    with pytest.raises(TypeError, match="not a lambda or a nested function"):
        run(lambda cfg: cfg, configs, executor="debug")
    with pytest.raises(ValueError, match=r"configs\[0\] and configs\[2\] are equal"):
        run(square, [configs[0], configs[1], configs[0]], executor="debug")
    with pytest.raises(TypeError, match="version"):
        run(square, configs, executor="debug", version="")

    scratch = types.ModuleType("scratch_without_file")  # not importable, no file
    exec("def work(cfg):\n    return 1\n", scratch.__dict__)
    monkeypatch.setitem(sys.modules, "scratch_without_file", scratch)
    with pytest.raises(TypeError, match=r"fn .*cannot be run by executor 'local' in worker "
                                        r"processes: its module 'scratch_without_file' cannot"):
        run(scratch.work, configs, executor="local")

    @dataclass(frozen=True)
    class LocalPoint(Config):
        x: float = 0.0

    with pytest.raises(TypeError, match=r"the config class of configs\[0\] .* not defined at the "
                                        r"top level"):
        run(square, [LocalPoint()], executor="local")
    assert not store.exists() or _records(store) == []
    assert _executions(tmp_path) == []


def test_slurm_settings_come_from_the_environment_and_reach_sbatch(monkeypatch, tmp_path):
    """The sbatch script submitit would submit for the array (srun faked where there is no
    SLURM; tests/slurm runs arrays on a real one)."""
    import shutil

    from submitit.slurm.slurm import _make_sbatch_string

    from common.experiment import SlurmExecutor

    monkeypatch.setattr(shutil, "which", lambda name, *args, **kw: f"/usr/bin/{name}")
    monkeypatch.setenv("REPRO_SLURM_PARTITION", "gpu")
    monkeypatch.setenv("REPRO_SLURM_TIME", "120")
    monkeypatch.setenv("REPRO_SLURM_GPUS", "1")
    monkeypatch.setenv("REPRO_SLURM_ARRAY_PARALLELISM", "32")
    ex = SlurmExecutor(cpus_per_task=4, mem_gb=16)  # arguments win over the environment
    assert "partition=gpu" in ex.describe()
    submitit_ex = ex.build(tmp_path, "sweep-train_mlp")
    assert submitit_ex.cluster == "slurm"
    chunks = ex._chunks(list(range(3900)))  # 3,900 runs: 975 array tasks of 4 runs
    assert (len(chunks), {len(c) for c in chunks}) == (975, {4})
    text = _make_sbatch_string(command="python", folder=tmp_path, map_count=len(chunks),
                               **submitit_ex._executor.parameters)
    for line in ("--partition=gpu", "--time=120", "--gpus-per-node=1", "--cpus-per-task=4",
                 "--mem=16GB", "--array=0-974%32", "--job-name=sweep-train_mlp"):
        assert f"#SBATCH {line}\n" in text

    monkeypatch.setenv("REPRO_SLURM_TIME", "2h")
    with pytest.raises(ValueError, match=r"REPRO_SLURM_TIME='2h': must be an integer"):
        SlurmExecutor()
    with pytest.raises(ValueError, match=r"gpus_per_task=-1: must be an integer >= 0"):
        SlurmExecutor(gpus_per_task=-1)
    monkeypatch.setenv("REPRO_WORKERS", "3")
    assert LocalExecutor().workers == 3
    with pytest.raises(ValueError, match=r"workers=0: must be an integer >= 1"):
        LocalExecutor(workers=0)
    with pytest.raises(ValueError, match="start_method='fork'"):
        LocalExecutor(start_method="fork")


# ---- progress and where notebooks store their sweeps --------------------------------------------


def test_progress_outside_a_terminal_has_no_times_and_nbval_sanitizes_it(tmp_path, capsys):
    configs = _grid(tmp_path, n=3)
    sweep(square, configs, store_dir=tmp_path / "a", executor="debug")
    first = capsys.readouterr().err
    sweep(square, configs, store_dir=tmp_path / "b", executor="debug")
    assert capsys.readouterr().err == first  # deterministic: the same text at every execution
    assert "square: 100%|" in first and "3/3 runs" in first
    assert not re.search(r"\d+:\d\d|/s\b|s/run", first)  # no elapsed time, ETA or rate
    from nbval.plugin import get_sanitize_patterns  # how nbval reads the file

    text = first
    cfg = (REPO / "tests" / "nbval_sanitize.cfg").read_text()
    for regex, replace in get_sanitize_patterns(cfg):
        text = re.sub(regex, replace, text)
    assert re.fullmatch(r"~?square:~<PROGRESS>~?", text.strip()), text  # whitespace runs as ~


