"""common.metrics.stats: t intervals against scipy, paired and log-ratio intervals, bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from common.metrics.stats import Interval, bootstrap_ci, mean_ci, paired_ci, paired_ratio_ci


def test_mean_ci_matches_scipy_t_interval():
    x = np.array([1.0, 2.0, 4.0, 3.5, 2.5])
    ci = mean_ci(x, 0.9)
    lo, hi = stats.t.interval(0.9, df=4, loc=x.mean(), scale=stats.sem(x))
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-12)
    assert ci.n == 5 and ci.method == "t" and ci.estimate == pytest.approx(2.6)


def test_paired_ci_is_the_interval_of_the_differences():
    a, b = [0.9, 0.8, 0.85], [0.7, 0.75, 0.6]
    d = mean_ci(np.subtract(a, b))
    assert paired_ci(a, b) == d


def test_paired_ratio_ci_is_a_geometric_mean_ratio():
    a, b = [2.0, 8.0, 4.0], [1.0, 2.0, 2.0]  # ratios 2, 4, 2
    ci = paired_ratio_ci(a, b)
    assert ci.estimate == pytest.approx((2 * 4 * 2) ** (1 / 3))
    assert ci.low < ci.estimate < ci.high and ci.method == "t-log"
    with pytest.raises(ValueError, match="positive"):
        paired_ratio_ci([1.0, -1.0], [1.0, 1.0])


def test_degenerate_and_bad_inputs():
    assert mean_ci([3.0]).method == "exact" and mean_ci([3.0]).half_width == 0
    assert mean_ci([2.0, 2.0, 2.0]).half_width == 0
    with pytest.raises(ValueError, match="empty"):
        mean_ci([])
    with pytest.raises(ValueError, match="non-finite"):
        mean_ci([1.0, math.nan])
    with pytest.raises(ValueError, match="one value per seed"):
        paired_ci([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="level"):
        mean_ci([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="low <= estimate"):
        Interval(1.0, 2.0, 3.0)


def test_t_interval_covers_the_mean_at_its_level():
    """Coverage over 4000 Gaussian draws of n = 4: 0.95 within 3 binomial standard errors
    (sqrt(0.95 * 0.05 / 4000) = 0.0034)."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(4000):
        ci = mean_ci(rng.normal(1.0, 2.0, size=4))
        hits += ci.low <= 1.0 <= ci.high
    assert abs(hits / 4000 - 0.95) < 3 * 0.0035


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=12),
       st.floats(0.5, 0.99))
def test_interval_contains_its_estimate_and_grows_with_the_level(x, level):
    lo_ci, hi_ci = mean_ci(x, level), mean_ci(x, min(0.999, level + 0.005))
    assert lo_ci.low <= lo_ci.estimate <= lo_ci.high
    assert hi_ci.half_width >= lo_ci.half_width - 1e-9 * (1 + abs(lo_ci.estimate))


def test_bootstrap_of_a_slope_brackets_the_true_slope():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 40)
    y = 2.0 * x + rng.normal(0, 0.1, size=x.size)
    ci = bootstrap_ci(lambda u, v: np.polyfit(u, v, 1)[0], x, y, num_resamples=500)
    assert ci.low < 2.0 < ci.high and ci.method == "bootstrap" and ci.n == 40
    with pytest.raises(ValueError, match="share"):
        bootstrap_ci(np.mean, x, y[:-1])
