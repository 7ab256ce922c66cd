"""``make reproduce``: execute a paper's notebooks with papermill and print its claims table.

    python -m common.project.reproduce --paper ngn-m [--scale cpu|paper] [--notebook 02_mlp_mnist]
        [--executor debug|local|slurm]

``make reproduce`` passes ``PAPER``, ``SCALE``, ``NOTEBOOK`` and ``EXECUTOR`` through the
environment (never through a shell command line) and this module validates them again.

``EXECUTOR`` chooses where a notebook's parameter sweep runs (``common.experiment.sweep``):
``debug`` (in the notebook's process), ``local`` (a process pool) or ``slurm`` (a SLURM job array
through submitit). It is injected as the papermill parameter ``executor`` into every notebook
that declares one (notebooks without a sweep do not). Unset, the notebooks keep their default
(``debug``) at cpu scale, and get ``local`` at paper scale. A notebook's stderr (where the sweep's
progress bar goes) is streamed to this process's stderr while it runs.

Ctrl-C interrupts the running notebook's kernel, as Jupyter's interrupt button does: a sweep in
progress cancels what it queued or submitted (SLURM jobs included) and keeps the runs it stored,
so the same command resumes it; the notebook's staging folder is removed. A second Ctrl-C stops
this process at once.

Each notebook runs in a staging folder ``results/<paper>/<scale>/.staging-<notebook>-<id>``
(``REPRO_RESULTS_DIR`` points the notebook there), owned through a claim file next to it
(:mod:`common.experiment.ownership`: host, pid, heartbeat). When the notebook finishes, the folder
is published as ``results/<paper>/<scale>/<notebook>/`` (:func:`publish`): under a per-scale lock,
the previous folder is moved aside and the new one renamed into place, so a reader sees the old
results, nothing, or the new results, never a mix, and two runs of the same notebook that finish
together publish one after the other. A notebook that stops with an error (a bad parameter, a
crash, Ctrl-C) leaves nothing in ``results/``. A notebook whose hard claim fails is a result, not
a crash: its outputs are kept and the claim is reported. Staging folders of runs that were killed
(``kill -9``, a lost node) are removed by the next run (:func:`clean_stale`), never those of a run
still going.

**The per-paper summary** ``results/<paper>/claims-<scale>.{json,md}`` merges the claims of every
notebook whose results are on disk, in reading order, and says for each notebook when it ran and
whether this command ran it (:func:`write_summary`): running one notebook never shrinks it.

**Checked before any notebook runs** (exit 2): the arguments, every ``paper.yml`` and
``params/paper.yaml``, the parameters injected into each notebook (names declared in its
``parameters`` cell, values of the declared types: papermill itself would only warn), and that
each notebook's claims cell mentions exactly the claims ``paper.yml`` assigns to it.

Exit status: 0 when every hard claim holds; 1 when a hard claim failed; 2 for bad arguments or
configuration; 3 for an execution error (data missing, a notebook that stopped with an error);
130 when interrupted (Ctrl-C). The last line printed says which. Through ``make reproduce`` the
status of ``make`` itself is 0 or 2 (GNU make exits 2 whenever a recipe fails, whatever the
recipe's status); make's last line, ``make: *** [Makefile:NN: reproduce] Error N``, carries
this program's status N.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

from common import paths
from common.experiment.executors import EXECUTORS
from common.experiment.ownership import Claim, claim, read_claim, try_claim
from common.experiment.store import atomic_write_json, atomic_write_text, read_json
from common.project.claims import count_text, format_markdown, format_plain
from common.project.notebooks import check_parameters, local_kernel, notebook_parameters
from common.project.paperyml import (
    Paper,
    PaperSpecError,
    check_claims_cell,
    list_papers,
    load_paper,
)
from common.project.run import SCALES

__all__ = ["main", "run_paper", "select_notebooks", "publish", "clean_stale", "write_summary",
           "notebook_params", "check_before_running", "EXIT_MEANING"]

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)
EXIT_MEANING = {EXIT_OK: "every hard claim holds", EXIT_CLAIM_FAILED: "a hard claim failed",
                EXIT_USAGE: "bad arguments or configuration",
                EXIT_ERROR: "an execution error (data missing, a notebook error)",
                EXIT_INTERRUPTED: "interrupted (Ctrl-C)"}
#: Seconds a run waits for another run's publication of the same scale folder (milliseconds
#: normally) before giving up with an error.
PUBLISH_TIMEOUT_S = 600
#: The sweep executor a notebook gets when ``EXECUTOR`` is not set, per scale (None: the
#: notebook's own default, ``debug``, which the committed cpu-scale outputs were computed with).
DEFAULT_EXECUTOR = {"cpu": None, "paper": "local"}


class UsageError(ValueError):
    pass


def select_notebooks(paper: Paper, notebook: str | None) -> list[str]:
    """Stems to run: all (in reading order), or the one named by stem, file name or number."""
    stems = [nb.stem for nb in paper.notebooks]
    if not notebook:
        return stems
    matches = [s for s in stems if notebook in (s, f"{s}.ipynb") or s.split("_", 1)[0] == notebook]
    if len(matches) != 1:
        raise UsageError(f"NOTEBOOK={notebook!r} does not name one notebook of {paper.slug}; "
                         f"valid: {', '.join(stems)}")
    return matches


def _lock(out_root: Path) -> Claim:
    """The lock of one scale folder: held while publishing and while reading it for a summary."""
    return claim(out_root / ".publish.claim", timeout=PUBLISH_TIMEOUT_S)


def publish(staging: Path, final: Path) -> None:
    """Replace ``final`` by the complete folder ``staging``, atomically for readers (they see the
    old folder, none, or the new one) and safely against concurrent publishers (serialised by the
    folder's lock; none fails another)."""
    with _lock(final.parent):
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:12]}")
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def _claim_of(folder: Path) -> Path:
    return folder.with_name(folder.name + ".claim")


