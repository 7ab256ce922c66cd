"""common.optim.batched: a step-size grid as one batched run (divergence, stopping, rows)."""

from __future__ import annotations

import numpy as np
import pytest

from common.models import Quartic, Rosenbrock
from common.optim.batched import batched_sweep


def test_sweep_flags_divergence_and_freezes_it():
    res = batched_sweep(Rosenbrock(), "SGDM", [1e-4, 1.0], (-1.2, 1.0), 200)
    assert res.diverged.tolist() == [False, True]
    assert np.isfinite(res.final_loss[0]) and np.isinf(res.final_loss[1])
    assert np.isinf(res.tail_mean[1])


def test_sweep_stops_at_target_and_counts_iterations():
    res = batched_sweep(Quartic(), "NGN-M", [1.0, 10.0], (1.0,), 10_000, target=1e-15,
                        stop_at_target=True)
    assert (res.hit_iteration > 0).all()
    assert (res.final_loss <= 1e-15).all()


@pytest.mark.parametrize("method", ["NGN-M", "SignSGD", "Adam"])
def test_sweep_rows_equal_single_runs(method):
    both = batched_sweep(Rosenbrock(), method, [1e-3, 1e-2], (-1.2, 1.0), 300)
    one = batched_sweep(Rosenbrock(), method, [1e-2], (-1.2, 1.0), 300)
    assert both.final_loss[1] == pytest.approx(one.final_loss[0], rel=1e-12)


def test_tail_validation():
    with pytest.raises(ValueError, match="tail"):
        batched_sweep(Quartic(), "NGN", [1.0], (1.0,), 10, tail=11)


def test_hyper_overrides_the_fixed_settings():
    """``hyper`` replaces the registry's fixed beta = 0.9 of NGN-M: beta = 0 is plain NGN."""
    m0 = batched_sweep(Quartic(), "NGN-M", [0.5, 5.0], (2.0,), 50, hyper={"beta": 0.0})
    ngn = batched_sweep(Quartic(), "NGN", [0.5, 5.0], (2.0,), 50)
    np.testing.assert_allclose(m0.final_loss, ngn.final_loss, rtol=1e-12)
    m9 = batched_sweep(Quartic(), "NGN-M", [0.5, 5.0], (2.0,), 50)
    assert not np.allclose(m9.final_loss, ngn.final_loss)
    with pytest.raises(TypeError):
        batched_sweep(Quartic(), "NGN-M", [0.5], (2.0,), 5, hyper={"betta": 0.5})
