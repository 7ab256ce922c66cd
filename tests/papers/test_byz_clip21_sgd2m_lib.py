"""papers/byz-clip21-sgd2m/lib.py: the robustness study of notebook 01 (the aggregators and their
proven coefficients are tested in tests/robust/test_aggregators.py)."""

from __future__ import annotations

import math

import pytest

from common.project import paper_module
from common.robust import robustness_coefficient

lib = paper_module("byz-clip21-sgd2m")


def test_robustness_config_refuses_a_byzantine_majority_and_one_seed():
    with pytest.raises(Exception, match="byzantine_counts"):
        lib.RobustnessConfig(num_honest=4, byzantine_counts=(4,))
    with pytest.raises(Exception, match="sanity_seeds"):
        lib.RobustnessConfig(sanity_seeds=(0, 0))


def test_robustness_study_rows_carry_the_proven_bound_and_stay_below_it():
    cfg = lib.RobustnessConfig(dim=50, num_honest=8, byzantine_counts=(1, 3), magnitudes=(0, 6),
                               ipm_scales=(0.1, 10.0), alie_zs=(1.0,), honest_means=(0.1, 1.0))
    rows = lib.robustness_study(cfg)
    attacks = lib.robustness_attacks(cfg)
    assert set(attacks) == {"ALIE (default z)", "ALIE (z = 1)", "IPM (eps = 0.1)",
                            "IPM (eps = 10)", "sign flip", "constant 1e0", "constant 1e6"}
    assert len(rows) == 2 * 2 * len(attacks) * 3  # mu x f x attack x aggregator
    for r in rows:
        if r["aggregator"] == "mean":
            assert math.isnan(r["bound"])
        else:
            assert r["bound"] == robustness_coefficient(r["aggregator"], r["n"], r["f"])
            assert r["ratio"] <= r["bound"]
    far = [r["ratio"] for r in rows if r["aggregator"] == "mean" and r["attack"] == "constant 1e6"]
    assert min(far) > 1e6  # the negative control of notebook 01: the mean is unbounded


def test_byz_study_grids_tune_the_control_on_its_own_thresholds_and_evaluate_it_once():
    study = lib.ByzStudy(lrs=(0.1, 0.3), taus=(0.1, 1.0), control_taus=(0.001,),
                         epsilons=(3.0, 23.0), seeds=(0, 1))
    tuning = lib.tuning_grid(study)
    assert len(tuning) == 3 * 2 * 2 + 2 * 1
    assert {t.tau for t in tuning if t.method == lib.CONTROL} == {0.001}
    assert all(t.attack == "ipm" and t.epsilon == 8.0 and t.beta_hat == 0.01 for t in tuning)
    chosen = {m: next(t for t in tuning if t.method == m) for m in (*lib.COMPARED, lib.CONTROL)}
    evaluation = lib.evaluation_grid(study, chosen)
    assert len(evaluation) == 3 * 2 * 2 * 2 + 2 * 2  # the control only at control_epsilon
    assert {t.epsilon for t in evaluation if t.method == lib.CONTROL} == {23.0}
    with pytest.raises(Exception, match="control_epsilon"):
        lib.ByzStudy(control_epsilon=8.0)
    with pytest.raises(Exception, match="seeds"):
        lib.ByzStudy(seeds=(0,))


def test_the_control_runs_without_momenta():
    hyper = lib.METHODS[lib.CONTROL].hyper(lib.Trial(beta=0.1, beta_hat=0.01))
    assert hyper == {"beta": 1.0, "beta_hat": 1.0}


def test_count_study_freezes_one_point_grids_and_sweeps_the_paper_counts():
    study = lib.CountStudy(ipm_counts=(2, 5), flip_counts=(1, 8), seeds=(0, 1))
    assert not study.tuned
    grid = lib.count_tuning_grid(study)
    assert [(t.method, t.lr, t.tau) for t in grid] == [
        ("Byz-Clip21-SGD2M", 0.1, 0.1), ("Byz-Clip-SGD", 0.1, 0.1), ("Safe-DSHB", 0.1, 0.1),
        (lib.CONTROL, 0.3, 0.0003)]
    chosen = {(t.model, t.method): t for t in grid}
    ipm = lib.ipm_count_grid(study, chosen)
    # Fig. 1: 20 regular clients plus B; the control only at the largest B and epsilon
    assert all(t.attack == "ipm" and t.num_honest == 20 for t in ipm)
    assert len(ipm) == 3 * 2 * 1 * 2 + 2
    assert {t.num_byzantine for t in ipm if t.method == lib.CONTROL} == {5}
    flip = lib.flip_count_grid(study, chosen)  # Fig. 2: 25 clients in all
    assert all(t.num_honest + t.num_byzantine == 25 and t.attack == "label_flip" for t in flip)
    assert len(flip) == 3 * 2 * 2 and lib.CONTROL not in {t.method for t in flip}


def test_count_study_tunes_per_network_with_its_batch_size():
    study = lib.CountStudy(models=("cnn", "mlp256"), batch_sizes=(32, 64), lrs=(0.1, 1.0),
                           control_taus=(1e-4, 1e-3))
    assert study.tuned
    grid = lib.count_tuning_grid(study)
    assert {(t.model, t.batch_size) for t in grid} == {("cnn", 32), ("mlp256", 64)}
    assert len(grid) == 2 * (3 * 2 * 1 + 1 * 2)
    with pytest.raises(Exception, match="batch_sizes"):
        lib.CountStudy(models=("cnn", "mlp256"), batch_sizes=(32,))
    with pytest.raises(Exception, match="models"):
        lib.CountStudy(models=("resnet",))
    with pytest.raises(Exception, match="flip_counts"):
        lib.CountStudy(flip_counts=(13,))


def test_model_selects_the_papers_networks():
    assert lib.Trial(model="cnn").model == "cnn"
    assert lib.ByzStudy(model="mlp256").trial(method="Safe-DSHB").model == "mlp256"
    with pytest.raises(Exception, match="model"):
        lib.Trial(model="resnet")
    with pytest.raises(ValueError, match="model"):
        lib.mnist_byzantine(20, 5, False, "resnet")
    problem = lib.mnist_byzantine(20, 5, False, "mlp256")
    assert problem.x0(0).numel() == 784 * 256 + 256 + 256 * 10 + 10  # the paper's 203,530
