"""Check a paper's claims in its notebooks, the way a referee would, and record the results.

The claims live in ``papers/<slug>/paper.yml`` (id, kind, statement, where the paper makes it,
what it reports, ``hard`` or ``report``, the notebook that checks it, and optionally the negative
control and the tuned hyperparameters the check depends on). A notebook's last cell checks every
claim assigned to it::

    claims = run.claims()
    # a bound; the margin to it is recorded and shown
    claims.check("C4", "NGN-M worst final loss over c in [1e-2, 1e3]", worst, "<", 1e-10)
    # over seeds: the paired difference with its 95% t interval (common.metrics.stats)
    claims.check_paired("C5", "accuracy of A - B", acc_a, acc_b, ">", 0.0)
    # the same condition on the contrast case, which must NOT hold there
    claims.control("C3", "Clip-SGD threshold spread", spread_clip_sgd, "<=", 0.2)
    # a tuned comparison: the chosen value strictly inside its grid
    claims.interior("C4", "lr", lr_grid, best_lr, label="Clip21-SGD2M at eps 3")
    claims.finish()

**Kinds.** ``paper``: a result the paper reports (the check tests the paper). ``invariant``: an
identity, reduction or algebraic law that holds by construction (the check tests our code). They
are counted apart everywhere (notebook tables, ``make reproduce``, README, the book).

**Margins.** Every numeric check records how far the measurement is from its threshold: the
signed distance (positive = on the holding side), relative to the threshold, and, when the
measurement has a spread (an :class:`~common.metrics.stats.Interval` from seeds, or ``spread=``),
in units of that spread. A check is *decided* when the distance exceeds the spread on the side
facing the bound (for an interval: the whole interval lies on one side of the bound).

**Status of a claim.**

- ``PASS``: hard, every check holds and is decided (every negative control fails as it must,
  every tuned value is interior).
- ``FAIL``: hard, some check does not hold and that is decided (outside the seed spread), or a
  negative control holds on the contrast case (the check cannot tell A from B), or a tuned
  value sits on the edge of its grid. :meth:`Claims.finish` raises :class:`ClaimCheckFailed`.
- ``REPORT``: report-only claims (measured and shown, never asserted), and hard claims whose
  margin lies inside the seed spread (``fragile``: the interval straddles the threshold, so
  reduced scale cannot decide; the table shows the interval). Every REPORT says whether its
  checks hold.

A claim assigned to the notebook but never checked is an error, so is a claim whose
``paper.yml`` entry names a negative control or tuned hyperparameters that the notebook never
checked: a claim cannot silently lose its control.
"""

from __future__ import annotations

import math
import operator
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

from common import paths
from common.experiment.store import atomic_write_json
from common.metrics.stats import Interval, paired_ci, paired_ratio_ci
from common.project.paperyml import KINDS, ClaimSpec, load_paper

__all__ = ["Claims", "ClaimCheckFailed", "ClaimsIncomplete", "fmt", "format_plain",
           "format_markdown", "count_text", "margin_text", "STATUSES", "KINDS"]

STATUSES = ("PASS", "FAIL", "REPORT")
ROLES = ("check", "control", "interior")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
_OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠", "in": "∈"}


class ClaimCheckFailed(AssertionError):
    """A hard claim did not hold. The message names each failed claim and its numbers."""


class ClaimsIncomplete(RuntimeError):
    """A claim assigned to the notebook was never checked (or lacks its negative control or
    interior checks), or a check names a foreign claim."""


def fmt(x: Any) -> str:
    """Fixed-precision text for a measured value (3 significant digits; scientific when tiny/huge).

    The claims table is compared by nbval, so every number in it goes through this function.
    """
    if isinstance(x, Interval):
        return f"{fmt(x.estimate)} [{fmt(x.low)}, {fmt(x.high)}] ({x.level:.0%} CI, n={x.n})"
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


