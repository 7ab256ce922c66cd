"""Where the runs of a sweep execute: in-process, in a local process pool, or on SLURM.

:func:`common.experiment.sweep` hands an executor the runs that still have to be computed. Every
run writes its own record to the store (atomically) from wherever it executes, so the store, not
the executor, is the record of what finished: an executor only has to run the work and report
when a piece of it ended, and with which error if the worker died.

=========  =====================================================================================
name       what it does
=========  =====================================================================================
``debug``  :class:`DebugExecutor`: in this process, one run after the other, in config order.
           Deterministic; what tests and cpu-scale notebooks use.
``local``  :class:`LocalExecutor`: a pool of worker processes on this machine
           (``concurrent.futures.ProcessPoolExecutor``, ``spawn`` start method). ``workers``
           processes, ``threads_per_worker`` torch / BLAS threads each.
``slurm``  :class:`SlurmExecutor`: one SLURM job array through ``submitit.AutoExecutor``;
           partition, time limit, GPUs, CPUs, memory and array parallelism from the arguments or
           from ``REPRO_SLURM_*`` environment variables (below).
=========  =====================================================================================

Any ``submitit`` executor (for instance ``submitit.LocalExecutor``, which runs each job in its own
subprocess) can be passed to ``sweep`` as is; it is wrapped in :class:`SubmititExecutor`. Note that
submitit's ``LocalExecutor`` starts every job at once, while ``local`` here is a bounded pool.

Environment variables (read when an executor is built by name, for the arguments not given):

=================================  =============================================================
``REPRO_WORKERS``                  ``local``: worker processes (default: usable CPUs divided by
                                   the threads per worker)
``REPRO_THREADS_PER_WORKER``       ``local``: torch / BLAS threads per worker (default 1)
``REPRO_SLURM_PARTITION``          ``slurm``: partition (default: the cluster's default)
``REPRO_SLURM_TIME``               ``slurm``: time limit of one array task, minutes (default 60)
``REPRO_SLURM_GPUS``               ``slurm``: GPUs per array task (default 0)
``REPRO_SLURM_CPUS``               ``slurm``: CPUs per array task (default 1; also the torch
                                   threads of the task)
``REPRO_SLURM_MEM_GB``             ``slurm``: memory per array task in GB (default: the cluster's)
``REPRO_SLURM_ARRAY_PARALLELISM``  ``slurm``: array tasks running at once (default 256)
``REPRO_SLURM_RUNS_PER_TASK``      ``slurm``: runs executed one after the other by each array task
                                   (default: as few as keep the array within 1000 tasks, SLURM's
                                   default ``MaxArraySize``)
``REPRO_SLURM_ACCOUNT``            ``slurm``: account to charge (optional)
``REPRO_SLURM_QOS``                ``slurm``: quality of service (optional)
``REPRO_SLURM_CONSTRAINT``         ``slurm``: node features, e.g. ``a100`` (optional)
``REPRO_SLURM_LOG_DIR``            ``slurm``: submitit's job files and logs (default:
                                   ``<store_dir>/logs``, inside the sweep's store)
``REPRO_SLURM_POLL_S``             ``slurm`` and submitit executors: seconds between checks for
                                   finished array tasks (default 1; see :class:`SubmititExecutor`)
=================================  =============================================================
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import contextlib
import math
import multiprocessing
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common.experiment import slurm
from common.experiment.ownership import _env_seconds  # one parser of REPRO_*_S settings

__all__ = ["EXECUTORS", "SweepExecutor", "DebugExecutor", "LocalExecutor", "SubmititExecutor",
           "SlurmExecutor", "get_executor", "exit_with_parent", "shielded", "Terminated"]

#: The executor names ``sweep(executor=...)``, the notebooks' ``executor`` parameter and
#: ``make reproduce EXECUTOR=...`` accept.
EXECUTORS = ("debug", "local", "slurm")

#: ``on_finished(tasks, error, statuses=None)``: called in the driver when a piece of work
#: ended; ``error`` is ``None`` when the worker returned (each run then stored its own record, or
#: found it owned by another sweep), else the exception that stopped the worker before it
#: returned (a killed process, a failed SLURM job). ``statuses``, when the executor has them,
#: are what each task's ``run()`` returned (``"done"``, ``"failed"``, ``"busy"``,
#: ``"skipped"``). The sweep settles every run from the store and the claims, so an executor
#: that passes no statuses is still correct.
Finished = Callable[..., None]


def _run_tasks(tasks: Sequence[Any]) -> list[str]:
    """Worker entry point: run each task (each claims its run and stores its record); returns
    their statuses."""
    return [task.run() for task in tasks]


class Terminated(BaseException):
    """The scheduler asked this job to stop (SIGTERM: ``scancel``, ``scontrol requeue``,
    preemption, the time limit). A ``BaseException``, so a run never records it as its own
    failure."""


_SHIELD = {"depth": 0, "pending": None}


@contextlib.contextmanager
def shielded():
    """Hold back the scheduler's SIGTERM (see :func:`_run_tasks_configured`) until the block
    ends: a run that finished computing is stored before its job stops. SLURM sends SIGKILL
    ``KillWait`` seconds (default 30) after SIGTERM; storing a record takes milliseconds."""
    _SHIELD["depth"] += 1
    try:
        yield
    finally:
        _SHIELD["depth"] -= 1
        if _SHIELD["depth"] == 0 and _SHIELD["pending"] is not None:
            signum, _SHIELD["pending"] = _SHIELD["pending"], None
            raise Terminated(f"signal {signum} (held back until the run was stored)")


def _raise_terminated(signum, frame):
    if _SHIELD["depth"]:
        _SHIELD["pending"] = signum
        return
    raise Terminated(f"signal {signum}")


def _run_tasks_configured(tasks: Sequence[Any], settings: dict) -> list[str]:
    """Entry point of a submitit job: configure the process like a pool worker, then run.

    On SIGTERM (SLURM sends it before killing a cancelled, requeued, preempted or timed-out job)
    the run in flight stops: it stores nothing and releases its claim, so the next owner (the
    requeued task, a rerun) takes the run at once, even from another machine. A run whose
    outcome is already computed is stored first (:func:`shielded`). The process then
    exits without a result file (submitit would otherwise record a finished job), and the driver
    learns from the scheduler how the task ended. submitit's own SIGTERM handler only logs.
    """
    import signal

    configure_worker(**settings)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run_tasks(tasks)
    except Terminated:
        print("SIGTERM from the scheduler: a run still computing stored nothing and released "
              "its claim; exiting", file=sys.stderr, flush=True)
        os._exit(128 + signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_with_parent(poll_s: float = 0.5) -> None:
    """End this process (SIGKILL) as soon as its parent process ends.

    A ``local`` pool's workers call it first: when the driver is killed (``kill -9``, an
    out-of-memory kill, a closed terminal), its workers must not run on, computing runs nobody
    collects and holding their memory. On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG)``;
    it fires when the thread that started the worker ends, and the pool starts its workers from
    the thread that calls ``sweep``, which outlives the pool); everywhere, a daemon thread also
    checks every ``poll_s`` seconds whether the parent changed (the process was re-parented).
    Runs in flight are lost; their claims are stale at once (the owner pid is gone), so the next
    sweep computes them.
    """
    import signal
    import threading

    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover (no libc prctl)
            pass
    if os.getppid() != parent:  # pragma: no cover (the parent died before prctl took effect)
        os.kill(os.getpid(), signal.SIGKILL)

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _pool_worker_init(threads: int | None, deterministic: bool | None) -> None:
    """Initializer of a ``local`` pool's worker processes."""
    exit_with_parent()
    configure_worker(threads, deterministic)


