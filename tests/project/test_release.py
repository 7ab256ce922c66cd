"""The pinned Colab ref exists, and ``make release`` round-trips on a scratch clone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

from common.project.release import VERSION_RE, pinned_ref_problem
from tests.conftest import REPO

_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def _git(cwd, *args, check=True):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env=_ENV)


def _is_checkout() -> bool:
    return _git(REPO, "rev-parse", "--is-inside-work-tree", check=False).stdout.strip() == "true"


def test_pinned_ref_is_a_tag_or_commit_of_the_repository():
    if not _is_checkout():
        pytest.skip("not a git checkout (no history to check the pinned ref against)")
    problem = pinned_ref_problem(REPO)
    assert problem is None, problem


def test_a_missing_ref_is_reported():
    if not _is_checkout():
        pytest.skip("not a git checkout")
    problem = pinned_ref_problem(REPO, "v0.0.0-never-released")
    assert problem and "neither a tag nor a commit" in problem
    assert pinned_ref_problem(REPO, "deadbeef" * 5) is not None  # a SHA that is not a commit
    head = _git(REPO, "rev-parse", "HEAD").stdout.strip()
    assert pinned_ref_problem(REPO, head) is None  # a commit is fine


def test_versions_agree():
    import common

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert common.__version__ == project["version"]
    assert VERSION_RE.match(project["version"])


@pytest.fixture
def scratch_clone(tmp_path):
    if not _is_checkout():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(REPO), str(clone))
    return clone


def _release(clone, version):
    env = {**_ENV, "REPRO_ROOT": str(clone), "PYTHONPATH": str(clone)}
    env.pop("REPRO_RESULTS_DIR", None)
    return subprocess.run([sys.executable, "-m", "common.project.release", version], cwd=clone,
                          capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_release_round_trip(scratch_clone):
    clone = scratch_clone
    head = _git(clone, "rev-parse", "HEAD").stdout.strip()
    assert _release(clone, "1.2.x").returncode == 2  # bad version: nothing happens
    out = _release(clone, "97.0.1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "git push origin HEAD v97.0.1" in out.stdout
    # one commit on top, tagged, with the ref in the one config place and every copy of it
    assert _git(clone, "rev-parse", "HEAD~1").stdout.strip() == head
    assert _git(clone, "rev-parse", "v97.0.1^{commit}").stdout.strip() == \
        _git(clone, "rev-parse", "HEAD").stdout.strip()
    assert _git(clone, "status", "--porcelain").stdout.strip() == ""
    cfg = tomllib.loads((clone / "pyproject.toml").read_text())
    assert cfg["tool"]["repro"]["ref"] == "v97.0.1" and cfg["project"]["version"] == "97.0.1"
    assert '__version__ = "97.0.1"' in (clone / "common" / "__init__.py").read_text()
    assert "branch: v97.0.1" in (clone / "book" / "_config.yml").read_text()
    import nbformat

    for nb in (clone / "papers").glob("*/*.ipynb"):
        assert '"v97.0.1"' in nbformat.read(str(nb), 4).cells[1].source, nb
    assert pinned_ref_problem(clone, "v97.0.1") is None
    # a fresh clone with tags finds the pinned ref; the same release again is refused
    again = clone.parent / "again"
    _git(clone.parent, "clone", "-q", str(clone), str(again))
    assert pinned_ref_problem(again, "v97.0.1") is None
    # a clone without tags (CI checks out the branch alone): the release commit stands in for
    # the tag; a version that was never released is still refused
    bare = clone.parent / "no-tags"
    _git(clone.parent, "clone", "-q", "--no-tags", "--single-branch", str(clone), str(bare))
    assert _git(bare, "tag", "--list").stdout.strip() == ""
    assert pinned_ref_problem(bare, "v97.0.1") is None
    assert "neither a tag nor a commit" in pinned_ref_problem(bare, "v97.0.2")
    refused = _release(clone, "97.0.1")
    assert refused.returncode == 2 and "exists already" in refused.stderr


def test_release_refuses_a_dirty_tree(scratch_clone):
    (scratch_clone / "README.md").write_text("changed\n")
    out = _release(scratch_clone, "97.0.2")
    assert out.returncode == 2 and "uncommitted changes" in out.stderr
    assert not re.search(r"v97\.0\.2", _git(scratch_clone, "tag").stdout)
