"""common.experiment.slurm and the SLURM executor's decisions, without a cluster: the queue
commands are faked (``slurm._call``). The same paths run against a real SLURM in tests/slurm."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.experiment import Config, SlurmExecutor, param, slurm, sweep
from common.experiment.executors import Terminated, _raise_terminated, _SlurmWatch


def _fake(monkeypatch, answers: dict[str, tuple[int, str, str]], calls: list | None = None):
    """``slurm._call`` answering by command name: (returncode, stdout, stderr)."""
    def call(args):
        if calls is not None:
            calls.append(args)
        code, out, err = answers.get(args[0], (127, "", f"{args[0]}: not found"))
        return subprocess.CompletedProcess(args, code, out, err)

    monkeypatch.setattr(slurm, "_call", call)
    slurm.accounting_enabled.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    slurm.accounting_enabled.cache_clear()
    yield
    slurm.accounting_enabled.cache_clear()


def test_task_states_come_from_squeue_without_accounting(monkeypatch):
    calls = []
    _fake(monkeypatch, {
        "squeue": (0, "7_3|RUNNING\n7_2|COMPLETED\n7_1|CANCELLED by 0\n8_0|RUNNING\n", ""),
        "scontrol": (0, "AccountingStorageType   = accounting_storage/none\n", ""),
        "sacct": (1, "", "Slurm accounting storage is disabled"),
    }, calls)
    assert slurm.task_states("7", [0, 1, 2, 3]) == {3: "RUNNING", 2: "COMPLETED",
                                                    1: "CANCELLED"}
    assert not slurm.accounting_enabled()
    assert [c[0] for c in calls] == ["squeue", "scontrol"]  # sacct is never called


def test_tasks_squeue_forgot_come_from_sacct_when_accounting_is_on(monkeypatch):
    _fake(monkeypatch, {
        "squeue": (0, "7_1|RUNNING\n", ""),
        "scontrol": (0, "AccountingStorageType   = accounting_storage/slurmdbd\n", ""),
        "sacct": (0, "7_0|COMPLETED\n7_1|PENDING\n7_1.batch|COMPLETED\n7_[2-3]|PENDING\n", ""),
    })
    assert slurm.task_states("7", [0, 1]) == {0: "COMPLETED", 1: "RUNNING"}


def test_an_unknown_array_is_empty_and_a_dead_controller_is_an_error(monkeypatch):
    _fake(monkeypatch, {"squeue": (1, "", "slurm_load_jobs error: Invalid job id specified"),
                        "scontrol": (0, "AccountingStorageType = accounting_storage/none\n", "")})
    assert slurm.task_states("99") == {}
    _fake(monkeypatch, {"squeue": (1, "", "Unable to contact slurm controller")})
    with pytest.raises(RuntimeError, match="Unable to contact slurm controller"):
        slurm.task_states("99")


def test_runs_per_task_keep_every_slot_busy_without_a_python_start_per_run(monkeypatch):
    monkeypatch.setattr(slurm, "array_slots", lambda partition, cpus: 2)
    assert SlurmExecutor(cpus_per_task=1)._runs_per_task(60) == 8  # 8 tasks on 2 CPUs
    assert SlurmExecutor(runs_per_task=1)._runs_per_task(60) == 1  # asked for
    assert SlurmExecutor(gpus_per_task=1)._runs_per_task(60) == 1  # GPU runs: one per task
    monkeypatch.setattr(slurm, "array_slots", lambda partition, cpus: 5000)
    ex = SlurmExecutor(array_parallelism=256)
    assert ex._runs_per_task(60) == 1 and ex._runs_per_task(3900) == 4  # <= 1000 tasks
    monkeypatch.undo()
    _fake(monkeypatch, {"sinfo": (0, "0/2/0/2\n4/60/0/64\n", "")})
    assert slurm.array_slots(None, 2) == 33  # (2 + 64) CPUs / 2 per task


def test_poll_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("REPRO_SLURM_POLL_S", "0.5")
    assert SlurmExecutor().poll_s == 0.5
    assert SlurmExecutor(poll_s=3).poll_s == 3.0
    monkeypatch.setenv("REPRO_SLURM_POLL_S", "soon")
    with pytest.raises(ValueError, match="REPRO_SLURM_POLL_S='soon': must be a number"):
        SlurmExecutor()
    with pytest.raises(ValueError, match="poll_s=0: must be a number of seconds > 0"):
        SlurmExecutor(poll_s=0)


class _Job:
    """What the watch uses of a submitit SlurmJob."""

    def __init__(self, tmp: Path, job_id: str, result=None):
        self.job_id = job_id
        self.paths = types.SimpleNamespace(result_pickle=tmp / f"{job_id}.pkl",
                                           stderr=tmp / f"{job_id}.err", folder=tmp)
        self._result = result

    def result(self):
        return self._result


def test_the_watch_ends_tasks_from_result_files_and_from_the_queue(monkeypatch, tmp_path):
    """Finished: a result file. Cancelled without one: at once. COMPLETED or gone without one:
    after the grace for a late file. Requeued (back to PENDING): still running."""
    jobs = {i: _Job(tmp_path, f"7_{i}", ["done"]) for i in range(5)}
    jobs[0].paths.result_pickle.touch()
    jobs[1].paths.stderr.write_text("slurmstepd: *** JOB 12 CANCELLED ***\n")
    _fake(monkeypatch, {"squeue": (0, "7_1|CANCELLED by 0\n7_2|COMPLETED\n7_3|PENDING\n", ""),
                        "scontrol": (0, "AccountingStorageType = accounting_storage/none\n",
                                     "")})
    watch = _SlurmWatch(list(jobs.values()), poll_s=0.01)
    ended = {i: (error, statuses) for i, error, statuses in watch.ended(dict(jobs))}
    assert sorted(ended) == [0, 1] and ended[0] == (None, ["done"])
    assert "7_1 ended CANCELLED without a result" in str(ended[1][0])
    assert "JOB 12 CANCELLED" in str(ended[1][0])  # the tail of its log

    watch.RESULT_GRACE_S = 0.0
    watch.next_queue_check = 0.0
    rest = {i: jobs[i] for i in (2, 3, 4)}
    ended = {i: error for i, error, _ in watch.ended(rest)}
    assert sorted(ended) == [2, 4]  # 3 is PENDING again (requeued)
    assert "ended COMPLETED without a result" in str(ended[2])
    assert "7_4 left the queue without a result" in str(ended[4])


@dataclass(frozen=True)
class Point(Config):
    x: int = param(0, doc="input")


def _square(cfg: Point) -> dict:
    if cfg.x == 1:
        os.kill(os.getpid(), signal.SIGTERM)  # the scheduler stops the job while run 1 computes
        time.sleep(1)
    return {"y": cfg.x ** 2}


def test_sigterm_while_a_run_is_stored_waits_for_the_record_and_one_while_it_computes_does_not(
        tmp_path, monkeypatch):
    """An array task's SIGTERM handler (executors._raise_terminated) is held back while a computed
    outcome is written (executors.shielded): run 0's record is complete, and the task stops
    right after. Control: the same signal while run 1 computes stops it at once, with no record,
    and its claim is released (a requeued task or a rerun takes it)."""
    sweep_module = importlib.import_module("common.experiment.sweep")
    real_write, writes = sweep_module.atomic_write_json, []

    def write_during_sigterm(path, record):
        writes.append(record["config"]["x"])
        if len(writes) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run (it only notes the signal) before the write
        real_write(path, record)

    monkeypatch.setattr(sweep_module, "atomic_write_json", write_during_sigterm)
    store = tmp_path / "store"
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with pytest.raises(Terminated, match="held back until the run was stored"):
            sweep(_square, [Point(x=0), Point(x=1)], store_dir=store, executor="debug",
                  progress=False)
        assert writes == [0]
        records = [sweep_module.load_record(p) for p in store.glob("*.json")]
        assert [(r["config"]["x"], r["status"], problem) for r, problem in records] == [
            (0, "done", None)]

        monkeypatch.setattr(sweep_module, "atomic_write_json", real_write)
        with pytest.raises(Terminated) as stopped:
            sweep(_square, [Point(x=0), Point(x=1)], store_dir=store, executor="debug",
                  progress=False)
        assert "held back" not in str(stopped.value)  # run 1 was computing: stopped at once
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(list(store.glob("*.json"))) == 1  # nothing stored for run 1
    assert [p.name for p in store.iterdir() if p.suffix in (".claim", ".break")] == []
