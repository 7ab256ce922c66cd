"""Analytic gradients of the objectives against autograd; model shapes and causality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.models import GPT, MLP, GPTConfig, LeastSquares, Quadratic, Quartic, Rosenbrock


def _autograd(obj, x, **kw):
    x = x.clone().requires_grad_(True)
    f, _ = obj.value_and_grad(x, **kw)
    (g,) = torch.autograd.grad(f.sum(), x)
    return g


@pytest.mark.parametrize("obj", [Rosenbrock(), Quartic()])
def test_closed_form_gradients(obj):
    x = torch.randn(5, obj.dim, dtype=torch.float64)
    torch.testing.assert_close(obj.value_and_grad(x)[1], _autograd(obj, x), rtol=1e-12, atol=1e-12)


def test_least_squares_batches_and_minimum():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((40, 3)), rng.standard_normal(40)
    obj = LeastSquares(A, b)
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(obj.value_and_grad(x)[1], _autograd(obj, x))
    idx = torch.tensor([0, 5, 7])
    torch.testing.assert_close(obj.value_and_grad(x, idx)[1], _autograd(obj, x, idx=idx))
    per_row = torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7]])
    f, g = obj.value_and_grad(x, per_row)
    for r in range(4):
        fr, gr = obj.value_and_grad(x[r], per_row[r])
        torch.testing.assert_close(f[r], fr)
        torch.testing.assert_close(g[r], gr)
    f_star, _ = obj.value_and_grad(obj.solution)
    assert float(f_star) == pytest.approx(obj.minimum, rel=1e-12)


def test_quadratic():
    M = np.diag([1.0, 10.0])
    obj = Quadratic(M, np.array([1.0, 1.0]))
    x = torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(obj.value_and_grad(x)[1], _autograd(obj, x))
    assert obj.minimum == pytest.approx(0.0, abs=1e-20)


def test_mlp_shapes_and_validation():
    model = MLP(784, (100, 100), 10)
    assert model(torch.randn(8, 1, 28, 28)).shape == (8, 10)
    assert sum(p.numel() for p in model.parameters()) == 784 * 100 + 100 + 100 * 100 + 100 + 1010
    with pytest.raises(ValueError, match="activation"):
        MLP(2, (3,), 1, activation="swish")


def test_gpt_is_causal_and_tied():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, context=8, n_layer=2, n_head=2, d_model=16)).eval()
    idx = torch.randint(0, 11, (2, 8))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 8, 11) and loss.ndim == 0
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    torch.testing.assert_close(model(changed)[0][:, :-1], logits[:, :-1])  # no peeking ahead
    assert model.head.weight is model.tok.weight
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=5, d_model=10, n_head=3)
    with pytest.raises(ValueError, match="exceeds the context"):
        model(torch.zeros(1, 9, dtype=torch.long))
