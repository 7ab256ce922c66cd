r"""Statistics of recorded trajectories: stationary levels, half-lives, tracking errors, Monte Carlo
windows, log-log slopes, crossings and the parabolic best step size.

The SDE papers (adaptive-sde, arXiv 2411.15958; compressed-sde, arXiv 2502.17009; dp-sde,
arXiv 2603.03226) compare an optimizer with its SDE and with closed forms through these numbers,
for JAX simulations (:class:`common.sde.Trajectory`) and torch ones (:class:`Paths`) alike. A
*trajectory* here is anything with ``steps`` (T,), the record steps (step 0 first), and ``paths``
(T, R), an observable (the loss) of R independent paths at each record, and ``mean`` (T,), its
mean over paths: :class:`common.sde.Trajectory` and :class:`Paths` both are. Everything is NumPy
in float64.

- :func:`window`, :func:`window_median`, :func:`window_table`: a stationary level as the mean over
  paths of each path's time average over a window, with its standard error across the paths (the
  time correlation inside a path never enters the error);
- :func:`stationary_level`: the time average of the mean curve from a record on (a plateau);
- :func:`half_life`: the steps until the excess over a level first halves;
- :func:`relative_error`: the notes' "mean relative trajectory error" between two mean curves;
- :func:`loglog_slope`, :func:`crossing`, :func:`best_lr`: scaling exponents, the point where a
  difference changes sign, and the best step size of a geometric grid (parabola through the best
  point and its neighbours).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Paths", "window", "window_median", "window_table", "stationary_level", "half_life",
           "relative_error", "loglog_slope", "crossing", "best_lr"]


class Paths(NamedTuple):
    """An observable of R independent paths every few steps: ``steps`` (T,), ``paths`` (T, R).

    The NumPy record of a torch simulation, with the fields of :class:`common.sde.Trajectory`
    that the statistics here read (``mean`` is computed from the paths)."""

    steps: np.ndarray
    paths: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """(T,) the mean over paths at each record."""
        return np.asarray(self.paths, dtype=np.float64).mean(axis=1)


def _select(traj, start: int, stop: int | None) -> np.ndarray:
    steps = np.asarray(traj.steps)
    stop = int(steps[-1]) + 1 if stop is None else stop
    sel = (steps >= start) & (steps < stop)
    if not sel.any():
        raise ValueError(f"no record in [{start}, {stop}) (records at steps {steps[0]}.."
                         f"{steps[-1]})")
    return sel


def _per_path(traj, start: int, stop: int | None) -> np.ndarray:
    if traj.paths is None:
        raise ValueError("the trajectory has no per-path values: simulate with keep_paths=True")
    return np.asarray(traj.paths, dtype=np.float64)[_select(traj, start, stop)].mean(axis=0)


def window(traj, start: int, stop: int | None = None) -> tuple[float, float]:
    """Mean loss over the records with ``start <= step < stop`` and its Monte Carlo error.

    Each path is first averaged over the window, then the mean and the standard error are taken
    across the (independent) paths. ``stop`` defaults to after the last record.
    """
    per_path = _per_path(traj, start, stop)
    return float(per_path.mean()), float(per_path.std(ddof=1) / math.sqrt(per_path.size))


def window_median(traj, start: int, stop: int | None = None) -> float:
    """Median over paths of each path's mean over the window (robust to heavy tails)."""
    return float(np.median(_per_path(traj, start, stop)))


def window_table(trajs: dict, start: int, stop: int | None = None, *, reference=None):
    """A ``pandas`` table of :func:`window` per trajectory: mean and standard error, and with
    ``reference`` (name -> value) the closed form and the ratio to it."""
    import pandas as pd

    rows = {}
    for name, traj in trajs.items():
        m, se = window(traj, start, stop)
        rows[name] = {"mean": m, "s.e.": se}
        if reference is not None:
            rows[name] |= {"closed form": reference[name], "ratio": m / reference[name]}
    return pd.DataFrame(rows).T


