"""The tempered cross-entropy against a NumPy log-sum-exp; ResNet-18's shapes and size."""

import numpy as np
import pytest
import torch

from common.models import ResNet18, TemperatureCrossEntropy, temperature_cross_entropy


def test_temperature_cross_entropy_matches_numpy():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)) * 30
    y = rng.integers(0, 5, 7)
    for T in (0.5, 1.0, 10.0, 200.0):
        e = z / T
        m = e.max(1)
        ref = np.mean(m + np.log(np.exp(e - m[:, None]).sum(1)) - e[np.arange(7), y])
        got = temperature_cross_entropy(torch.tensor(z), torch.tensor(y), T).item()
        assert got == pytest.approx(ref, rel=1e-12)
        assert TemperatureCrossEntropy(T)(torch.tensor(z), torch.tensor(y)).item() == got


def test_temperature_scales_the_logit_gradient():
    z = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    g1 = torch.autograd.grad(temperature_cross_entropy(z * 10, y, 10.0), z)[0]
    g2 = torch.autograd.grad(torch.nn.functional.cross_entropy(z, y), z)[0]
    torch.testing.assert_close(g1, g2)  # CE(10 z / 10) = CE(z): the same function of z
    zz = z.detach().requires_grad_(True)
    gT = torch.autograd.grad(temperature_cross_entropy(zz, y, 1e6), zz)[0]
    # near-uniform softmax: dCE/dz = (softmax(z/T) - onehot) / (N T) -> (1/C - onehot) / (N T)
    ref = (torch.full((4, 3), 1 / 3, dtype=torch.float64)
           - torch.nn.functional.one_hot(y, 3)) / (4 * 1e6)
    torch.testing.assert_close(gT, ref, rtol=1e-5, atol=1e-14)
    with pytest.raises(ValueError, match="temperature"):
        temperature_cross_entropy(z, y, 0.0)


def test_resnet18_shape_and_parameter_count():
    net = ResNet18(num_classes=10)
    # the standard CIFAR ResNet-18 (3x3 stem, no max-pool, projection shortcuts)
    assert sum(p.numel() for p in net.parameters()) == 11_173_962
    small = ResNet18(num_classes=7, in_channels=1, width=4).eval()
    out = small(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 7)
    assert small.fc.in_features == 32
    with pytest.raises(ValueError, match="width"):
        ResNet18(width=0)
