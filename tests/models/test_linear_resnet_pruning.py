"""common.models: deep linear and residual linear networks, ResNet-20, magnitude pruning."""

from __future__ import annotations

import math
from functools import reduce

import pytest
import torch

from common.models import (
    DeepLinear,
    ResidualLinear,
    apply_masks,
    magnitude_masks,
    prunable_names,
    resnet20,
)

DT = torch.float64


def test_deep_linear_is_the_product_of_its_weights():
    net = DeepLinear(5, (7, 4), 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    x = torch.randn(6, 5, dtype=DT)
    W = reduce(lambda a, b: b @ a, net.weights())
    torch.testing.assert_close(net(x), x @ W.T)
    assert [tuple(w.shape) for w in net.weights()] == [(7, 5), (4, 7), (3, 4)]
    with pytest.raises(ValueError, match="positive integers"):
        DeepLinear(5, (0,), 3)


def test_gaussian_init_variance_and_determinism():
    """Weights ~ N(0, gain / fan_in): the sample variance of 256 x 512 draws is within 2 % (its
    relative standard error is sqrt(2 / 131072) = 0.4 %, so 2 % is 5 standard errors)."""
    a = DeepLinear(512, (), 256, gain=2.0, generator=torch.Generator().manual_seed(1))
    b = DeepLinear(512, (), 256, gain=2.0, generator=torch.Generator().manual_seed(1))
    w = a.weights()[0]
    assert torch.equal(w, b.weights()[0])
    assert float(w.var()) == pytest.approx(2.0 / 512, rel=0.02)
    with pytest.raises(ValueError, match="gain"):
        DeepLinear(512, (), 256, gain=0.0)


def test_residual_linear_equals_its_effective_plain_network():
    res = ResidualLinear(6, 4, generator=torch.Generator().manual_seed(2), dtype=DT)
    assert res.beta == pytest.approx(0.5)
    x = torch.randn(3, 6, dtype=DT)
    W = reduce(lambda a, b: b @ a, res.effective_weights())
    torch.testing.assert_close(res(x), x @ W.T)


def test_resnet20_shape_and_parameter_count():
    model = resnet20()
    # He et al. (2016), Table 6: ResNet-20 has 0.27M parameters (option-A shortcuts)
    n = sum(p.numel() for p in model.parameters())
    assert 0.26e6 < n < 0.28e6
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert len(prunable_names(model)) == 20  # 19 convolutions + the classifier


def test_magnitude_masks_remove_the_smallest_weights_per_layer():
    net = DeepLinear(10, (20,), 5, generator=torch.Generator().manual_seed(3))
    masks = magnitude_masks(net, 0.4)
    for name, w in net.named_parameters():
        m = masks[name]
        assert int((m == 0).sum()) == round(0.4 * w.numel())
        kept, pruned = w.detach().abs()[m == 1], w.detach().abs()[m == 0]
        assert kept.min() >= pruned.max()
    apply_masks(net, masks)
    assert all(math.isclose(float((w == 0).double().mean()), 0.4) for w in net.weights())
    assert all(int((m == 0).sum()) == 0 for m in magnitude_masks(net, 0.0).values())
    with pytest.raises(ValueError, match="ratio"):
        magnitude_masks(net, 1.0)
    with pytest.raises(KeyError, match="nope"):
        apply_masks(net, {"nope": torch.ones(1)})
