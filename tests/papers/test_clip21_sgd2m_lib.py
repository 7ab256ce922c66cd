"""papers/clip21-sgd2m/lib.py: the tuning protocol of notebooks 02-03 as data (the algorithms are
tested in tests/federated)."""

from __future__ import annotations

import pytest

from common.project import paper_module

lib = paper_module("clip21-sgd2m")


def test_dp_tuning_uses_its_own_thresholds_and_fixed_beta_hat_when_set():
    study = lib.DPStudy(taus=(0.01, 0.1), dp_taus=(0.001, 0.01, 0.1), dp_lrs=(0.1, 0.3),
                        beta_hats=(0.1, 0.01), dp_beta_hat=0.01)
    grid = lib.tuning_grid(study)
    assert len(grid) == 3 * 3 * 2  # Clip-SGD, Clip21-SGD, Clip21-SGD2M at beta_hat 0.01
    assert {t.tau for t in grid} == {0.001, 0.01, 0.1}
    assert {t.beta_hat for t in grid if t.method == "Clip21-SGD2M"} == {0.01}
    assert all(t.epsilon == study.tune_epsilon and t.seed == study.seeds[0] for t in grid)
    # without dp_taus / dp_beta_hat: the thresholds of the no-DP part, every beta_hat
    plain = lib.DPStudy(taus=(0.01, 0.1), dp_lrs=(0.1, 0.3), beta_hats=(0.1, 0.01))
    assert len(lib.tuning_grid(plain)) == 4 * 2 * 2
    assert {t.tau for t in lib.tuning_grid(plain)} == {0.01, 0.1}


def test_seeds_grid_repeats_each_tuned_trial_at_every_seed():
    study = lib.DPStudy(seeds=(0, 1, 2))
    tuned = [study.trial(method="Clip-SGD", lr=3.0, tau=0.1),
             study.trial(method="Clip21-SGD2M", lr=1.0, tau=0.01)]
    grid = lib.seeds_grid(study, tuned)
    assert [(t.method, t.lr, t.seed) for t in grid] == [
        ("Clip-SGD", 3.0, 0), ("Clip-SGD", 3.0, 1), ("Clip-SGD", 3.0, 2),
        ("Clip21-SGD2M", 1.0, 0), ("Clip21-SGD2M", 1.0, 1), ("Clip21-SGD2M", 1.0, 2)]


def test_the_network_problem_takes_the_papers_networks():
    study = lib.DPStudy(problem="network", model="cnn")
    assert all(t.model == "cnn" for t in lib.tuning_grid(study))
    with pytest.raises(ValueError, match="model"):
        lib.get_problem("network", 10, "resnet")
    assert lib.get_problem("network", 10, "cnn").x0(0).numel() == 1_199_882  # MnistCNN