# ---- margins ------------------------------------------------------------------------------------

def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _margin(value: Any, op: str, bound: Any, spread: float | None) -> dict[str, Any] | None:
    """Distance of ``value`` to the threshold of ``value op bound`` (positive: holding side).

    Returns ``{"abs", "rel", "spread", "in_spread", "decided"}``, or None for ``==`` / ``!=``
    and non-numeric values. ``spread`` is the measurement's uncertainty towards the bound (for an
    :class:`Interval` it is taken from the interval's side that faces the bound).
    """
    if op in ("==", "!="):
        return None
    est = _float(value.estimate if isinstance(value, Interval) else value)
    if math.isnan(est):
        return None
    if op == "in":
        lo, hi = (_float(b) for b in bound)
        # the edge that decides: the nearer one when inside, the violated one when outside
        dist, ref = min((est - lo, lo), (hi - est, hi))
    else:
        ref = _float(bound)
        dist = ref - est if op in ("<", "<=") else est - ref
    if isinstance(value, Interval):
        # the side of the interval that faces the bound
        spread = (value.high - value.estimate) if ref >= est else (value.estimate - value.low)
    rel = dist / abs(ref) if ref != 0 and math.isfinite(ref) else None
    out: dict[str, Any] = {"abs": dist, "rel": rel, "spread": spread, "in_spread": None,
                           "decided": True}
    if spread is not None:
        spread = abs(float(spread))
        # an interval over identical seeds (mean of equal values) carries rounding, not spread:
        # below 64 ulps of the compared magnitudes it counts as zero
        scale = max(abs(est), abs(ref) if math.isfinite(ref) else 0.0)
        if spread <= 64 * sys.float_info.epsilon * scale:
            spread = 0.0
        out["spread"] = spread
        if math.isinf(dist):
            out["in_spread"] = math.copysign(math.inf, dist)
        else:
            out["in_spread"] = (dist / spread) if spread > 0 else math.copysign(math.inf, dist)
        out["decided"] = abs(dist) > spread
    if isinstance(value, Interval) and value.n < 2:
        out["decided"] = False  # one seed: no spread to compare the margin with
        out["in_spread"] = None
    return out


def margin_text(m: dict[str, Any] | None) -> str:
    """``"+35%"``, ``"+35%, 4.1x spread"``, ``"-0.02 (abs)"`` or ``"n/a"``.

    Accepts a margin as recorded and as read back from JSON (non-finite numbers stored as
    ``"inf"`` / ``"-inf"``).
    """
    if not m:
        return "n/a"
    if m.get("interior") is not None:
        return f"{m['interior']} from edge"
    if m.get("rel") is not None:
        rel = _float(m["rel"])
        text = f"{rel:+.0%}" if abs(rel) < 10 else f"{rel:+.1e}x"
    else:
        a = _float(m["abs"])
        text = f"{fmt(a) if a < 0 else '+' + fmt(a)} (abs)"
    if m.get("in_spread") is not None:
        k = _float(m["in_spread"])
        text += (f", {'+' if k > 0 else '-'}inf x spread" if math.isinf(k)
                 else f", {k:+.1f}x spread")
    return text


# ---- records ------------------------------------------------------------------------------------

@dataclass
class _Check:
    label: str
    holds: bool            # for a control: the claim's condition FAILS on the contrast case
    text: str
    role: str = "check"
    value: Any = None
    op: str | None = None
    bound: Any = None
    margin: dict[str, Any] | None = None

    @property
    def decided(self) -> bool:
        return self.margin is None or bool(self.margin.get("decided", True))

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Interval):
            value = {"estimate": value.estimate, "low": value.low, "high": value.high,
                     "level": value.level, "n": value.n, "method": value.method}
        return {"label": self.label, "role": self.role, "holds": self.holds,
                "decided": self.decided, "text": self.text, "value": _plain(value),
                "op": self.op, "bound": _plain(self.bound),
                "margin": _plain(self.margin) if self.margin else None}


