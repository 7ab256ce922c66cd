"""Convergence rates of a sequence of optimality gaps: log-linear fits and contraction ratios.

A linearly convergent method has ``gap_t ≈ c · r^t`` (discrete) or ``gap(t) ≈ c · exp(-k t)``
(a flow). :func:`log_linear_fit` regresses ``log gap`` on ``t`` by least squares and returns the
slope (``log r`` or ``-k``), the intercept and the coefficient of determination ``R^2`` (how
straight the tail is in log scale); its ``ci`` is a percentile bootstrap interval of the slope
over the points (:func:`common.metrics.stats.bootstrap_ci`); :func:`loglog_fit` is the same fit
in ``log t`` (power laws ``gap ≈ c · t^slope``). :func:`contraction_ratio` is the
median of ``gap_{t+1} / gap_t`` over the iterations whose gap lies in a band (above round-off,
below the transient), the estimator of ``r`` used for the SR-VN rate ``(1 - rho)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.metrics.stats import Interval, bootstrap_ci

__all__ = ["RateFit", "log_linear_fit", "loglog_fit", "contraction_ratio"]


@dataclass(frozen=True)
class RateFit:
    """``log gap ≈ intercept + slope * t`` over ``num_points`` points with ``r2``; ``ci`` is the
    bootstrap interval of the slope (None when not requested)."""

    slope: float
    intercept: float
    r2: float
    num_points: int
    ci: Interval | None = None


def _slope(t, y):
    tc = t - t.mean()
    return float((tc * (y - y.mean())).sum() / (tc * tc).sum())


def log_linear_fit(t, gap, *, ci: bool = False, level: float = 0.95, seed: int = 0) -> RateFit:
    """Least-squares fit of ``log(gap)`` on ``t``; every ``gap`` must be positive and finite."""
    t = np.asarray(t, dtype=float).reshape(-1)
    g = np.asarray(gap, dtype=float).reshape(-1)
    if t.shape != g.shape or t.size < 3:
        raise ValueError(f"t and gap: equal lengths of at least 3 points, got {t.size} and "
                         f"{g.size}")
    if not (np.all(np.isfinite(g)) and np.all(g > 0)):
        raise ValueError("gap: positive finite values only (select the tail above round-off)")
    if np.ptp(t) == 0:
        raise ValueError("t: needs at least two distinct times")
    y = np.log(g)
    slope = _slope(t, y)
    intercept = float(y.mean() - slope * t.mean())
    resid = y - (intercept + slope * t)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if ss > 0 else 1.0
    interval = (bootstrap_ci(lambda a, b: _slope(a, b) if np.ptp(a) > 0 else np.nan, t, y,
                             level=level, seed=seed) if ci else None)
    return RateFit(slope, intercept, r2, int(t.size), interval)


def loglog_fit(x, y, *, ci: bool = False, level: float = 0.95, seed: int = 0) -> RateFit:
    """Power-law fit ``y ≈ c · x^slope``: :func:`log_linear_fit` of ``log y`` on ``log x``.

    ``slope`` is the exponent (e.g. ``-1/2`` for a ``1/sqrt(N)`` rate), ``intercept`` is
    ``log c``; with ``ci`` the interval is the percentile bootstrap over the points. To bootstrap
    over random draws instead, see :func:`common.metrics.generalization.slope_over_draws`.

    Parameters
    ----------
    x : array
        Positive abscissae (at least 3, two distinct).
    y : array
        Positive finite values.
    ci, level, seed
        As in :func:`log_linear_fit`.

    Returns
    -------
    RateFit
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise ValueError("x: positive finite values only (a log-log fit)")
    return log_linear_fit(np.log(x), y, ci=ci, level=level, seed=seed)


def contraction_ratio(gap, *, low: float, high: float) -> tuple[float, int]:
    """``(median of gap[t+1] / gap[t], count)`` over the ``t`` with ``low < gap[t] < high``.

    Returns ``(nan, 0)`` when no iterate lies in the band.
    """
    g = np.asarray(gap, dtype=float).reshape(-1)
    if not 0 <= low < high:
        raise ValueError(f"low={low!r}, high={high!r}: need 0 <= low < high")
    sel = np.flatnonzero((g[:-1] > low) & (g[:-1] < high))
    if sel.size == 0:
        return float("nan"), 0
    return float(np.median(g[sel + 1] / g[sel])), int(sel.size)