def clean_stale(out_root: Path) -> list[Path]:
    """Remove what killed runs left in ``out_root``; returns what was removed.

    A staging folder is removed when its claim is stale or missing (its run was killed before
    it finished: ``kill -9``, a lost node; or it predates claims); ``.old-*`` folders (a
    publication interrupted between its two renames) are removed under the publication lock.
    Folders of live runs, here or on another machine, are left alone.
    """
    removed: list[Path] = []
    if not out_root.is_dir():
        return removed
    with _lock(out_root):
        for entry in sorted(out_root.iterdir()):
            if entry.name.startswith(".staging-") and entry.is_dir():
                state = read_claim(_claim_of(entry))
                if state is None or state.stale:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
                    if state is not None:
                        _claim_of(entry).unlink(missing_ok=True)
                        removed.append(_claim_of(entry))
            elif entry.name.startswith(".old-") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            elif entry.name.startswith(".staging-") and entry.name.endswith(".claim"):
                folder = entry.with_name(entry.name[:-len(".claim")])
                state = read_claim(entry)
                if not folder.exists() and state is not None and state.stale:
                    entry.unlink(missing_ok=True)
                    removed.append(entry)
    return removed


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _ctrl_c_interrupts(km):
    """While the notebook runs, a first Ctrl-C sends SIGINT to the kernel's process group (the
    cell stops with KeyboardInterrupt and cleans up); the next one is an ordinary Ctrl-C."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield  # not the main thread, or SIGINT is ignored / handled by someone else
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        provisioner = getattr(km, "provisioner", None)
        pgid = getattr(provisioner, "pgid", None)
        if not pgid:
            raise KeyboardInterrupt
        print("\nCtrl-C: interrupting the notebook (Ctrl-C again stops at once) ...",
              file=sys.stderr, flush=True)
        os.killpg(pgid, signal.SIGINT)

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class _LogLines:
    """tqdm's output for a log file: each update on a line of its own (tqdm redraws one line
    with carriage returns, which a log shows as one unreadable line)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _progress(slug: str, stem: str) -> dict:
    """papermill's progress bar as tqdm arguments: cells done / total and the time so far, on
    one updating line in a terminal, one line every 15 s in a log."""
    tty = sys.stderr.isatty()
    return {"desc": f"[{slug}] {stem}",
            "bar_format": "{desc}: {n_fmt}/{total_fmt} cells, {elapsed}",
            "file": sys.stderr if tty else _LogLines(sys.stderr), "mininterval": 0.5 if tty else 15,
            "dynamic_ncols": tty}


def _run_notebook(paper: Paper, stem: str, scale: str, params: dict) -> tuple[str, float]:
    """Execute one notebook; returns (outcome, seconds), outcome in {"ok", "failed", "error"}."""
    out_root = paths.results_root() / paper.slug / scale
    out_root.mkdir(parents=True, exist_ok=True)
    for gone in clean_stale(out_root):
        print(f"  removed {gone.name}, left behind by a run that was killed", file=sys.stderr)
    staging = out_root / (f".staging-{stem}-{platform.node()}-{os.getpid()}-"
                          f"{uuid.uuid4().hex[:8]}")
    owner = try_claim(_claim_of(staging))  # a fresh name: always taken
    if not isinstance(owner, Claim):  # pragma: no cover (the name is unique)
        raise RuntimeError(f"cannot claim {staging}: {owner.describe()}")
    with owner:  # its heartbeat marks the staging folder as live while the notebook runs
        staging.mkdir()
        return _execute(paper, stem, scale, params, staging, out_root / stem)