def _worst(checks: list[_Check]) -> _Check | None:
    """The check that decides the claim's margin: an undecided or failing one first, then the
    smallest margin in spread units, then the smallest relative margin."""
    numeric = [c for c in checks if c.margin is not None]
    if not numeric:
        return None

    def key(c: _Check):
        m = c.margin
        spread_units = m.get("in_spread")
        rel = m.get("rel")
        return (c.holds, c.decided,
                spread_units if spread_units is not None else math.inf,
                rel if rel is not None else math.inf,
                m.get("interior", math.inf))
    return min(numeric, key=key)


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

    @staticmethod
    def _condition(value: Any, op: str, bound: Any) -> tuple[bool, str]:
        """Whether ``value op bound`` holds (NaN never does), and its text."""
        v = value.estimate if isinstance(value, Interval) else value
        if op == "in":
            try:
                lo, hi = bound
            except (TypeError, ValueError):
                raise ValueError(f"op='in' needs bound=(low, high), got {bound!r}") from None
            holds = bool(lo <= v <= hi)
            need = f"∈ [{fmt(lo)}, {fmt(hi)}]"
        elif op in _OPS:
            holds = bool(_OPS[op](v, bound))
            need = f"{_OP_TEXT[op]} {fmt(bound)}"
        else:
            raise ValueError(f"op={op!r}: allowed are {sorted(_OPS) + ['in']}")
        if math.isnan(_float(v)) and not isinstance(v, str):
            holds = False
        return holds, need

    def check(self, claim_id: str, label: str, value: Any, op: str, bound: Any, *,
              spread: float | None = None) -> bool:
        """Record ``value op bound`` (``op`` in < <= > >= == != in); return whether it holds.

        ``value`` is a number or an :class:`~common.metrics.stats.Interval` (from
        :func:`~common.metrics.stats.mean_ci`, :func:`~common.metrics.stats.paired_ci`, ...);
        ``spread`` is the measurement's seed spread when it is a plain number (e.g. the standard
        deviation over seeds of a statistic). For ``op="in"``, ``bound`` is ``(low, high)``,
        inclusive. NaN never satisfies a bound.
        """
        if spread is not None and isinstance(value, Interval):
            raise ValueError("spread= is for plain numbers; an Interval carries its own")
        if spread is not None and not (math.isfinite(_float(spread)) and _float(spread) >= 0):
            raise ValueError(f"spread={spread!r}: a finite non-negative number")
        holds, need = self._condition(value, op, bound)
        margin = _margin(value, op, bound, spread)
        text = f"{label}: {fmt(value)} (need {need})"
        if spread is not None:
            text = f"{label}: {fmt(value)} ± {fmt(spread)} (need {need})"
        return self._add(claim_id, _Check(label, holds, text, "check", value, op, bound, margin))

    def check_paired(self, claim_id: str, label: str, a, b, op: str, bound: float, *,
                     ratio: bool = False, level: float = 0.95) -> bool:
        """Record a comparison over seeds: the mean paired difference ``a_s - b_s`` (or, with
        ``ratio=True``, the geometric-mean ratio ``a_s / b_s``) with its t interval, ``op bound``.

        The claim can PASS only if the whole interval clears ``bound``.
        """
        ci = paired_ratio_ci(a, b, level) if ratio else paired_ci(a, b, level)
        return self.check(claim_id, label, ci, op, bound)

    def check_true(self, claim_id: str, label: str, condition: bool, detail: str = "") -> bool:
        """Record a yes/no check; ``detail`` says what was counted or measured.

        Prefer :meth:`check` with a number and a bound wherever there is one: a yes/no check has
        no margin.
        """
        text = f"{label}" + (f" ({detail})" if detail else "")
        return self._add(claim_id, _Check(label, bool(condition), text, "check"))

    def control(self, claim_id: str, label: str, value: Any, op: str, bound: Any, *,
                spread: float | None = None) -> bool:
        """A negative control: the claim's condition ``value op bound`` evaluated on the contrast
        case (the method the claim says does *not* have the property). It must NOT hold there;
        if it does, the check cannot tell the two apart and a hard claim FAILs.

        Returns whether the control behaved (the condition failed on the contrast case).
        """
        if spread is not None and isinstance(value, Interval):
            raise ValueError("spread= is for plain numbers; an Interval carries its own")
        cond, need = self._condition(value, op, bound)
        v = value.estimate if isinstance(value, Interval) else value
        nan = math.isnan(_float(v))
        margin = _margin(value, op, bound, spread)
        if margin is not None:
            margin = dict(margin, abs=-margin["abs"],
                          rel=None if margin["rel"] is None else -margin["rel"],
                          in_spread=None if margin["in_spread"] is None else -margin["in_spread"])
        ok = (not cond) and not nan
        shown = f"{fmt(value)} ± {fmt(spread)}" if spread is not None else fmt(value)
        text = (f"control, {label}: {shown} (the claim's condition {need} must fail here: "
                f"{'it fails' if ok else 'it does not fail' if not nan else 'nan'})")
        return self._add(claim_id, _Check(label, ok, text, "control", value, op, bound, margin))

    def control_paired(self, claim_id: str, label: str, a, b, op: str, bound: float, *,
                       ratio: bool = False, level: float = 0.95) -> bool:
        """:meth:`control` on a paired comparison over seeds (see :meth:`check_paired`)."""
        ci = paired_ratio_ci(a, b, level) if ratio else paired_ci(a, b, level)
        return self.control(claim_id, label, ci, op, bound)

    def interior(self, claim_id: str, param: str, grid, chosen: float, *,
                 label: str = "") -> bool:
        """Record that a tuned hyperparameter's chosen value lies strictly inside its grid.

        A best setting on the edge of its grid says only that the optimum may lie beyond it:
        widen the grid (or state in the claim why it cannot be). ``param`` names the
        hyperparameter as ``tuned:`` lists it in paper.yml; ``label`` says for what (method,
        epsilon, ...).
        """
        values = sorted({float(g) for g in grid})
        if len(values) < 3:
            raise ValueError(f"interior({param!r}): a grid of at least 3 distinct values is "
                             f"needed to have an interior, got {values}")
        c = float(chosen)
        below = sum(v < c * (1 - 1e-12) - 1e-300 for v in values)
        above = sum(v > c * (1 + 1e-12) + 1e-300 for v in values)
        ok = below > 0 and above > 0
        where = f"{label}: " if label else ""
        text = (f"interior, {param} ({where}{fmt(c)} in grid [{fmt(values[0])} .. "
                f"{fmt(values[-1])}], {len(values)} values; {below} below, {above} above)")
        margin = {"abs": None, "rel": None, "spread": None, "in_spread": None,
                  "decided": True, "interior": min(below, above)}
        return self._add(claim_id, _Check(f"{param}: {label}" if label else param, ok, text,
                                          "interior", c, "interior", [values[0], values[-1]],
                                          margin))

    # ---- results ----------------------------------------------------------------------------
    def _status(self, spec: ClaimSpec, checks: list[_Check]) -> tuple[str, bool]:
        """(status, fragile)."""
        undecided = any(not c.decided for c in checks)
        if not spec.hard:
            return "REPORT", undecided
        if not checks:
            return "FAIL", False
        if any((not c.holds) and c.decided for c in checks):
            return "FAIL", False
        if undecided:
            return "REPORT", True
        return "PASS", False

    def records(self) -> list[dict[str, Any]]:
        out = []
        for cid, spec in self._specs.items():
            checks = self._checks.get(cid, [])
            status, fragile = self._status(spec, checks)
            worst = _worst(checks)
            measured = "; ".join(
                f"{c.text} [{_verdict(c)}]" for c in checks)
            out.append({
                "id": cid, "kind": spec.kind, "statement": spec.statement, "where": spec.where,
                "paper_reports": spec.paper_reports, "check": spec.check, "status": status,
                "holds": bool(checks) and all(c.holds for c in checks),
                "fragile": fragile,
                "margin": _plain(worst.margin) if worst is not None else None,
                "margin_text": margin_text(worst.margin if worst is not None else None),
                "controls": sum(c.role == "control" for c in checks),
                "measured": measured, "reason": spec.reason, "unverified": spec.unverified,
                "negative_control": spec.negative_control, "tuned": list(spec.tuned),
                "paper": self.paper, "notebook": self.notebook, "scale": self.scale,
                "checks": [c.as_dict() for c in checks],
            })
        return out

    def _completeness(self) -> list[str]:
        problems = []
        for cid, spec in self._specs.items():
            checks = self._checks.get(cid, [])
            if not checks:
                problems.append(f"{cid} was assigned in paper.yml but never checked")
                continue
            if spec.negative_control and not any(c.role == "control" for c in checks):
                problems.append(f"{cid} names a negative control in paper.yml "
                                f"({spec.negative_control!r}) but none was checked")
            for param in spec.tuned:
                if not any(c.role == "interior" and c.label.split(":")[0] == param
                           for c in checks):
                    problems.append(f"{cid} is tuned over {param!r} (paper.yml) but no "
                                    f"claims.interior({cid!r}, {param!r}, ...) was checked")
        return problems

    def finish(self) -> None:
        """Show the table, write ``claims.json``, and raise if a hard claim failed.

        Returns None (so a notebook's last line shows nothing else); the records are available
        from :meth:`records`.
        """
        problems = self._completeness()
        if problems:
            raise ClaimsIncomplete(f"{self.paper}/{self.notebook}: " + "; ".join(problems))
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


