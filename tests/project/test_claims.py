"""common.project.claims: statuses, failure messages, completeness and the recorded JSON."""

from __future__ import annotations

import json
import math

import pytest

from common.project.claims import (
    ClaimCheckFailed,
    Claims,
    ClaimsIncomplete,
    fmt,
    format_markdown,
    format_plain,
)
from tests.project.helpers import make_paper


@pytest.fixture
def paper(scratch_repo):
    make_paper(scratch_repo, "demo-paper", claims=[("C1", "hard"), ("C2", "report")])
    return "demo-paper"


def test_pass_report_and_json(paper, results_dir):
    c = Claims(paper, "01_demo")
    assert c.check("C1", "loss", 1e-12, "<", 1e-10)
    assert not c.check("C2", "ratio", 3.0, "in", (0.0, 2.0))
    assert c.finish() is None
    records = c.records()
    assert [r["status"] for r in records] == ["PASS", "REPORT"]
    assert "ratio: 3 (need ∈ [0, 2]) [does not hold]" in records[1]["measured"]
    saved = json.loads((results_dir / "claims.json").read_text())
    assert [r["id"] for r in saved["claims"]] == ["C1", "C2"]
    assert "provenance" in saved


def test_hard_failure_raises_with_the_numbers(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check("C1", "final loss", 0.25, "<", 1e-10)
    c.check_true("C2", "anything", True)
    with pytest.raises(ClaimCheckFailed) as err:
        c.finish()
    assert "C1" in str(err.value) and "final loss: 0.25 (need < 1.00e-10)" in str(err.value)
    saved = json.loads((results_dir / "claims.json").read_text())  # written before raising
    assert saved["claims"][0]["status"] == "FAIL"


def test_nan_never_passes(paper, results_dir):
    c = Claims(paper, "01_demo")
    assert not c.check("C1", "x", math.nan, ">", 0)
    assert not c.check("C1", "x", math.nan, "!=", 1)


def test_unchecked_and_foreign_claims_are_errors(paper, results_dir):
    c = Claims(paper, "01_demo")
    with pytest.raises(ClaimsIncomplete, match="not assigned"):
        c.check("C9", "x", 1, "<", 2)
    c.check("C1", "x", 1, "<", 2)
    with pytest.raises(ClaimsIncomplete, match=r"\['C2'\]"):
        c.finish()


def test_bad_operator(paper):
    with pytest.raises(ValueError, match="op="):
        Claims(paper, "01_demo").check("C1", "x", 1, "<<", 2)


@pytest.mark.parametrize("value,text", [(0.123456, "0.123"), (12345.0, "1.23e+04"),
                                        (1e-5, "1.00e-05"), (3, "3"), (True, "yes"),
                                        (float("inf"), "inf"), (float("nan"), "nan"), (0.0, "0")])
def test_fmt(value, text):
    assert fmt(value) == text


def test_tables_escape_and_count():
    rec = {"id": "C1", "statement": "a | b", "where": "Fig. 1", "paper_reports": "x",
           "measured": "m", "status": "PASS", "reason": None, "notebook": "01_demo"}
    md = format_markdown([rec], link="{notebook}.ipynb")
    assert "a \\| b" in md and md.count("\n") == 2
    assert "[01_demo](01_demo.ipynb)" in md
    assert format_plain([rec]).endswith("1 PASS, 0 FAIL, 0 REPORT")
