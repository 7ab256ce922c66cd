"""Check a paper's claims in its notebooks and record the results.

The claims live in ``papers/<slug>/paper.yml`` (id, statement, where the paper makes it, what it
reports, ``hard`` or ``report``, and the notebook that checks it). A notebook's last cell checks
every claim assigned to it::

    claims = run.claims()      # or Claims("ngn-m", "01_toy_stability")
    claims.check("C4", "NGN-M worst final loss over c in [1e-2, 1e3]", worst, "<", 1e-10)
    claims.check_true("C3", "version 2 diverged for every c >= 10", all_div, "3/3 runs diverged")
    claims.finish()

Each check records the measured value, the comparison and whether it holds. :meth:`Claims.finish`
prints a fixed-precision table (the output nbval compares), writes ``claims.json`` atomically to
the run's results folder, and raises :class:`ClaimCheckFailed` (naming each failed claim and its
numbers) when a ``hard`` claim failed. ``report`` claims are measured and shown, never asserted.
A claim assigned to the notebook but never checked is an error, so a claim cannot silently drop.

Status of a claim: ``PASS`` (hard, every check holds), ``FAIL`` (hard, a check does not hold),
``REPORT`` (report-only). Every record also says whether all its checks ``holds``: a REPORT claim
that does not hold is shown as "REPORT, does not hold" (a result at reduced scale, not an error).
"""

from __future__ import annotations

import math
import operator
import textwrap
from dataclasses import dataclass, field
from typing import Any

from common import paths
from common.experiment.store import atomic_write_json
from common.project.paperyml import ClaimSpec, load_paper

__all__ = ["Claims", "ClaimCheckFailed", "ClaimsIncomplete", "fmt", "format_plain",
           "format_markdown", "count_text", "STATUSES"]

STATUSES = ("PASS", "FAIL", "REPORT")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
_OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠", "in": "∈"}


class ClaimCheckFailed(AssertionError):
    """A hard claim did not hold. The message names each failed claim and its numbers."""


class ClaimsIncomplete(RuntimeError):
    """A claim assigned to the notebook was never checked, or a check names a foreign claim."""


def fmt(x: Any) -> str:
    """Fixed-precision text for a measured value (3 significant digits; scientific when tiny/huge).

    The claims table is compared by nbval, so every number in it goes through this function.
    """
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, (tuple, list)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.3g}"


@dataclass
class _Check:
    label: str
    holds: bool
    text: str
    value: Any = None
    op: str | None = None
    bound: Any = None


@dataclass
class Claims:
    """The claims of one notebook, checked one by one and then finished."""

    paper: str
    notebook: str
    run: Any = None
    _checks: dict[str, list[_Check]] = field(default_factory=dict, init=False)
    _specs: dict[str, ClaimSpec] = field(default_factory=dict, init=False)
    _finished: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        spec = load_paper(self.paper)
        spec.notebook(self.notebook)  # validates the notebook name
        self._specs = {c.id: c for c in spec.claims_for(self.notebook)}
        if not self._specs:
            raise ClaimsIncomplete(f"paper.yml of {self.paper} assigns no claim to {self.notebook}")

    @property
    def scale(self) -> str:
        return self.run.scale if self.run is not None else "cpu"

    # ---- recording --------------------------------------------------------------------------
    def _add(self, claim_id: str, check: _Check) -> bool:
        if self._finished:
            raise ClaimsIncomplete("claims already finished")
        if claim_id not in self._specs:
            raise ClaimsIncomplete(
                f"claim {claim_id!r} is not assigned to {self.notebook} in papers/{self.paper}/"
                f"paper.yml (assigned here: {', '.join(self._specs)})")
        self._checks.setdefault(claim_id, []).append(check)
        return check.holds

    def check(self, claim_id: str, label: str, value: Any, op: str, bound: Any) -> bool:
        """Record ``value op bound`` (``op`` in < <= > >= == != in); return whether it holds.

        For ``op="in"``, ``bound`` is ``(low, high)``, inclusive. NaN never satisfies a bound.
        """
        if op == "in":
            lo, hi = bound
            holds = bool(lo <= value <= hi)
            text = f"{label}: {fmt(value)} (need ∈ [{fmt(lo)}, {fmt(hi)}])"
        elif op in _OPS:
            holds = bool(_OPS[op](value, bound))
            text = f"{label}: {fmt(value)} (need {_OP_TEXT[op]} {fmt(bound)})"
        else:
            raise ValueError(f"op={op!r}: allowed are {sorted(_OPS) + ['in']}")
        try:
            if math.isnan(float(value)):
                holds = False
        except (TypeError, ValueError):
            pass
        return self._add(claim_id, _Check(label, holds, text, value, op, bound))

    def check_true(self, claim_id: str, label: str, condition: bool, detail: str = "") -> bool:
        """Record a yes/no check; ``detail`` says what was counted or measured."""
        text = f"{label}" + (f" ({detail})" if detail else "")
        return self._add(claim_id, _Check(label, bool(condition), text))

    # ---- results ----------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        out = []
        for cid, spec in self._specs.items():
            checks = self._checks.get(cid, [])
            if spec.hard:
                status = "PASS" if checks and all(c.holds for c in checks) else "FAIL"
            else:
                status = "REPORT"
            measured = "; ".join(
                f"{c.text} [{'holds' if c.holds else 'does not hold'}]" for c in checks)
            out.append({
                "id": cid, "statement": spec.statement, "where": spec.where,
                "paper_reports": spec.paper_reports, "check": spec.check, "status": status,
                "holds": bool(checks) and all(c.holds for c in checks),
                "measured": measured, "reason": spec.reason, "unverified": spec.unverified,
                "paper": self.paper, "notebook": self.notebook, "scale": self.scale,
                "checks": [{"label": c.label, "holds": c.holds, "text": c.text,
                            "value": _plain(c.value), "op": c.op, "bound": _plain(c.bound)}
                           for c in checks],
            })
        return out

    def finish(self) -> None:
        """Show the table, write ``claims.json``, and raise if a hard claim failed.

        Returns None (so a notebook's last line shows nothing else); the records are available
        from :meth:`records`.
        """
        missing = [cid for cid in self._specs if cid not in self._checks]
        if missing:
            raise ClaimsIncomplete(f"{self.paper}/{self.notebook}: claim(s) {missing} were "
                                   "assigned in paper.yml but never checked")
        records = self.records()
        self._finished = True
        title = f"Claims: {self.paper} / {self.notebook} (scale={self.scale})"
        _display(records, title)
        payload = {"paper": self.paper, "notebook": self.notebook, "scale": self.scale,
                   "claims": records}
        if self.run is not None:
            payload.update(config=self.run.config.to_dict(), seed=self.run.seed,
                           wall_time_s=round(self.run.wall_time(), 3))
        from common.experiment.provenance import provenance

        payload["provenance"] = provenance()
        out_dir = (self.run.dir if self.run is not None else
                   paths.notebook_results_dir(self.paper, self.notebook, self.scale))
        atomic_write_json(out_dir / "claims.json", payload)
        failed = [r for r in records if r["status"] == "FAIL"]
        if failed:
            lines = [f"{r['id']} ({r['statement']}): {r['measured']}" for r in failed]
            raise ClaimCheckFailed(f"{len(failed)} hard claim(s) failed in {self.paper}/"
                                   f"{self.notebook}:\n" + "\n".join(lines))


