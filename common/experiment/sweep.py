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
by the new outcome (a failure included) when the new run ends. Two equal configs in one call are
an error (they would share a key).

**Records.** Each run writes its own record from wherever it executes, atomically (temporary file
+ rename, :func:`atomic_write_json`): a reader, or a sweep interrupted at any moment, sees a
complete record or none. A finished run stores ``{"key", "status": "done", "function", "config",
"config_hash", "version", "attempt", "results", "wall_time_s", "provenance", "worker"}``:
``results`` is what ``fn`` returned, converted by :func:`to_jsonable` (NaN and inf are kept),
``attempt`` identifies the ``sweep`` call that wrote the record, and ``worker`` the executor,
host, process and SLURM job. A run that raises stores ``"status": "failed"`` and
``"error": {"type", "message", "traceback"}`` instead of results, and the sweep goes on with the
others. A run whose worker died before it stored anything (a killed
process, a SLURM job that failed, timed out or was preempted) gets a failure record written by
the sweep, with the executor's error.

**Interruption.** Ctrl-C (``KeyboardInterrupt``) stops the sweep: runs already stored stay
stored, runs in flight are lost (they leave no record), queued runs are cancelled, and the
exception propagates after a line on stderr says how many runs are stored. Calling ``sweep`` again
with the same arguments computes only the missing runs. A killed worker or a preempted job loses
only the runs it was executing.

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
from common.experiment.executors import EXECUTORS, SweepExecutor, get_executor
from common.experiment.provenance import package_versions, provenance
from common.experiment.store import atomic_write_json, read_json, to_jsonable
from common.modules import load_module_file

__all__ = ["sweep", "SweepResult", "SweepError", "run_key", "code_version",
           "EXECUTORS"]

_STATUSES = ("done", "failed")


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
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
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

    def _base_record(self) -> dict[str, Any]:
        return {"key": self.key, "status": None, "function": self.meta["function"],
                "config_class": self.config_class.qualname, "config": self.config,
                "config_hash": self.meta["config_hash"], "version": self.meta["version"],
                "attempt": self.meta["attempt"]}

    def run(self) -> str:
        """Execute the run and store its record; returns ``"done"`` or ``"failed"``.

        Exceptions of ``fn`` (and of loading it) become a failure record; ``KeyboardInterrupt``
        and ``SystemExit`` propagate and leave no record.
        """
        record = self._base_record()
        started = time.perf_counter()
        try:
            fn = self.fn_obj if self.fn_obj is not None else self.function.resolve()
            config = (self.config_obj if self.config_obj is not None
                      else self.config_class.resolve().from_dict(self.config))
            results = to_jsonable(fn(config))
            json.dumps(results, allow_nan=True)
            record.update(status="done", results=results)
        except Exception as exc:
            record.update(status="failed", error={
                "type": type(exc).__name__, "message": str(exc),
                "traceback": traceback.format_exc()})
        record["wall_time_s"] = round(time.perf_counter() - started, 3)
        record["provenance"] = provenance()
        record["worker"] = _worker_info(self.meta["executor"])
        atomic_write_json(self.path, record)
        return record["status"]

    def record_lost(self, error: BaseException) -> None:
        """Failure record for a run whose worker died before it stored anything."""
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


def _read_record(path: Path) -> dict | None:
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # unreadable: treated as missing, computed again
    return record if isinstance(record, dict) and record.get("status") in _STATUSES else None


# ---------------------------------------------------------------------------------------------
# the result of a sweep
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SweepResult:
    """What one call of :func:`sweep` did, and access to the stored records in config order.

    ``done``, ``failed`` and ``skipped`` are positions in ``configs``: computed by this call,
    failed in this call (failure record stored; a rerun retries them), and finished before this
    call (not recomputed).
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

    @property
    def ok(self) -> bool:
        """True when every config has a finished record."""
        return not self.failed and len(self.done) + len(self.skipped) == len(self.configs)

    def path(self, i: int) -> Path:
        return self.store_dir / f"{self.keys[i]}.json"

    def records(self) -> list[dict | None]:
        """The stored record of every config, in config order (``None`` where there is none)."""
        return [_read_record(self.path(i)) for i in range(len(self.configs))]

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
        whose name is also a config field is prefixed ``results.``), ``status`` and ``key``.
        Configs without a finished record have missing results."""
        import pandas as pd

        rows = []
        for cfg, record, key in zip(self.configs, self.records(), self.keys):
            row = dict(cfg.to_dict())
            res = record.get("results") if record and record["status"] == "done" else None
            if isinstance(res, dict):
                row.update({(f"results.{k}" if k in row else k): v for k, v in res.items()})
            elif res is not None:
                row["results"] = res
            row["status"] = record["status"] if record else "missing"
            row["key"] = key
            rows.append(row)
        return pd.DataFrame(rows)

    def failures(self) -> list[tuple[int, dict | None]]:
        """``(position, record)`` of every config without a finished record."""
        records = self.records()
        return [(i, r) for i, r in enumerate(records) if not r or r["status"] != "done"]

    def summary(self) -> str:
        """A short table of the counts, then one line per failure with its error."""
        n = len(self.configs)
        lines = [f"sweep {self.function} ({self.executor}): {n} runs",
                 f"  done     {len(self.done):>6}  computed by this call",
                 f"  failed   {len(self.failed):>6}  failure record stored; a rerun retries them",
                 f"  skipped  {len(self.skipped):>6}  finished before this call, not recomputed"]
        bad = self.failures()
        if bad:
            lines.append(f"runs without a finished record ({self.store_dir}):")
            for i, record in bad:
                error = (record or {}).get("error") or {}
                what = (f"{error.get('type')}: {error.get('message')}" if error
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
        TypeError / ValueError: for a bad ``fn``, ``configs``, ``executor`` or ``version``, before
            anything runs.
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
    attempt = uuid.uuid4().hex  # marks the records this call writes

    skipped, tasks = [], []
    fn_ref = _Ref.of(fn)
    for i, (cfg, key) in enumerate(zip(configs, keys)):
        path = store / f"{key}.json"
        record = _read_record(path) if resume else None
        if record is not None and record["status"] == "done":
            skipped.append(i)
            continue
        tasks.append(_Task(
            index=i, key=key, path=str(path), function=fn_ref, config_class=_Ref.of(type(cfg)),
            config=cfg.to_dict(), meta={"function": name, "config_hash": cfg.config_hash(),
                                        "version": version, "executor": ex.name,
                                        "attempt": attempt},
            fn_obj=fn, config_obj=cfg))

    done: list[int] = []
    failed: list[int] = []
    bar = _Progress(progress, len(configs), len(skipped), desc or fn.__qualname__, len(tasks))

    def on_finished(finished, error):
        n_failed = 0
        for task in finished:
            record = _read_record(Path(task.path))
            if record is None or record.get("attempt") != attempt:  # nothing stored by this call
                task.record_lost(error or RuntimeError("the worker returned without storing "
                                                       "a record"))
                record = _read_record(Path(task.path))
            if record is not None and record["status"] == "done":
                done.append(task.index)
            else:
                failed.append(task.index)
                n_failed += 1
        bar.update(len(finished), n_failed)

    try:
        if tasks:
            ex.run(tasks, name=f"sweep-{fn.__qualname__}"[:64], log_dir=store / "logs",
                   settings=_settings(), on_finished=on_finished)
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
                       failed=sorted(failed), skipped=skipped)
