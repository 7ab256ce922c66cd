"""papers/ngn-m/lib.py: the batched sweep runner and the near-best width."""

from __future__ import annotations

import numpy as np
import pytest

from common.models import Quartic, Rosenbrock
from common.project import paper_module

lib = paper_module("ngn-m")


def test_sweep_flags_divergence_and_freezes_it():
    res = lib.run_sweep(Rosenbrock(), "SGDM", [1e-4, 1.0], (-1.2, 1.0), 200)
    assert res.diverged.tolist() == [False, True]
    assert np.isfinite(res.final_loss[0]) and np.isinf(res.final_loss[1])
    assert np.isinf(res.tail_mean[1])


def test_sweep_stops_at_target_and_counts_iterations():
    res = lib.run_sweep(Quartic(), "NGN-M", [1.0, 10.0], (1.0,), 10_000, target=1e-15,
                        stop_at_target=True)
    assert (res.hit_iteration > 0).all()
    assert (res.final_loss <= 1e-15).all()


def test_sweep_rows_equal_single_runs():
    both = lib.run_sweep(Rosenbrock(), "NGN-M", [0.1, 1.0], (-1.2, 1.0), 300)
    one = lib.run_sweep(Rosenbrock(), "NGN-M", [1.0], (-1.2, 1.0), 300)
    assert both.final_loss[1] == pytest.approx(one.final_loss[0], rel=1e-12)


def test_tail_validation():
    with pytest.raises(ValueError, match="tail"):
        lib.run_sweep(Quartic(), "NGN", [1.0], (1.0,), 10, tail=11)


@pytest.mark.parametrize("values,width", [
    ([0.1, 0.95, 0.96, 0.955, 0.1], 2.0),   # a run of three around the best
    ([0.96, 0.1, 0.955, 0.95], 0.0),        # a gap ends the run
    ([0.5, 0.5, 0.5, 0.5], 3.0),
])
def test_near_best_width(values, width):
    assert lib.near_best_width([1e-2, 1e-1, 1.0, 10.0, 100.0][:len(values)], values, 0.01) == width


def test_configs_validate():
    with pytest.raises(Exception, match="regression_tail"):
        lib.ToyConfig(regression_tail=10, regression_steps=5)
    with pytest.raises(Exception, match="methods"):
        lib.MLPConfig(methods=("SGDM", "LAMB"))


def test_the_network_grids_are_one_config_per_run_in_grid_order():
    mlp = lib.MLPConfig(seeds=(0, 1), methods=("SGDM", "NGN-M"), grid=(0.1, 1.0), epochs=3)
    runs = mlp.runs()
    assert [(r.seed, r.method, r.step) for r in runs[:3]] == [
        (0, "SGDM", 0.1), (0, "SGDM", 1.0), (0, "NGN-M", 0.1)]
    assert len(runs) == 8 and {r.epochs for r in runs} == {3}
    assert len({r.config_hash() for r in runs}) == 8  # distinct runs, distinct store keys
    lm = lib.LMConfig(seeds=(0, 1)).runs()
    assert len(lm) == 2 * (2 * 3 + 2 * 4) and lm[0].method == "Adam" and lm[-1].seed == 1
    with pytest.raises(Exception, match="n_head"):
        lib.LMRun(d_model=10, n_head=4)
