"""The runs the SLURM scenarios sweep, and a driver process (``python -m tests.slurm.jobs``).

A run appends ``start <x> <SLURM job> <restart count>`` to its log file when it begins and
``end <x>`` when it returns, so a test counts executions and completions instead of trusting a
summary. The array tasks import this module by name (they run in the driver's working
directory, the repository root) or from its file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass

from common.experiment import Config, SlurmExecutor, param, sweep


@dataclass(frozen=True)
class Step(Config):
    x: int = param(0, ge=0, doc="input")
    log: str = param("", doc="file every execution appends its start and end lines to")
    sleep: float = param(0.0, ge=0, doc="seconds the run takes")
    fail: bool = param(False, doc="the run raises ValueError")


def _log(cfg: Step, line: str) -> None:
    if cfg.log:
        with open(cfg.log, "a") as f:
            f.write(line + "\n")


def step(cfg: Step) -> dict:
    job = os.environ.get("SLURM_JOB_ID", "-")
    _log(cfg, f"start {cfg.x} {job} {os.environ.get('SLURM_RESTART_COUNT', '0')}")
    time.sleep(cfg.sleep)
    if cfg.fail:
        raise ValueError(f"x={cfg.x} fails on purpose")
    _log(cfg, f"end {cfg.x}")
    return {"y": cfg.x ** 2}


def grid(log: str, n: int, sleep: float = 0.0, fail: tuple[int, ...] = ()) -> list[Step]:
    return [Step(x=i, log=log, sleep=sleep, fail=i in fail) for i in range(n)]


def executor(runs_per_task: int = 1) -> SlurmExecutor:
    """The cluster's default partition (or ``$REPRO_SLURM_PARTITION``), short polls, 5 min."""
    return SlurmExecutor(runs_per_task=runs_per_task, time_min=5, poll_s=0.25)


def main(argv: list[str] | None = None) -> int:
    """A sweep driver in its own process; prints its result as JSON; exit 130 on Ctrl-C."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--runs-per-task", type=int, default=1)
    args = ap.parse_args(argv)
    from tests.slurm import jobs  # not __main__: the runs' keys name tests.slurm.jobs.step

    try:
        res = sweep(jobs.step, jobs.grid(args.log, args.n, args.sleep), store_dir=args.store,
                    executor=jobs.executor(args.runs_per_task), progress=False)
    except KeyboardInterrupt:
        return 130
    print(json.dumps({"done": res.done, "failed": res.failed, "skipped": res.skipped,
                      "waited": res.waited}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
