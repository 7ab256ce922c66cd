"""common.metrics.geometry against exact values: a quadratic's secant smoothness, lines with and
without outliers for the Huber KL slope, ranks computed by hand for Spearman's rho."""

from __future__ import annotations

import numpy as np
import pytest

from common.metrics import kl_slope, norm_ratio, rank_correlation, smoothness_estimate


def test_smoothness_of_a_quadratic_along_eigenvectors():
    """For f = x^T A x / 2 a step d along an eigenvector changes the gradient by A d, so the
    secant ratio is that eigenvalue exactly; only the last ``last`` entries count."""
    A = np.diag([1.0, 3.0, 7.0])
    steps = np.eye(3)[[0, 1, 2, 2]] * np.array([[0.5], [2.0], [1e-3], [4.0]])
    diffs = np.linalg.norm(steps @ A.T, axis=1)
    lengths = np.linalg.norm(steps, axis=1)
    assert smoothness_estimate(diffs, lengths, last=2) == pytest.approx(7.0, rel=1e-12)
    assert smoothness_estimate(diffs, lengths, last=4) == pytest.approx((1 + 3 + 7 + 7) / 4)
    assert smoothness_estimate([1.0, 2.0], [0.0, 1.0]) == 2.0  # a zero step is skipped


def test_norm_ratio_l1_over_l2():
    """rho of the l1 (dual of max) norm over l2 for a vector of n equal entries is sqrt(n)."""
    g = np.ones((5, 16))
    assert norm_ratio(np.abs(g).sum(1), np.linalg.norm(g, axis=1)) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="last"):
        norm_ratio([1.0], [1.0], last=0)
    with pytest.raises(ValueError, match="same non-zero length"):
        norm_ratio([1.0, 2.0], [1.0])


def test_kl_slope_exact_line_and_outliers():
    rng = np.random.default_rng(0)
    loss = np.linspace(1.0, 4.5, 200)
    dual = 2.0 * loss - 1.0
    slope, intercept = kl_slope(np.append(loss, 9.0), np.append(dual, 1e6))  # loss >= 5 dropped
    assert (slope, intercept) == pytest.approx((2.0, -1.0), abs=1e-8)
    noisy = dual + 0.05 * rng.standard_normal(200)
    noisy[::10] += 40.0  # 10 % gross outliers, all upward
    slope, _ = kl_slope(loss, noisy)
    ols = np.polyfit(loss, noisy, 1)[0]
    assert abs(slope - 2.0) < 0.05 < abs(ols - 2.0)
    with pytest.raises(ValueError, match=">= 3 points"):
        kl_slope([6.0, 7.0, 8.0], [1.0, 2.0, 3.0])


def test_rank_correlation_against_hand_ranks():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(30), rng.standard_normal(30)
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    assert rank_correlation(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1], rel=1e-12)
    assert rank_correlation(a, np.exp(a)) == pytest.approx(1.0)
    assert np.isnan(rank_correlation(a, np.ones(30)))
