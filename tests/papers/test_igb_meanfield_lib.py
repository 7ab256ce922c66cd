"""papers/igb-meanfield/lib.py: the experiments at tiny sizes, and the paper-scale training path
(every section-4 suite, bf16, device "auto", resumable sweep) on fake data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import common.data
from common.experiment import ConfigError
from common.models import meanfield as mf
from common.project import paper_module

lib = paper_module("igb-meanfield")


@pytest.fixture
def fake_data(monkeypatch):
    """Fashion-MNIST and CIFAR-10 replaced by random images of the right shapes and types."""
    rng = np.random.default_rng(0)

    def fmnist(split="train"):
        n = 300 if split == "train" else 120
        return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, n).astype(np.int64))

    def cifar(split="train"):
        n = 300 if split == "train" else 120
        g = torch.Generator().manual_seed(1 if split == "train" else 2)
        return torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    monkeypatch.setattr(common.data, "load_fashion_mnist", fmnist)
    monkeypatch.setattr(common.data, "load_cifar10", cifar)
    lib.dataset.cache_clear()
    yield
    lib.dataset.cache_clear()


def test_dataset_binarises_fashion_mnist_and_flattens_cifar(fake_data):
    Xtr, ytr, Xte, yte = lib.dataset("bfmnist", 200, 100)
    assert Xtr.shape == (200, 784) and Xte.shape == (100, 784) and Xtr.dtype == torch.float32
    assert set(ytr.unique().tolist()) <= {0, 1}
    Xc, yc, Xct, _ = lib.dataset("cifar10", None, None)
    assert Xc.shape == (300, 3072) and Xct.shape == (120, 3072) and int(yc.max()) <= 9
    with pytest.raises(ValueError, match="dataset='svhn'"):
        lib.dataset("svhn", None, None)


def test_paper_scale_training_path_runs_every_suite(fake_data, tmp_path):
    """The paper-scale configuration (all four suites, device "auto", each suite's own lr) at a
    tiny size: the sweep runs, stores every run, and a rerun resumes. (bf16 is tested below on
    one run: CPU bfloat16 matmuls are slow.)"""
    cfg = lib.TrainConfig(suites=tuple(lib.SUITES), seeds=(0,), width=8, depth=2, lr=None,
                          num_steps=3, batch_size=10, num_evals=3, train_size=None,
                          test_size=None, select_init=True, bias_inits=3, device="auto")
    runs = cfg.runs()
    assert len(runs) == sum(len(s["vws"]) for s in lib.SUITES.values())
    assert {r.lr for r in runs} == {1e-7, 1e-5}
    assert [r.target_max_freq for r in cfg.runs("mlp_bfmnist_tanh")] == [1.0, 1.0, 0.9, 0.6]
    assert all(r.target_max_freq is None for r in cfg.runs("mlp_cifar10_tanh"))
    result = lib.training_sweep(cfg, store_dir=tmp_path / "sweep")
    frame = result.to_frame()
    assert len(frame) == len(runs)
    for _, row in frame.iterrows():
        assert row["step"] == [0, 1, 2, 3]
        assert all(0 <= a <= 1 for a in row["test_acc"])
        n_classes = 2 if row["dataset"] == "bfmnist" else 10
        assert len(row["fractions"][0]) == n_classes
    again = lib.training_sweep(cfg, store_dir=tmp_path / "sweep", resume=True)
    assert "skipped" in again.summary() and len(again.to_frame()) == len(runs)
    bias = lib.initial_bias(runs[0], 3, seed=0)
    assert bias.shape == (3,) and np.all((bias >= 0.5) & (bias <= 1))


def test_bf16_autocast_run(fake_data):
    run = lib.TrainRun(vw=1.0, width=8, depth=2, num_steps=2, num_evals=2, batch_size=10,
                       train_size=200, test_size=100, device="auto", precision="bf16")
    out = lib.train_run(run)
    assert out["step"] == [0, 1, 2] and all(math.isfinite(a) for a in out["test_acc"])


def test_select_init_hits_its_target_or_says_why(fake_data):
    Xb = lib.dataset("bfmnist", 200, 100)[0][:50]
    run = lib.TrainRun(vw=2.5, width=16, depth=3, target_max_freq=0.6, target_eps=0.2,
                       train_size=200, test_size=100)
    net, draws, m = lib.select_init(run, Xb, 2, torch.device("cpu"))
    assert abs(m - 0.6) <= 0.2 and draws >= 1
    impossible = run.replace(target_max_freq=0.1, target_eps=0.01, max_draws=3)
    with pytest.raises(RuntimeError, match="target_max_freq=0.1"):
        lib.select_init(impossible, Xb, 2, torch.device("cpu"))


def test_train_config_validation():
    with pytest.raises(ConfigError, match="mlp_bfmnist_tanh"):
        lib.TrainConfig(suites=("mlp_cifar10_tanh",))
    with pytest.raises(ConfigError):
        lib.TrainConfig(suites=("mlp_bfmnist_tanh", "nope"))
    with pytest.raises(ConfigError, match="precision"):
        lib.TrainRun(precision="fp8")


def test_eval_steps_are_log_spaced_and_end_at_the_last_step():
    s = lib.eval_steps(200, 20)
    assert s[0] == 0 and s[-1] == 200 and np.all(np.diff(s) > 0)
    assert (s <= 10).sum() >= 5  # dense early, where the bias is absorbed
    assert lib.first_step_below([0, 1, 5], [0.9, 0.7, 0.5], 0.65) == 5.0
    assert lib.first_step_below([0, 1], [0.9, 0.7], 0.65) == math.inf


def test_finite_network_statistics_at_a_tiny_size():
    X = lib.gaussian_inputs(20, 16, seed=0)
    e = mf.eoc("tanh", 0.1)
    st = lib.layer_statistics(X, width=16, depth=4, num_inits=3, activation="tanh",
                              sigma_w2=2.5 * e, sigma_b2=0.1, seed=1)
    assert st["sigma_mu2"].shape == st["corr"].shape == (4, 3)
    assert st["max_frac"].shape == (3,) and np.all(st["max_frac"] >= 0.5)
    g = lib.gradient_asymmetry(width=16, depth=3, num_inits=2, num_inputs=20, sigma_w2=2.5,
                               sigma_b2=0.0, seed=0)
    assert g["median_favoured"].shape == (2,) and np.all(g["median_unfavoured"] > 0)
    growth = lib.perturbation_growth(width=16, depth=14, num_inits=2, num_inputs=4,
                                     activation="tanh+meanpool", sigma_w2=2 * e, sigma_b2=0.1,
                                     burn_in=10, eps=1e-3, seed=0)
    assert growth.shape == (2,) and np.all(growth > 0)


def test_fixed_point_table_and_relu_trajectories():
    rows = lib.fixed_point_table("tanh", 0.1, (0.8, 2.5))
    assert [r["phase"] for r in rows] == ["ordered deep prejudice", "neutrality"]
    assert rows[1]["gamma_star"] == pytest.approx(rows[1]["c_star"] / (1 - rows[1]["c_star"]))
    traj = lib.relu_trajectories(lib.PhaseConfig(relu_depth=60, relu_power_fit=(20, 60)))
    ordered = traj["ordered"]["one_minus_c"]
    assert lib.log_slope(np.arange(1, 61), ordered, 10, 60, loglog=False) == pytest.approx(
        math.log(0.75), rel=0.05)
    with pytest.raises(ConfigError, match="relu_exp_fit"):
        lib.PhaseConfig(relu_depth=50, relu_power_fit=(20, 50), relu_exp_fit=(10, 60))
