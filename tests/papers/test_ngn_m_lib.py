"""papers/ngn-m/lib.py: its configs and grids (the batched sweep runner is tested in
tests/optim/test_batched.py, the near-best width in tests/metrics)."""

from __future__ import annotations

import pytest

from common.project import paper_module

lib = paper_module("ngn-m")


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
    assert len(lm) == 2 * (2 * 4 + 2 * 4) and lm[0].method == "Adam" and lm[-1].seed == 1
    with pytest.raises(Exception, match="n_head"):
        lib.LMRun(d_model=10, n_head=4)


def test_momentum_condition_experiment_runs_ngn_m_at_each_beta():
    """Remark E.6's sweep: one batched NGN-M run per beta over e6_grid; beta = 0 is plain NGN."""
    from common.models import Quartic
    from common.optim.batched import batched_sweep

    cfg = lib.ToyConfig(e6_grid=(0.5, 10.0), e6_betas=(0.0, 0.5), quartic_max_steps=2000)
    res = lib.momentum_condition_experiment(cfg)
    assert set(res) == {0.0, 0.5}
    ngn = batched_sweep(Quartic(), "NGN", cfg.e6_grid, (cfg.quartic_x0,), cfg.quartic_max_steps,
                        target=cfg.quartic_target, stop_at_target=True)
    assert (res[0.0].hit_iteration == ngn.hit_iteration).all()
    assert (res[0.5].hit_iteration >= 0).all()
    with pytest.raises(Exception, match="e6_betas"):
        lib.ToyConfig(e6_betas=(1.0,))
