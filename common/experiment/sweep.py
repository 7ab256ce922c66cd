"""Parameter sweeps that resume: map a function over configs, store every run as it finishes.

::

    @dataclass(frozen=True)
    class Trial(Config):
        method: str = param("NGN-M")
        lr: float = param(1.0, gt=0)
        seed: int = param(0, ge=0)

    def train(trial: Trial) -> dict:           # top level of a module (lib.py); seeds itself
        ...
        return {"test_acc": acc}

    grid = [Trial(method=m, lr=lr, seed=s) for s in seeds for m in methods for lr in lrs]
    result = sweep(train, grid, store_dir=run.sweep_dir, executor="local")
    print(result.summary())                    # done / failed / skipped, and every failure
    df = result.to_frame()                     # one row per config, in config order

**Keys.** A run is identified by ``run_key(fn, config, version)``: the first 20 hex digits of the
sha256 of the function's qualified name (``module.qualname``), ``config.config_hash()`` (the
config's class name and field values) and the code version. Its record is
``<store_dir>/<key>.json``.

**Code version.** By default, :func:`code_version`: a fingerprint (sha256) of the source files
of the ``common`` package, the source file of ``fn``'s module (for a paper, its ``lib.py``), the
installed versions of the numerical packages (torch, numpy, scipy, jax, ...) and the Python
version. Any edit to that code, committed or not, gives new keys, so results computed by
different code are never reused; an edit elsewhere (a README, a notebook's analysis cells) keeps
them. The alternatives were weighed: the git commit alone would reuse results across uncommitted
edits (a dirty tree looks like its commit) and would discard every result at each commit, even
one that only touches documentation; hashing only ``fn``'s own module misses the library code it
calls; hashing every module loaded at call time misses modules ``fn`` imports lazily. What the
fingerprint cannot see: other files ``fn`` imports (a helper module next to ``lib.py``), data
files, the machine (CPU vs GPU numerics; ``device="auto"`` resolves per machine). A caller who
needs those in the key, or who knows that an edit does not change the numbers and wants to keep
the results, passes ``version="..."``: the string replaces the fingerprint
(``version=code_version(fn) + "+data-v2"`` extends it instead). Every record also carries the git
commit and dirty flag (``provenance()``), for the reader.

**Skipped, retried, recomputed.** With ``resume=True`` (default) a config whose record says
``"status": "done"`` is *skipped*: not run again, its stored results are used. A record that says
``"failed"`` is retried. With ``resume=False`` every config runs again and its record is replaced
by the new outcome (a failure included) when the new run ends; only a worker that dies leaves the
finished record in place. Two equal configs in one call are an error (they would share a key).

**Records.** Each run writes its own record from wherever it executes, atomically (temporary file
+ rename, :func:`atomic_write_json`): a reader, or a sweep interrupted at any moment, sees a
complete record or none. A finished run stores ``{"key", "status": "done", "function", "config",
"config_hash", "version", "attempt", "results", "wall_time_s", "provenance", "worker"}``:
``results`` is what ``fn`` returned, converted by :func:`to_jsonable` (NaN and inf are kept),
``attempt`` identifies the ``sweep`` call that wrote the record, and ``worker`` the executor,
host, process and, inside SLURM, ``slurm_job_id``, ``slurm_array_job_id``,
``slurm_array_task_id`` and ``slurm_restart_count`` (how often the task was requeued). A run
that raises stores ``"status": "failed"`` and ``"error": {"type", "message", "traceback"}``
instead of results, and the sweep goes on with the others. A run whose worker died before it
stored anything (a killed process, a SLURM job that failed, timed out or was preempted) gets a
failure record written by the sweep, with the executor's error.

Records are validated when read (:func:`record_problem`: the fields of :data:`RECORD_FIELDS`
with their types, the key of the file, the function, config hash and version of the run, and
``results`` for ``done`` or ``error`` for ``failed``). A malformed record (hand-edited,
truncated by a full disk outside the atomic write, copied from another run) is never counted as
finished: the sweep names it on stderr and in ``SweepResult.malformed``, and computes the run
again.

**Ownership: several sweeps on one store.** A run is computed by the process that *claims* it:
before executing, the worker creates ``<store_dir>/<key>.claim`` exclusively
(:mod:`common.experiment.ownership`: ``O_EXCL``, safe on NFS; the file names its host, pid,
process start time, SLURM job and this call's ``attempt``) and removes it once the record is
stored; a background thread refreshes the claim's modification time meanwhile (the heartbeat).
So two sweeps over the same grid (two terminals, a resubmitted job) compute every run once: a
worker that finds a run claimed by a live process leaves it, and its sweep *waits* for that run
(polling every ``REPRO_SWEEP_POLL_S`` seconds, default 2) and uses the record its owner stores;
both sweeps end with the whole grid. A claim whose owner is gone (a dead pid on this machine; on
another machine, no heartbeat for ``REPRO_CLAIM_STALE_S`` seconds, default 300) is stale: the
run is taken over and computed. A requeued SLURM array task re-claims its own runs at once (same
SLURM job id), and skips the runs of its chunk that an earlier run of it already stored. A sweep
never replaces a finished record by a failure, whoever wrote it: a run that another sweep
finished counts as *skipped* here (``SweepResult.waited`` when this call waited for it).

**Interruption.** Ctrl-C (``KeyboardInterrupt``) stops the sweep: runs already stored stay
stored, runs in flight are lost (they leave no record and release their claims), queued runs are
cancelled, and the exception propagates after a line on stderr says how many runs are stored.
Calling ``sweep`` again with the same arguments computes only the missing runs. A killed worker
or a preempted job loses only the runs it was executing; a killed driver of a ``local`` sweep
takes its workers with it (they end within a second,
:func:`common.experiment.executors.exit_with_parent`), and the claims they leave are stale at once.

**Determinism.** ``fn`` must seed itself from its config (``derive_seed``): the runner seeds
nothing, so a run's numbers do not depend on the executor or on the order runs execute in.
Worker processes get the driver's ``torch.use_deterministic_algorithms`` setting and a fixed
number of threads (:func:`common.experiment.executors.configure_worker`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import json
import math
import os
import platform
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from common.experiment.config import Config
from common.experiment.executors import EXECUTORS, SweepExecutor, get_executor, shielded
from common.experiment.ownership import Claim, read_claim, try_claim
from common.experiment.provenance import package_versions, provenance
from common.experiment.store import atomic_write_json, read_json, to_jsonable
from common.modules import load_module_file

__all__ = ["sweep", "SweepResult", "SweepError", "run_key", "code_version", "record_problem",
           "load_record", "RECORD_FIELDS", "EXECUTORS"]

_STATUSES = ("done", "failed")
CLAIM_SUFFIX = ".claim"


class SweepError(RuntimeError):
    """Some runs of a sweep failed or were never stored (raised by ``raise_for_failures``)."""


# ---------------------------------------------------------------------------------------------
# keys and code versions
# ---------------------------------------------------------------------------------------------


def _qualified_name(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _check_function(fn) -> None:
    """``fn`` must be a named, top-level function: its name is part of every run's key."""
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if not callable(fn) or qualname is None or module is None:
        raise TypeError(f"fn={fn!r}: must be a function defined at the top level of a module "
                        "(put fixed arguments into the config instead of a functools.partial)")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise TypeError(f"fn={qualname!r}: must be a function defined at the top level of a "
                        "module, not a lambda or a nested function (its qualified name is part "
                        "of each run's key, and worker processes import it by name)")