def stationary_level(steps, mean, start: int, stop: int | None = None) -> float:
    """Time average of the mean curve over the records with ``start <= step < stop`` (a
    plateau); ``stop`` defaults to after the last record."""
    steps, mean = np.asarray(steps), np.asarray(mean, float)
    stop = int(steps[-1]) + 1 if stop is None else stop
    sel = (steps >= start) & (steps < stop)
    if not sel.any():
        raise ValueError(f"start={start}: no record in [{start}, {stop}) (last step {steps[-1]})")
    return float(mean[sel].mean())


def half_life(steps, mean, level: float) -> float:
    """Steps until the excess ``mean - level`` first falls to half its initial value.

    Linear interpolation between the two records around the crossing; ``inf`` if it never does.
    """
    steps, excess = np.asarray(steps, float), np.asarray(mean, float) - level
    target = excess[0] / 2.0
    if not excess[0] > 0:
        raise ValueError("the initial loss must lie above the level")
    below = np.flatnonzero(excess <= target)
    if below.size == 0:
        return math.inf
    j = below[0]
    if j == 0:
        return float(steps[0])
    e0, e1 = excess[j - 1], excess[j]
    return float(steps[j - 1] + (steps[j] - steps[j - 1]) * (e0 - target) / (e0 - e1))


def relative_error(reference, other, start: int = 0, stop: int | None = None) -> float:
    """Mean over records with ``start <= step < stop`` of ``|E f_ref - E f_other| / E f_ref``.

    The notes' "mean relative trajectory error" (adaptive-sde notes s.5, compressed-sde notes),
    on the path means of two trajectories recorded at the same steps. Pass ``start=1`` to leave
    out the common starting point (step 0, where the error is 0 by construction).
    """
    sel = _select(reference, start, stop)
    a = np.asarray(reference.mean, np.float64)[sel]
    b = np.asarray(other.mean, np.float64)[sel]
    return float(np.mean(np.abs(a - b) / a))


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (nan when any y <= 0 or is not finite)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y need the same shape with >= 2 points, got {x.shape}, {y.shape}")
    if np.any(~np.isfinite(y)) or np.any(y <= 0) or np.any(x <= 0):
        return math.nan
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def crossing(x, diff) -> float:
    """Smallest x at which ``diff`` changes sign from > 0 (left) to <= 0 (right), interpolated
    linearly in (log x, diff); nan when it never does on the grid.

    With ``diff = log L_SGD - log L_SignSGD`` over an increasing epsilon grid this is the
    threshold epsilon* below which DP-SignSGD beats DP-SGD (dp-sde notes, claim C6).
    """
    x, diff = np.asarray(x, float), np.asarray(diff, float)
    for j in range(1, len(x)):
        if diff[j - 1] > 0 >= diff[j]:
            u0, u1 = np.log(x[j - 1]), np.log(x[j])
            return float(np.exp(u0 + (u1 - u0) * diff[j - 1] / (diff[j - 1] - diff[j])))
    return math.nan


def best_lr(lrs, losses) -> tuple[float, bool]:
    """The best step size on a geometric grid: the vertex of the parabola through the grid's
    best point and its two neighbours, in (log lr, loss) coordinates (dp-sde notes' G3 rule).

    Returns ``(lr, interior)``; at the grid's edge (or without a convex vertex) the best grid
    point is returned with ``interior = False``. NaN losses count as worst.
    """
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    losses = np.where(np.isfinite(losses), losses, np.inf)
    i = int(np.argmin(losses))
    if i == 0 or i == len(lrs) - 1 or not np.all(np.isfinite(losses[i - 1:i + 2])):
        return float(lrs[i]), False
    u = np.log(lrs[i - 1:i + 2])
    a, b, _ = np.polyfit(u, losses[i - 1:i + 2], 2)
    if not a > 0:
        return float(lrs[i]), False
    vertex = float(np.clip(-b / (2 * a), u[0], u[2]))
    return float(np.exp(vertex)), True
