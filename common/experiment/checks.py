"""Checks across the fields of a config, for ``Config.__post_init__``: a bad combination raises
:class:`~common.experiment.ConfigError` naming every parameter involved (a notebook parameter's
name is the field's), so the message says what to change.

Single-field bounds and choices belong on the field itself (``param(gt=..., choices=...)``);
these are the relations between fields that the papers' notebooks share: recording every k steps
(k divides the run), a window inside its run, a (low, high) range.
"""

from __future__ import annotations

from common.experiment.config import ConfigError

__all__ = ["require_multiples", "require_at_most", "require_range"]


def require_multiples(divisor_name: str, divisor: int, **values: int) -> None:
    """Every ``values[name]`` is a multiple of ``divisor`` (e.g. record every ``divisor``
    steps of a run of ``values[name]`` steps)."""
    for name, value in values.items():
        if value % divisor:
            raise ConfigError(f"{name}={value}: must be a multiple of {divisor_name}={divisor} "
                              f"(notebook parameters `{name}`, `{divisor_name}`)")


def require_at_most(name: str, value, bound_name: str, bound) -> None:
    """``value <= bound`` (e.g. a window no longer than its run)."""
    if value > bound:
        raise ConfigError(f"{name}={value}: must be at most {bound_name}={bound} "
                          f"(notebook parameters `{name}`, `{bound_name}`)")


def require_range(name: str, value) -> None:
    """``value`` is a pair (low, high) with low <= high."""
    if len(value) != 2 or not value[0] <= value[1]:
        raise ConfigError(f"{name}={value}: must be two numbers (low, high) with low <= high "
                          f"(notebook parameter `{name}`)")
