"""Seed statistics: confidence intervals for means and paired differences.

A comparison over seeds ("A beats B") is a statement about the mean of the paired differences
``d_s = a_s - b_s`` (the same seed drives both arms: data order, initialisation, noise). Its
uncertainty is Student's t interval

    mean(d) ± t_{(1+level)/2, n-1} · sd(d) / sqrt(n),

which is exact for Gaussian differences and the standard choice for a handful of seeds (a
bootstrap interval over 3-5 seeds is too narrow: it cannot see beyond the observed values).
Ratios ("A's error is 10x smaller") are paired on the log scale, where multiplicative seed
effects become additive, and reported back as a geometric-mean ratio with its interval.

Every function returns an :class:`Interval`, which :class:`common.project.claims.Claims` accepts
as a measured value: a check on an interval holds when its estimate meets the bound and is
*decided* only when the whole interval lies on one side of the bound.

Reference: any statistics text (e.g. Wasserman, *All of Statistics*, 2004, section 6.3.2); for
why paired seeds matter in ML comparisons, Bouthillier et al., "Accounting for Variance in Machine
Learning Benchmarks", arXiv:2103.03098.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "mean_ci", "paired_ci", "paired_ratio_ci", "bootstrap_ci"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]``.

    ``n`` is the number of independent units (seeds) behind it, ``method`` how the interval was
    made (``"t"``, ``"t-log"``, ``"bootstrap"`` or ``"exact"`` for n = 1 or zero spread).
    """

    estimate: float
    low: float
    high: float
    level: float = 0.95
    n: int = 1
    method: str = "t"

    def __post_init__(self):
        if not self.low <= self.estimate <= self.high and not any(
                math.isnan(v) for v in (self.low, self.estimate, self.high)):
            raise ValueError(f"Interval needs low <= estimate <= high, got "
                             f"({self.low}, {self.estimate}, {self.high})")
        if not 0 < self.level < 1:
            raise ValueError(f"level={self.level}: a confidence level in (0, 1)")

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def __float__(self) -> float:
        return float(self.estimate)

    def text(self, fmt: Callable[[float], str] = lambda v: f"{v:.3g}") -> str:
        """``"0.12 [0.05, 0.19] (95% CI, n=5)"``."""
        return (f"{fmt(self.estimate)} [{fmt(self.low)}, {fmt(self.high)}] "
                f"({self.level:.0%} CI, n={self.n})")


def _as_1d(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a confidence interval needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values ({arr.tolist()}): an interval over "
                         "seeds needs every seed's result; report the diverged seeds instead")
    return arr


def _check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level={level!r}: a confidence level strictly between 0 and 1")
    return float(level)


def mean_ci(x: Sequence[float], level: float = 0.95) -> Interval:
    """Student's t interval for the mean of ``x`` (one value per seed).

    With one value, or values that are all equal, the interval has zero width (``method
    "exact"``): there is no spread to estimate, which callers should show as n = 1.
    """
    from scipy import stats

    level = _check_level(level)
    arr = _as_1d(x, "x")
    m = float(arr.mean())
    n = arr.size
    sd = float(arr.std(ddof=1)) if n > 1 else 0.0
    if n == 1 or sd == 0.0:
        return Interval(m, m, m, level, n, "exact")
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * sd / math.sqrt(n)
    return Interval(m, m - half, m + half, level, n, "t")


def paired_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """t interval for the mean paired difference ``mean(a_s - b_s)`` over seeds ``s``.

    ``a`` and ``b`` must hold one value per seed, in the same seed order.
    """
    a_, b_ = _as_1d(a, "a"), _as_1d(b, "b")
    if a_.shape != b_.shape:
        raise ValueError(f"paired values need one value per seed on both sides: a has "
                         f"{a_.size}, b has {b_.size}")
    return mean_ci(a_ - b_, level)


def paired_ratio_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """The geometric-mean ratio ``exp(mean(log a_s - log b_s))`` with its t interval.

    For positive quantities compared multiplicatively (errors, losses, condition numbers).
    """
    a_, b_ = _as_1d(a, "a"), _as_1d(b, "b")
    if np.any(a_ <= 0) or np.any(b_ <= 0):
        raise ValueError("paired_ratio_ci compares positive values (it works on log scale)")
    d = paired_ci(np.log(a_), np.log(b_), level)
    return Interval(math.exp(d.estimate), math.exp(d.low), math.exp(d.high), d.level, d.n,
                    "t-log" if d.method == "t" else d.method)


def bootstrap_ci(statistic: Callable[..., float], *samples: Sequence[float],
                 level: float = 0.95, num_resamples: int = 2000, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling units jointly.

    Every sample must have the same length (one entry per unit, e.g. per data point of a
    fit); the same resampled indices are used for all of them, so paired structure is kept.
    Use it for statistics without a closed-form interval (slopes of a log-log fit, medians); use
    :func:`mean_ci` / :func:`paired_ci` for means over a handful of seeds.
    """
    level = _check_level(level)
    if not samples:
        raise ValueError("bootstrap_ci needs at least one sample")
    arrays = [np.asarray(s, dtype=float) for s in samples]
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(f"bootstrap samples must share their first dimension, got "
                         f"{[a.shape[0] for a in arrays]}")
    if n < 2:
        raise ValueError("bootstrap_ci needs at least two units")
    if num_resamples < 100:
        raise ValueError(f"num_resamples={num_resamples}: at least 100")
    rng = np.random.default_rng(seed)
    est = float(statistic(*arrays))
    idx = rng.integers(0, n, size=(num_resamples, n))
    boots = np.array([statistic(*(a[i] for a in arrays)) for i in idx], dtype=float)
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(est, float(min(lo, est)), float(max(hi, est)), level, n, "bootstrap")
