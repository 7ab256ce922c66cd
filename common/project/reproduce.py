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

Each notebook runs in a staging folder ``results/<paper>/<scale>/.staging-<notebook>-<pid>``
(``REPRO_RESULTS_DIR`` points the notebook there); when it finishes, the folder is renamed to
``results/<paper>/<scale>/<notebook>/``, replacing the previous run in one step. A notebook that
stops with an error (a bad parameter, a crash, Ctrl-C) leaves nothing in ``results/``. A notebook
whose hard claim fails is a result, not a crash: its outputs are kept and the claim is reported.

Exit status: 0 when every hard claim passed; 1 when a hard claim failed; 2 for bad arguments;
3 when a notebook stopped with an error; 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from common import paths
from common.experiment.executors import EXECUTORS
from common.experiment.store import atomic_write_json, atomic_write_text, read_json
from common.project.claims import count_text, format_markdown, format_plain
from common.project.notebooks import notebook_parameters
from common.project.paperyml import Paper, PaperSpecError, list_papers, load_paper
from common.project.run import SCALES

__all__ = ["main", "run_paper", "select_notebooks"]

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)
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


def _publish(staging: Path, final: Path) -> None:
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)


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


def _run_notebook(paper: Paper, stem: str, scale: str, params: dict) -> tuple[str, float]:
    """Execute one notebook; returns (outcome, seconds), outcome in {"ok", "failed", "error"}."""
    import papermill as pm
    from jupyter_client.manager import KernelManager
    from papermill.exceptions import PapermillExecutionError

    out_root = paths.results_root() / paper.slug / scale
    staging = out_root / f".staging-{stem}-{os.getpid()}"
    final = out_root / stem
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    previous = os.environ.get("REPRO_RESULTS_DIR")
    os.environ["REPRO_RESULTS_DIR"] = str(staging)
    t0 = time.perf_counter()
    outcome = "ok"
    km = KernelManager(kernel_name="python3")
    try:
        with _ctrl_c_interrupts(km):
            pm.execute_notebook(
                str(paper.dir / f"{stem}.ipynb"), str(staging / f"{stem}.ipynb"),
                parameters={"scale": scale, **params}, cwd=str(paper.dir), kernel_name="python3",
                progress_bar=False, log_output=False, report_mode=False, stderr_file=sys.stderr,
                km=km)
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
    _publish(staging, final)
    return outcome, time.perf_counter() - t0


def run_paper(slug: str, scale: str, notebook: str | None = None,
              executor: str | None = None) -> tuple[int, list[dict]]:
    """Run one paper's notebooks; returns (exit status, claim records of the notebooks run).

    ``executor`` (or, when None, ``DEFAULT_EXECUTOR[scale]``) is injected as the ``executor``
    parameter of the notebooks that declare one.
    """
    paper = load_paper(slug)
    stems = select_notebooks(paper, notebook)
    params = paper.paper_params() if scale == "paper" else {}
    executor = executor or DEFAULT_EXECUTOR[scale]
    status, records = EXIT_OK, []
    for stem in stems:
        nb_params = dict(params.get(stem, {}))
        if executor and "executor" in notebook_parameters(paper.dir / f"{stem}.ipynb"):
            nb_params["executor"] = executor
        shown = f", executor={nb_params['executor']}" if "executor" in nb_params else ""
        print(f"[{slug}] {stem} (scale={scale}{shown}) ...", flush=True)
        outcome, seconds = _run_notebook(paper, stem, scale, nb_params)
        print(f"[{slug}] {stem}: {outcome} in {seconds:.1f} s", flush=True)
        if outcome == "error":
            status = EXIT_ERROR
            continue
        data = read_json(paths.results_root() / slug / scale / stem / "claims.json")
        records.extend(data["claims"])
        if outcome == "failed" and status == EXIT_OK:
            status = EXIT_CLAIM_FAILED
    return status, records


def _summary(records: list[dict], scale: str, out_dir: Path) -> None:
    title = f"Claims ({scale} scale)"
    print()
    print(format_plain(records, title))
    atomic_write_json(out_dir / f"claims-{scale}.json", records)
    table = format_markdown(records, link=f"{scale}/{{notebook}}/{{notebook}}.ipynb")
    atomic_write_text(out_dir / f"claims-{scale}.md", table + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", default=os.environ.get("PAPER", ""))
    parser.add_argument("--scale", default=os.environ.get("SCALE") or "cpu")
    parser.add_argument("--notebook", default=os.environ.get("NOTEBOOK") or None)
    parser.add_argument("--executor", default=os.environ.get("EXECUTOR") or None,
                        help="where parameter sweeps run: " + ", ".join(EXECUTORS))
    args = parser.parse_args(argv)
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
        for slug in slugs:  # validate every paper.yml (and paper-scale params) before running
            paper = load_paper(slug)
            select_notebooks(paper, args.notebook)
            if args.scale == "paper":
                paper.paper_params()
    except (UsageError, PaperSpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    worst, everything = EXIT_OK, []
    try:
        for slug in slugs:
            status, records = run_paper(slug, args.scale, args.notebook, args.executor)
            everything.extend(records)
            if records:
                _summary(records, args.scale, paths.results_root() / slug)
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
