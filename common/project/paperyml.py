"""The paper folder contract (DESIGN.md section 3): load and validate ``papers/<slug>/paper.yml``.

Schema of ``paper.yml`` (every key listed; anything else is an error)::

    title: str                      # the paper's title
    short_title: str                # the method's name, for tables
    authors: [str, ...]
    arxiv: "YYMM.NNNNN"
    venue: str                      # "NeurIPS 2025", "preprint", ...
    year: int
    official_code: str | null       # URL of the authors' code, or null when there is none
    notes_confidence: read-in-paper | read-in-official-code | reconstructed
    bibtex: str                     # key of the paper in book/references.bib
    summary: str                    # one or two sentences, shown in the landing table
    notebooks:                      # in reading order
      - file: 01_topic.ipynb
        title: str
    claims:
      - id: C1                      # C<number>, optionally a letter suffix (C2a)
        statement: str              # one sentence
        where: str                  # "Fig. 1", "Theorem 4.3", ...
        paper_reports: str          # what the paper reports
        kind: paper | invariant     # paper: a result the paper reports; invariant: an identity,
                                    #   reduction or law that holds by construction (tests our code)
        check: hard | report        # hard: asserted; report: measured and shown
        notebook: 01_topic          # the notebook (stem) that checks it
        reason: str                 # required for report claims: why reduced scale cannot decide
        unverified: str             # optional: what about this claim the notes could not verify
        negative_control: str       # optional: the contrast case on which the claim's condition
                                    #   must fail (comparative claims); the notebook must check it
        tuned: [str, ...]           # optional: hyperparameters tuned on a grid for this claim;
                                    #   the notebook checks each chosen value is interior

Claim statements are plain text (no TeX: they are printed in terminals and page titles); use
Unicode (σ, ≤, √) instead.

``params/paper.yaml`` maps notebook stems to the parameters ``SCALE=paper`` injects; every name must
be a parameter of that notebook's ``parameters`` cell.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from common import paths

__all__ = ["PaperSpecError", "Paper", "NotebookSpec", "ClaimSpec", "load_paper", "list_papers",
           "CLAIM_ID_RE", "KINDS", "check_claims_cell"]

CLAIM_ID_RE = re.compile(r"^C[0-9]+[a-z]?$")
ARXIV_RE = re.compile(r"^[0-9]{4}\.[0-9]{4,5}$")
CONFIDENCE = ("read-in-paper", "read-in-official-code", "reconstructed")
CHECKS = ("hard", "report")
#: Kinds of claims, counted apart everywhere: results the paper reports, and invariants of our code.
KINDS = ("paper", "invariant")
_TEX_RE = re.compile(r"\$|\\[A-Za-z(\[]")

_PAPER_KEYS = {
    "title": True, "short_title": True, "authors": True, "arxiv": True, "venue": True,
    "year": True, "official_code": True, "notes_confidence": True, "bibtex": True,
    "summary": True, "notebooks": True, "claims": True,
}
_NOTEBOOK_KEYS = {"file": True, "title": True}
_CLAIM_KEYS = {
    "id": True, "kind": True, "statement": True, "where": True, "paper_reports": True,
    "check": True, "notebook": True, "reason": False, "unverified": False,
    "negative_control": False, "tuned": False,
}


class PaperSpecError(ValueError):
    """``paper.yml`` or ``params/paper.yaml`` breaks the paper folder contract."""


@dataclass(frozen=True)
class NotebookSpec:
    file: str
    title: str

    @property
    def stem(self) -> str:
        return self.file.removesuffix(".ipynb")


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    statement: str
    where: str
    paper_reports: str
    check: str
    notebook: str
    kind: str = "paper"
    reason: str | None = None
    unverified: str | None = None
    negative_control: str | None = None
    tuned: tuple[str, ...] = ()

    @property
    def hard(self) -> bool:
        return self.check == "hard"


@dataclass(frozen=True)
class Paper:
    slug: str
    dir: Path
    title: str
    short_title: str
    authors: tuple[str, ...]
    arxiv: str
    venue: str
    year: int
    official_code: str | None
    notes_confidence: str
    bibtex: str
    summary: str
    notebooks: tuple[NotebookSpec, ...]
    claims: tuple[ClaimSpec, ...]

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"

    def notebook(self, stem: str) -> NotebookSpec:
        for nb in self.notebooks:
            if nb.stem == stem or nb.file == stem:
                return nb
        raise PaperSpecError(f"{self.slug}: no notebook {stem!r}; notebooks are "
                             f"{[nb.stem for nb in self.notebooks]}")

    def claims_for(self, stem: str) -> tuple[ClaimSpec, ...]:
        return tuple(c for c in self.claims if c.notebook == stem)

    def claim(self, claim_id: str) -> ClaimSpec:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise PaperSpecError(f"{self.slug}: no claim {claim_id!r}")

    def paper_params(self) -> dict[str, dict[str, Any]]:
        """The validated contents of ``params/paper.yaml`` (notebook stem -> parameters)."""
        return _load_paper_params(self)


def _fail(where: str, msg: str):
    raise PaperSpecError(f"{where}: {msg}")


def _check_keys(data: Any, allowed: dict[str, bool], where: str) -> None:
    if not isinstance(data, dict):
        _fail(where, f"expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            _fail(where, f"unknown key {key!r}{hint}; allowed keys: {', '.join(allowed)}")
    for key, required in allowed.items():
        if required and key not in data:
            _fail(where, f"missing required key {key!r}")


def _str(data: dict, key: str, where: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"{key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def list_papers() -> list[str]:
    """Slugs of every folder under ``papers/`` that has a ``paper.yml``, sorted."""
    return sorted(p.parent.name for p in paths.papers_dir().glob("*/paper.yml"))


def load_paper(slug: str) -> Paper:
    """Load and validate ``papers/<slug>/paper.yml`` (cached while the file is unchanged)."""
    path = paths.paper_dir(slug) / "paper.yml"
    if not path.is_file():
        raise PaperSpecError(f"papers/{slug}: no paper.yml")
    return _load_cached(slug, path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _load_cached(slug: str, _mtime: int) -> Paper:
    folder = paths.paper_dir(slug)
    where = f"papers/{slug}/paper.yml"
    try:
        data = yaml.safe_load((folder / "paper.yml").read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PaperSpecError(f"{where}: not valid YAML: {exc}") from None
    _check_keys(data, _PAPER_KEYS, where)

    authors = data["authors"]
    if not isinstance(authors, list) or not authors or not all(isinstance(a, str) for a in authors):
        _fail(where, "'authors' must be a non-empty list of names")
    arxiv = str(data["arxiv"])
    if not ARXIV_RE.match(arxiv):
        _fail(where, f"'arxiv' must look like 2508.15071, got {arxiv!r}")
    if not isinstance(data["year"], int):
        _fail(where, f"'year' must be an integer, got {data['year']!r}")
    if data["notes_confidence"] not in CONFIDENCE:
        _fail(where, f"'notes_confidence' must be one of {CONFIDENCE}, "
                     f"got {data['notes_confidence']!r}")
    code = data["official_code"]
    if code is not None and not (isinstance(code, str) and code.startswith("https://")):
        _fail(where, f"'official_code' must be an https URL or null, got {code!r}")

    notebooks = []
    if not isinstance(data["notebooks"], list) or not data["notebooks"]:
        _fail(where, "'notebooks' must be a non-empty list")
    for i, nb in enumerate(data["notebooks"]):
        w = f"{where}: notebooks[{i}]"
        _check_keys(nb, _NOTEBOOK_KEYS, w)
        file = _str(nb, "file", w)
        if not re.match(r"^[0-9]{2}_[a-z0-9_]+\.ipynb$", file):
            _fail(w, f"notebook file {file!r} must be named NN_topic.ipynb")
        if not (folder / file).is_file():
            _fail(w, f"notebook {file!r} does not exist in papers/{slug}/")
        notebooks.append(NotebookSpec(file=file, title=_str(nb, "title", w)))
    stems = [nb.stem for nb in notebooks]
    if len(set(stems)) != len(stems):
        _fail(where, "a notebook is listed twice")

    claims = []
    if not isinstance(data["claims"], list) or not data["claims"]:
        _fail(where, "'claims' must be a non-empty list")
    for i, c in enumerate(data["claims"]):
        w = f"{where}: claims[{i}]"
        _check_keys(c, _CLAIM_KEYS, w)
        cid = str(c["id"])
        if not CLAIM_ID_RE.match(cid):
            _fail(w, f"claim id {cid!r} must look like C1 or C2a")
        if c["check"] not in CHECKS:
            _fail(w, f"claim {cid}: 'check' must be 'hard' or 'report', got {c['check']!r}")
        if c["notebook"] not in stems:
            _fail(w, f"claim {cid}: notebook {c['notebook']!r} is not in 'notebooks' "
                     f"({', '.join(stems)})")
        if c["kind"] not in KINDS:
            _fail(w, f"claim {cid}: 'kind' must be one of {KINDS}, got {c['kind']!r}")
        reason = _str(c, "reason", w, optional=True)
        if c["check"] == "report" and not reason:
            _fail(w, f"claim {cid} is report-only: say why in 'reason'")
        statement = _str(c, "statement", w)
        if _TEX_RE.search(statement):
            _fail(w, f"claim {cid}: the statement is printed as plain text; write it without "
                     f"TeX ($, \\command), e.g. with Unicode symbols: {statement!r}")
        tuned = c.get("tuned") or []
        if not (isinstance(tuned, list) and all(isinstance(t, str) and t for t in tuned)):
            _fail(w, f"claim {cid}: 'tuned' must be a list of hyperparameter names, got {tuned!r}")
        claims.append(ClaimSpec(
            id=cid, statement=statement, where=_str(c, "where", w),
            paper_reports=_str(c, "paper_reports", w), check=c["check"],
            notebook=c["notebook"], kind=c["kind"], reason=reason,
            unverified=_str(c, "unverified", w, optional=True),
            negative_control=_str(c, "negative_control", w, optional=True),
            tuned=tuple(tuned)))
    ids = [c.id for c in claims]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        _fail(where, f"duplicate claim ids {dupes}")
    for stem in stems:
        if not any(c.notebook == stem for c in claims):
            _fail(where, f"notebook {stem} checks no claim: every notebook ends in a claims cell")

    return Paper(
        slug=slug, dir=folder, title=_str(data, "title", where),
        short_title=_str(data, "short_title", where), authors=tuple(authors), arxiv=arxiv,
        venue=_str(data, "venue", where), year=data["year"], official_code=code,
        notes_confidence=data["notes_confidence"], bibtex=_str(data, "bibtex", where),
        summary=" ".join(_str(data, "summary", where).split()), notebooks=tuple(notebooks),
        claims=tuple(claims))


def check_claims_cell(paper: Paper, stem: str) -> None:
    """Raise :class:`PaperSpecError` unless the claims cell of notebook ``stem`` mentions exactly
    the claims ``paper.yml`` assigns to it (read from the notebook's source, nothing executed).

    Catches, before any notebook runs: a claim checked in the notebook but deleted from
    ``paper.yml`` (or moved to another notebook, or misspelled), and a claim assigned in
    ``paper.yml`` that the notebook never checks. Otherwise both surface only when the notebook
    reaches its last cell.
    """
    from common.project.notebooks import claim_references

    where = f"papers/{paper.slug}/paper.yml"
    referenced = claim_references(paper.dir / f"{stem}.ipynb")
    assigned = {c.id for c in paper.claims_for(stem)}
    owner = {c.id: c.notebook for c in paper.claims}
    problems = []
    for cid in sorted(referenced - assigned):
        if cid in owner:
            problems.append(f"{stem}.ipynb checks {cid}, which {where} assigns to "
                            f"{owner[cid]}")
        else:
            problems.append(f"{stem}.ipynb checks {cid}, which {where} does not have "
                            "(deleted or misspelled?)")
    for cid in sorted(assigned - referenced):
        problems.append(f"paper.yml assigns {cid} to {stem}, but its claims cell never "
                        "mentions it")
    if problems:
        raise PaperSpecError("; ".join(problems))


def _load_paper_params(paper: Paper) -> dict[str, dict[str, Any]]:
    from common.project.notebooks import notebook_parameters

    path = paper.dir / "params" / "paper.yaml"
    where = f"papers/{paper.slug}/params/paper.yaml"
    if not path.is_file():
        _fail(where, "missing: every paper states its paper-scale settings there")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PaperSpecError(f"{where}: not valid YAML: {exc}") from None
    stems = [nb.stem for nb in paper.notebooks]
    _check_keys(data, dict.fromkeys(stems, False), where)
    out = {}
    for stem, params in data.items():
        params = params or {}
        if not isinstance(params, dict):
            _fail(where, f"{stem}: expected a mapping of parameter names to values")
        declared = notebook_parameters(paper.dir / f"{stem}.ipynb")
        for name in params:
            if name not in declared:
                close = difflib.get_close_matches(str(name), list(declared), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                _fail(where, f"{stem}: {name!r} is not a parameter of {stem}.ipynb{hint}; "
                             f"its parameters are {', '.join(declared)}")
        out[stem] = dict(params)
    return out
