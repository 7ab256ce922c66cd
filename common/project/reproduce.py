"""``make reproduce``: execute a paper's notebooks with papermill and print its claims table.

    python -m common.project.reproduce --paper ngn-m [--scale cpu|paper] [--notebook 02_mlp_mnist]

``make reproduce`` passes ``PAPER``, ``SCALE`` and ``NOTEBOOK`` through the environment (never
through a shell command line) and this module validates them again.

Each notebook runs in a staging folder ``results/<paper>/<scale>/.staging-<notebook>-<pid>``
(``REPRO_RESULTS_DIR`` points the notebook there); when it finishes, the folder is renamed to
``results/<paper>/<scale>/<notebook>/``, replacing the previous run in one step. A notebook that
stops with an error (a bad parameter, a crash, Ctrl-C) leaves nothing in ``results/``. A notebook
whose hard claim fails is a result, not a crash: its outputs are kept and the claim is reported.

Exit status: 0 when every hard claim passed; 1 when a hard claim failed; 2 for bad arguments;
3 when a notebook stopped with an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from common import paths
from common.claims import STATUSES, format_markdown, format_plain
from common.experiment.run import SCALES
from common.experiment.store import atomic_write_json, atomic_write_text, read_json
from common.project.paperyml import Paper, PaperSpecError, list_papers, load_paper

__all__ = ["main", "run_paper", "select_notebooks"]

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


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


def _run_notebook(paper: Paper, stem: str, scale: str, params: dict) -> tuple[str, float]:
    """Execute one notebook; returns (outcome, seconds), outcome in {"ok", "failed", "error"}."""
    import papermill as pm
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
    try:
        pm.execute_notebook(
            str(paper.dir / f"{stem}.ipynb"), str(staging / f"{stem}.ipynb"),
            parameters={"scale": scale, **params}, cwd=str(paper.dir), kernel_name="python3",
            progress_bar=False, log_output=False, report_mode=False)
    except PapermillExecutionError as exc:
        if exc.ename == "ClaimCheckFailed" and (staging / "claims.json").is_file():
            outcome = "failed"
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


def run_paper(slug: str, scale: str, notebook: str | None = None) -> tuple[int, list[dict]]:
    """Run one paper's notebooks; returns (exit status, claim records of the notebooks run)."""
    paper = load_paper(slug)
    stems = select_notebooks(paper, notebook)
    params = paper.paper_params() if scale == "paper" else {}
    status, records = EXIT_OK, []
    for stem in stems:
        print(f"[{slug}] {stem} (scale={scale}) ...", flush=True)
        outcome, seconds = _run_notebook(paper, stem, scale, params.get(stem, {}))
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
    args = parser.parse_args(argv)
    valid = list_papers()
    try:
        if args.paper not in [*valid, "all"]:
            raise UsageError(f"unknown PAPER {args.paper!r}; valid: {' '.join(valid)} all")
        if args.scale not in SCALES:
            raise UsageError(f"unknown SCALE {args.scale!r}; valid: {' '.join(SCALES)}")
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
    for slug in slugs:
        status, records = run_paper(slug, args.scale, args.notebook)
        everything.extend(records)
        if records:
            _summary(records, args.scale, paths.results_root() / slug)
        worst = max(worst, status)
    if len(slugs) > 1 and everything:
        counts = {s: sum(r["status"] == s for r in everything) for s in STATUSES}
        print(f"\nAll papers: {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
              f"{counts['REPORT']} REPORT")
    if worst == EXIT_CLAIM_FAILED:
        print("\nA hard claim failed (see FAIL above).", file=sys.stderr)
    elif worst == EXIT_ERROR:
        print("\nA notebook stopped with an error (see ERROR above).", file=sys.stderr)
    return worst


if __name__ == "__main__":
    sys.exit(main())
