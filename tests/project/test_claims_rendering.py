"""How claims are shown: the compact table of the book and the chapters, author-year labels."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from common.project.bookext import author_year_label
from common.project.claims import format_markdown, format_plain


def _record(cid="C1", status="PASS", **kw):
    r = {"id": cid, "kind": "paper", "statement": "A beats B <by far>", "where": "Fig. 2",
         "paper_reports": "A > B", "check": "hard", "status": status, "holds": True,
         "fragile": False, "margin_text": "+35%, 4.1x spread", "measured": "gap: 0.3 (need > 0)",
         "reason": None, "unverified": None, "paper": "demo", "notebook": "01_demo",
         "scale": "cpu", "checks": [{"label": "A minus B", "role": "check", "holds": True,
                                     "decided": True, "text": "A minus B: 0.3 (need > 0)",
                                     "value": 0.3, "op": ">", "bound": 0.0,
                                     "margin": {"abs": 0.3, "rel": None, "spread": None,
                                                "in_spread": None, "decided": True}}]}
    r.update(kw)
    return r


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.headers, self.stack, self.text = 0, [], [], ""

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        if tag == "tr" and "tbody" in self.stack:
            self.rows += 1

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        self.text += data
        if self.stack and self.stack[-1] == "th":
            self.headers.append(data)


def test_one_row_per_claim_with_the_details_behind_a_click():
    records = [_record(), _record("C2", "REPORT", reason="two seeds cannot decide it",
                                  holds=False, checks=[], measured="x: 1 (need < 0)")]
    html = format_markdown(records, link="{notebook}.ipynb")
    assert "\n\n" not in html  # one HTML block inside Markdown
    t = _Table()
    t.feed(html)
    assert t.headers == ["Claim", "Kind", "Status", "Margin"] and t.rows == 2
    assert html.count("<details>") == 2 and html.count("<summary>") == 2
    assert "A beats B &lt;by far&gt;" in html  # escaped
    assert "the claim needs &gt; 0: holds" in t.text or "the claim needs > 0: holds" in t.text
    assert "two seeds cannot decide it" in t.text and "does not hold" in t.text
    assert 'href="01_demo.ipynb"' in html
    assert "paper: 1 PASS, 0 FAIL, 1 REPORT (1 not holding)" in t.text


def test_records_older_than_the_margins_still_render():
    old = _record()
    for key in ("kind", "margin_text", "fragile"):
        old.pop(key)
    for c in old["checks"]:
        c.pop("role")
        c.pop("margin")
    html = format_markdown([old])
    assert "<td>paper</td>" in html and "<td>n/a</td>" in html


def test_infinite_values_read_as_infinity():
    r = _record(checks=[{"label": "SGDM minus NGN-M", "holds": True, "value": "inf", "op": ">",
                         "bound": 0.0, "text": "SGDM minus NGN-M: inf (need > 0)"}])
    assert "SGDM minus NGN-M = <b>∞</b>" in format_markdown([r])


def test_the_plain_table_keeps_its_format():
    """The terminal and nbval table (format_plain) is not changed by the rendering work."""
    text = format_plain([_record()], "Claims: demo / 01_demo (scale=cpu)")
    assert re.search(r"^C1    paper     PASS +margin \+35%, 4\.1x spread$", text, re.M)


def test_author_year_labels():
    from pybtex.database import parse_string

    bib = parse_string(r"""
    @article{a, author = {Islamov, Rustem and Ajroldi, Niccol{\`o} and Orvieto, Antonio},
             year = {2025}, title = {T}}
    @article{b, author = {Orvieto, Antonio and Xiao, Lin}, year = {2024}, title = {T}}
    @article{c, author = {Horv{\'a}th, Samuel}, year = {2023}, title = {T}}
    """, "bibtex")
    labels = [author_year_label(bib.entries[k]) for k in "abc"]
    assert labels == ["Islamov et al., 2025", "Orvieto and Xiao, 2024", "Horváth, 2023"]