def configure_worker(threads: int | None = None, deterministic: bool | None = None) -> None:
    """Set up a worker process the way the driver process is set up.

    ``threads``: torch intra-op threads and the BLAS / OpenMP pools (through ``threadpoolctl``),
    so that ``workers x threads`` does not oversubscribe the machine. ``deterministic``: the
    driver's ``torch.use_deterministic_algorithms`` setting, so that a run computes the same
    numbers in a worker as in the driver (``None`` leaves torch's default).
    """
    if threads is not None:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=int(threads))
        except ImportError:  # pragma: no cover (scikit-learn brings threadpoolctl)
            pass
    if threads is None and deterministic is None:
        return
    try:
        import torch
    except ImportError:  # pragma: no cover (torch is a core dependency)
        return
    if threads is not None:
        torch.set_num_threads(int(threads))
    if deterministic is not None:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(bool(deterministic))


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def _env_int(name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r}: must be an integer") from None
    if value < minimum:
        raise ValueError(f"environment variable {name}={raw!r}: must be >= {minimum}")
    return value


def _env_str(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < low):
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")


class SweepExecutor(abc.ABC):
    """Runs a sweep's pending tasks. Subclasses implement :meth:`run`."""

    #: short name shown in the summary and stored in every record
    name: str = "custom"
    #: whether tasks cross a process boundary (then ``fn`` and the config class must be
    #: importable in a fresh process)
    uses_processes: bool = True

    @abc.abstractmethod
    def run(self, tasks: Sequence[Any], *, name: str, log_dir: Path, settings: dict,
            on_finished: Finished) -> None:
        """Execute every task; call ``on_finished`` as pieces of work end.

        ``name`` labels the work (a SLURM job name); ``log_dir`` is where an executor may keep
        job files; ``settings`` are the driver's keyword arguments for
        :func:`configure_worker` (an executor sets ``threads``). On ``KeyboardInterrupt`` an
        executor stops what it started (cancels queued work) and re-raises.
        """

    def describe(self) -> str:
        return self.name


