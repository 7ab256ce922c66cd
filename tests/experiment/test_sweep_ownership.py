"""Sweeps on a shared store: runs are owned by the process that claimed them (issue 16).

Two sweeps on one store compute every run once and never overwrite a finished record; a killed
``local`` driver leaves no worker behind; a malformed record is reported and recomputed. Every
store lives under ``tmp_path``; drivers that must be killed or run side by side are subprocesses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.experiment import (
    Config,
    SweepError,
    SweepExecutor,
    code_version,
    ownership,
    param,
    run_key,
    sweep,
)
from tests.conftest import REPO
from tests.experiment.test_sweep import _executions, _grid, square


@pytest.fixture(autouse=True)
def _fast_claims(monkeypatch):
    monkeypatch.setenv("REPRO_SWEEP_POLL_S", "0.05")
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "5")


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPRO_SWEEP_POLL_S": "0.05", **extra}
    env.pop("REPRO_RESULTS_DIR", None)
    return env


def _records(store: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]


# ---- case 1: two sweeps on one store ----------------------------------------------------------


DRIVER = """
import json, sys
from common.experiment import LocalExecutor, sweep
from tests.experiment.test_sweep import Point, square

if __name__ == "__main__":
    configs = [Point(x=float(i), marker={marker!r}, sleep={sleep}) for i in range({n})]
    res = sweep(square, configs, store_dir={store!r}, executor={executor}, progress=False)
    print(json.dumps({{"done": res.done, "failed": res.failed, "skipped": res.skipped,
                      "ok": res.ok, "y": [r["y"] for r in res.results()]}}))
"""


def _two_drivers(tmp_path, n, executor, sleep=0.25):
    store = tmp_path / "store"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(marker=str(tmp_path / "marker.txt"), sleep=sleep, n=n,
                                    store=str(store), executor=executor))
    procs = [subprocess.Popen([sys.executable, str(script)], cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return store, [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def test_two_concurrent_sweeps_on_one_store_compute_every_run_once(tmp_path):
    """Before: both sweeps computed all 12 runs (24 executions), and a sweep could overwrite the
    other's finished record with a false WorkerDied failure."""
    n = 12
    store, results = _two_drivers(tmp_path, n, '"debug"')
    assert sorted(_executions(tmp_path)) == [float(i) for i in range(n)]  # each run once
    records = _records(store)
    assert len(records) == n and {r["status"] for r in records} == {"done"}
    for res in results:  # each sweep sees the whole grid finished
        assert res["ok"] and res["failed"] == [] and res["y"] == [float(i * i) for i in range(n)]
        assert sorted(res["done"] + res["skipped"]) == list(range(n))
    assert sorted(results[0]["done"] + results[1]["done"]) == list(range(n))  # shared the work
    assert list(store.glob("*.claim")) == []  # every claim was released


@pytest.mark.slow
def test_two_concurrent_local_sweeps_compute_every_run_once(tmp_path):
    n = 10
    store, results = _two_drivers(tmp_path, n, "LocalExecutor(workers=2)")
    assert sorted(_executions(tmp_path)) == [float(i) for i in range(n)]
    assert {r["status"] for r in _records(store)} == {"done"}
    assert all(res["ok"] for res in results)


class AnotherSweepFinishesFirst(SweepExecutor):
    """Each run is finished by another sweep (another attempt) just before this sweep's worker
    reports back; the worker itself either returned or died."""

    name = "race"
    uses_processes = False

    def __init__(self, error=None):
        self.error = error

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        for task in tasks:
            other = dataclasses.replace(task, meta={**task.meta, "attempt": "another-sweep"})
            assert other.run() == "done"
            on_finished([task], self.error)


