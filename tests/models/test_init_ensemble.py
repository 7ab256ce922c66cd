"""Initialisers by (sigma_w2, sigma_b2), pooled activations in torch, and the batched MLP ensemble
against a loop of ordinary layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from common.models import MLPEnsemble, eoc_relative, gaussian_, init_gaussian_
from common.models import meanfield as mf
from common.models.activations import ACTIVATIONS, get


def test_gaussian_init_variances():
    g = torch.Generator().manual_seed(0)
    W, b = torch.empty(400, 250, dtype=torch.float64), torch.empty(400, dtype=torch.float64)
    gaussian_(W, b, sigma_w2=2.0, sigma_b2=0.1, generator=g)
    # 1e5 weights: the variance estimate has relative s.e. sqrt(2/1e5) ~ 0.5 %
    assert float(W.var()) * 250 == pytest.approx(2.0, rel=0.02)
    assert float(b.var()) == pytest.approx(0.1, rel=0.2)  # 400 biases: s.e. 7 %
    gaussian_(W, b, sigma_w2=1.0, sigma_b2=0.0, generator=g)
    assert torch.all(b == 0)
    with pytest.raises(ValueError, match="sigma_w2=-1"):
        gaussian_(W, b, sigma_w2=-1.0)


def test_init_gaussian_walks_linear_and_conv_layers():
    net = nn.Sequential(nn.Conv2d(3, 256, 3), nn.Flatten(), nn.Linear(64 * 4, 500))
    init_gaussian_(net, 2.0, 0.05, generator=torch.Generator().manual_seed(0))
    conv, lin = net[0].weight.detach(), net[2].weight.detach()
    # variance estimates over 6912 and 128000 weights: relative s.e. 1.7 % and 0.4 %
    assert float(conv.var()) * 27 == pytest.approx(2.0, rel=0.06)   # fan_in = 3 * 3 * 3
    assert float(lin.var()) * 256 == pytest.approx(2.0, rel=0.02)
    a = init_gaussian_(nn.Linear(5, 5), 1.0, 0.1, generator=torch.Generator().manual_seed(3))
    b = init_gaussian_(nn.Linear(5, 5), 1.0, 0.1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    with pytest.raises(ValueError, match="no Linear or Conv"):
        init_gaussian_(nn.ReLU(), 1.0)


def test_eoc_relative_is_the_official_vw():
    assert eoc_relative(1.0, "relu", 0.1) == 2.0
    assert eoc_relative(2.5, "tanh", 0.1) == pytest.approx(2.5 * mf.eoc("tanh", 0.1))
    with pytest.raises(ValueError, match="vw=0"):
        eoc_relative(0, "tanh", 0.1)


@pytest.mark.parametrize("name", ["tanh", "relu", "erf", "linear"])
def test_torch_and_numpy_activations_agree(name):
    act = get(name)
    u = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(act.torch_fn(torch.from_numpy(u)).numpy(), act.fn(u), rtol=1e-12)


def test_pooled_activation_in_torch_pools_pairs_and_duplicates():
    x = torch.tensor([[0.1, -2.0, 3.0, 0.5]])
    mean = get("tanh+meanpool").apply_torch(x)
    t = torch.tanh(x)
    torch.testing.assert_close(mean, torch.stack([(t[0, 0] + t[0, 1]) / 2] * 2
                                                 + [(t[0, 2] + t[0, 3]) / 2] * 2)[None])
    mx = get("relu+maxpool").apply_torch(x)
    torch.testing.assert_close(mx, torch.tensor([[0.1, 0.1, 3.0, 3.0]]))
    with pytest.raises(ValueError, match="even"):
        get("tanh+meanpool").apply_torch(torch.ones(2, 3))
    assert set(ACTIVATIONS) >= {"tanh", "relu"}


def test_ensemble_members_are_independent_mlps():
    torch.manual_seed(0)
    ens = MLPEnsemble(3, 6, 8, 4, 2, activation="tanh", dtype=torch.float64)
    ens.reset_parameters(2.0, 0.1, generator=torch.Generator().manual_seed(0))
    X = torch.randn(5, 6, dtype=torch.float64)
    seen = []
    out = ens(X, observe=lambda l, y: seen.append((l, tuple(y.shape))))
    assert out.shape == (3, 5, 2)
    assert seen == [(l, (3, 5, 8)) for l in range(1, 5)]
    for k in range(3):  # member k equals an ordinary MLP with its weights
        h = X
        for i, (W, b) in enumerate(zip(ens.weights, ens.biases)):
            h = (torch.tanh(h) if i > 0 else h) @ W[k].T + b[k]
        torch.testing.assert_close(out[k], h)
    # a loss that sums the members' losses gives each member its own gradient
    loss = sum(nn.functional.cross_entropy(out[k], torch.tensor([0, 1, 0, 1, 1]))
               for k in range(3))
    loss.backward()
    assert ens.weights[0].grad.shape == (3, 8, 6)
    with pytest.raises(ValueError, match="width=7"):
        MLPEnsemble(2, 4, 7, 2, 2, activation="tanh+maxpool")
    with pytest.raises(ValueError, match="depth=0"):
        MLPEnsemble(2, 4, 8, 0, 2)