class DebugExecutor(SweepExecutor):
    """In this process, sequentially, in config order (deterministic; no pickling).

    A failing run is recorded and the sweep goes on; Ctrl-C stops the run in progress (it
    leaves no record) and the sweep.
    """

    name = "debug"
    uses_processes = False

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        for task in tasks:
            on_finished([task], None, [task.run()])


class LocalExecutor(SweepExecutor):
    """A pool of ``workers`` processes on this machine (``spawn``: safe with torch and CUDA).

    Args:
        workers: worker processes (default ``$REPRO_WORKERS``, else usable CPUs //
            ``threads_per_worker``); never more than the pending runs.
        threads_per_worker: torch / BLAS threads of each worker (default
            ``$REPRO_THREADS_PER_WORKER``, else 1).
        start_method: ``"spawn"`` (default) or ``"forkserver"``; ``"fork"`` is refused (forking
            a process that has started torch's thread pools or CUDA can deadlock).

    At most ``workers`` runs are handed to the pool at a time, so when a worker process dies
    (killed, out of memory, a segfault) only the runs in flight are lost: Python then marks the
    whole pool broken, those runs get a failure record saying so, and the remaining runs go to a
    fresh pool. When the driver itself dies (``kill -9``), the workers end within a second
    (:func:`exit_with_parent`) instead of computing on unobserved. Ctrl-C cancels the queued
    runs; a run executing in a worker is abandoned when the worker got the Ctrl-C too (a
    terminal sends it to the whole process group), and otherwise (a Jupyter interrupt reaches
    the kernel only) finishes and is stored in the background.

    As with any ``spawn`` pool, a script (not a notebook) that sweeps with this executor must
    call ``sweep`` under ``if __name__ == "__main__":``, since each worker imports the script.
    """

    name = "local"

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None, *,
                 start_method: str = "spawn"):
        _check_positive("workers", workers)
        _check_positive("threads_per_worker", threads_per_worker)
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method={start_method!r}: allowed values are 'spawn' and "
                             "'forkserver'")
        self.threads_per_worker = threads_per_worker or _env_int(
            "REPRO_THREADS_PER_WORKER", 1, minimum=1)
        self.workers = workers or _env_int("REPRO_WORKERS", None, minimum=1) or max(
            1, _usable_cpus() // self.threads_per_worker)
        self.start_method = start_method

    def describe(self) -> str:
        return f"local ({self.workers} workers x {self.threads_per_worker} threads)"

    def _pool(self, n_workers: int, settings: dict) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=n_workers, mp_context=multiprocessing.get_context(self.start_method),
            initializer=_pool_worker_init, initargs=(settings["threads"],
                                                     settings["deterministic"]))

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        settings = {**settings, "threads": self.threads_per_worker}
        queue = list(reversed(tasks))  # pop() from the end keeps config order
        n_workers = max(1, min(self.workers, len(tasks)))
        pool = self._pool(n_workers, settings)
        in_flight: dict[cf.Future, Any] = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < n_workers:
                    task = queue.pop()
                    in_flight[pool.submit(_run_tasks, [task])] = task
                finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = in_flight.pop(future)
                    error = future.exception()
                    if isinstance(error, KeyboardInterrupt):  # Ctrl-C reached the worker first
                        raise KeyboardInterrupt
                    broken |= isinstance(error, cf.process.BrokenProcessPool)
                    on_finished([task], error, None if error else future.result())
                if broken:  # every other run in flight died with the pool
                    for future, task in list(in_flight.items()):
                        on_finished([task], future.exception())
                    in_flight.clear()
                    pool.shutdown(wait=True)
                    pool = self._pool(n_workers, settings)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _poll_s(poll_s: float | None) -> float:
    if poll_s is None:
        return _env_seconds("REPRO_SLURM_POLL_S", 1.0)
    if isinstance(poll_s, bool) or not isinstance(poll_s, (int, float)) or not poll_s > 0:
        raise ValueError(f"poll_s={poll_s!r}: must be a number of seconds > 0")
    return float(poll_s)