def _verdict(c: _Check) -> str:
    if c.role == "control":
        text = "control fails, as it must" if c.holds else "CONTROL HOLDS: cannot discriminate"
    elif c.role == "interior":
        text = "interior" if c.holds else "ON THE GRID EDGE: widen the grid"
    else:
        text = "holds" if c.holds else "does not hold"
    if not c.decided:
        text += ", inside the seed spread"
    return text


def _plain(v):
    """A JSON-compliant copy of a measured value (non-finite floats become "inf" / "nan")."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, Interval):
        return _plain({"estimate": v.estimate, "low": v.low, "high": v.high})
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


# ---- tables -------------------------------------------------------------------------------------

def status_text(r: dict[str, Any]) -> str:
    """``PASS``, ``FAIL``, ``REPORT``, ``REPORT (fragile)``, ``REPORT (does not hold)``."""
    if r["status"] != "REPORT":
        return r["status"]
    notes = []
    if r.get("fragile"):
        notes.append("fragile")
    if not r.get("holds", True):
        notes.append("does not hold")
    return "REPORT" + (f" ({', '.join(notes)})" if notes else "")


def format_plain(records: list[dict[str, Any]], title: str = "", width: int = 100) -> str:
    """The claims as fixed-width text: a header line per claim (id, kind, status, margin), then
    the statement, what the paper reports, what was measured and, for REPORT, the reason."""
    lines = [title, "=" * min(width, max(len(title), 10))] if title else []
    indent = " " * 6
    for r in records:
        head = (f"{r['id']:<5} {r.get('kind', 'paper'):<9} {status_text(r):<28} "
                f"margin {r.get('margin_text', 'n/a')}")
        lines.append(head.rstrip())
        lines.append(textwrap.fill(r["statement"], width, initial_indent=indent,
                                   subsequent_indent=indent))
        lines.append(textwrap.fill(f"paper:    {r['paper_reports']} ({r['where']})", width,
                                   initial_indent=indent, subsequent_indent=indent + " " * 10))
        lines.append(textwrap.fill(f"measured: {r['measured'] or '-'}", width,
                                   initial_indent=indent, subsequent_indent=indent + " " * 10))
        if r["status"] == "REPORT" and (r.get("reason") or r.get("fragile")):
            why = r.get("reason") or ""
            if r.get("fragile"):
                why = ("hard check, but its margin lies inside the seed spread"
                       + (f"; {why}" if why else ""))
            lines.append(textwrap.fill(f"why report: {why}", width, initial_indent=indent,
                                       subsequent_indent=indent + " " * 12))
    lines.append(count_text(records, sep=" · "))
    return "\n".join(lines)


def count_text(records: list[dict[str, Any]], sep: str = " · ") -> str:
    """``"paper: 6 PASS, 0 FAIL, 3 REPORT (1 not holding) · invariant: 2 PASS, 0 FAIL, 0 REPORT"``.

    Paper claims and invariants are counted apart; a kind with no claim is left out.
    """
    parts = []
    for kind in KINDS:
        rs = [r for r in records if r.get("kind", "paper") == kind]
        if not rs and not (kind == "paper" and not records):
            continue
        n = {s: sum(r["status"] == s for r in rs) for s in STATUSES}
        misses = sum(r["status"] == "REPORT" and not r.get("holds", True) for r in rs)
        fragile = sum(r["status"] == "REPORT" and bool(r.get("fragile")) for r in rs)
        notes = [f"{misses} not holding"] if misses else []
        if fragile:
            notes.append(f"{fragile} fragile")
        report = f"{n['REPORT']} REPORT" + (f" ({', '.join(notes)})" if notes else "")
        parts.append(f"{kind}: " + ", ".join([f"{n['PASS']} PASS", f"{n['FAIL']} FAIL", report]))
    return sep.join(parts)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown_table(records: list[dict[str, Any]]) -> str:
    """The wide Markdown table the claims cell has always shown next to its text (kept as it is:
    nbval compares the cell's ``text/markdown`` too; the book renders :func:`format_markdown`)."""
    rows = ["| Claim | Kind | Status | Margin | Paper reports | Measured |",
            "|---|---|---|---|---|---|"]
    for r in records:
        claim = f"**{r['id']}** {_md_cell(r['statement'])}"
        status = f"**{status_text(r)}**"
        if r["status"] == "REPORT" and r.get("reason"):
            status += f": {_md_cell(r['reason'])}"
        rows.append(f"| {claim} | {r.get('kind', 'paper')} | {status} "
                    f"| {_md_cell(r.get('margin_text', 'n/a'))} "
                    f"| {_md_cell(r['paper_reports'])} ({_md_cell(r['where'])}) "
                    f"| {_md_cell(r['measured'] or '-')} |")
    return "\n".join(rows)


def _value_text(v: Any) -> str:
    if v in ("inf", "-inf"):
        return "∞" if v == "inf" else "−∞"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(v, dict) and "estimate" in v:  # a stored Interval
        n = f", n={v['n']}" if "n" in v else ""
        level = f"{v['level']:.0%} CI" if isinstance(v.get("level"), float) else "CI"
        return f"{fmt(v['estimate'])} [{fmt(v['low'])}, {fmt(v['high'])}] ({level}{n})"
    return fmt(v)


def _check_html(c: dict[str, Any]) -> str:
    """One check of a claim as a sentence: what was measured, the condition, the verdict."""
    from html import escape

    role, op = c.get("role", "check"), c.get("op")
    if role == "check" and op in _OP_TEXT and op != "in" and c.get("value") is not None:
        verdict = "holds" if c.get("holds") else "does not hold"
        if c.get("decided") is False:
            verdict += ", inside the seed spread"
        text = (f"{escape(str(c['label']))} = <b>{escape(_value_text(c['value']))}</b>; "
                f"the claim needs {escape(_OP_TEXT[op])} {escape(_value_text(c.get('bound')))}: "
                f"{verdict}")
    else:
        text = escape(str(c.get("text", c.get("label", ""))))
        text += ": holds" if role == "check" and c.get("holds") else ""
        text += ": does not hold" if role == "check" and not c.get("holds") else ""
    margin = c.get("margin")
    if margin:
        text += f" (margin {escape(margin_text(margin))})"
    return f"<li>{text}</li>"


def format_markdown(records: list[dict[str, Any]], *, link: str | None = None,
                    title: str | None = None) -> str:
    """The claims as a compact table in HTML (which Markdown, MyST and GitHub render as it is).

    One line per claim: id and statement, kind, status, margin; the statement in full, what the
    paper reports and where, every check with its number, condition and verdict, and for a
    REPORT the reason, open when the line is clicked (``<details>``). ``link`` is a relative-link
    template (``"{notebook}.ipynb"``): each claim then names the notebook that checks it. The
    result has no blank line, so it stays one HTML block inside Markdown.
    """
    from html import escape

    head = (f'<p class="claims-title"><strong>{escape(title)}</strong></p>' if title else "")
    rows = ['<table class="claims">',
            "<thead><tr><th>Claim</th><th>Kind</th><th>Status</th><th>Margin</th></tr></thead>",
            "<tbody>"]
    for r in records:
        status = r["status"]
        notes = status_text(r)[len(status):].strip(" ()")
        details = [f"<dt>Claim</dt><dd>{escape(r['statement'])}</dd>",
                   f"<dt>The paper reports</dt><dd>{escape(str(r['paper_reports']))} "
                   f"({escape(str(r['where']))})</dd>"]
        checks = r.get("checks") or []
        if checks:
            details.append("<dt>Measured</dt><dd><ul>" + "".join(_check_html(c) for c in checks)
                           + "</ul></dd>")
        else:
            details.append(f"<dt>Measured</dt><dd>{escape(r.get('measured') or '-')}</dd>")
        if status == "REPORT" and (r.get("reason") or r.get("fragile")):
            why = r.get("reason") or ""
            if r.get("fragile"):
                why = ("hard check, but its margin lies inside the seed spread"
                       + (f"; {why}" if why else ""))
            details.append(f"<dt>Why REPORT</dt><dd>{escape(why)}</dd>")
        if r.get("unverified"):
            details.append(f"<dt>Unverified</dt><dd>{escape(str(r['unverified']))}</dd>")
        if link:
            href = escape(link.format(notebook=r["notebook"]), quote=True)
            details.append(f'<dt>Checked in</dt><dd><a href="{href}">{escape(r["notebook"])}'
                           "</a></dd>")
        summary = (f"<summary><strong>{escape(r['id'])}</strong> "
                   f'<span class="claims-statement">{escape(r["statement"])}</span></summary>')
        badge = (f'<span class="claims-status claims-{status.lower()}">{status}</span>'
                 + (f' <span class="claims-note">{escape(notes)}</span>' if notes else ""))
        rows.append(f'<tr class="claims-row claims-row-{status.lower()}">'
                    f"<td><details>{summary}<dl>{''.join(details)}</dl></details></td>"
                    f"<td>{escape(r.get('kind', 'paper'))}</td><td>{badge}</td>"
                    f"<td>{escape(r.get('margin_text') or 'n/a')}</td></tr>")
    rows += ["</tbody>", "</table>"]
    counts = f'<p class="claims-count">{escape(count_text(records))}</p>'
    return head + "\n".join(rows) + "\n" + counts


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
    bundle = {"text/plain": plain, "text/markdown": f"**{title}**\n\n" + _markdown_table(records)}
    # The records ride in the output's metadata (nbval does not compare metadata); `make sync`
    # reads them from the committed notebook to build the chapter's claims table.
    display(bundle, raw=True, metadata={"lucchi_repro": {"claims": records}})