@dataclasses.dataclass(frozen=True)
class _Ref:
    """Where a worker process finds a module-level object: module name, source file, qualname."""

    module: str
    file: str | None
    qualname: str

    @classmethod
    def of(cls, obj) -> _Ref:
        module = sys.modules.get(obj.__module__)
        file = getattr(module, "__file__", None)
        return cls(obj.__module__, str(Path(file).resolve()) if file else None, obj.__qualname__)

    def _module(self):
        if self.module == "__main__":
            main = sys.modules.get("__main__")
            main_file = getattr(main, "__file__", None)
            if main_file and self.file and Path(main_file).resolve() == Path(self.file):
                return main
            return _load_file("__sweep_main__", self.file, self)
        if self.module in sys.modules:
            return sys.modules[self.module]
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name != self.module or self.file is None:
                raise
        # a module loaded from a file path, e.g. a paper's lib.py (common.project.paper_module)
        return _load_file(self.module, self.file, self)

    def resolve(self):
        obj = self._module()
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def problem(self, obj) -> str | None:
        """Why a fresh process could not find ``obj`` through this reference (None: it can)."""
        if "<locals>" in self.qualname or "<lambda>" in self.qualname:
            return "it is not defined at the top level of a module"
        if self.module == "__main__" and self.file is None:
            return ("it is defined in an interactive session or a notebook cell; move it to a "
                    "module file (for a paper, its lib.py)")
        if self.file is None and not _importable(self.module):
            return f"its module {self.module!r} cannot be imported by name and has no file"
        module = sys.modules.get(self.module)
        found = module
        for part in self.qualname.split("."):
            found = getattr(found, part, None)
        if found is not obj:
            return f"{self.module}.{self.qualname} does not refer to it"
        return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec
        return False


