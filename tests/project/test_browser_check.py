"""The browser check can fail: a small site with one clean page and one page with every defect
the check looks for, opened in headless Chromium (offline, as ``make book`` does)."""

from __future__ import annotations

import base64
import os
import shutil

import pytest

from common.project import mathjax
from common.project.browser_check import check_pages, find_chromium
from tests.conftest import REPO

pytestmark = pytest.mark.slow

# a 1x1 PNG
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA"
                        "WjR9awAAAABJRU5ErkJggg==")
_HEAD = ('<head><meta charset="utf-8"><title>{title}</title>'
         '<link rel="icon" href="data:,">'
         '<script>window.MathJax = {{tex: {{packages: {{"[-]": ["noundefined"]}}}}, '
         'options: {{processHtmlClass: "math"}}}}</script>'
         '<script defer src="_static/mathjax/tex-mml-chtml.js"></script></head>')


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("REPRO_REQUIRE_BROWSER") == "1":
            pytest.fail("REPRO_REQUIRE_BROWSER=1 but no Chromium (.ci/install-chromium)")
        pytest.skip("no Chromium: install Debian's chromium (.ci/install-chromium)")
    if mathjax.installed_problem() is not None:
        if os.environ.get("CI") == "true":  # make unit fetches it first
            pytest.fail(mathjax.installed_problem())
        pytest.skip(mathjax.installed_problem())
    return binary


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(REPO / "book" / "_static" / "mathjax", root / "_static" / "mathjax")
    (root / "dot.png").write_bytes(_PNG)
    (root / "good.html").write_text(
        "<!DOCTYPE html><html>" + _HEAD.format(title="A clean page") +
        '<body><article><p>Inline <span class="math">\\(x^2 + \\nabla f\\)</span>.</p>'
        '<div class="math">\\[\\sum_{i=1}^n x_i\\]</div><img src="dot.png" alt="dot">'
        "</article></body></html>")
    (root / "bad.html").write_text(
        "<!DOCTYPE html><html>" + _HEAD.format(title="Title with $\\varepsilon$") +
        '<body><article><p>Undefined <span class="math">\\(\\notamacro x\\)</span>, unbalanced '
        '<span class="math">\\(\\frac{1}{\\)</span>, an opened \\[ never closed.</p>'
        '<img src="missing.png" alt="gone">'
        '<div style="width: 3000px">too wide</div>'
        '<script src="https://cdn.example.org/lib.js"></script>'
        "<script>console.error('something broke')</script>"
        "</article></body></html>")
    return root


def test_clean_page_passes_and_defects_are_each_reported(chromium, site):
    problems, summary = check_pages(site, binary=chromium)
    good = [p for p in problems if p.startswith("good.html")]
    bad = [p for p in problems if p.startswith("bad.html")]
    assert good == [], good
    assert summary["good.html"]["containers"] == 2 and summary["good.html"]["mathjax"] == "3.2.2"
    text = "\n".join(bad)
    for expected in ("request to the network refused: https://cdn.example.org/lib.js",
                     "image did not load", "console.error: something broke",
                     "MathJax errors", "math left as TeX", "raw TeX in the text",
                     "scrolls sideways",
                     "TeX in the page title"):
        assert expected in text, f"{expected!r} not reported:\n{text}"


def test_screenshots(chromium, site, tmp_path):
    from common.project import browser_check

    server, origin = browser_check._serve(site)
    browser = browser_check.Chromium(chromium)
    try:
        tab = browser_check._Tab(browser, origin)
        tab.open(origin + "good.html")
        tab.screenshot(tmp_path / "good.png")
    finally:
        browser.close()
        server.shutdown()
    data = (tmp_path / "good.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
