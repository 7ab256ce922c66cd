"""pytest plugin loaded by ``make nbval`` (``-p tests.nbval_timing``): each notebook's wall time.

A notebook's time is the sum of its items' durations (setup, call and teardown of every cell, so
the kernel's start is included), collected on the controller also under ``pytest-xdist`` (the
workers' reports reach ``pytest_runtest_logreport`` there). After the run it prints one line per
notebook, slowest first, marks those over the cpu-scale budget (``BUDGET_S``, CONTRIBUTING's 90 s
per notebook) and the total. ``make nbval`` runs two notebooks at a time on two cores with one
torch thread each, so the figures are close to a notebook's time alone on an idle machine.
"""

from __future__ import annotations

from collections import defaultdict

BUDGET_S = 90.0

_TOTALS: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report) -> None:
    # location[0] is the item's file relative to the rootdir (nbval's node ids can lack it)
    path = str(report.location[0]) if getattr(report, "location", None) else ""
    if path.endswith(".ipynb"):
        _TOTALS[path] += float(getattr(report, "duration", 0.0) or 0.0)


def timing_lines(totals: dict[str, float], budget_s: float = BUDGET_S) -> list[str]:
    """The summary: one line per notebook (slowest first), then the total."""
    rows = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"{s:7.1f} s  {path}" + (f"  (over the {budget_s:.0f} s budget)" if s > budget_s
                                       else "") for path, s in rows]
    over = sum(s > budget_s for _, s in rows)
    lines.append(f"{sum(totals.values()):7.1f} s  total over {len(rows)} notebooks; "
                 f"{over} over the {budget_s:.0f} s budget")
    return lines


def pytest_terminal_summary(terminalreporter) -> None:
    if not _TOTALS:
        return
    terminalreporter.section("notebook wall times (make nbval)")
    for line in timing_lines(_TOTALS):
        terminalreporter.write_line(line)