def _execute(paper: Paper, stem: str, scale: str, params: dict, staging: Path,
             final: Path) -> tuple[str, float]:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    previous = os.environ.get("REPRO_RESULTS_DIR")
    os.environ["REPRO_RESULTS_DIR"] = str(staging)
    started = _utc_now()
    t0 = time.perf_counter()
    outcome = "ok"
    try:
        with local_kernel() as km, _ctrl_c_interrupts(km):
            pm.execute_notebook(
                str(paper.dir / f"{stem}.ipynb"), str(staging / f"{stem}.ipynb"),
                parameters={"scale": scale, **params}, cwd=str(paper.dir), kernel_name="python3",
                progress_bar=_progress(paper.slug, stem), log_output=False, report_mode=False,
                stderr_file=sys.stderr, km=km)
    except PapermillExecutionError as exc:
        if exc.ename == "ClaimCheckFailed" and (staging / "claims.json").is_file():
            outcome = "failed"
        elif exc.ename == "KeyboardInterrupt":
            shutil.rmtree(staging, ignore_errors=True)
            print(f"  {paper.slug}/{stem} interrupted: nothing was written to results/; the runs "
                  "a sweep stored are kept, and the same command resumes", file=sys.stderr)
            raise KeyboardInterrupt from None
        else:
            shutil.rmtree(staging, ignore_errors=True)
            print(f"  ERROR in {paper.slug}/{stem}: {exc.ename}: {exc.evalue}", file=sys.stderr)
            print("  (nothing was written to results/; fix the cause and rerun)", file=sys.stderr)
            return "error", time.perf_counter() - t0
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if previous is None:
            os.environ.pop("REPRO_RESULTS_DIR", None)
        else:
            os.environ["REPRO_RESULTS_DIR"] = previous
    seconds = time.perf_counter() - t0
    atomic_write_json(staging / "run.json", {
        "paper": paper.slug, "notebook": stem, "scale": scale, "started": started,
        "finished": _utc_now(), "seconds": round(seconds, 1), "outcome": outcome,
        "parameters": params, "host": platform.node()})
    publish(staging, final)
    return outcome, seconds


def notebook_params(paper: Paper, stem: str, scale: str, executor: str | None) -> dict:
    """The papermill parameters ``make reproduce`` injects into one notebook besides ``scale``:
    the paper-scale settings, and ``executor`` where the notebook declares one."""
    params = dict(paper.paper_params().get(stem, {})) if scale == "paper" else {}
    executor = executor or DEFAULT_EXECUTOR[scale]
    if executor and "executor" in notebook_parameters(paper.dir / f"{stem}.ipynb"):
        params["executor"] = executor
    return params


def check_before_running(paper: Paper, stems: list[str], scale: str,
                         executor: str | None) -> None:
    """What can be checked without executing (module docstring): each notebook's claims cell
    against ``paper.yml``, and the parameters it would get against its ``parameters`` cell.
    Raises :class:`PaperSpecError` or :class:`UsageError` naming the problem."""
    for stem in stems:
        check_claims_cell(paper, stem)
        try:
            check_parameters(paper.dir / f"{stem}.ipynb",
                             {"scale": scale, **notebook_params(paper, stem, scale, executor)})
        except ValueError as exc:
            where = f"papers/{paper.slug}/params/paper.yaml: " if scale == "paper" else ""
            raise UsageError(f"{where}{stem}: {exc}") from None


def run_paper(slug: str, scale: str, notebook: str | None = None,
              executor: str | None = None) -> tuple[int, list[dict]]:
    """Run one paper's notebooks; returns (exit status, the claim records of every notebook of
    the paper with results at this scale, as merged by :func:`write_summary`).

    ``executor`` (or, when None, ``DEFAULT_EXECUTOR[scale]``) is injected as the ``executor``
    parameter of the notebooks that declare one.
    """
    paper = load_paper(slug)
    stems = select_notebooks(paper, notebook)
    status, ran = EXIT_OK, set()
    for stem in stems:
        nb_params = notebook_params(paper, stem, scale, executor)
        shown = f", executor={nb_params['executor']}" if "executor" in nb_params else ""
        print(f"[{slug}] {stem} (scale={scale}{shown}) ...", flush=True)
        outcome, seconds = _run_notebook(paper, stem, scale, nb_params)
        print(f"[{slug}] {stem}: {outcome} in {seconds:.1f} s", flush=True)
        if outcome == "error":
            status = EXIT_ERROR
            continue
        ran.add(stem)
        if outcome == "failed" and status == EXIT_OK:
            status = EXIT_CLAIM_FAILED
    records = write_summary(slug, scale, ran) if ran else []
    return status, records


