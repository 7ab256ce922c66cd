"""make reproduce's bookkeeping without kernels (issue 16): concurrent publication, stale staging
folders, the per-paper summary, and the static checks that run before any notebook."""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from common.experiment import ownership
from common.project import reproduce
from common.project.paperyml import PaperSpecError, check_claims_cell, load_paper
from tests.project.helpers import make_notebook, make_paper

# ---- case 3: publishing is atomic and safe under concurrency -------------------------------------


def _publish_many(out_root: str, worker: int, count: int) -> list[str]:
    """Publish ``count`` complete results folders (two files with the same token)."""
    errors = []
    for i in range(count):
        token = f"{worker}-{i}"
        staging = Path(out_root) / f".staging-01_demo-w{token}"
        staging.mkdir()
        (staging / "a.txt").write_text(token)
        (staging / "b.txt").write_text(token)
        try:
            reproduce.publish(staging, Path(out_root) / "01_demo")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


def _read_whole(out_root: str, seconds: float) -> list[str]:
    """Read the published folder again and again: it is whole (both files, same token) or
    absent, never a mix."""
    final = Path(out_root) / "01_demo"
    problems, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:  # read both files from the one folder found at that moment
            fd = os.open(final, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # between two publications: not there at all
        try:
            a, b = (_read_at(fd, "a.txt"), _read_at(fd, "b.txt"))
        except FileNotFoundError:
            continue  # the folder was replaced and removed while being read
        finally:
            os.close(fd)
        if a != b:
            problems.append(f"a mix of two publications: {a} / {b}")
    return problems


def _read_at(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    with os.fdopen(fd) as f:
        return f.read()


def test_concurrent_publications_never_fail_each_other_and_leave_nothing_behind(tmp_path):
    """Before: 267 of 600 publications failed with 'Directory not empty' and left
    .old-<notebook>-<pid> folders behind (the error escaped the error handling)."""
    out_root = tmp_path / "cpu"
    out_root.mkdir()
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(5, mp_context=ctx) as pool:
        list(pool.map(abs, range(5)))  # every worker started before the race
        reader = pool.submit(_read_whole, str(out_root), 4.0)
        writers = [pool.submit(_publish_many, str(out_root), w, 60) for w in range(4)]
        errors = [e for w in writers for e in w.result()]
        mixes = reader.result()
    assert errors == [], f"{len(errors)} of 240 publications failed: {errors[:3]}"
    assert mixes == []
    final = out_root / "01_demo"
    assert (final / "a.txt").read_text() == (final / "b.txt").read_text()
    assert sorted(p.name for p in out_root.iterdir()) == ["01_demo"]


# ---- case 6: stale staging folders are cleaned at the next run -----------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_folders_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    """Before: a SIGKILLed make reproduce left .staging-<notebook>-<pid>/ folders that no later
    run removed."""
    out_root = tmp_path / "cpu"
    legacy = out_root / f".staging-01_demo-{_dead_pid()}"  # the naming before this change
    old = out_root / ".old-01_demo-4242"
    dead = out_root / ".staging-01_demo-deadbeef"
    live = out_root / ".staging-02_more-cafe"
    for folder in (legacy, old, dead, live):
        folder.mkdir(parents=True)
        (folder / "claims.json").write_text("{}")
    owner = ownership.Owner.me()
    (out_root / ".staging-01_demo-deadbeef.claim").write_text(json.dumps(
        {**owner.__dict__, "pid": _dead_pid(), "started": "ticks:1"}))
    held = ownership.try_claim(out_root / ".staging-02_more-cafe.claim")
    orphan_claim = out_root / ".staging-03_gone-0.claim"
    orphan_claim.write_text(json.dumps({**owner.__dict__, "pid": _dead_pid(),
                                        "started": "ticks:1"}))
    try:
        removed = reproduce.clean_stale(out_root)
        assert sorted(p.name for p in removed) == sorted(
            [legacy.name, old.name, dead.name, ".staging-01_demo-deadbeef.claim",
             orphan_claim.name])
        assert sorted(p.name for p in out_root.iterdir()) == [live.name, live.name + ".claim"]
    finally:
        held.release()


# ---- case 4: the per-paper summary merges every notebook on disk ---------------------------------


def _claims_json(folder: Path, slug: str, stem: str, ids, status="PASS") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    records = [{"id": cid, "kind": "paper", "statement": f"claim {cid}", "where": "Fig. 1",
                "paper_reports": "something", "check": "hard", "status": status, "holds": True,
                "measured": "x: 0.5 (need < 1)", "reason": None, "unverified": None,
                "paper": slug, "notebook": stem, "scale": "cpu", "checks": []} for cid in ids]
    (folder / "claims.json").write_text(json.dumps(
        {"paper": slug, "notebook": stem, "scale": "cpu", "claims": records}))


def _two_notebook_paper(root: Path) -> Path:
    claims = [{"id": cid, "kind": "paper", "statement": f"claim {cid}", "where": "Fig. 1",
               "paper_reports": "something", "check": "hard", "notebook": stem}
              for cid, stem in (("C1", "01_demo"), ("C2", "02_more"))]
    folder = make_paper(root, "demo-paper", extra={
        "notebooks": [{"file": "01_demo.ipynb", "title": "Demo"},
                      {"file": "02_more.ipynb", "title": "More"}], "claims": claims})
    make_notebook(folder / "02_more.ipynb", "demo-paper", "02_more",
                  'claims.check("C2", "value", value, "<", threshold)')
    return folder


def test_the_summary_merges_the_claims_of_every_notebook_on_disk(scratch_repo, capsys):
    """Before: running NOTEBOOK=02 then NOTEBOOK=01 left claims-cpu.{json,md} with notebook
    01's claims only, although 02's results were still on disk."""
    _two_notebook_paper(scratch_repo)
    cpu = scratch_repo / "results" / "demo-paper" / "cpu"
    _claims_json(cpu / "02_more", "demo-paper", "02_more", ["C2"])
    (cpu / "02_more" / "run.json").write_text(json.dumps(
        {"notebook": "02_more", "finished": "2026-01-02T03:04:05Z", "outcome": "ok"}))
    _claims_json(cpu / "01_demo", "demo-paper", "01_demo", ["C1"])
    (cpu / "01_demo" / "run.json").write_text(json.dumps(
        {"notebook": "01_demo", "finished": "2026-01-03T00:00:00Z", "outcome": "ok"}))
    records = reproduce.write_summary("demo-paper", "cpu", ran={"01_demo"})
    assert [r["id"] for r in records] == ["C1", "C2"]
    data = json.loads((scratch_repo / "results/demo-paper/claims-cpu.json").read_text())
    assert [r["id"] for r in data["claims"]] == ["C1", "C2"]
    assert data["notebooks"] == [
        {"notebook": "01_demo", "ran": "2026-01-03T00:00:00Z", "this_command": True,
         "claims": 1},
        {"notebook": "02_more", "ran": "2026-01-02T03:04:05Z", "this_command": False,
         "claims": 1}]
    md = (scratch_repo / "results/demo-paper/claims-cpu.md").read_text()
    assert "02_more" in md and "<strong>C2</strong>" in md and "2026-01-02T03:04:05Z" in md
    out = capsys.readouterr().out
    assert "02_more: ran 2026-01-02T03:04:05Z (an earlier command)" in out
    assert "01_demo: ran 2026-01-03T00:00:00Z (this command)" in out


# ---- case 9: unknown parameters and claims-vs-paper.yml, before any notebook runs ----------------


def test_a_claim_checked_but_not_in_paper_yml_or_assigned_but_never_checked_is_found_statically(
        scratch_repo):
    """Before: noticed only after the notebook had run (ClaimsIncomplete, exit 3)."""
    folder = make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "report")])
    check_claims_cell(load_paper("demo-paper"), "01_demo")  # consistent: no error
    nb = nbformat.read(str(folder / "01_demo.ipynb"), 4)
    nb.cells[-1].source = nb.cells[-1].source.replace('claims.check(\'C2\'', 'claims.check(\'C3\'')
    nbformat.write(nb, str(folder / "01_demo.ipynb"))
    with pytest.raises(PaperSpecError) as err:
        check_claims_cell(load_paper("demo-paper"), "01_demo")
    text = str(err.value)
    assert "01_demo.ipynb checks C3, which papers/demo-paper/paper.yml does not have" in text
    assert "paper.yml assigns C2 to 01_demo, but its claims cell never mentions it" in text


def test_claim_ids_in_a_loop_count_as_checked(scratch_repo):
    checks = ('for claim in ("C1", "C2"):\n'
              '    claims.check(claim, "value", value, "<", threshold)')
    make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "hard")],
               checks=checks)
    check_claims_cell(load_paper("demo-paper"), "01_demo")


def test_every_committed_notebook_checks_exactly_its_claims():
    from common.project.paperyml import list_papers

    for slug in list_papers():
        paper = load_paper(slug)
        for nb in paper.notebooks:
            check_claims_cell(paper, nb.stem)


@pytest.mark.parametrize("params,match", [
    ({"threshhold": 2.0}, r"'threshhold' is not a parameter of 01_demo.ipynb \(did you mean "
                          r"'threshold'\?\)"),
    ({"threshold": "2.0"}, r"threshold = '2.0' does not match its type float"),
    ({"threshold": True}, r"threshold = True does not match its type float"),
])
def test_injected_parameters_are_checked_against_the_parameters_cell(scratch_repo, params, match):
    from common.project.notebooks import check_parameters

    folder = make_paper(scratch_repo, "demo-paper")
    check_parameters(folder / "01_demo.ipynb", {"threshold": 2, "scale": "paper"})
    with pytest.raises(ValueError, match=match):
        check_parameters(folder / "01_demo.ipynb", params)


def test_reproduce_refuses_an_inconsistent_notebook_before_running_anything(scratch_repo,
                                                                            capsys):
    folder = make_paper(scratch_repo, "demo-paper")
    (folder / "params" / "paper.yaml").write_text("01_demo:\n  threshold: two\n")
    assert reproduce.main(["--paper", "demo-paper", "--scale", "paper"]) == 2
    err = capsys.readouterr().err
    assert ("papers/demo-paper/params/paper.yaml: 01_demo: threshold = 'two' does not match its "
            "type float") in err
    assert err.rstrip().endswith("exit status 2: bad arguments or configuration")
    make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "hard")],
               checks='claims.check("C1", "value", value, "<", threshold)')
    assert reproduce.main(["--paper", "demo-paper"]) == 2
    err = capsys.readouterr().err
    assert "paper.yml assigns C2 to 01_demo, but its claims cell never mentions it" in err
    assert not (scratch_repo / "results").exists()


def test_exit_codes_are_documented_where_users_look():
    from tests.conftest import REPO

    text = (REPO / "Makefile").read_text() + (REPO / "README.md").read_text()
    for needle in ("Error N", "1 a hard claim failed", "2 bad arguments or configuration",
                   "3 an execution error", "python -m common.project.reproduce"):
        assert needle in text, needle
    assert os.access(REPO / "Makefile", os.R_OK)
