"""common.project.claims: statuses, failure messages, completeness and the recorded JSON."""

from __future__ import annotations

import json
import math

import pytest

from common.metrics.stats import Interval
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
    with pytest.raises(ClaimsIncomplete, match="C2 was assigned in paper.yml but never checked"):
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
    md = format_markdown([rec], link="{notebook}.ipynb")  # compact HTML: one block, one row
    assert "a | b" in md and "\n\n" not in md and md.count('<tr class="claims-row') == 1
    assert '<a href="01_demo.ipynb">01_demo</a>' in md
    assert format_plain([rec]).endswith("paper: 1 PASS, 0 FAIL, 0 REPORT")


# ---- margins, seed spread, negative controls, interior optima, kinds ----------------------------

def _one(c, cid="C1"):
    return next(r for r in c.records() if r["id"] == cid)


def test_margin_is_relative_to_the_threshold(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check("C1", "loss", 0.5, "<", 2.0)
    c.check_true("C2", "x", True)
    r = _one(c)
    assert r["margin"]["rel"] == pytest.approx(0.75) and r["margin"]["abs"] == pytest.approx(1.5)
    assert r["margin_text"] == "+75%"
    assert r["status"] == "PASS" and not r["fragile"]


def test_the_worst_check_sets_the_claim_margin(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check("C1", "far", 0.01, "<", 1.0)
    c.check("C1", "close", 0.9, "<", 1.0)
    c.check("C1", "in", 1.5, "in", (1.0, 3.0))
    c.check_true("C2", "x", True)
    assert _one(c)["margin"]["rel"] == pytest.approx(0.1)


def test_a_hard_pass_inside_the_seed_spread_is_report_fragile(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check("C1", "gap", 0.10, ">", 0.0, spread=0.2)  # holds, but within one spread
    c.check_true("C2", "x", True)
    r = _one(c)
    assert r["status"] == "REPORT" and r["fragile"] and r["holds"]
    assert "inside the seed spread" in r["measured"]
    assert "1 fragile" in format_plain(c.records())
    c.finish()  # a fragile hard claim is not a failure


def test_a_paired_interval_decides_only_when_it_clears_the_bound(paper, results_dir):
    a = [0.90, 0.91, 0.92, 0.93, 0.94]
    clear = Claims(paper, "01_demo")
    assert clear.check_paired("C1", "acc A - B", a, [x - 0.05 for x in a], ">", 0.0)
    clear.check_true("C2", "x", True)
    assert _one(clear)["status"] == "PASS"  # zero spread of the differences: decided
    noisy = Claims(paper, "01_demo")
    b = [0.95, 0.80, 0.97, 0.85, 0.90]  # mean difference > 0, but the interval straddles 0
    assert noisy.check_paired("C1", "acc A - B", a, b, ">", 0.0)
    noisy.check_true("C2", "x", True)
    r = _one(noisy)
    assert r["status"] == "REPORT" and r["fragile"]
    assert "95% CI, n=5" in r["measured"]


def test_a_one_seed_comparison_is_never_decided(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check_paired("C1", "acc A - B", [0.9], [0.5], ">", 0.0)
    c.check_true("C2", "x", True)
    assert _one(c)["status"] == "REPORT" and _one(c)["fragile"]


def test_a_decided_failure_is_fail_and_an_undecided_one_is_report(paper, results_dir):
    c = Claims(paper, "01_demo")
    c.check("C1", "gap", -0.5, ">", 0.0, spread=0.1)
    c.check_true("C2", "x", True)
    assert _one(c)["status"] == "FAIL"
    c = Claims(paper, "01_demo")
    c.check("C1", "gap", -0.05, ">", 0.0, spread=0.1)
    c.check_true("C2", "x", True)
    assert _one(c)["status"] == "REPORT" and not _one(c)["holds"]


@pytest.fixture
def controlled(scratch_repo):
    make_paper(scratch_repo, "ctrl-paper", claims=[("C1", "hard")], claim_extra={
        "C1": {"negative_control": "Clip-SGD's spread exceeds 0.2", "tuned": ["lr"]}})
    return "ctrl-paper"


def test_a_negative_control_must_fail_on_the_contrast_case(controlled, results_dir):
    c = Claims(controlled, "01_demo")
    c.check("C1", "Clip21 spread", 0.05, "<=", 0.2)
    assert c.control("C1", "Clip-SGD spread", 0.5, "<=", 0.2)  # condition fails: control ok
    c.interior("C1", "lr", [1e-3, 1e-2, 1e-1], 1e-2, label="Clip21")
    r = _one(c)
    assert r["status"] == "PASS" and r["controls"] == 1
    assert "must fail here: it fails" in r["measured"]
    bad = Claims(controlled, "01_demo")
    bad.check("C1", "Clip21 spread", 0.05, "<=", 0.2)
    assert not bad.control("C1", "Clip-SGD spread", 0.19, "<=", 0.2)  # cannot discriminate
    bad.interior("C1", "lr", [1e-3, 1e-2, 1e-1], 1e-2)
    assert _one(bad)["status"] == "FAIL"
    assert "CONTROL HOLDS" in _one(bad)["measured"]
    with pytest.raises(ClaimCheckFailed):
        bad.finish()


def test_a_nan_control_never_passes(controlled, results_dir):
    c = Claims(controlled, "01_demo")
    assert not c.control("C1", "B", math.nan, "<=", 0.2)


def test_a_tuned_value_on_the_grid_edge_fails(controlled, results_dir):
    c = Claims(controlled, "01_demo")
    c.check("C1", "Clip21 spread", 0.05, "<=", 0.2)
    c.control("C1", "Clip-SGD spread", 0.5, "<=", 0.2)
    assert not c.interior("C1", "lr", [1e-3, 1e-2, 1e-1], 1e-3, label="Clip21")
    assert _one(c)["status"] == "FAIL" and "ON THE GRID EDGE" in _one(c)["measured"]
    with pytest.raises(ValueError, match="at least 3"):
        c.interior("C1", "lr", [1e-3, 1e-2], 1e-3)


def test_a_claim_missing_its_control_or_interior_check_is_incomplete(controlled, results_dir):
    c = Claims(controlled, "01_demo")
    c.check("C1", "Clip21 spread", 0.05, "<=", 0.2)
    with pytest.raises(ClaimsIncomplete, match="negative control") as err:
        c.finish()
    assert "claims.interior('C1', 'lr'" in str(err.value)


def test_kinds_are_counted_apart(scratch_repo, results_dir):
    make_paper(scratch_repo, "kinds-paper", claims=[("C1", "hard"), ("C2", "hard")],
               claim_extra={"C2": {"kind": "invariant"}})
    c = Claims("kinds-paper", "01_demo")
    c.check("C1", "x", 1, "<", 2)
    c.check("C2", "identity error", 0.0, "<", 1e-12)
    text = format_plain(c.records())
    assert text.endswith("paper: 1 PASS, 0 FAIL, 0 REPORT · invariant: 1 PASS, 0 FAIL, 0 REPORT")
    assert "<td>invariant</td>" in format_markdown(c.records())


@pytest.mark.parametrize("extra,match", [
    ({"kind": "theorem"}, "'kind' must be one of"),
    ({"statement": "the loss is $O(1/k)$"}, "without TeX"),
    ({"statement": r"rate \\frac{1}{k}"}, "without TeX"),
    ({"tuned": "lr"}, "'tuned' must be a list"),
])
def test_paper_yml_claim_fields_are_validated(scratch_repo, extra, match):
    from common.project.paperyml import PaperSpecError, load_paper

    make_paper(scratch_repo, "bad-paper", claim_extra={"C1": extra})
    with pytest.raises(PaperSpecError, match=match):
        load_paper("bad-paper")


def test_a_missing_kind_is_an_error(scratch_repo):
    import yaml

    from common.project.paperyml import PaperSpecError, load_paper

    folder = make_paper(scratch_repo, "nokind-paper")
    spec = yaml.safe_load((folder / "paper.yml").read_text())
    del spec["claims"][0]["kind"]
    (folder / "paper.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(PaperSpecError, match="missing required key 'kind'"):
        load_paper("nokind-paper")


def test_interval_values_are_printed_with_their_interval(paper, results_dir):

    assert fmt(Interval(0.5, 0.25, 0.75, 0.95, 4)) == "0.5 [0.25, 0.75] (95% CI, n=4)"


def test_margin_text_reads_margins_back_from_json():
    from common.project.claims import margin_text

    text = margin_text({"abs": "inf", "rel": None, "in_spread": "inf"})
    assert text == "+inf (abs), +inf x spread"
    assert margin_text({"abs": -0.5, "rel": "-inf", "in_spread": None}).startswith("-inf")
    assert margin_text(None) == "n/a"


def test_an_interval_over_identical_seeds_has_no_spread(paper, results_dir):
    """The mean of equal seed values carries a rounding-level half-width (e.g. 1e-18 on 5.5e-3):
    that is no spread, so the margin reads ``inf x spread``, not ``-6e12x spread``."""
    c = Claims(paper, "01_demo")
    c.check("C1", "drop", Interval(0.0055, 0.0055 - 8.7e-19, 0.0055 + 8.7e-19, 0.95, 2), "<=", 0.01)
    c.check_true("C2", "x", True)
    m = _one(c)["margin"]
    assert m["spread"] == 0.0 and float(m["in_spread"]) == math.inf
    assert _one(c)["margin_text"] == "+45%, +inf x spread"
    # a real spread, however small against the threshold, is kept
    c2 = Claims(paper, "01_demo")
    c2.check("C1", "drop", Interval(0.0055, 0.0054, 0.0056, 0.95, 2), "<=", 0.01)
    c2.check_true("C2", "x", True)
    assert _one(c2)["margin"]["spread"] == pytest.approx(1e-4)
