"""Normalisation placement in ``common.models.MLP``: layer order per placement, BatchNorm with
batch statistics at initialisation, and ``batch_statistics`` restoring the model.

References: the layer orders are the table of :data:`common.models.PLACEMENTS` written out by hand
here; BatchNorm and LayerNorm outputs are compared with NumPy formulas (mean / biased variance
over the batch axis, resp. the feature axis, eps = 1e-5 as in PyTorch).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from common.models import MLP, PLACEMENTS, batch_statistics, init_gaussian_

L, R, B, N = nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.LayerNorm
EXPECTED = {  # two hidden layers, then the read-out
    "none": [L, R, L, R, L],
    "bn_before": [L, B, R, L, B, R, L],
    "bn_after": [L, R, B, L, R, B, L],
    "ln_before": [L, N, R, L, N, R, L],
    "ln_after": [L, R, N, L, R, N, L],
}


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_layer_order(placement):
    model = MLP(5, (7, 7), 2, norm=placement)
    assert [type(m) for m in model] == EXPECTED[placement]
    assert model.norm == placement
    for m in model:
        if isinstance(m, (B, N)):
            assert (m.num_features if isinstance(m, B) else m.normalized_shape[0]) == 7


def test_unknown_placement_is_refused():
    with pytest.raises(ValueError, match="norm='bn_middle'"):
        MLP(5, (7,), 2, norm="bn_middle")


def _hidden_output(model: MLP, X: torch.Tensor, index: int) -> np.ndarray:
    out = X
    for m in list(model)[: index + 1]:
        out = m(out)
    return out.detach().double().numpy()


def test_fresh_bn_network_uses_batch_statistics():
    """A freshly built network is in train mode: every BN output has zero batch mean and unit
    batch variance per unit (NumPy reference, tolerance 1e-5 for float32 sums over 64 rows)."""
    g = torch.Generator().manual_seed(0)
    model = init_gaussian_(MLP(6, (16, 16), 2, norm="bn_after"), 2.0, generator=g)
    X = torch.randn(64, 6, generator=g) + 3.0
    assert model.training and all(m.training for m in model)
    for i, m in enumerate(model):
        if isinstance(m, B):
            pre = _hidden_output(model, X, i - 1)
            ref = (pre - pre.mean(0)) / np.sqrt(pre.var(0) + m.eps)
            out = _hidden_output(model, X, i)
            np.testing.assert_allclose(out, ref, atol=1e-5)
            np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)


def test_layernorm_normalises_each_sample():
    g = torch.Generator().manual_seed(1)
    model = init_gaussian_(MLP(6, (16,), 2, norm="ln_before"), 2.0, generator=g)
    X = torch.randn(10, 6, generator=g)
    pre = _hidden_output(model, X, 0)
    ref = (pre - pre.mean(1, keepdims=True)) / np.sqrt(pre.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(_hidden_output(model, X, 1), ref, atol=1e-5)


def test_eval_mode_bn_is_identity_when_fresh_and_batch_statistics_restores():
    """The pitfall the placement paper warns about: in eval mode a fresh BN network computes
    the network without BN (running mean 0, variance 1: only the 1/sqrt(1 + eps) factor), and
    ``batch_statistics`` puts batch statistics back for the block, then restores everything.
    Reference for the eval-mode layer: ReLU of the first linear map, times 1/sqrt(1 + eps)."""
    g = torch.Generator().manual_seed(2)
    bn = init_gaussian_(MLP(6, (16, 16), 2, norm="bn_before"), 2.0, generator=g)
    X = torch.randn(32, 6, generator=g)
    bn.eval()
    scale = (1 + 1e-5) ** -0.5
    hidden_bn = _hidden_output(bn, X, 2)  # Linear -> BN(eval) -> ReLU
    hidden_plain = scale * torch.relu(bn[0](X)).detach().double().numpy()
    np.testing.assert_allclose(hidden_bn, hidden_plain, rtol=1e-6, atol=1e-7)
    state = {k: v.clone() for k, v in bn.state_dict().items()}
    with torch.no_grad(), batch_statistics(bn):
        assert all(m.training for m in bn.modules() if isinstance(m, B))
        inside = _hidden_output(bn, X, 1)
    np.testing.assert_allclose(inside.mean(0), 0.0, atol=1e-5)
    assert not any(m.training for m in bn.modules())
    for k, v in bn.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
