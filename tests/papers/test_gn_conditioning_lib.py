"""papers/gn-conditioning/lib.py: the experiments' configs and runs, the training loop against a
hand-written gradient step, and the paper-scale code paths (CIFAR-10 through the common loader,
ResNet-20 pruning with kappa by Lanczos, device "auto") on tiny shapes with a fake CIFAR-10."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from common.experiment import ConfigError
from common.metrics import curvature as cv
from common.project import paper_module

lib = paper_module("gn-conditioning")
DT = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny float64 products run fastest on one thread (and do not oversubscribe the cores
    that pytest-xdist's workers share)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_cifar(monkeypatch):
    """``common.data.cifar.load_cifar10`` replaced by 40 random images (the real loader reads
    the official archive, which tests cannot download)."""
    calls = []

    def load_cifar10(split="train"):
        calls.append(split)
        g = np.random.default_rng(0 if split == "train" else 1)
        return (g.random((40, 3, 32, 32), dtype=np.float32),
                g.integers(0, 10, 40).astype(np.int64))

    module = types.ModuleType("common.data.cifar")
    module.load_cifar10 = load_cifar10
    monkeypatch.setitem(sys.modules, "common.data.cifar", module)
    lib._image_inputs.cache_clear()
    yield calls
    lib._image_inputs.cache_clear()


def test_study_configs_validate_their_grids():
    with pytest.raises(ConfigError, match="residual_depths"):
        lib.LinearStudy(residual_depths=(2, 4))
    with pytest.raises(ConfigError, match="prop_to"):
        lib.LinearStudy(prop_to=(8, 512))
    with pytest.raises(ConfigError, match="dataset"):
        lib.LinearDraw(dataset="imagenet")
    s = lib.LinearStudy(seeds=2, depths=(1, 2), widths=(8, 16), prop_from=(1, 8), prop_to=(2, 16),
                        residual_depths=(1, 2), residual_draws=2)
    grid = lib.linear_grid(s)
    assert len(grid) == 2 * 2 * 2 * 2 * 2 and len(set(grid)) == len(grid)
    assert len(lib.residual_grid(s)) == 2 * 2 * 2


def test_linear_draw_special_cases_on_synthetic_data():
    one = lib.linear_draw(lib.LinearDraw(depth=1, whiten=False, kappa_sigma=10.0, n=500))
    assert one["kappa"] == pytest.approx(one["cov_kappa"], rel=1e-10)
    two = lib.linear_draw(lib.LinearDraw(depth=2, width=32, n=500))
    assert two["kappa"] == pytest.approx(two["bound"], rel=1e-9)
    res = lib.linear_draw(lib.LinearDraw(depth=4, width=16, d=16, k=16, n=500, arch="residual",
                                         gain=1.0, spectrum="svd"))
    assert 1 < res["kappa"] <= res["bound"] * (1 + 1e-9)
    with pytest.raises(ValueError, match="square"):
        lib.linear_draw(lib.LinearDraw(depth=2, width=8, arch="residual", n=100))


def test_one_hidden_norm_modes():
    m = lib.one_hidden(5, 7, 3, norm="batchnorm")
    assert m[1].training and isinstance(m[1], nn.BatchNorm1d)
    assert not lib.one_hidden(5, 7, 3, norm="batchnorm_eval").training
    assert isinstance(lib.one_hidden(5, 7, 3, activation="leaky_relu")[1], nn.LeakyReLU)
    with pytest.raises(ValueError, match="activation"):
        lib.one_hidden(5, 7, 3, activation="gelu")
    with pytest.raises(ValueError, match="norm"):
        lib.one_hidden(5, 7, 3, norm="layernorm")
    X = torch.randn(20, 5, dtype=DT)
    out = lib.one_hidden_kappa(X, 7, norm="batchnorm", k=3)
    assert out["rank"] <= 20 * 3 and out["kappa"] >= 1


def test_train_mse_is_gradient_descent_on_the_mse():
    """Two full-batch steps of a one-layer network against the hand-written gradient
    (1/n) (W X^T - Y^T) X of (1/2n) sum ||W x - y||^2; masks keep pruned weights at zero."""
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(12, 4, generator=g, dtype=DT), torch.randn(12, 3, generator=g, dtype=DT)
    model = nn.Linear(4, 3, bias=False).to(DT)
    W = model.weight.detach().clone()
    W0 = W.clone()
    mask = {"weight": torch.ones_like(W)}
    mask["weight"][0, 0] = 0
    W = W * mask["weight"]
    with torch.no_grad():
        model.weight.copy_(W)
    out = lib.train_mse(model, X, Y, lr=0.1, num_steps=2, batch_size=12, seed=0, every=1,
                        masks=mask)
    for _ in range(2):
        W = (W - 0.1 * (W @ X.T - Y.T) @ X / 12) * mask["weight"]
    torch.testing.assert_close(model.weight.detach(), W, rtol=1e-12, atol=1e-14)
    assert out["steps"] == [0, 1, 2] and not out["diverged"]
    W0 = W0 * mask["weight"]
    assert out["loss"][0] == pytest.approx(float(0.5 * (X @ W0.T - Y).pow(2).sum(1).mean()))
    diverging = lib.train_mse(nn.Linear(4, 3, bias=False).to(DT), X * 1e3, Y, lr=10.0,
                              num_steps=50, batch_size=12, seed=0, every=1)
    assert diverging["diverged"] and not math.isfinite(diverging["loss"][-1])


def test_train_linear_keeps_the_bound_at_every_checkpoint(monkeypatch):
    X = torch.randn(64, 6, generator=torch.Generator().manual_seed(1), dtype=DT)
    y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(2))
    monkeypatch.setattr(lib, "inputs", lambda *a, **kw: X)
    monkeypatch.setattr(lib, "labels", lambda *a, **kw: y)
    out = lib.train_linear(lib.TrainRun(width=8, n=64, num_steps=20, every=5, lr=0.05))
    assert out["steps"] == [0, 5, 10, 15, 20]
    assert all(k <= b * (1 + 1e-9) for k, b in zip(out["kappa"], out["bound"]))
    assert out["loss"][-1] < out["loss"][0]


# ---- the paper-scale code paths, tiny shapes ----------------------------------------------------

def test_paper_scale_linear_grid_on_cifar10(fake_cifar):
    """01 at paper scale: colour CIFAR-10 through the common loader, device "auto" (CPU here)."""
    c = lib.LinearDraw(dataset="cifar10", n=40, size=2, grayscale=False, k=10, depth=3, width=16,
                       device="auto")
    out = lib.linear_draw(c)
    assert fake_cifar == ["train"]
    assert out["input_dim"] == 12 and out["kappa"] <= out["bound"] * (1 + 1e-9)
    X = lib.inputs("cifar10", 40, whiten=True, size=2, grayscale=False)
    assert cv.covariance_condition(X) == pytest.approx(1.0, abs=1e-8)


def test_paper_scale_pruned_resnet_with_lanczos(fake_cifar, monkeypatch):
    """03 at paper scale: the CIFAR ResNet (BatchNorm in train mode: the batch function), pruned
    40 %, kappa by Lanczos on Gauss-Newton-vector products against the dense Gram of the same
    model. The ResNet is shrunk to one block per stage and width 4 so that this runs in seconds
    on a CPU (ResNet-20 itself: tests/models)."""
    from common.models import CifarResNet

    def tiny_resnet(seed):
        torch.manual_seed(seed % 2**31)
        return CifarResNet(blocks=1, width=4).to(DT)

    monkeypatch.setattr(lib, "_resnet", tiny_resnet)
    c = lib.PruneRun(model="resnet20", ratio=0.4, dataset="cifar10", n_train=8, n_gn=3,
                     num_steps=2, every=1, batch_size=4, lr=0.01, kappa_path="lanczos",
                     num_smallest=4, device="auto")
    out = lib.pruned_kappa(c)
    assert len(out["loss"]) == 3 and not out["diverged"]
    dense = lib.pruned_kappa(c.replace(kappa_path="dense", num_steps=0))
    assert out["lambda_max"] == pytest.approx(dense["lambda_max"], rel=1e-8)
    assert out["kappa"] == pytest.approx(dense["kappa"], rel=1e-6)
