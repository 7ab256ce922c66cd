"""Frozen, validated experiment configs: plain dataclasses with declared bounds.

A notebook's parameters cell holds literals; the next cell builds one config from them::

    @dataclass(frozen=True)
    class SweepConfig(Config):
        num_steps: int = param(20_000, ge=1, doc="iterations per run")
        lrs: tuple[float, ...] = param((1e-2, 1e-1), gt=0, doc="step-size grid")
        method: str = param("ngn-m", choices=("ngn", "ngn-m"))

    cfg = SweepConfig(num_steps=num_steps, lrs=lrs, method=method)

Construction checks every field's type (coercing ``int -> float`` and ``list -> tuple``) and
bounds; a bad value raises :class:`ConfigError` naming the field, the value and what is allowed.
Floats must be finite: NaN is always refused, and ``inf`` / ``-inf`` too unless the field is
declared with ``param(..., allow_inf=True)`` (then its bounds still apply, so ``gt=0`` admits
``inf`` but not ``-inf``). A bound such as ``gt=0`` alone would let ``inf`` through, and an
infinite step size surfaces much later as a failed claim instead of as bad input.
Field names are the notebook's parameter names, so the error names the papermill parameter too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from typing import Any

__all__ = ["Config", "ConfigError", "param"]


class ConfigError(ValueError):
    """A config value is of the wrong type or outside its allowed range."""


def param(default: Any = dataclasses.MISSING, *, ge=None, gt=None, le=None, lt=None,
          choices=None, allow_inf: bool = False, doc: str = "") -> Any:
    """A dataclass field with validation metadata.

    Args:
        default: default value (lists are stored as tuples so configs stay hashable).
        ge, gt, le, lt: numeric bounds, applied to the value or to every element of a tuple.
        choices: allowed values (for a tuple field: allowed elements).
        allow_inf: accept ``inf`` and ``-inf`` (still subject to the bounds); NaN is never
            accepted. Default False: a float must be finite.
        doc: one-line description, shown in errors and in ``Config.describe()``.
    """
    if isinstance(default, list):
        default = tuple(default)
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices,
            "allow_inf": bool(allow_inf), "doc": doc}
    return dataclasses.field(default=default, metadata={"repro": meta})


def _bound_text(meta: dict) -> str:
    parts = []
    for key, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    if meta.get("choices") is not None:
        parts.append(f"one of {list(meta['choices'])}")
    text = " and ".join(parts)
    if meta.get("allow_inf"):
        text += ", inf allowed" if text else "inf allowed"
    return text


def _coerce(tp, value, where: str):
    """Check ``value`` against the annotation ``tp``; return it coerced.

    Coercions: int -> float for float fields, list -> tuple for tuple fields.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: value {value!r} not allowed")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{where} = {value!r}: expected a list/tuple")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where} = {value!r}: expected {len(args)} elements")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} = {value!r}: expected a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} = {value!r}: expected an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: expected True or False")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected a string")
        return value
    return value  # other annotations are not checked


def _check_finite(value, meta: dict, where: str, doc: str) -> None:
    """NaN is never a valid value; ``inf`` / ``-inf`` only where ``allow_inf`` says so."""
    items = value if isinstance(value, tuple) else (value,)
    for i, v in enumerate(items):
        if not isinstance(v, float) or math.isfinite(v):
            continue
        label = f"{where}[{i}]" if isinstance(value, tuple) else where
        if math.isnan(v):
            raise ConfigError(f"{label} = nan is invalid{doc}")
        if not meta.get("allow_inf"):
            raise ConfigError(f"{label} = {v!r} is invalid: must be finite{doc}")


def _check_bounds(value, meta: dict, where: str, doc: str) -> None:
    items = value if isinstance(value, tuple) else (value,)
    for i, v in enumerate(items):
        label = f"{where}[{i}]" if isinstance(value, tuple) else where
        if v is None:
            continue
        bad = (
            (meta["gt"] is not None and not v > meta["gt"])
            or (meta["ge"] is not None and not v >= meta["ge"])
            or (meta["lt"] is not None and not v < meta["lt"])
            or (meta["le"] is not None and not v <= meta["le"])
            or (meta["choices"] is not None and v not in meta["choices"])
        )
        if bad:
            raise ConfigError(f"{label} = {v!r} is invalid: must be {_bound_text(meta)}{doc}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of experiment configs: subclass it with ``@dataclass(frozen=True)``."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        name = type(self).__name__
        for f in dataclasses.fields(self):
            where = f"{name}.{f.name}"
            meta = f.metadata.get("repro", {})
            doc = f" ({meta['doc']}; notebook parameter `{f.name}`)" if meta.get("doc") else (
                f" (notebook parameter `{f.name}`)")
            try:
                value = _coerce(hints[f.name], getattr(self, f.name), where)
            except ConfigError as exc:
                raise ConfigError(f"{exc}{doc}") from None
            _check_finite(value, meta, where, doc)
            if meta:
                _check_bounds(value, meta, where, doc)
            object.__setattr__(self, f.name, value)

    # ---- conversion -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (tuples become lists), for JSON."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build from a dict; unknown keys are an error that lists the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown parameter(s) {unknown}; "
                              f"valid parameters are {sorted(names)}")
        return cls(**data)

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]):
        """Build from the variables of the same names (a notebook's ``globals()``).

        The parameters cell defines one variable per field; papermill overrides some of them.
        Every field must be defined in ``namespace``; other names are ignored.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in namespace]
        if missing:
            raise ConfigError(f"{cls.__name__}: parameter(s) {missing} are not defined; the "
                              "parameters cell must define every config field")
        return cls(**{n: namespace[n] for n in names})

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the class name and the fields (first 16 hex digits)."""
        blob = json.dumps({"class": type(self).__name__, "fields": self.to_dict()},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def describe(cls) -> str:
        """One line per field: name, type, default, allowed range and doc."""
        hints = typing.get_type_hints(cls)
        lines = []
        for f in dataclasses.fields(cls):
            meta = f.metadata.get("repro", {})
            tp = getattr(hints[f.name], "__name__", str(hints[f.name]))
            rng = _bound_text(meta) if meta else ""
            lines.append(f"{f.name}: {tp} = {f.default!r}" + (f"  [{rng}]" if rng else "")
                         + (f"  # {meta['doc']}" if meta.get("doc") else ""))
        return "\n".join(lines)


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