def _load_file(name: str, file: str | None, ref: _Ref):
    if name in sys.modules:
        return sys.modules[name]
    if file is None or not Path(file).is_file():
        raise ModuleNotFoundError(f"cannot load {ref.module}.{ref.qualname}: module "
                                  f"{ref.module!r} is not importable and its file {file} is gone")
    return load_module_file(name, file)


def _source_files(fn) -> list[tuple[str, Path]]:
    import common

    common_dir = Path(common.__file__).resolve().parent
    files = [(f"common/{p.relative_to(common_dir).as_posix()}", p)
             for p in sorted(common_dir.rglob("*.py")) if "__pycache__" not in p.parts]
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    module_file = getattr(module, "__file__", None)
    if module_file:
        path = Path(module_file).resolve()
        if common_dir not in path.parents:
            files.append((f"{fn.__module__}:{path.name}", path))
    return files


def code_version(fn) -> str:
    """``"src-<16 hex>"``: the fingerprint of the code a run of ``fn`` executes.

    sha256 over the ``.py`` files of the ``common`` package (relative path and bytes), the
    source file of ``fn``'s module (when it is outside ``common``), the installed
    versions of the numerical packages and the Python ``major.minor`` version. The files are read
    from disk when called: an edited module that the running process has not re-imported is
    fingerprinted as edited (restart the kernel after editing a ``lib.py``). See the module
    docstring for what the fingerprint covers and what it cannot see.
    """
    h = hashlib.sha256()
    for rel, path in _source_files(fn):
        h.update(rel.encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(json.dumps(package_versions(), sort_keys=True).encode())
    h.update(".".join(platform.python_version_tuple()[:2]).encode())
    return f"src-{h.hexdigest()[:16]}"


def run_key(fn, config: Config, version: str) -> str:
    """The store key of one run: 20 hex digits of sha256(fn's qualified name, config hash,
    code version)."""
    blob = json.dumps({"function": _qualified_name(fn), "config": config.config_hash(),
                       "version": version}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------


def _worker_info(executor: str) -> dict[str, Any]:
    info: dict[str, Any] = {"executor": executor, "host": platform.node(), "pid": os.getpid()}
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                 "SLURM_RESTART_COUNT"):
        if os.environ.get(name):
            info[name.lower()] = os.environ[name]
    return info


@dataclasses.dataclass
class _Task:
    """One pending run, as shipped to a worker: plain data plus references to fn and the config
    class (a worker imports them by module name, or from their file for modules such as a
    paper's ``lib.py`` that are loaded from a path)."""

    index: int
    key: str
    path: str
    function: _Ref
    config_class: _Ref
    config: dict[str, Any]
    meta: dict[str, Any]
    fn_obj: Any = dataclasses.field(default=None, repr=False)
    config_obj: Any = dataclasses.field(default=None, repr=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["fn_obj"] = state["config_obj"] = None  # workers resolve the references
        return state

    @property
    def claim_path(self) -> Path:
        return Path(self.path).with_suffix(CLAIM_SUFFIX)

    def _base_record(self) -> dict[str, Any]:
        return {"key": self.key, "status": None, "function": self.meta["function"],
                "config_class": self.config_class.qualname, "config": self.config,
                "config_hash": self.meta["config_hash"], "version": self.meta["version"],
                "attempt": self.meta["attempt"]}

    def stored(self) -> tuple[dict | None, str | None]:
        """The record stored for this run (validated), and what is wrong with it if anything."""
        return load_record(Path(self.path), self.key, expect=self.meta)

    def finished_elsewhere(self, record: dict | None) -> bool:
        """``record`` is a finished run this call must not replace: written by another call,
        except the record that ``resume=False`` was asked to replace."""
        return (record is not None and record["status"] == "done"
                and record["attempt"] not in (self.meta["attempt"], self.meta.get("replaces")))

    def run(self) -> str:
        """Claim the run, execute it and store its record; returns ``"done"``, ``"failed"``,
        ``"busy"`` (another live process owns the run: nothing done) or ``"skipped"`` (it was
        finished by another sweep in the meantime).

        Exceptions of ``fn`` (and of loading it) become a failure record; ``KeyboardInterrupt``
        and ``SystemExit`` propagate, leave no record and release the claim, and so does a
        SLURM task's SIGTERM (``executors.Terminated``), which waits while an outcome that is
        already computed is being stored.
        """
        got = try_claim(self.claim_path, attempt=self.meta["attempt"])
        if not isinstance(got, Claim):
            return "busy"
        with got:
            current, _ = self.stored()
            # finished since the driver looked: by another sweep, or by an earlier run of this
            # very task (a requeued SLURM job runs its chunk again)
            if (current is not None and current["status"] == "done"
                    and current["attempt"] != self.meta.get("replaces")):
                return "skipped"
            record = self._base_record()
            started = time.perf_counter()
            try:
                fn = self.fn_obj if self.fn_obj is not None else self.function.resolve()
                config = (self.config_obj if self.config_obj is not None
                          else self.config_class.resolve().from_dict(self.config))
                results = fn(config)
                error = None
            except Exception as exc:
                error = exc
            # a scheduler's SIGTERM waits until the outcome is stored (executors.shielded)
            with shielded():
                status = self._store(record, started, results if error is None else None, error)
        return status

    def _store(self, record, started, results, error) -> str:
        if error is None:
            try:
                results = to_jsonable(results)
                json.dumps(results, allow_nan=True)
                record.update(status="done", results=results)
            except Exception as exc:
                error = exc
        if error is not None:
            record.update(status="failed", error={
                "type": type(error).__name__, "message": str(error),
                "traceback": "".join(traceback.format_exception(error))})
        record["wall_time_s"] = round(time.perf_counter() - started, 3)
        record["provenance"] = provenance()
        record["worker"] = _worker_info(self.meta["executor"])
        if record["status"] != "done" and self.finished_elsewhere(self.stored()[0]):
            return "skipped"  # never replace a finished run by a failure
        atomic_write_json(self.path, record)
        return record["status"]

    def record_lost(self, error: BaseException) -> str:
        """Failure record for a run whose worker ended before it stored anything.

        Returns ``"failed"`` (stored), ``"kept"`` (a finished record is there and is never
        replaced by a failure) or ``"busy"`` (another live process owns the run now).
        """
        got = try_claim(self.claim_path, attempt=self.meta["attempt"],
                        ended_attempt=self.meta["attempt"])
        if not isinstance(got, Claim):
            return "busy"
        try:
            current, _ = self.stored()
            if current is not None and current["status"] == "done":
                return "kept"
            detail = "".join(traceback.format_exception(error)).rstrip()
            first_line = (str(error).strip().splitlines() or [""])[0][:300]
            record = self._base_record()
            record.update(status="failed", error={
                "type": "WorkerDied",
                "message": (f"the worker ended before this run was stored "
                            f"({type(error).__name__}: {first_line}); a rerun retries it"),
                "traceback": detail})
            record["provenance"] = provenance()
            record["worker"] = _worker_info(self.meta["executor"])
            atomic_write_json(self.path, record)
            return "failed"
        finally:
            got.release()


#: The fields every record has, with their types; ``done`` adds ``results``, ``failed`` adds
#: ``error`` (a dict with ``type``, ``message`` and ``traceback``).
RECORD_FIELDS = {"key": str, "status": str, "function": str, "config": dict, "config_hash": str,
                 "version": str, "attempt": str}


def record_problem(record: Any, key: str | None = None,
                   expect: dict[str, Any] | None = None) -> str | None:
    """What makes ``record`` unusable as the record of run ``key`` (None: nothing).

    ``expect`` (optional) holds the run's ``function``, ``config_hash`` and ``version``: a record
    with other values was written for another run (a file copied or renamed by hand).
    """
    if not isinstance(record, dict):
        return f"not a JSON object but a {type(record).__name__}"
    for name, kind in RECORD_FIELDS.items():
        if name not in record:
            return f"no {name!r}"
        if not isinstance(record[name], kind):
            return f"{name!r} is a {type(record[name]).__name__}, not a {kind.__name__}"
    if record["status"] not in _STATUSES:
        return f"status {record['status']!r} is neither 'done' nor 'failed'"
    if key is not None and record["key"] != key:
        return f"written for another run (its key is {record['key']!r})"
    for name in ("function", "config_hash", "version"):
        if expect is not None and name in expect and record[name] != expect[name]:
            return f"written for another run (its {name} is {record[name]!r})"
    if record["status"] == "done" and "results" not in record:
        return "status 'done' without 'results'"
    if record["status"] == "failed":
        error = record.get("error")
        if not (isinstance(error, dict) and isinstance(error.get("type"), str)
                and isinstance(error.get("message"), str)):
            return "status 'failed' without an 'error' that has a 'type' and a 'message'"
    return None


def load_record(path: Path, key: str | None = None,
                expect: dict[str, Any] | None = None) -> tuple[dict | None, str | None]:
    """``(record, None)`` for a valid record, ``(None, problem)`` for a malformed one,
    ``(None, None)`` when there is none. ``key`` defaults to the file's name."""
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None, None
    except UnicodeDecodeError:
        return None, "not valid JSON (not UTF-8 text)"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except OSError as exc:
        return None, f"unreadable: {exc}"
    problem = record_problem(record, Path(path).stem if key is None else key, expect)
    return (None, problem) if problem else (record, None)


def _read_record(path: Path) -> dict | None:
    return load_record(path)[0]


# ---------------------------------------------------------------------------------------------
# the result of a sweep
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SweepResult:
    """What one call of :func:`sweep` did, and access to the stored records in config order.

    ``done``, ``failed`` and ``skipped`` are positions in ``configs``: computed by this call,
    failed (failure record stored; a rerun retries them), and finished by another call (before
    this one, or by another sweep on the same store while this one ran) and not recomputed.
    ``waited`` are the skipped runs another live sweep owned when this call reached them: it
    waited for their records. ``malformed`` maps positions to what was wrong with the record
    found at the start (those runs were computed again).
    """

    function: str
    store_dir: Path
    configs: list[Config]
    keys: list[str]
    version: str
    executor: str
    done: list[int]
    failed: list[int]
    skipped: list[int]
    waited: list[int] = dataclasses.field(default_factory=list)
    malformed: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every config has a finished record."""
        return not self.failed and len(self.done) + len(self.skipped) == len(self.configs)

    def path(self, i: int) -> Path:
        return self.store_dir / f"{self.keys[i]}.json"

    def _loaded(self) -> list[tuple[dict | None, str | None]]:
        return [load_record(self.path(i), self.keys[i]) for i in range(len(self.configs))]

    def records(self) -> list[dict | None]:
        """The stored record of every config, in config order (``None`` where there is none or
        it is malformed)."""
        return [record for record, _ in self._loaded()]

    def results(self) -> list[Any]:
        """The ``results`` of every config, in config order; :class:`SweepError` unless all
        finished."""
        records = self.records()
        if any(not r or r["status"] != "done" for r in records):
            self.raise_for_failures()
        return [r["results"] for r in records]

    def to_frame(self):
        """A pandas DataFrame, one row per config in config order: the config's fields, then
        the entries of ``results`` when it is a dict (else one ``results`` column; an entry
        whose name is also a config field is prefixed ``results.``), ``status`` (``done``,
        ``failed``, ``missing`` or ``malformed``) and ``key``. Configs without a finished
        record have missing results."""
        import pandas as pd

        rows = []
        for cfg, (record, problem), key in zip(self.configs, self._loaded(), self.keys):
            row = dict(cfg.to_dict())
            res = record.get("results") if record and record["status"] == "done" else None
            if isinstance(res, dict):
                row.update({(f"results.{k}" if k in row else k): v for k, v in res.items()})
            elif res is not None:
                row["results"] = res
            row["status"] = record["status"] if record else ("malformed" if problem
                                                             else "missing")
            row["key"] = key
            rows.append(row)
        return pd.DataFrame(rows)

    def failures(self) -> list[tuple[int, dict | None]]:
        """``(position, record)`` of every config without a finished record (``None`` where
        there is no record or it is malformed)."""
        return [(i, r) for i, (r, _) in enumerate(self._loaded()) if not r or r["status"] != "done"]

    def summary(self) -> str:
        """A short table of the counts, then one line per failure with its error."""
        n = len(self.configs)
        waited = f" ({len(self.waited)} by a concurrent sweep, waited for)" if self.waited else ""
        lines = [f"sweep {self.function} ({self.executor}): {n} runs",
                 f"  done     {len(self.done):>6}  computed by this call",
                 f"  failed   {len(self.failed):>6}  failure record stored; a rerun retries them",
                 f"  skipped  {len(self.skipped):>6}  finished by another call{waited}, "
                 "not recomputed"]
        if self.malformed:
            lines.append(f"  malformed records found and computed again: {len(self.malformed)}")
        loaded = self._loaded()
        bad = [(i, r, problem) for i, (r, problem) in enumerate(loaded)
               if not r or r["status"] != "done"]
        if bad:
            lines.append(f"runs without a finished record ({self.store_dir}):")
            for i, record, problem in bad:
                error = (record or {}).get("error") or {}
                what = (f"{error.get('type')}: {error.get('message')}" if error
                        else f"malformed record: {problem}" if problem
                        else "not run (interrupted)")
                lines.append(f"  configs[{i}] {self.configs[i]!r}\n      -> {what}"
                             f"\n      record: {self.keys[i]}.json")
        return "\n".join(lines)

    def raise_for_failures(self) -> SweepResult:
        """Raise :class:`SweepError` (with the summary and the first traceback) unless every
        config has a finished record; return ``self`` otherwise."""
        bad = self.failures()
        if bad:
            first = (bad[0][1] or {}).get("error", {}).get("traceback", "")
            raise SweepError(f"{len(bad)} of {len(self.configs)} runs have no finished record\n"
                             f"{self.summary()}\nfirst traceback:\n{first}")
        return self

    def __repr__(self) -> str:
        return (f"SweepResult({self.function}: {len(self.configs)} runs, {len(self.done)} done, "
                f"{len(self.failed)} failed, {len(self.skipped)} skipped)")


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------


class _Progress:
    """tqdm on stderr. In a terminal: the usual bar with rate and ETA. Elsewhere (a notebook,
    papermill, a log file): no times, and at most ~20 updates at fixed counts, so a committed
    notebook's output is the same at every execution (DESIGN: no timings in outputs)."""

    def __init__(self, enabled: bool, total: int, initial: int, desc: str, pending: int):
        self.bar = None
        self.failed = 0
        if not enabled or pending == 0:
            return
        from tqdm import tqdm

        self.tty = tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        kw: dict[str, Any] = {"total": total, "initial": initial, "desc": desc, "unit": "run",
                              "file": sys.stderr, "leave": True}
        if tty:
            kw["dynamic_ncols"] = True
        else:
            kw.update(bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} "
                                 "runs{postfix}",
                      mininterval=0, maxinterval=math.inf, miniters=max(1, pending // 20),
                      ascii=True, ncols=80)
        self.bar = tqdm(**kw)

    def update(self, n: int, failed: int) -> None:
        if self.bar is None:
            return
        if failed:
            self.failed += failed
            self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        if not self.tty and self.bar.n + n >= self.bar.total:
            self.bar.n += n  # the last state is printed once, by close()
        else:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _settings() -> dict[str, Any]:
    deterministic = None
    if "torch" in sys.modules:
        deterministic = bool(sys.modules["torch"].are_deterministic_algorithms_enabled())
    return {"threads": None, "deterministic": deterministic}


def sweep(fn: Callable[[Config], Any], configs: Iterable[Config], *,
          store_dir: str | os.PathLike, executor: str | SweepExecutor | Any = "local",
          version: str | None = None, resume: bool = True, progress: bool = True,
          desc: str | None = None) -> SweepResult:
    """Run ``fn(config)`` for every config and store each run's record; resume where stopped.

    Args:
        fn: a function defined at the top level of a module (for a paper: its ``lib.py``) that
            takes one config and returns JSON-able results (dicts, lists, numbers, NumPy / torch
            values). It must seed itself from the config.
        configs: ``common.experiment.Config`` instances; no two equal.
        store_dir: the folder of the records (``run.sweep_dir`` in a notebook).
        executor: ``"local"`` (default: a process pool), ``"debug"`` (in this process, in
            order), ``"slurm"`` (a SLURM job array through submitit), or an executor object
            (:class:`~common.experiment.executors.LocalExecutor` with ``workers`` /
            ``threads_per_worker``, :class:`~common.experiment.executors.SlurmExecutor` with
            its options, or any ``submitit.Executor``).
        version: the code version in the keys; ``None`` (default) is :func:`code_version`
            (see the module docstring for the trade-off).
        resume: skip configs that have a finished record (default); ``False`` computes every
            config again.
        progress: show a progress bar on stderr.
        desc: the progress bar's label (default: ``fn``'s name).

    Returns:
        A :class:`SweepResult`. Failed runs do not raise here; call
        ``result.raise_for_failures()`` where a missing run must stop the caller.

    Raises:
        ValueError: for a bad ``fn``, ``configs``, ``executor`` or ``version`` (``TypeError``
            for one of the wrong type), before anything runs.
        KeyboardInterrupt: on Ctrl-C, after the runs in progress are abandoned (see the module
            docstring); the stored runs stay.
    """
    _check_function(fn)
    configs = list(configs)
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, Config):
            raise TypeError(f"configs[{i}] is a {type(cfg).__name__}, not a "
                            "common.experiment.Config: build one config per run, e.g. "
                            "MyRun(lr=0.1, seed=0)")
    ex = get_executor(executor)
    if ex.uses_processes:
        classes = {type(c): i for i, c in reversed(list(enumerate(configs)))}
        for what, obj in [("fn", fn), *((f"the config class of configs[{i}]", cls)
                                        for cls, i in classes.items())]:
            problem = _Ref.of(obj).problem(obj)
            if problem:
                raise TypeError(f"{what} ({obj.__module__}.{obj.__qualname__}) cannot be run by "
                                f"executor {ex.name!r} in worker processes: {problem}; or use "
                                "executor='debug'")
    if version is None:
        version = code_version(fn)
    elif not isinstance(version, str) or not version:
        raise TypeError(f"version={version!r}: must be a non-empty string or None (automatic)")

    name = _qualified_name(fn)
    keys = [run_key(fn, cfg, version) for cfg in configs]
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            raise ValueError(f"configs[{first[key]}] and configs[{i}] are equal "
                             f"({configs[i]!r}): each run needs its own config")
        first[key] = i
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    attempt = uuid.uuid4().hex  # marks the records and claims of this call

    skipped, tasks, malformed = [], [], {}
    fn_ref = _Ref.of(fn)
    for i, (cfg, key) in enumerate(zip(configs, keys)):
        path = store / f"{key}.json"
        expect = {"function": name, "config_hash": cfg.config_hash(), "version": version}
        record, problem = load_record(path, key, expect)
        if problem:
            malformed[i] = problem
            print(f"sweep {name}: record {key}.json is malformed ({problem}); the run is "
                  f"computed again", file=sys.stderr, flush=True)
        if resume and record is not None and record["status"] == "done":
            skipped.append(i)
            continue
        replaces = record["attempt"] if record is not None and record["status"] == "done" \
            else None  # resume=False: this finished record may be replaced
        tasks.append(_Task(
            index=i, key=key, path=str(path), function=fn_ref, config_class=_Ref.of(type(cfg)),
            config=cfg.to_dict(), meta={**expect, "executor": ex.name, "attempt": attempt,
                                        "replaces": replaces},
            fn_obj=fn, config_obj=cfg))

    done: list[int] = []
    failed: list[int] = []
    waited: list[int] = []
    bar = _Progress(progress, len(configs), len(skipped), desc or fn.__qualname__, len(tasks))
    owned = _Ownership(attempt, done, failed, skipped, waited, bar)
    # runs another live sweep owns now are not handed out: this call waits for them instead
    to_run = []
    for task in tasks:
        (owned.waiting if owned.held_elsewhere(task) else to_run).append(task)

    try:
        while to_run or owned.waiting:
            if to_run:
                batch, to_run = to_run, []
                ex.run(batch, name=f"sweep-{fn.__qualname__}"[:64], log_dir=store / "logs",
                       settings=_settings(), on_finished=owned.on_finished)
                to_run = owned.take_retries()
            if owned.waiting and not to_run:
                time.sleep(_poll_s())
                to_run = owned.poll_waiting()
    except KeyboardInterrupt:
        bar.close()
        left = len(configs) - len(skipped) - len(done) - len(failed)
        print(f"sweep {name} interrupted: {len(skipped) + len(done)} of {len(configs)} runs are "
              f"stored in {store}; call sweep again to compute the {left} others",
              file=sys.stderr, flush=True)
        raise
    bar.close()
    return SweepResult(function=name, store_dir=store, configs=configs, keys=keys,
                       version=version, executor=ex.describe(), done=sorted(done),
                       failed=sorted(failed), skipped=sorted(skipped), waited=sorted(waited),
                       malformed=malformed)


def _poll_s() -> float:
    """``REPRO_SWEEP_POLL_S`` (default 2): seconds between checks of runs another sweep owns."""
    raw = os.environ.get("REPRO_SWEEP_POLL_S", "").strip()
    try:
        value = float(raw) if raw else 2.0
    except ValueError:
        raise ValueError(f"environment variable REPRO_SWEEP_POLL_S={raw!r}: must be a number "
                         "of seconds") from None
    return max(value, 0.01)


#: How often a run may come back unfinished and unowned (its owner vanished without a record)
#: before this call records it as lost instead of handing it out again.
_MAX_ROUNDS = 3


class _Ownership:
    """The driver's side of run ownership: settles each run a worker reported back (or one this
    call waits for) from the store and the claims, never from the executor's word alone."""

    def __init__(self, attempt, done, failed, skipped, waited, bar):
        self.attempt = attempt
        self.done, self.failed, self.skipped, self.waited = done, failed, skipped, waited
        self.bar = bar
        self.waiting: list[_Task] = []
        self.retries: list[_Task] = []
        self.rounds: dict[int, int] = {}

    def held_elsewhere(self, task: _Task) -> bool:
        """A live process of another sweep holds the run's claim."""
        state = read_claim(task.claim_path)
        return (state is not None and not state.stale
                and (state.owner is None or state.owner.attempt != self.attempt))

    def _settle(self, task: _Task, error: BaseException | None, status: str | None) -> str:
        """``done`` / ``failed`` (this call's outcome, or another sweep's failure), ``elsewhere``
        (finished by another call), ``wait`` (another live sweep owns it) or ``retry``."""
        record, _ = task.stored()
        if record is not None and record["attempt"] == self.attempt:
            return record["status"]
        if task.finished_elsewhere(record):
            return "elsewhere"
        if self.held_elsewhere(task):
            return "wait"
        if status in ("busy", "skipped") and error is None:
            # the owner this task met is gone, and left no finished record
            if record is not None and record["status"] == "failed":
                return "failed"  # its failure stands; a rerun retries it
            self.rounds[task.index] = self.rounds.get(task.index, 0) + 1
            if self.rounds[task.index] < _MAX_ROUNDS:
                return "retry"
            error = RuntimeError("the run changed hands repeatedly without being stored")
        lost = task.record_lost(error or RuntimeError("the worker returned without storing a "
                                                      "record"))
        return {"failed": "failed", "kept": "elsewhere", "busy": "wait"}[lost]

    def _apply(self, task: _Task, outcome: str, waited: bool) -> None:
        if outcome == "wait":
            self.waiting.append(task)
            return
        if outcome == "retry":
            self.retries.append(task)
            return
        if outcome == "done":
            self.done.append(task.index)
        elif outcome == "failed":
            self.failed.append(task.index)
        else:  # elsewhere
            self.skipped.append(task.index)
            if waited:
                self.waited.append(task.index)
        self.bar.update(1, int(outcome == "failed"))

    def on_finished(self, finished, error, statuses=None) -> None:
        for j, task in enumerate(finished):
            status = statuses[j] if statuses is not None and j < len(statuses) else None
            outcome = self._settle(task, error, status)
            self._apply(task, outcome, waited=status == "busy")

    def take_retries(self) -> list[_Task]:
        retries, self.retries = self.retries, []
        return retries

    def poll_waiting(self) -> list[_Task]:
        """Settle the runs this call waits for whose owner finished or vanished; returns the
        runs to compute here (their owner vanished without a record)."""
        still, self.waiting = self.waiting, []
        for task in still:
            self._apply(task, self._settle(task, None, "busy"), waited=True)
        return self.take_retries()