def _plain(v):
    """A JSON-compliant copy of a measured value (non-finite floats become "inf" / "nan")."""
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (bool, int, float, str)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return fmt(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def format_plain(records: list[dict[str, Any]], title: str = "", width: int = 100) -> str:
    """The claims as fixed-width text: one block per claim."""
    lines = [title, "=" * min(width, max(len(title), 10))] if title else []
    indent = " " * 12
    for r in records:
        head = f"{r['id']:<5} {_status_text(r):<6} "
        lines.append(textwrap.fill(r["statement"], width, initial_indent=head,
                                   subsequent_indent=indent))
        lines.append(textwrap.fill(f"paper:    {r['paper_reports']} ({r['where']})", width,
                                   initial_indent=indent, subsequent_indent=indent + "          "))
        lines.append(textwrap.fill(f"measured: {r['measured'] or '-'}", width,
                                   initial_indent=indent, subsequent_indent=indent + "          "))
    lines.append(count_text(records, sep=", "))
    return "\n".join(lines)


def _status_text(r: dict[str, Any]) -> str:
    if r["status"] == "REPORT" and not r.get("holds", True):
        return "REPORT (does not hold)"
    return r["status"]


def count_text(records: list[dict[str, Any]], sep: str = " · ") -> str:
    """``"6 PASS, 0 FAIL, 3 REPORT (1 does not hold)"``."""
    n = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    misses = sum(r["status"] == "REPORT" and not r.get("holds", True) for r in records)
    report = f"{n['REPORT']} REPORT" + (f" ({misses} not holding)" if misses else "")
    return sep.join([f"{n['PASS']} PASS", f"{n['FAIL']} FAIL", report])


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_markdown(records: list[dict[str, Any]], *, link: str | None = None) -> str:
    """The claims as a Markdown table: claim, what the paper reports, measured, status.

    ``link`` is a relative-link template (``"{notebook}.ipynb"``, ``"cpu/{notebook}/..."``): each
    claim then links to the notebook that checks it.
    """
    rows = ["| Claim | Paper reports | Measured | Status |", "|---|---|---|---|"]
    for r in records:
        claim = f"**{r['id']}** {_md_cell(r['statement'])}"
        if link:
            claim += f" ([{r['notebook']}]({link.format(notebook=r['notebook'])}))"
        status = f"**{r['status']}**"
        if r["status"] == "REPORT" and not r.get("holds", True):
            status += ", does not hold"
        if r["status"] == "REPORT" and r.get("reason"):
            status += f": {_md_cell(r['reason'])}"
        rows.append(f"| {claim} | {_md_cell(r['paper_reports'])} ({_md_cell(r['where'])}) "
                    f"| {_md_cell(r['measured'] or '-')} | {status} |")
    return "\n".join(rows)


def _display(records: list[dict[str, Any]], title: str) -> None:
    plain = format_plain(records, title)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency via ipykernel
        print(plain)
        return
    if get_ipython() is None:
        print(plain)
        return
    bundle = {"text/plain": plain, "text/markdown": f"**{title}**\n\n" + format_markdown(records)}
    # The records ride in the output's metadata (nbval does not compare metadata); `make sync`
    # reads them from the committed notebook to build the chapter's claims table.
    display(bundle, raw=True, metadata={"lucchi_repro": {"claims": records}})
