"""Log-linear rate fits and contraction ratios against NumPy's polyfit and exact sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.metrics import contraction_ratio, log_linear_fit


@settings(max_examples=25, deadline=None)
@given(st.floats(0.05, 0.95), st.floats(1e-3, 1e3), st.integers(3, 40))
def test_exact_geometric_sequence(r, c, n):
    t = np.arange(n, dtype=float)
    fit = log_linear_fit(t, c * r ** t)
    assert fit.slope == pytest.approx(math.log(r), rel=1e-9, abs=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    ratio, count = contraction_ratio(c * r ** t, low=0.0, high=math.inf)
    assert ratio == pytest.approx(r, rel=1e-9) and count == n - 1


def test_matches_polyfit_and_bootstrap_covers():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 5, 30)
    gap = np.exp(-2 * t + 0.1 * rng.standard_normal(30))
    fit = log_linear_fit(t, gap, ci=True)
    slope, intercept = np.polyfit(t, np.log(gap), 1)
    assert fit.slope == pytest.approx(slope, rel=1e-12)
    assert fit.intercept == pytest.approx(intercept, rel=1e-10)
    assert fit.ci.low <= fit.slope <= fit.ci.high
    assert fit.ci.low < -2 < fit.ci.high
    assert 0.95 < fit.r2 < 1


def test_bad_input():
    with pytest.raises(ValueError, match="positive finite"):
        log_linear_fit([0, 1, 2], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="at least 3"):
        log_linear_fit([0, 1], [1.0, 0.5])
    with pytest.raises(ValueError, match="low="):
        contraction_ratio([1.0, 0.5], low=1.0, high=0.5)
    assert math.isnan(contraction_ratio([1.0, 0.5], low=2.0, high=3.0)[0])