@pytest.mark.parametrize("error", [None, RuntimeError("the node was lost")])
def test_a_finished_record_is_never_overwritten_by_a_worker_died_failure(tmp_path, error):
    """Before: the sweep did not find its own attempt in the record and replaced the other
    sweep's finished record with a WorkerDied failure ("39 done, 1 failed" for a grid that fully
    succeeded)."""
    store, configs = tmp_path / "store", _grid(tmp_path, n=3)
    res = sweep(square, configs, store_dir=store, progress=False,
                executor=AnotherSweepFinishesFirst(error))
    records = res.records()
    assert [r["status"] for r in records] == ["done"] * 3
    assert {r["attempt"] for r in records} == {"another-sweep"}
    assert (res.done, res.failed, res.skipped, res.ok) == ([], [], [0, 1, 2], True)
    assert [r["y"] for r in res.results()] == [0.0, 1.0, 4.0]


def _fake_claim(path: Path, **fields) -> None:
    owner = {"host": "node-7", "pid": 4242, "started": None, "boot": None, "slurm_job": None,
             "attempt": "another-sweep", "token": "t" * 32, "claimed_at": time.time(), **fields}
    path.write_text(json.dumps(owner))


def test_a_run_another_live_sweep_owns_is_waited_for_not_computed(tmp_path):
    """A claim with a fresh heartbeat from another machine: this sweep computes the other runs,
    waits for that one, and uses the record its owner stores."""
    store, configs = tmp_path / "store", _grid(tmp_path, n=3)
    version = code_version(square)
    store.mkdir()
    key = run_key(square, configs[1], version)
    claim = store / f"{key}.claim"
    _fake_claim(claim)

    def owner_finishes():
        time.sleep(0.6)
        os.utime(claim)  # a heartbeat
        time.sleep(0.4)
        other = sweep(square, [configs[1].replace(marker="")], store_dir=tmp_path / "elsewhere",
                      executor="debug", progress=False)
        record = json.loads(other.path(0).read_text())
        record.update(key=key, config=configs[1].to_dict(),
                      config_hash=configs[1].config_hash(), attempt="another-sweep")
        (store / f"{key}.json").write_text(json.dumps(record))
        claim.unlink()

    thread = threading.Thread(target=owner_finishes)
    thread.start()
    try:
        res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    finally:
        thread.join()
    assert sorted(_executions(tmp_path)) == [0.0, 2.0]  # run 1 was not computed here
    assert (res.done, res.skipped, res.ok) == ([0, 2], [1], True)
    assert res.results()[1]["y"] == 1.0
    assert "waited" in res.summary()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("owner", ["dead-process", "silent-machine", "requeued-slurm-job",
                                   "empty-and-old"])
def test_a_stale_claim_is_taken_over(tmp_path, monkeypatch, owner):
    store, configs = tmp_path / "store", _grid(tmp_path, n=2)
    store.mkdir()
    claim = store / f"{run_key(square, configs[0], code_version(square))}.claim"
    if owner == "dead-process":
        pid = _dead_pid()
        _fake_claim(claim, host=platform.node(), pid=pid, boot=ownership._boot_id(),
                    started="ticks:1")
    elif owner == "silent-machine":
        _fake_claim(claim)
        os.utime(claim, (time.time() - 60, time.time() - 60))  # older than REPRO_CLAIM_STALE_S
    elif owner == "requeued-slurm-job":
        monkeypatch.setenv("SLURM_JOB_ID", "4242")
        monkeypatch.setenv("SLURM_CLUSTER_NAME", "c")
        _fake_claim(claim, slurm_job=ownership._slurm_job())  # fresh heartbeat, other machine
    else:
        claim.write_text("")
        os.utime(claim, (time.time() - 60, time.time() - 60))
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    assert (res.done, res.ok) == ([0, 1], True)
    assert sorted(_executions(tmp_path)) == [0.0, 1.0]
    assert not claim.exists()


def test_a_live_claim_of_another_slurm_job_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4243")
    path = tmp_path / "run.claim"
    _fake_claim(path, slurm_job="c:4242::")
    got = ownership.try_claim(path)
    assert isinstance(got, ownership.ClaimState) and not got.stale
    assert "node-7" in got.describe()


# ---- case 2: a killed driver's workers exit on their own ----------------------------------------


