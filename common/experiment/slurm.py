"""Asking the SLURM scheduler about a job array: task states, cancelling, the partition's size.

:class:`common.experiment.executors.SubmititExecutor` submits a sweep's runs as one job array
through submitit and learns that a task *finished* from its result file. What the file cannot say
is that a task *ended without one* (cancelled, failed, timed out, node lost): that takes the
scheduler. submitit asks ``sacct``, which needs SLURM's accounting database; on a cluster without
one (``AccountingStorageType=accounting_storage/none``, common on small clusters and in CI),
``sacct`` fails at every call and a cancelled task is never seen to end. This module asks
``squeue --states=all`` instead, which answers from the controller's memory without accounting:
it lists pending and running tasks, and finished ones for ``MinJobAge`` seconds (default 300)
after they end. When accounting is on, ``sacct`` answers for the tasks ``squeue`` no longer
lists.

Task states (``squeue`` / ``sacct`` names): a task in :data:`ACTIVE` has not ended (a requeued
task goes back to ``PENDING`` and keeps its job id); any other state is final. A task that no
command lists any more has ended too (its record, if any, is in the store).

All calls go through :func:`_call` (one place to fake in tests, one timeout).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterable

__all__ = ["ACTIVE", "available", "accounting_enabled", "task_states", "cancel",
           "array_slots", "note_accounting"]

#: States of a job (or array task) that has not ended. ``PREEMPTED`` is listed because a task
#: preempted with ``PreemptMode=REQUEUE`` passes through it on its way back to ``PENDING``.
ACTIVE = frozenset({
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
    "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "PREEMPTED", "RESV_DEL_HOLD",
})

_TIMEOUT_S = 60  # a controller busy enough to take longer is reported, not waited for


def _call(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)


def available() -> bool:
    """Whether SLURM's client commands are on the ``PATH`` (``sbatch``, ``squeue``, ``scancel``)."""
    return all(shutil.which(cmd) is not None for cmd in ("sbatch", "squeue", "scancel"))


@functools.lru_cache(maxsize=1)
def accounting_enabled() -> bool:
    """Whether the cluster keeps accounting (``sacct`` works): from ``scontrol show config``.

    Unknown (no ``scontrol``, an error) counts as enabled, the cluster default, so that ``sacct``
    is still tried for tasks ``squeue`` no longer lists.
    """
    try:
        out = _call(["scontrol", "show", "config"])
    except (OSError, subprocess.TimeoutExpired):
        return True
    for line in out.stdout.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "AccountingStorageType":
            return value.strip() not in ("accounting_storage/none", "(null)", "")
    return True


_NOTED: set[bool] = set()


def note_accounting(file=None) -> None:
    """Print once per process, when accounting is off, the one line that says so (instead of
    submitit's ``sacct`` warning at every poll)."""
    if not accounting_enabled() and False not in _NOTED:
        _NOTED.add(False)
        print("SLURM accounting is off on this cluster (no sacct): job states come from squeue",
              file=file or sys.stderr, flush=True)


def _parse(lines: Iterable[str], array_id: str) -> dict[int, str]:
    """``{task index: state}`` from lines ``<array id>_<index>|<STATE>[ by <uid>]``."""
    states: dict[int, str] = {}
    for line in lines:
        job, _, state = line.strip().partition("|")
        head, _, index = job.partition("_")
        if head != array_id or not index.isdigit():
            continue  # the array's own line ("123_[4-9]" before expansion), a job step, another
        states[int(index)] = state.split()[0].rstrip("+") if state.split() else "UNKNOWN"
    return states


def task_states(array_id: str, indices: Iterable[int] | None = None) -> dict[int, str]:
    """The state of each listed task of job array ``array_id``: ``{index: state}``.

    From ``squeue --states=all`` (no accounting needed); tasks it does not list (ended more
    than ``MinJobAge`` ago) from ``sacct`` when accounting is on. A task absent from both is
    absent from the result: it has ended. ``indices`` (optional) are the tasks the caller asks
    about, to skip ``sacct`` when ``squeue`` listed them all. Raises ``RuntimeError`` when
    ``squeue`` fails (the controller does not answer), naming the command and its error.
    """
    array_id = str(array_id)
    try:
        out = _call(["squeue", "--noheader", "--array", "--states=all", "--jobs", array_id,
                     "--format=%i|%T"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"squeue failed: {exc}") from exc
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        raise RuntimeError(f"squeue --jobs {array_id} failed: {out.stderr.strip()}")
    states = _parse(out.stdout.splitlines(), array_id)
    wanted = None if indices is None else set(indices)
    if (wanted is None or wanted - set(states)) and accounting_enabled():
        try:
            acct = _call(["sacct", "--noheader", "--parsable2", "--allocations",
                          "--jobs", array_id, "--format=JobID,State"])
        except (OSError, subprocess.TimeoutExpired):
            acct = None
        if acct is not None and acct.returncode == 0:
            for index, state in _parse(acct.stdout.splitlines(), array_id).items():
                states.setdefault(index, state)
    return states


def cancel(array_ids: Iterable[str]) -> None:
    """``scancel`` every task of these arrays that has not ended (best effort: errors are
    ignored, the caller checks with :func:`task_states`)."""
    ids = sorted({str(a) for a in array_ids})
    if ids:
        try:
            _call(["scancel", *ids])
        except (OSError, subprocess.TimeoutExpired):
            pass


def array_slots(partition: str | None, cpus_per_task: int) -> int | None:
    """How many tasks of ``cpus_per_task`` CPUs the partition can run at once (its CPUs, from
    ``sinfo``, divided by ``cpus_per_task``); None when ``sinfo`` does not say."""
    args = ["sinfo", "--noheader", "--format=%C"]
    if partition:
        args.append(f"--partition={partition}")
    try:
        out = _call(args)
    except (OSError, subprocess.TimeoutExpired):
        return None
    total = 0
    for line in out.stdout.split():
        parts = line.split("/")  # allocated/idle/other/total
        if len(parts) == 4 and parts[3].isdigit():
            total += int(parts[3])
    if out.returncode != 0 or total == 0:
        return None
    return max(1, total // max(1, cpus_per_task))