class _JobWatch:
    """Which of a submitit array's jobs ended, for any submitit executor: ``job.done()``."""

    def __init__(self, jobs: Sequence[Any], poll_s: float):
        self.jobs = jobs
        self.poll_s = poll_s

    @staticmethod
    def _outcome(job) -> tuple[Any, list[str] | None]:
        try:
            return None, job.result()
        except Exception as exc:  # the job failed, timed out or was preempted
            return exc, None

    def ended(self, pending: dict[int, Any]) -> list[tuple[int, Any, list[str] | None]]:
        """``(index, error, statuses)`` of the pending jobs that ended since the last call."""
        return [(i, *self._outcome(job)) for i, job in pending.items() if job.done()]

    def cancel(self, pending: dict[int, Any]) -> None:
        for job in pending.values():
            try:
                job.cancel(check=False)
            except Exception:  # best effort: the job may already be gone
                pass


class _SlurmWatch(_JobWatch):
    """The same for a SLURM job array, without submitit's ``sacct`` polling.

    A task that finished left its result file: checked every ``poll_s``. A task that ended
    without one (cancelled, failed, timed out, its node lost) is seen in the scheduler's queue
    (:func:`common.experiment.slurm.task_states`: ``squeue``, or ``sacct`` when accounting is
    on), asked every ``poll_s`` at first and less often as the array runs on (a tenth of its
    age, at most every 30 s: a long array does not load the controller). A task that ended
    ``COMPLETED`` or left the queue gets ``RESULT_GRACE_S`` for its result file to appear (a
    shared file system may show it late); one that was cancelled or failed gets none.
    """

    RESULT_GRACE_S = 15.0
    MAX_QUEUE_INTERVAL_S = 30.0

    def __init__(self, jobs, poll_s):
        super().__init__(jobs, poll_s)
        self.started = time.monotonic()
        self.next_queue_check = self.started
        self.ended_at: dict[int, float] = {}
        self.queue_error: str | None = None

    @staticmethod
    def _split(job) -> tuple[str, int]:
        array_id, _, index = str(job.job_id).partition("_")
        return array_id, int(index or 0)

    def _states(self, pending) -> dict[int, str | None]:
        """The queue's state of every pending job (None: no longer listed)."""
        by_array: dict[str, dict[int, int]] = {}
        for i, job in pending.items():
            array_id, index = self._split(job)
            by_array.setdefault(array_id, {})[index] = i
        states: dict[int, str | None] = {}
        for array_id, indices in by_array.items():
            found = slurm.task_states(array_id, indices)
            for index, i in indices.items():
                states[i] = found.get(index)
        return states

    def _lost(self, job, state: str | None) -> RuntimeError:
        array_id, index = self._split(job)
        how = f"ended {state}" if state else "left the queue"
        tail = ""
        try:
            err = Path(job.paths.stderr).read_text(errors="replace").strip().splitlines()
            tail = "\n".join(err[-10:])
        except OSError:
            pass
        return RuntimeError(f"SLURM array task {array_id}_{index} {how} without a result "
                            f"(log: {job.paths.stderr})" + (f"\n{tail}" if tail else ""))

    def ended(self, pending):
        out = []
        for i, job in pending.items():
            if job.paths.result_pickle.exists():
                out.append((i, *self._outcome(job)))
        rest = {i: job for i, job in pending.items() if i not in {o[0] for o in out}}
        now = time.monotonic()
        if not rest or now < self.next_queue_check:
            return out
        interval = min(max(self.poll_s, (now - self.started) / 10), self.MAX_QUEUE_INTERVAL_S)
        self.next_queue_check = now + interval
        try:
            states = self._states(rest)
        except RuntimeError as exc:  # the controller does not answer: say so once, keep waiting
            if self.queue_error is None:
                print(f"{exc}; waiting for the controller", file=sys.stderr, flush=True)
            self.queue_error = str(exc)
            return out
        self.queue_error = None
        for i, job in rest.items():
            state = states[i]
            if state in slurm.ACTIVE:
                self.ended_at.pop(i, None)  # e.g. requeued after it was seen ending
                continue
            first = self.ended_at.setdefault(i, now)
            if state in (None, "COMPLETED") and now - first < self.RESULT_GRACE_S:
                self.next_queue_check = min(self.next_queue_check, now + self.poll_s)
                continue
            if job.paths.result_pickle.exists():
                out.append((i, *self._outcome(job)))
            else:
                out.append((i, self._lost(job, state), None))
        return out

    def cancel(self, pending, wait_s: float = 60.0) -> None:
        """``scancel`` the arrays, then wait (at most ``wait_s``) until no task is active, so
        that nothing is left in ``squeue`` when the driver returns."""
        arrays = {self._split(job)[0] for job in pending.values()}
        if not arrays:
            return
        slurm.cancel(arrays)
        deadline = time.monotonic() + wait_s
        left: list[str] = []
        while time.monotonic() < deadline:
            try:
                left = [f"{a}_{k}" for a in arrays for k, state in slurm.task_states(a).items()
                        if state in slurm.ACTIVE]
            except RuntimeError:
                left = ["?"]
            if not left:
                break
            time.sleep(min(self.poll_s, 0.5))
        what = ", ".join(sorted(arrays))
        print(f"cancelled SLURM job array {what}" + (
            f" ({len(left)} tasks still ending: check squeue)" if left else ""),
            file=sys.stderr, flush=True)


