"""papers/norm-placement/lib.py: the experiments at tiny sizes, the derived drift ratios, and the
paper-scale path (CIFAR-10 vehicles vs animals) on fake data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import common.data
from common.experiment import ConfigError
from common.models import PLACEMENTS
from common.project import paper_module

lib = paper_module("norm-placement")


@pytest.fixture
def fake_data(monkeypatch):
    """MNIST and CIFAR-10 replaced by random images of the right shapes and types."""
    rng = np.random.default_rng(0)

    def mnist(split="train"):
        n = 300 if split == "train" else 120
        return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, n).astype(np.int64))

    def cifar(split="train"):
        n = 200 if split == "train" else 100
        return (torch.rand(n, 3, 32, 32), torch.from_numpy(rng.integers(0, 10, n)))

    monkeypatch.setattr(common.data, "load_mnist", mnist)
    monkeypatch.setattr(common.data, "load_cifar10", cifar)
    lib.dataset.cache_clear()
    lib.cifar_vehicles_animals.cache_clear()
    yield
    lib.dataset.cache_clear()
    lib.cifar_vehicles_animals.cache_clear()


def test_predicted_gamma_table():
    assert lib.predicted_gamma("bn_before", 1) == pytest.approx(1 / (math.pi - 1))
    assert lib.predicted_gamma("bn_before", 20) == lib.BN_BEFORE_GAMMA
    assert lib.predicted_gamma("bn_after", 20) == 0.0
    # none at depth 1 from orthogonal inputs: the arc-cosine kernel gives c = 1/pi at the read-out
    assert lib.predicted_gamma("none", 1) == pytest.approx(1 / (math.pi - 1), rel=1e-12)
    assert lib.predicted_gamma("ln_before", 20) == lib.predicted_gamma("none", 20) > 5
    assert math.isnan(lib.predicted_gamma("ln_after", 1, c_in=0.3))
    with pytest.raises(ValueError, match="placement"):
        lib.predicted_gamma("gn_after", 1)


def test_init_statistics_are_paired_and_bn_after_is_neutral():
    cfg = lib.InitConfig(num_inits=12, num_inputs=200, input_dim=20, width=32, depths=(1, 3))
    X = lib.gaussian_inputs(cfg.num_inputs, cfg.input_dim, 0)
    st = lib.placement_study(X, cfg)
    assert set(st) == {(p, d) for p in PLACEMENTS for d in (1, 3)}
    for s in st.values():
        m = s["max_frac"]
        assert m.shape == (12,) and np.all((m >= 0.5) & (m <= 1))
    # bn_after: each output's data-mean is a combination of zero-mean units, so mu^2 ~ 0
    assert np.max(st[("bn_after", 3)]["mu2"] / st[("bn_after", 3)]["var"]) < 1e-6
    gam = lib.ensemble_gamma(st[("none", 1)], num_resamples=100)
    assert gam.low <= gam.estimate <= gam.high
    pit = lib.eval_mode_fractions(X, 3, width=32, num_inits=4, seed=0)
    np.testing.assert_array_equal(pit["bn_eval"], pit["none"])
    with pytest.raises(ConfigError):
        lib.InitConfig(depths=(20, 1))


def test_eval_steps():
    assert lib.eval_steps(100, 6).tolist()[:8] == list(range(8))
    assert lib.eval_steps(100, 6)[-1] == 100
    assert lib.eval_steps(5, 6).tolist() == [0, 1, 2, 3, 4, 5]


def test_dynamics_sweep_on_fake_data(fake_data, tmp_path):
    cfg = lib.DynamicsConfig(seeds=(0, 1), width=8, depth=2, num_steps=12, batch_size=16,
                             num_log=3, train_size=200, test_size=100, early_step=2)
    runs = cfg.runs()
    assert len(runs) == 2 * len(PLACEMENTS)
    frame = lib.dynamics_sweep(cfg, store_dir=tmp_path).to_frame()
    assert len(frame) == len(runs)
    row = frame.iloc[0]
    assert row["step"][0] == 0 and row["step"][-1] == 12
    assert len(row["class_acc"][0]) == 2 and 0.5 <= row["max_frac"][0] <= 1
    assert lib.first_eval_after(row["step"], 2) == 3
    with pytest.raises(ConfigError):
        lib.DynamicsConfig(seeds=(0,))


def test_cifar_vehicles_animals_on_fake_data(fake_data):
    X, y = lib.cifar_vehicles_animals("train")
    assert X.shape[1] == 3 * 32 * 32 and set(y.unique().tolist()) <= {0, 1}
    Xtr, ytr, Xte, yte = lib.dataset("cifar10_va", 50, 30)
    assert Xtr.shape == (50, 3072) and Xte.shape == (30, 3072)
    assert lib.real_inputs("cifar10_va", 20).shape == (20, 3072)
    run = lib.TrainRun(placement="bn_before", dataset="cifar10_va", width=8, depth=2, num_steps=3,
                       batch_size=8, train_size=100, test_size=100)
    out = lib.train_run(run)
    assert out["step"] == [0, 1, 2, 3]
