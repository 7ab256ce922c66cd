"""common.metrics.generalization (losses against torch, draw statistics against NumPy, the
slope over draws on a known power law) and common.metrics.rates.loglog_fit."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.metrics import LOSSES, across_draws, gap, loglog_fit, risk, slope_over_draws


def test_losses_against_torch():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(50, 6)) * 10, rng.integers(0, 6, size=50)
    ref = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(LOSSES["ce"](z, y), ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(LOSSES["01"](z, y), (z.argmax(1) != y).astype(float))


def test_gap_is_test_minus_train_risk():
    rng = np.random.default_rng(1)
    zt, yt, zs, ys = rng.normal(size=(30, 3)), rng.integers(0, 3, 30), rng.normal(size=(40, 3)), \
        rng.integers(0, 3, 40)
    for loss in LOSSES:
        assert gap(zt, yt, zs, ys, loss) == pytest.approx(risk(zs, ys, loss) - risk(zt, yt, loss))
    with pytest.raises(ValueError, match="loss"):
        risk(zt, yt, "hinge")
    with pytest.raises(ValueError, match="labels"):
        risk(zt, yt + 3)


def test_across_draws_against_numpy():
    v = np.random.default_rng(2).normal(size=37)
    s = across_draws(v)
    assert s.mean == pytest.approx(v.mean()) and s.std == pytest.approx(v.std(ddof=1))
    assert s.width == pytest.approx(np.quantile(v, 0.95) - np.quantile(v, 0.05))
    with pytest.raises(ValueError, match="two finite"):
        across_draws([1.0, np.nan])


@settings(max_examples=20, deadline=None)
@given(p=st.floats(-2.0, 2.0), c=st.floats(0.1, 10.0))
def test_loglog_fit_recovers_exact_power_laws(p, c):
    x = np.array([10.0, 20.0, 50.0, 100.0, 400.0])
    fit = loglog_fit(x, c * x ** p)
    assert fit.slope == pytest.approx(p, abs=1e-9)
    assert fit.intercept == pytest.approx(np.log(c), abs=1e-9)


def test_slope_over_draws_covers_the_true_exponent():
    """Draws y_j(N) = N^(-1/2) (1 + 0.2 e_j(N)): the mean's slope is -1/2 up to noise and the
    std's slope too; the 95% bootstrap intervals over 40 draws cover -1/2 (fixed seed)."""
    rng = np.random.default_rng(3)
    N = np.array([100, 200, 400, 800, 1600.0])
    v = N[:, None] ** -0.5 * (1 + 0.2 * rng.normal(size=(5, 40)))
    for stat in ("mean", "std"):
        fit = slope_over_draws(N, v, stat, num_resamples=500)
        assert fit.ci.low <= -0.5 <= fit.ci.high
        assert fit.ci.low <= fit.slope <= fit.ci.high
    with pytest.raises(ValueError, match="statistic"):
        slope_over_draws(N, v, "median")
    with pytest.raises(ValueError, match="values"):
        slope_over_draws(N, v[:3])
    with pytest.raises(ValueError, match="x"):
        loglog_fit([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
