"""Sweeps through a real SLURM (submitit job arrays): the scenarios a user meets on a cluster.

Each test drives ``common.experiment.sweep`` with ``executor=SlurmExecutor(...)``, in the test's
process or in driver processes (``python -m tests.slurm.jobs``) that a test interrupts, and acts
on the cluster with its own commands (``scancel``, ``scontrol requeue``). The runs log their
starts and ends (``tests/slurm/jobs.py``), so "computed once" is counted, not taken from a
summary. Runs sleep a few seconds at most: on the 2-CPU CI node each scenario takes seconds
to tens of seconds, mostly Python start-up of the array tasks.
"""

from __future__ import annotations

import collections
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.experiment import slurm, sweep
from common.experiment.sweep import load_record
from tests.conftest import REPO
from tests.slurm import jobs

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("cluster")]


def _log_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def _count(log: Path, kind: str) -> collections.Counter:
    return collections.Counter(int(p[1]) for p in _log_lines(log) if p[0] == kind)


def _wait(condition, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver ended (exit {proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def _driver(tmp_path: Path, name: str, store: Path, log: Path, n: int, sleep: float):
    err = tmp_path / f"{name}.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.slurm.jobs", "--store", str(store), "--log", str(log),
         "--n", str(n), "--sleep", str(sleep)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=err.open("w"), text=True)
    return proc, err


def _array_id(err: Path, proc: subprocess.Popen) -> str:
    found: list[str] = []

    def submitted():
        found[:] = re.findall(r"submitted SLURM job array (\d+)", err.read_text())
        return bool(found)

    _wait(submitted, 60, "the array's submission", proc)
    return found[0]


def _finish(proc: subprocess.Popen, err: Path, timeout: float = 180) -> tuple[int, dict | None]:
    out, _ = proc.communicate(timeout=timeout)
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
    return proc.returncode, result


def _active(array_id: str) -> list[str]:
    return [f"{array_id}_{k}" for k, state in slurm.task_states(array_id).items()
            if state in slurm.ACTIVE]


def _records(store: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]


def _assert_clean_store(store: Path) -> None:
    """Every record is complete and valid; no claim, break lock or temporary file is left."""
    for path in store.glob("*.json"):
        record, problem = load_record(path)
        assert problem is None and record is not None, (path.name, problem)
    leftovers = [p.name for p in store.iterdir()
                 if p.suffix in (".claim", ".break", ".tmp") or p.name.startswith(".")]
    assert leftovers == []


def test_an_array_of_a_dozen_runs_names_its_jobs_and_a_rerun_computes_nothing(
        tmp_path, capfd):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    configs = jobs.grid(str(log), 12)
    res = sweep(jobs.step, configs, store_dir=store, executor=jobs.executor(), progress=False)
    assert (res.done, res.failed, res.skipped) == (list(range(12)), [], [])
    err = capfd.readouterr().err
    array_id = re.findall(r"submitted SLURM job array (\d+): 12 tasks", err)
    assert len(array_id) == 1, err
    workers = [r["worker"] for r in res.records()]
    assert {w["slurm_array_job_id"] for w in workers} == set(array_id)
    assert sorted(int(w["slurm_array_task_id"]) for w in workers) == list(range(12))
    assert len({w["slurm_job_id"] for w in workers}) == 12  # every array task is its own job
    assert all(w["executor"] == "slurm" for w in workers)
    assert [r["results"]["y"] for r in res.records()] == [i * i for i in range(12)]
    assert _count(log, "end") == collections.Counter(range(12))
    # submitit's sacct warning at every poll is gone: at most one line says accounting is off
    assert "Bypassing sacct error" not in err and err.count("accounting is off") <= 1
    _assert_clean_store(store)

    again = sweep(jobs.step, configs, store_dir=store, executor=jobs.executor(), progress=False)
    assert (again.done, again.skipped) == ([], list(range(12)))
    assert "submitted SLURM job array" not in capfd.readouterr().err  # nothing was submitted
    assert _count(log, "start") == collections.Counter(range(12))


def test_a_failing_run_stores_its_traceback_and_the_others_finish(tmp_path):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    configs = jobs.grid(str(log), 6, fail=(2,))
    res = sweep(jobs.step, configs, store_dir=store, executor=jobs.executor(), progress=False)
    assert (res.done, res.failed) == ([0, 1, 3, 4, 5], [2])
    error = res.records()[2]["error"]
    assert error["type"] == "ValueError" and error["message"] == "x=2 fails on purpose"
    assert "tests/slurm/jobs.py" in error["traceback"] and "in step" in error["traceback"]
    assert res.records()[2]["worker"]["slurm_array_task_id"] == "2"
    assert "configs[2]" in res.summary() and "x=2 fails on purpose" in res.summary()
    _assert_clean_store(store)


def test_scancel_of_the_array_halfway_then_a_rerun_loses_nothing_and_computes_nothing_twice(
        tmp_path):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    proc, err = _driver(tmp_path, "driver", store, log, n=8, sleep=2.0)
    array_id = _array_id(err, proc)
    _wait(lambda: len(_count(log, "end")) >= 3, 120, "three finished runs", proc)
    subprocess.run(["scancel", array_id], check=True)
    code, first = _finish(proc, err)
    assert code == 0, err.read_text()
    # a task whose run finished just before the scancel has its result (the driver counts it)
    # but may stay COMPLETING for a few seconds while its step winds down
    _wait(lambda: not _active(array_id), 30, "the cancelled array to leave the queue")
    assert first["failed"] and first["done"]  # cancelled runs got a failure record
    failed = [r for r in _records(store) if r["status"] == "failed"]
    assert all(r["error"]["type"] == "WorkerDied" for r in failed)
    assert any("CANCELLED" in r["error"]["message"] for r in failed)
    _assert_clean_store(store)

    again = sweep(jobs.step, jobs.grid(str(log), 8, 2.0), store_dir=store,
                  executor=jobs.executor(), progress=False)
    assert again.ok and sorted(again.done + again.skipped) == list(range(8))
    assert again.skipped == sorted(first["done"])  # what was stored is not computed again
    assert _count(log, "end") == collections.Counter(range(8))  # each completed exactly once
    assert all(r["status"] == "done" for r in _records(store))
    _assert_clean_store(store)


def test_a_requeued_array_task_completes_its_run_once(tmp_path):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    proc, err = _driver(tmp_path, "driver", store, log, n=3, sleep=4.0)
    array_id = _array_id(err, proc)
    _wait(lambda: _count(log, "start")[0] >= 1, 120, "run 0 to start", proc)
    subprocess.run(["scontrol", "requeue", f"{array_id}_0"], check=True)
    # a requeued job may start again only after a delay (cred_expire + 1 s; .ci/slurm-up sets
    # 10 s, clusters default to 120 s); a user may release it earlier, and so does the test
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if slurm.task_states(array_id, [0]).get(0) == "PENDING":
            subprocess.run(["scontrol", "update", f"jobid={array_id}_0", "begintime=now"],
                           capture_output=True)
            break
        time.sleep(0.2)
    code, result = _finish(proc, err)
    assert code == 0, err.read_text()
    assert result["done"] == [0, 1, 2] and result["failed"] == []
    assert _count(log, "start")[0] == 2 and _count(log, "end")[0] == 1
    record = _records(store)
    run0 = [r for r in record if r["config"]["x"] == 0]
    assert len(run0) == 1 and run0[0]["worker"]["slurm_restart_count"] == "1"
    assert run0[0]["worker"]["slurm_array_task_id"] == "0"
    _wait(lambda: not _active(array_id), 30, "the array to leave the queue")  # COMPLETING
    _assert_clean_store(store)


def test_ctrl_c_on_the_driver_cancels_the_array_and_keeps_what_is_stored(tmp_path):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    proc, err = _driver(tmp_path, "driver", store, log, n=8, sleep=2.0)
    array_id = _array_id(err, proc)
    _wait(lambda: len(list(store.glob("*.json"))) >= 2, 120, "two stored runs", proc)
    proc.send_signal(signal.SIGINT)
    code, _ = _finish(proc, err, timeout=120)
    assert code == 130, err.read_text()
    assert _active(array_id) == [], "the driver returned with tasks of its array in the queue"
    text = err.read_text()
    assert f"cancelled SLURM job array {array_id}" in text and "runs are stored in" in text
    stored = {r["config"]["x"] for r in _records(store) if r["status"] == "done"}
    assert 2 <= len(stored) < 8
    _assert_clean_store(store)

    again = sweep(jobs.step, jobs.grid(str(log), 8, 2.0), store_dir=store,
                  executor=jobs.executor(), progress=False)
    assert again.ok and {again.configs[i].x for i in again.skipped} == stored
    assert _count(log, "end") == collections.Counter(range(8))


def test_two_drivers_on_one_store_compute_every_run_once(tmp_path):
    store, log = tmp_path / "store", tmp_path / "runs.log"
    first, err1 = _driver(tmp_path, "first", store, log, n=8, sleep=1.0)
    _array_id(err1, first)
    second, err2 = _driver(tmp_path, "second", store, log, n=8, sleep=1.0)
    code1, res1 = _finish(first, err1)
    code2, res2 = _finish(second, err2)
    assert (code1, code2) == (0, 0), err1.read_text() + err2.read_text()
    for res in (res1, res2):
        assert res["failed"] == [] and sorted(res["done"] + res["skipped"]) == list(range(8))
    assert not set(res1["done"]) & set(res2["done"])
    assert _count(log, "end") == collections.Counter(range(8))
    assert len(_records(store)) == 8 and all(r["status"] == "done" for r in _records(store))
    _assert_clean_store(store)
