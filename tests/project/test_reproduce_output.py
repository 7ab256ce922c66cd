"""What ``make reproduce`` shows while a notebook runs: progress, and no kernel noise."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.project.helpers import make_paper

pytestmark = pytest.mark.slow


def test_progress_lines_and_no_kernel_noise(scratch_repo):
    make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "report")])
    env = {**os.environ, "REPRO_ROOT": str(scratch_repo)}
    env.pop("REPRO_RESULTS_DIR", None)
    out = subprocess.run([sys.executable, "-m", "common.project.reproduce", "--paper",
                          "demo-paper"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    # stderr is not a terminal here: one progress line per update, cells done / total, elapsed
    lines = re.findall(r"^\[demo-paper\] 01_demo: (\d+)/(\d+) cells, (\d\d:\d\d)$", out.stderr,
                       re.M)
    assert lines and lines[-1][0] == lines[-1][1], out.stderr
    assert "\r" not in out.stderr
    for noise in ("without encryption", "Parent appears to have exited", "IPKernelApp"):
        assert noise not in out.stdout + out.stderr, out.stderr
    # the terminal table gives the reason of each REPORT
    assert re.search(r"^C2 +paper +REPORT", out.stdout, re.M)
    assert "why report: too small" in out.stdout