def write_summary(slug: str, scale: str, ran: set[str]) -> list[dict]:
    """Print and write ``results/<slug>/claims-<scale>.{json,md}`` from every notebook of the
    paper whose results are on disk (in reading order), with when each ran and whether this
    command (``ran``) ran it; returns the merged claim records."""
    paper = load_paper(slug)
    out_root = paths.results_root() / slug / scale
    records: list[dict] = []
    notebooks: list[dict] = []
    with _lock(out_root):
        for nb in paper.notebooks:
            folder = out_root / nb.stem
            if not (folder / "claims.json").is_file():
                continue
            claims = read_json(folder / "claims.json")["claims"]
            try:
                when = read_json(folder / "run.json")["finished"]
            except (FileNotFoundError, KeyError, ValueError):  # not published by this runner
                when = datetime.datetime.fromtimestamp(
                    (folder / "claims.json").stat().st_mtime, datetime.UTC
                ).strftime("%Y-%m-%dT%H:%M:%SZ")
            notebooks.append({"notebook": nb.stem, "ran": when,
                              "this_command": nb.stem in ran, "claims": len(claims)})
            records.extend(claims)
        done = {n["notebook"] for n in notebooks}
        lines = [f"{n['notebook']}: ran {n['ran']} "
                 f"({'this command' if n['this_command'] else 'an earlier command'}), "
                 f"{n['claims']} claim{'' if n['claims'] == 1 else 's'}" for n in notebooks]
        lines += [f"{nb.stem}: no results at this scale" for nb in paper.notebooks
                  if nb.stem not in done]
        print(f"\n{slug} ({scale} scale), notebooks:")
        print("\n".join(f"  {line}" for line in lines))
        print()
        print(format_plain(records, f"Claims ({scale} scale)"))
        atomic_write_json(paths.results_root() / slug / f"claims-{scale}.json",
                          {"paper": slug, "scale": scale, "notebooks": notebooks,
                           "claims": records})
        table = format_markdown(records, link=f"{scale}/{{notebook}}/{{notebook}}.ipynb")
        bullets = "\n".join(f"- {line}" for line in lines)
        atomic_write_text(paths.results_root() / slug / f"claims-{scale}.md",
                          f"Notebooks:\n\n{bullets}\n\n{table}\n")
    return records


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (module docstring), after a last line that says
    what it means."""
    status = _main(argv)
    print(f"\nexit status {status}: {EXIT_MEANING.get(status, 'unknown')}", file=sys.stderr)
    return status


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", default=os.environ.get("PAPER", ""))
    parser.add_argument("--scale", default=os.environ.get("SCALE") or "cpu")
    parser.add_argument("--notebook", default=os.environ.get("NOTEBOOK") or None)
    parser.add_argument("--executor", default=os.environ.get("EXECUTOR") or None,
                        help="where parameter sweeps run: " + ", ".join(EXECUTORS))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad option (2)
        return int(exc.code or 0)
    valid = list_papers()
    try:
        if args.paper not in [*valid, "all"]:
            raise UsageError(f"unknown PAPER {args.paper!r}; valid: {' '.join(valid)} all")
        if args.scale not in SCALES:
            raise UsageError(f"unknown SCALE {args.scale!r}; valid: {' '.join(SCALES)}")
        if args.executor is not None and args.executor not in EXECUTORS:
            raise UsageError(f"unknown EXECUTOR {args.executor!r}; valid: {' '.join(EXECUTORS)}")
        if args.paper == "all" and args.notebook:
            raise UsageError("NOTEBOOK selects a notebook of one paper; it cannot be used with "
                             "PAPER=all")
        slugs = valid if args.paper == "all" else [args.paper]
        for slug in slugs:  # check every paper before running anything
            paper = load_paper(slug)
            check_before_running(paper, select_notebooks(paper, args.notebook), args.scale,
                                 args.executor)
    except (UsageError, PaperSpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    worst, everything = EXIT_OK, []
    try:
        for slug in slugs:
            status, records = run_paper(slug, args.scale, args.notebook, args.executor)
            everything.extend(records)
            worst = max(worst, status)
    except KeyboardInterrupt:
        print("\nInterrupted (Ctrl-C).", file=sys.stderr)
        return EXIT_INTERRUPTED
    if len(slugs) > 1 and everything:
        print(f"\nAll papers: {count_text(everything, sep=', ')}")
    if worst == EXIT_CLAIM_FAILED:
        print("\nA hard claim failed (see FAIL above).", file=sys.stderr)
    elif worst == EXIT_ERROR:
        print("\nA notebook stopped with an error (see ERROR above).", file=sys.stderr)
    return worst


if __name__ == "__main__":
    sys.exit(main())
