"""common.experiment.ownership: exclusive claims, stale-owner rules, heartbeats, takeover races."""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time

import pytest

from common.experiment import ownership
from common.experiment.ownership import (
    Claim,
    ClaimState,
    ClaimTimeout,
    claim,
    read_claim,
    try_claim,
)


def _race(path: str, start_at: float, hold_s: float) -> bool:
    """Wait for a common start time, try to take the claim, hold it a moment if won."""
    while time.time() < start_at:
        time.sleep(0.001)
    got = try_claim(path)
    if isinstance(got, Claim):
        time.sleep(hold_s)
        got.release()
        return True
    return False


def _racers(path, n=4, hold_s=1.0) -> list[bool]:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(n, mp_context=ctx) as pool:
        list(pool.map(abs, range(n)))  # start every worker before the race
        start_at = time.time() + 0.5
        return list(pool.map(_race, [str(path)] * n, [start_at] * n, [hold_s] * n))


def test_exactly_one_of_several_processes_takes_a_free_claim(tmp_path):
    wins = _racers(tmp_path / "run.claim")
    assert sum(wins) == 1
    assert not (tmp_path / "run.claim").exists()  # released by its holder


def test_exactly_one_of_several_processes_takes_over_a_stale_claim(tmp_path):
    path = tmp_path / "run.claim"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = ownership.Owner.me()
    path.write_text(json.dumps({**owner.__dict__, "pid": dead.pid, "started": "ticks:1"}))
    assert read_claim(path).stale
    wins = _racers(path)
    assert sum(wins) == 1
    assert not list(tmp_path.glob("*.break")) and not list(tmp_path.glob("*.tmp"))


def test_a_held_claim_is_busy_for_others_and_released_only_by_its_holder(tmp_path):
    path = tmp_path / "run.claim"
    mine = try_claim(path, attempt="a1")
    assert isinstance(mine, Claim)
    data = json.loads(path.read_text())
    assert data["host"] == platform.node() and data["pid"] == os.getpid()
    assert data["attempt"] == "a1" and data["started"]
    other = try_claim(path)  # this very process, another claim: busy while the first is held
    assert isinstance(other, ClaimState) and not other.stale and other.reason == "running"
    with pytest.raises(ClaimTimeout, match=rf"held by pid {os.getpid()} on "):
        claim(path, timeout=0.2)
    mine.release()
    assert not path.exists()
    again = try_claim(path)
    assert isinstance(again, Claim)
    path.write_text(json.dumps({**json.loads(path.read_text()), "token": "someone-else"}))
    again.release()  # no longer its claim: left alone
    assert path.exists()


def test_a_claim_left_by_this_process_and_no_longer_held_is_stale(tmp_path):
    path = tmp_path / "run.claim"
    got = try_claim(path)
    with ownership._HELD_LOCK:
        ownership._HELD.discard(got.owner.token)  # as after an interrupted acquisition
    state = read_claim(path)
    assert state.stale and state.reason == "the process is gone"


def test_a_reused_pid_does_not_keep_a_claim_alive(tmp_path):
    path = tmp_path / "run.claim"
    owner = ownership.Owner.me()
    # the pid of a live process (this test's parent shell or pytest itself) that started at
    # another time than the claim says
    path.write_text(json.dumps({**owner.__dict__, "pid": os.getppid(), "started": "ticks:1",
                                "token": "x"}))
    state = read_claim(path)
    assert state.stale and state.reason == "the process is gone"


def test_the_heartbeat_keeps_a_remote_looking_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "1")
    monkeypatch.setenv("REPRO_CLAIM_HEARTBEAT_S", "0.05")
    path = tmp_path / "run.claim"
    with try_claim(path) as held:
        old = time.time() - 30
        os.utime(path, (old, old))
        time.sleep(0.3)
        assert path.stat().st_mtime > old + 25  # refreshed by the heartbeat thread
        assert not held.lost
        path.write_text(json.dumps({**json.loads(path.read_text()), "token": "taken-over"}))
        time.sleep(0.3)
        assert held.lost  # the heartbeat noticed that another process took it over


def test_environment_settings_are_validated(monkeypatch):
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "soon")
    with pytest.raises(ValueError, match=r"REPRO_CLAIM_STALE_S='soon': must be a number"):
        ownership.stale_after_s()
    monkeypatch.setenv("REPRO_CLAIM_STALE_S", "0")
    with pytest.raises(ValueError, match="must be > 0"):
        ownership.stale_after_s()