class SubmititExecutor(SweepExecutor):
    """Any ``submitit`` executor: the pending runs are submitted as one job array.

    Args:
        executor: a ``submitit.Executor`` (``AutoExecutor``, ``SlurmExecutor``,
            ``LocalExecutor``, ...), already configured (``update_parameters``).
        runs_per_task: runs one array task executes one after the other (default 1). Use it to
            keep a grid of thousands of runs within the cluster's maximum array size.
        threads: torch / BLAS threads in each task (default: the executor's ``cpus_per_task``
            when it has one, else 1).
        poll_s: seconds between checks for finished tasks (``REPRO_SLURM_POLL_S``, default 1).

    The submitting process waits for the jobs (a progress bar advances as array tasks end). A
    task that finished is seen from its result file within ``poll_s``; on SLURM, a task that
    ended without one (cancelled, failed) is seen in ``squeue`` (``sacct`` is not needed:
    :mod:`common.experiment.slurm`), and its runs get a failure record unless they were stored.
    Ctrl-C cancels every job of the array that has not finished (``scancel``) and, on SLURM,
    waits until none is left in the queue; runs stored before that stay stored. A task that gets
    SIGTERM (``scancel``, ``scontrol requeue``, preemption) abandons its run in flight and
    releases its claim, so a requeued task or a rerun takes it at once. If the submitting
    process is killed without Ctrl-C, the array keeps running and stores its runs. A rerun
    meanwhile submits the unfinished runs again, but no run is computed twice: each array task
    claims a run before computing it, and the rerun waits for the runs the first array's tasks
    hold (``common.experiment.sweep``, "Ownership"); its own tasks that reach a run already
    claimed or stored leave it at once.
    """

    name = "submitit"

    def __init__(self, executor, *, runs_per_task: int | None = 1, threads: int | None = None,
                 poll_s: float | None = None):
        import submitit

        if not isinstance(executor, submitit.Executor):
            raise TypeError(f"executor must be a submitit.Executor, got {type(executor).__name__}")
        _check_positive("runs_per_task", runs_per_task)
        _check_positive("threads", threads)
        self.executor = executor
        self.runs_per_task = runs_per_task
        self.threads = threads
        self.poll_s = _poll_s(poll_s)
        self.name = f"submitit-{executor.name()}"

    def describe(self) -> str:
        return self.name

    def _runs_per_task(self, n_runs: int) -> int:
        return self.runs_per_task or max(1, math.ceil(n_runs / 1000))

    def _chunks(self, tasks: Sequence[Any]) -> list[list[Any]]:
        size = self._runs_per_task(len(tasks))
        return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]

    def _threads(self) -> int:
        if self.threads is not None:
            return self.threads
        params = self.executor.parameters
        return int(params.get("cpus_per_task") or params.get("slurm_cpus_per_task") or 1)

    def _watch(self, jobs, chunks) -> _JobWatch:
        from submitit.slurm.slurm import SlurmJob

        if jobs and all(isinstance(job, SlurmJob) for job in jobs):
            slurm.note_accounting()
            arrays = sorted({_SlurmWatch._split(job)[0] for job in jobs})
            folder = Path(jobs[0].paths.folder).parent
            size = max(len(c) for c in chunks)
            print(f"submitted SLURM job array {', '.join(arrays)}: {len(jobs)} tasks of "
                  f"{size} run{'s' if size > 1 else ''}{' at most' if size > 1 else ''}; job "
                  f"files and logs in {folder}", file=sys.stderr, flush=True)
            return _SlurmWatch(jobs, self.poll_s)
        return _JobWatch(jobs, self.poll_s)

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        settings = {**settings, "threads": self._threads()}
        chunks = self._chunks(tasks)
        jobs = self.executor.map_array(_run_tasks_configured, chunks, [settings] * len(chunks))
        pending = dict(enumerate(jobs))
        watch = self._watch(jobs, chunks)
        try:
            while pending:
                for i, error, statuses in watch.ended(pending):
                    del pending[i]
                    on_finished(chunks[i], error, statuses)
                if pending:
                    time.sleep(self.poll_s)
        except BaseException:
            watch.cancel(pending)
            raise


