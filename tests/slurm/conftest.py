"""The SLURM scenarios run against whatever ``sbatch`` is on the PATH: the single-node cluster
that ``.ci/slurm-up`` starts in CI, or a user's cluster (``make test-slurm``). Without one they
skip, saying why; with ``REPRO_REQUIRE_SLURM=1`` (set by ``.ci/run`` after it started the
cluster) they fail instead, so that CI cannot pass by skipping them."""

from __future__ import annotations

import os
import subprocess

import pytest

from common.experiment import slurm

HOW = ("start a single-node cluster with `sudo bash .ci/slurm-up` (Debian / Ubuntu), or run "
       "`make test-slurm` where sbatch reaches a cluster")


def _unavailable() -> str | None:
    if not slurm.available():
        return f"no SLURM here (sbatch, squeue or scancel not on the PATH): {HOW}"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the SLURM controller does not answer (scontrol ping: {exc}): {HOW}"
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return (f"the SLURM controller does not answer (scontrol ping: "
                f"{(ping.stdout + ping.stderr).strip()}): {HOW}")
    return None


@pytest.fixture(scope="session")
def cluster() -> str:
    """The SLURM version under test; skips (or fails under REPRO_REQUIRE_SLURM=1) without one."""
    why = _unavailable()
    if why:
        if os.environ.get("REPRO_REQUIRE_SLURM") == "1":
            pytest.fail(f"REPRO_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)
    return subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout.strip()
