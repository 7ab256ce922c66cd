r"""Empirical constants of a loss's geometry in a chosen norm, from quantities logged during a run.

The estimators of Islamov et al. (arXiv 2603.21191, §6.4 and App. B.2) for the constants of the
BST bound (:mod:`common.optim.scaling`); every input is an array of scalars a training loop
records (dual norms from :func:`common.optim.scion_dual_norm`), so this module needs NumPy and
SciPy only.

- :func:`smoothness_estimate` (``L``): the mean over the last ``last`` iterations of
  ``||g_k - g_{k-1}||_* / ||x_k - x_{k-1}||`` (a secant estimate of the smoothness constant in the
  norm; with stochastic gradients it includes noise, as in the paper).
- :func:`kl_slope` (``mu``): the slope of a robust (Huber) linear regression of the dual gradient
  norm ``||g||_*`` on the training loss over points with loss below ``max_loss`` (the paper: 5).
  Assumption 3 (mu-KL, ``||grad f||_* >= mu (f - f*)``) predicts a line through ``(f*, 0)``; the
  intercept is returned too. The paper reports mu from this slope; at a reduced scale only the
  slope's sign and the rank correlation are meaningful (the notes' claim C5 reports the slope,
  never an absolute mu).
- :func:`norm_ratio` (``rho``): the mean over the last ``last`` iterations of
  ``||g - G||_* / ||g - G||_2`` with ``g`` a small-batch and ``G`` a large-batch gradient (the
  norm-equivalence constant of Assumption 2 seen on the gradient noise).
- :func:`rank_correlation`: Spearman's rho between two logged series (``scipy.stats.spearmanr``),
  the check that the dual norm tracks the loss.

Where we depart from the paper: the Huber threshold is fixed at ``delta = 1.345`` times a robust
scale of the residuals (the usual 95 %-efficiency choice; the paper does not state its value).
"""

from __future__ import annotations

import numpy as np

__all__ = ["smoothness_estimate", "kl_slope", "norm_ratio", "rank_correlation"]


def _pairs(a, b, names: tuple[str, str]):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"{names[0]} and {names[1]} need the same non-zero length, got "
                         f"{a.size} and {b.size}")
    return a, b


def _tail_mean_ratio(num, den, last: int, names: tuple[str, str]) -> float:
    num, den = _pairs(num, den, names)
    if not isinstance(last, int) or last < 1:
        raise ValueError(f"last={last!r}: a positive integer")
    num, den = num[-last:], den[-last:]
    keep = np.isfinite(num) & np.isfinite(den) & (den > 0)
    if not keep.any():
        raise ValueError(f"{names[1]} has no finite positive entry in the last {last}")
    return float(np.mean(num[keep] / den[keep]))


def smoothness_estimate(grad_diff_dual, step_norm, last: int = 100) -> float:
    """``L``: mean of ``||g_k - g_{k-1}||_* / ||x_k - x_{k-1}||`` over the last ``last`` steps.

    Args:
        grad_diff_dual: dual norms of consecutive gradient differences, one per step.
        step_norm: primal norms of the corresponding steps (zero steps are skipped).
        last: how many final iterations to average (the paper: 100).
    """
    return _tail_mean_ratio(grad_diff_dual, step_norm, last, ("grad_diff_dual", "step_norm"))


def norm_ratio(noise_dual, noise_l2, last: int = 100) -> float:
    """``rho``: mean of ``||g - G||_* / ||g - G||_2`` over the last ``last`` iterations.

    Args:
        noise_dual: dual norms of small-batch minus large-batch gradients.
        noise_l2: Euclidean norms of the same differences.
        last: how many final iterations to average (the paper: 100).
    """
    return _tail_mean_ratio(noise_dual, noise_l2, last, ("noise_dual", "noise_l2"))


def kl_slope(loss, dual_norm, max_loss: float = 5.0) -> tuple[float, float]:
    """``(slope, intercept)`` of a Huber regression ``||g||_* ~ slope * loss + intercept``.

    Points with ``loss >= max_loss`` or non-finite values are dropped (the paper keeps loss < 5).
    The fit is ``scipy.optimize.least_squares`` with ``loss="huber"`` and ``f_scale`` 1.345 times
    the median absolute deviation of the ordinary least-squares residuals, started at the
    ordinary least-squares line (which it equals when no point is an outlier).

    Args:
        loss: training losses, one per logged step.
        dual_norm: the dual gradient norms at the same steps.
        max_loss: keep points with a loss below this.
    """
    from scipy.optimize import least_squares

    x, y = _pairs(loss, dual_norm, ("loss", "dual_norm"))
    keep = np.isfinite(x) & np.isfinite(y) & (x < max_loss)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0:
        raise ValueError(f"kl_slope needs >= 3 points with distinct losses below max_loss="
                         f"{max_loss}; got {x.size}")
    p0 = np.polyfit(x, y, 1)
    resid = y - np.polyval(p0, x)
    mad = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    scale = 1.345 * mad if mad > 0 else 1.0
    fit = least_squares(lambda p: p[0] * x + p[1] - y, p0, loss="huber", f_scale=scale)
    return float(fit.x[0]), float(fit.x[1])


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation of two series (nan when either is constant).

    Args:
        a: the first series (e.g. the dual gradient norm per logged step).
        b: the second series (e.g. the training loss at the same steps).
    """
    from scipy.stats import spearmanr

    a, b = _pairs(a, b, ("a", "b"))
    if a.size < 3:
        raise ValueError(f"rank_correlation needs >= 3 points, got {a.size}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
