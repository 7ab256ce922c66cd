"""User input to make is validated before any command runs (exit 2, the valid values listed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args):
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args,match", [
    (["reproduce", "PAPER=does-not-exist"], "unknown PAPER 'does-not-exist'. Valid: "),
    (["reproduce"], "PAPER is required"),
    (["reproduce", "PAPER=ngn-m; touch pwned"], "PAPER must be one word"),
    (["reproduce", "PAPER=$(touch pwned)"], "PAPER"),
    (["reproduce", "PAPER=ngn-m", "SCALE=gpu"], "unknown SCALE 'gpu'. Valid: cpu paper"),
    (["reproduce", "PAPER=ngn-m", "EXECUTOR=cluster"],
     "unknown EXECUTOR 'cluster'. Valid: debug local slurm"),
    (["reproduce", "PAPER=ngn-m", "EXECUTOR=slurm; touch pwned"], "unknown EXECUTOR"),
    (["reproduce", "PAPER=ngn-m", "EXECUTOR=%"], "unknown EXECUTOR '%'"),
    (["notebooks", "PAPER=nope"], "unknown PAPER"),
])
def test_bad_input_exits_2_and_runs_nothing(args, match, tmp_path):
    res = _make(*args)
    assert res.returncode == 2
    assert match in res.stderr
    if "PAPER" in match and "Valid" in res.stderr:
        assert "ngn-m" in res.stderr
    assert not (REPO / "pwned").exists()


def test_help_lists_targets_and_papers():
    res = _make("help")
    assert res.returncode == 0
    for word in ("reproduce", "test", "book", "bench", "lint", "clean", "ngn-m",
                 "EXECUTOR=debug|local|slurm"):
        assert word in res.stdout


@pytest.mark.parametrize("executor", ["debug", "local", "slurm"])
def test_valid_executor_reaches_the_runner_through_the_environment(executor):
    """A dry run (-n) accepts the value and leaves it out of the command line: the runner
    reads it from the exported environment."""
    res = _make("-n", "reproduce", "PAPER=ngn-m", f"EXECUTOR={executor}")
    assert res.returncode == 0, res.stderr
    [line] = [ln for ln in res.stdout.splitlines() if "common.project.reproduce" in ln]
    assert executor not in line