@dataclass(frozen=True)
class Held(Config):
    x: int = param(0, ge=0)
    folder: str = param("", doc="where the run writes its pid and waits for a release file")


def held(cfg: Held) -> dict:
    """Writes ``pid-<x>``, then waits up to 120 s for ``release`` to exist."""
    folder = Path(cfg.folder)
    (folder / f"pid-{cfg.x}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(folder / "executions.txt", "a") as f:
        f.write(f"{cfg.x}\n")
    return {"x": cfg.x}


KILLED_DRIVER = """
from common.experiment import LocalExecutor, sweep
from tests.experiment.test_sweep_ownership import Held, held

if __name__ == "__main__":
    configs = [Held(x=i, folder={folder!r}) for i in range(4)]
    sweep(held, configs, store_dir={store!r}, executor=LocalExecutor(workers=2), progress=False)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def test_a_killed_local_driver_leaves_no_worker_behind(tmp_path):
    """SIGKILL the driver of a ``local`` sweep while both workers execute a run. Before: the
    workers kept running (and held their memory) until killed by hand."""
    folder, store = tmp_path / "runs", tmp_path / "store"
    folder.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(KILLED_DRIVER.format(folder=str(folder), store=str(store)))
    driver = subprocess.Popen([sys.executable, str(script)], cwd=REPO, env=_env())
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("pid-*"))) < 2:
            assert driver.poll() is None, "the driver ended early"
            assert time.monotonic() < deadline, "the workers did not start within 120 s"
            time.sleep(0.05)
        time.sleep(0.2)
        pids = [int(p.read_text()) for p in folder.glob("pid-*")]
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphans = [pid for pid in pids if _alive(pid)]
        assert orphans == [], f"workers {orphans} outlived their driver"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    # an immediate rerun: the dead workers' claims are stale, so it computes every run at once
    (folder / "release").touch()
    configs = [Held(x=i, folder=str(folder)) for i in range(4)]
    res = sweep(held, configs, store_dir=store, executor="debug", progress=False)
    assert (res.done, res.ok) == ([0, 1, 2, 3], True)
    assert sorted(int(v) for v in (folder / "executions.txt").read_text().split()) == [0, 1, 2, 3]


# ---- case 8: records are validated on read ------------------------------------------------------


@pytest.mark.parametrize("bad,problem", [
    ({"status": "done"}, "no 'key'"),
    ("not json at all", "not valid JSON"),
    ([1, 2], "not a JSON object"),
    ("copy of another run", "written for another run"),
    ("done without results", "status 'done' without 'results'"),
])
def test_a_malformed_record_is_reported_and_recomputed(tmp_path, capsys, bad, problem):
    """Before: ``{"status": "done"}`` counted as finished, and ``results()`` raised a bare
    ``KeyError``."""
    store, configs = tmp_path / "store", _grid(tmp_path, n=3)
    first = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    target = first.path(1)
    if bad == "copy of another run":
        target.write_text(first.path(2).read_text())
    elif bad == "done without results":
        record = json.loads(target.read_text())
        del record["results"]
        target.write_text(json.dumps(record))
    else:
        target.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    capsys.readouterr()
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    err = capsys.readouterr().err
    assert f"{res.keys[1]}.json is malformed ({problem}" in err and "computed again" in err
    assert (res.done, res.skipped) == ([1], [0, 2])
    assert set(res.malformed) == {1} and problem in res.malformed[1]
    assert _executions(tmp_path) == [0.0, 1.0, 2.0, 1.0]
    assert [r["y"] for r in res.results()] == [0.0, 1.0, 4.0]


def test_results_name_a_record_that_became_malformed(tmp_path):
    store, configs = tmp_path / "store", _grid(tmp_path, n=2)
    res = sweep(square, configs, store_dir=store, executor="debug", progress=False)
    res.path(0).write_text(json.dumps({"status": "done"}))
    with pytest.raises(SweepError, match=r"malformed record: no 'key'"):
        res.results()
    assert list(res.to_frame()["status"]) == ["malformed", "done"]
