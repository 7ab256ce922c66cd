"""Grids of runs: one run config derived from a study config, and geometric step-size grids.

A notebook's study config holds the settings shared by every run of its grid (problem, steps,
batch size, ...) next to the grid's axes (step sizes, seeds, methods); each run is a smaller
config. :func:`derive` builds a run from the study: every field the two configs share by name is
copied, then the run's own values are set, so a study never lists its shared fields by hand::

    trials = [derive(Trial, study, method=m, lr=lr, seed=s)
              for m in study.methods for lr in study.lrs for s in study.seeds]

:func:`geometric_grid` is the step-size grid centred on a value (``center * factor**j``).
"""

from __future__ import annotations

import dataclasses

__all__ = ["derive", "geometric_grid"]


def derive(config_type, source, **values):
    """A ``config_type`` whose fields shared with the dataclass ``source`` (same name) are copied
    from it, then overridden by ``values``; fields in neither keep their defaults. A name in
    ``values`` that is not a field of ``config_type`` is a ``TypeError`` naming it, and the new
    config is validated as any other (bounds, choices)."""
    names = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TypeError(f"{config_type.__name__} has no field {unknown[0]!r} "
                        f"(fields: {sorted(names)})")
    shared = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)
              if f.name in names}
    return config_type(**{**shared, **values})


def geometric_grid(center: float, points: int, factor: float) -> tuple[float, ...]:
    """``points`` values ``center * factor**j``, j = -(points // 2) .. points // 2 (odd
    ``points`` >= 3), so ``center`` is the middle of the grid and both neighbours exist."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 3 or points % 2 == 0:
        raise ValueError(f"points={points!r}: must be an odd integer >= 3")
    if not center > 0 or not factor > 1:
        raise ValueError(f"center={center}, factor={factor}: need center > 0 and factor > 1")
    half = points // 2
    return tuple(float(center * factor**j) for j in range(-half, half + 1))
