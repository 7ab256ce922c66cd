r"""Generalisation gaps of fitted predictors and their statistics across random draws.

For a predictor ``f`` fitted on a sample ``S`` of size ``N`` the (single-run) generalisation gap is

.. math::  \mathrm{gap}(f, S) = R(f) - \hat R_S(f),\qquad
           \hat R_S(f) = \frac1N\sum_{i\in S}\ell(f(x_i), y_i),

with ``R`` the population risk, estimated on a held-out test set (or known in closed form, e.g.
``1 - 1/K`` for the 0-1 loss when the labels are independent of the inputs and uniform over K
classes). Kratsios, Cheng, Lucchi and Sáez de Ocáriz Borde (arXiv 2506.14530) bound this gap for
LoRA fine-tuning with a random frozen factor and show it concentrates over that factor.

**Paired test set.** Every fit of an experiment is evaluated on the *same* test set: the
test-set error then shifts all gaps by (nearly) the same amount, so it barely inflates their spread
across draws, and differences between gaps are paired (pitfall 4 of the notes on
arXiv 2506.14530). :func:`gap` therefore takes the test risk as computed by the caller on one
shared set.

- :data:`LOSSES`: per-example losses on logits (``"ce"`` softmax cross-entropy, ``"01"``
  misclassification), name -> function;
- :func:`risk`, :func:`gap`: empirical risk and train-test gap;
- :func:`across_draws`: mean, standard deviation and 5-95 % quantile width over draws;
- :func:`slope_over_draws`: the log-log slope of such a statistic against N, with a bootstrap
  interval that resamples the draws (:func:`common.metrics.stats.bootstrap_ci`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.metrics.rates import RateFit, loglog_fit
from common.metrics.stats import bootstrap_ci
from common.metrics.trajectory import loglog_slope

__all__ = ["LOSSES", "cross_entropy", "zero_one", "risk", "gap", "DrawStats", "across_draws",
           "DRAW_STATISTICS", "slope_over_draws"]


def _logits_labels(logits, y):
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if logits.ndim != 2 or logits.shape[0] != y.shape[0]:
        raise ValueError(f"logits (N, K) and y (N,) must agree, got {logits.shape}, {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError(f"y: labels in 0..{logits.shape[1] - 1}")
    return logits, y


def cross_entropy(logits, y) -> np.ndarray:
    """Per-example softmax cross-entropy ``logsumexp(z) - z_y`` (natural log), shape (N,)."""
    z, y = _logits_labels(logits, y)
    m = z.max(axis=1)
    return m + np.log(np.exp(z - m[:, None]).sum(axis=1)) - z[np.arange(y.size), y]


def zero_one(logits, y) -> np.ndarray:
    """Per-example misclassification ``1[argmax z != y]`` (ties: the first maximum), shape (N,)."""
    z, y = _logits_labels(logits, y)
    return (z.argmax(axis=1) != y).astype(np.float64)


#: per-example losses on logits, name -> ``f(logits, y) -> (N,)``
LOSSES: dict[str, Callable[..., np.ndarray]] = {"ce": cross_entropy, "01": zero_one}


def risk(logits, y, loss: str = "ce") -> float:
    """Empirical risk (mean per-example loss) of ``logits`` against labels ``y``.

    Parameters
    ----------
    logits : array (N, K)
        Scores of the ``K`` classes.
    y : int array (N,)
        Labels in ``0..K-1``.
    loss : str
        A key of :data:`LOSSES`.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r}: allowed are {sorted(LOSSES)}")
    return float(LOSSES[loss](logits, y).mean())


def gap(train_logits, y_train, test_logits, y_test, loss: str = "ce") -> float:
    """``risk(test) - risk(train)``: the generalisation gap estimated on one (shared) test set.

    Parameters
    ----------
    train_logits, y_train : arrays (N, K) and (N,)
        The fitted predictor on its training sample.
    test_logits, y_test : arrays (M, K) and (M,)
        The same predictor on the shared test set.
    loss : str
        A key of :data:`LOSSES`.
    """
    return risk(test_logits, y_test, loss) - risk(train_logits, y_train, loss)


@dataclass(frozen=True)
class DrawStats:
    """Statistics over ``n`` random draws: ``mean``, ``std`` (ddof=1), ``q05``, ``q95`` and
    ``width = q95 - q05``."""

    mean: float
    std: float
    q05: float
    q95: float
    n: int

    @property
    def width(self) -> float:
        """The 5-95 % quantile width."""
        return self.q95 - self.q05


def across_draws(values) -> DrawStats:
    """:class:`DrawStats` of a 1-D sample of per-draw values (at least two finite values)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size < 2 or not np.all(np.isfinite(v)):
        raise ValueError(f"values: at least two finite draws, got {v.size} "
                         f"({int(np.sum(~np.isfinite(v)))} non-finite)")
    q05, q95 = np.quantile(v, [0.05, 0.95])
    return DrawStats(float(v.mean()), float(v.std(ddof=1)), float(q05), float(q95), int(v.size))


#: statistics over the draw axis (axis 0 of a ``draws x points`` array) for :func:`slope_over_draws`
DRAW_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda g: g.mean(axis=0),
    "std": lambda g: g.std(axis=0, ddof=1),
}


def slope_over_draws(x, values, statistic: str = "mean", *, level: float = 0.95,
                     num_resamples: int = 2000, seed: int = 0) -> RateFit:
    """Log-log slope of a statistic over draws against ``x``, with a bootstrap over the draws.

    ``values[i, j]`` is the measurement of draw ``j`` at ``x[i]`` (e.g. the gap of A-draw ``j``
    at sample size ``N_i``). The fitted points are ``(log x_i, log stat_j values[i, j])``; the
    interval resamples the draws (columns) jointly across ``x`` (which keeps a pairing of draws
    across ``x``, e.g. the same seeds), so it reflects the draw-to-draw randomness, not the
    residuals of a fit through a handful of points.

    Parameters
    ----------
    x : array (P,)
        Positive abscissae (at least 3).
    values : array (P, D)
        Per-draw values, ``D >= 2`` draws.
    statistic : str
        A key of :data:`DRAW_STATISTICS`.
    level, num_resamples, seed
        As in :func:`common.metrics.stats.bootstrap_ci`.

    Returns
    -------
    RateFit
        Slope, intercept and ``R^2`` of the fit through the statistic, ``ci`` the bootstrap
        interval of the slope.
    """
    if statistic not in DRAW_STATISTICS:
        raise ValueError(f"statistic={statistic!r}: allowed are {sorted(DRAW_STATISTICS)}")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != x.size or v.shape[1] < 2:
        raise ValueError(f"values: shape (len(x), draws >= 2) = ({x.size}, >=2), got {v.shape}")
    stat = DRAW_STATISTICS[statistic]
    fit = loglog_fit(x, stat(v.T))
    ci = bootstrap_ci(lambda d: loglog_slope(x, stat(d)), v.T, level=level,
                      num_resamples=num_resamples, seed=seed)
    return RateFit(fit.slope, fit.intercept, fit.r2, fit.num_points, ci)