class SlurmExecutor(SubmititExecutor):
    """A SLURM job array through ``submitit.AutoExecutor`` (one array for the whole sweep).

    Every argument left ``None`` is read from its ``REPRO_SLURM_*`` environment variable (see the
    module docstring), else takes the default shown.

    Args:
        partition: SLURM partition (``REPRO_SLURM_PARTITION``; default: the cluster's).
        time_min: time limit of one array task in minutes (``REPRO_SLURM_TIME``; 60).
        gpus_per_task: GPUs per array task (``REPRO_SLURM_GPUS``; 0).
        cpus_per_task: CPUs per array task, also its torch threads (``REPRO_SLURM_CPUS``; 1).
        mem_gb: memory per array task (``REPRO_SLURM_MEM_GB``; the cluster's default).
        array_parallelism: array tasks running at once (``REPRO_SLURM_ARRAY_PARALLELISM``; 256).
        runs_per_task: runs per array task (``REPRO_SLURM_RUNS_PER_TASK``). Default for CPU
            tasks: about four array tasks per task slot of the partition (its CPUs from
            ``sinfo`` divided by ``cpus_per_task``, at most ``array_parallelism``), and at most
            1000 tasks. So a big cluster gets one run per task, while a small one does not pay
            a Python start (imports, data loading) for every run: on a 2-CPU node, ngn-m's
            60-run MNIST grid takes 287 s as 60 tasks and 69 s as 8 tasks of 8 runs (56 s
            in-process). With GPUs: one run per task (as few more as keep 1000 tasks). A task
            runs its runs one after the other, so ``time_min`` must cover all of them.
        account, qos, constraint: passed to sbatch when set (``REPRO_SLURM_ACCOUNT``,
            ``REPRO_SLURM_QOS``, ``REPRO_SLURM_CONSTRAINT``).
        log_dir: submitit's job folder (``REPRO_SLURM_LOG_DIR``; default ``<store_dir>/logs``,
            inside the sweep's store; one subfolder per array task). Array tasks run the
            driver's Python (``sys.executable``: the project's ``.venv``) in the driver's working
            directory, with its environment; the store, this folder and the repository must be
            on a file system the compute nodes share.
        poll_s: seconds between checks for finished tasks (``REPRO_SLURM_POLL_S``; 1). The
            queue itself is asked less often as the array runs on (:class:`SubmititExecutor`).

    Tested against a real single-node SLURM (``tests/slurm``, ``make test-slurm``). Without SLURM
    on this machine (no ``srun``), ``AutoExecutor`` falls back to submitit's local executor,
    which starts every array task at once as a subprocess; a warning says so (use
    ``executor="local"`` for a bounded process pool).
    """

    name = "slurm"

    def __init__(self, *, partition: str | None = None, time_min: int | None = None,
                 gpus_per_task: int | None = None, cpus_per_task: int | None = None,
                 mem_gb: float | None = None, array_parallelism: int | None = None,
                 runs_per_task: int | None = None, account: str | None = None,
                 qos: str | None = None, constraint: str | None = None,
                 log_dir: str | os.PathLike | None = None, poll_s: float | None = None):
        for pname, value in (("time_min", time_min), ("cpus_per_task", cpus_per_task),
                             ("array_parallelism", array_parallelism),
                             ("runs_per_task", runs_per_task)):
            _check_positive(pname, value)
        _check_positive("gpus_per_task", gpus_per_task, allow_zero=True)
        if mem_gb is not None and not (isinstance(mem_gb, (int, float)) and mem_gb > 0):
            raise ValueError(f"mem_gb={mem_gb!r}: must be a positive number")
        self.partition = partition or _env_str("REPRO_SLURM_PARTITION")
        self.time_min = time_min or _env_int("REPRO_SLURM_TIME", 60, minimum=1)
        self.gpus_per_task = gpus_per_task if gpus_per_task is not None else _env_int(
            "REPRO_SLURM_GPUS", 0)
        self.cpus_per_task = cpus_per_task or _env_int("REPRO_SLURM_CPUS", 1, minimum=1)
        if mem_gb is None and _env_str("REPRO_SLURM_MEM_GB"):
            raw = _env_str("REPRO_SLURM_MEM_GB")
            try:
                mem_gb = float(raw)
            except ValueError:
                raise ValueError(f"environment variable REPRO_SLURM_MEM_GB={raw!r}: must be a "
                                 "number") from None
        self.mem_gb = mem_gb
        self.array_parallelism = array_parallelism or _env_int(
            "REPRO_SLURM_ARRAY_PARALLELISM", 256, minimum=1)
        self.runs_per_task = runs_per_task or _env_int("REPRO_SLURM_RUNS_PER_TASK", None,
                                                       minimum=1)
        self.account = account or _env_str("REPRO_SLURM_ACCOUNT")
        self.qos = qos or _env_str("REPRO_SLURM_QOS")
        self.constraint = constraint or _env_str("REPRO_SLURM_CONSTRAINT")
        self.log_dir = log_dir or _env_str("REPRO_SLURM_LOG_DIR")
        self.threads = self.cpus_per_task
        self.poll_s = _poll_s(poll_s)
        self.executor = None  # built in run(), when the store (default log folder) is known

    def describe(self) -> str:
        parts = [f"partition={self.partition or 'default'}", f"time={self.time_min} min",
                 f"gpus={self.gpus_per_task}", f"cpus={self.cpus_per_task}",
                 f"array parallelism={self.array_parallelism}"]
        return f"slurm ({', '.join(parts)})"

    def build(self, log_dir: Path, job_name: str = "sweep"):
        """The configured ``submitit.AutoExecutor`` (its job files go to ``log_dir/<job id>``)."""
        import submitit

        if shutil.which("srun") is None:
            warnings.warn("executor 'slurm': SLURM is not available on this machine (no srun); "
                          "submitit falls back to its local executor, which starts every array "
                          "task at once. Use executor 'local' for a bounded process pool.",
                          RuntimeWarning, stacklevel=4)
        ex = submitit.AutoExecutor(folder=Path(self.log_dir or log_dir) / "%j")
        params: dict[str, Any] = {
            "name": job_name, "timeout_min": self.time_min, "cpus_per_task": self.cpus_per_task,
            "gpus_per_node": self.gpus_per_task, "tasks_per_node": 1, "nodes": 1,
            "slurm_array_parallelism": self.array_parallelism,
        }
        optional = {"mem_gb": self.mem_gb, "slurm_partition": self.partition,
                    "slurm_account": self.account, "slurm_qos": self.qos,
                    "slurm_constraint": self.constraint}
        params.update({k: v for k, v in optional.items() if v is not None})
        ex.update_parameters(**params)
        return ex

    def _runs_per_task(self, n_runs: int) -> int:
        fewest = max(1, math.ceil(n_runs / 1000))  # SLURM's default MaxArraySize is 1001
        if self.runs_per_task:
            return self.runs_per_task
        if self.gpus_per_task:
            return fewest  # GPU runs are long next to a Python start; CPUs do not count slots
        slots = min(self.array_parallelism,
                    slurm.array_slots(self.partition, self.cpus_per_task) or self.array_parallelism)
        return max(fewest, math.ceil(n_runs / (4 * slots)))

    def run(self, tasks, *, name, log_dir, settings, on_finished):
        self.executor = self.build(log_dir, job_name=name)
        super().run(tasks, name=name, log_dir=log_dir, settings=settings,
                    on_finished=on_finished)


def get_executor(executor) -> SweepExecutor:
    """An executor from its name (``"debug"``, ``"local"``, ``"slurm"``), a
    :class:`SweepExecutor`, or a ``submitit.Executor`` (wrapped in :class:`SubmititExecutor`).

    Raises ``ValueError`` for an unknown name and ``TypeError`` for another kind of object, both
    naming the parameter and the allowed values.
    """
    allowed = (f"allowed values are {', '.join(repr(n) for n in EXECUTORS)}, or an executor "
               "object (DebugExecutor, LocalExecutor, SlurmExecutor, SubmititExecutor, or a "
               "submitit.Executor)")
    if isinstance(executor, SweepExecutor):
        return executor
    if isinstance(executor, str):
        if executor == "debug":
            return DebugExecutor()
        if executor == "local":
            return LocalExecutor()
        if executor == "slurm":
            return SlurmExecutor()
        raise ValueError(f"executor={executor!r}: {allowed}")
    if "submitit" in sys.modules:
        import submitit

        if isinstance(executor, submitit.Executor):
            return SubmititExecutor(executor)
    raise TypeError(f"executor={executor!r} (a {type(executor).__name__}): {allowed}")
