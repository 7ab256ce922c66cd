"""SGDM equals torch.optim.SGD; every registered optimizer meets the same functional contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.optim import OPTIMIZERS, apply_updates, make_torch, sgdm_init, sgdm_update

FUNCTIONAL = [name for name, spec in OPTIMIZERS.items() if spec.update is not None]
ADAPTED = [name for name, spec in OPTIMIZERS.items() if spec.torch_factory is not None]


@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [
    (0.9, 0.9, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.0, True, 0.0), (0.5, 0.2, False, 0.01),
    (0.0, 0.0, False, 0.0)])
def test_sgdm_matches_torch_sgd(momentum, dampening, nesterov, wd):
    """Same recursion as torch; the last bit may differ because torch applies the step as
    ``p.add_(d, alpha=-lr)`` (one rounding) where the functional update forms ``-lr * d`` first:
    hence rtol 1e-14 (a few ulps over six steps), far below any formula error."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(7, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.05, momentum=momentum, dampening=dampening,
                          nesterov=nesterov, weight_decay=wd)
    x = (p.detach().clone(),)
    state = sgdm_init(x)
    target = torch.linspace(-1, 1, 7, dtype=torch.float64)
    for _ in range(6):
        opt.zero_grad()
        loss = (torch.cosh(p - target)).sum()  # smooth, convex, stable at lr = 0.05
        loss.backward()
        g = (torch.sinh(x[0] - target),)
        opt.step()
        updates, state, _ = sgdm_update(g, state, x, lr=0.05, momentum=momentum,
                                        dampening=dampening, nesterov=nesterov, weight_decay=wd)
        x = apply_updates(x, updates)
        torch.testing.assert_close(x[0], p.detach(), rtol=1e-14, atol=1e-15)


def test_ema_form_reference():
    """EMA form from a NumPy recursion with torch's first step b_1 = g_1."""
    x, b, xs = np.array([2.0]), None, (torch.tensor([2.0], dtype=torch.float64),)
    state = sgdm_init(xs)
    for _ in range(10):
        g = 2 * x
        b = g.copy() if b is None else 0.9 * b + 0.1 * g
        x = x - 0.3 * b
        updates, state, _ = sgdm_update((2 * xs[0],), state, lr=0.3, momentum=0.9, dampening=0.9)
        xs = apply_updates(xs, updates)
    np.testing.assert_allclose(xs[0].numpy(), x, rtol=1e-14)


def test_zero_init_ema_reference():
    """buffer_init="zero": the EMA recursion from b = 0 (first step 0.1 g, a tenth of torch's),
    from a NumPy recursion; with dampening 0 the two initialisations coincide."""
    x, b, xs = np.array([2.0]), np.zeros(1), (torch.tensor([2.0], dtype=torch.float64),)
    state = sgdm_init(xs)
    for _ in range(10):
        g = 2 * x
        b = 0.9 * b + 0.1 * g
        x = x - 0.3 * b
        updates, state, _ = sgdm_update((2 * xs[0],), state, lr=0.3, momentum=0.9, dampening=0.9,
                                        buffer_init="zero")
        xs = apply_updates(xs, updates)
    np.testing.assert_allclose(xs[0].numpy(), x, rtol=1e-14)
    g = (torch.tensor([1.5], dtype=torch.float64),)
    for init in ("grad", "zero"):
        upd, _, _ = sgdm_update(g, sgdm_init(g), lr=1.0, momentum=0.9, dampening=0.0,
                                buffer_init=init)
        assert float(upd[0][0]) == -1.5
    with pytest.raises(ValueError, match="buffer_init"):
        sgdm_update(g, sgdm_init(g), lr=1.0, buffer_init="ones")


def _quadratic(x):
    w = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    return 0.5 * (w * x * x).sum(-1), w * x


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_update_is_pure_and_descends(name):
    spec = OPTIMIZERS[name]
    x = (torch.linspace(-1, 2, 4, dtype=torch.float64),)
    state = spec.init(x)
    f0 = float(_quadratic(x[0])[0])
    for _ in range(50):
        f, g = _quadratic(x[0])
        buffers = [t for field in state if isinstance(field, tuple) for t in field]
        before = [t.clone() for t in (x[0], g, *buffers)]
        updates, state, info = spec.functional_update((g,), state, f, x, 1e-2)
        after = (x[0], g, *buffers)
        assert all(torch.equal(a, b) for a, b in zip(before, after))  # inputs untouched
        x = apply_updates(x, updates)
    assert float(_quadratic(x[0])[0]) < f0
    assert "step_size" in info


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_batch_dims_equals_independent_runs(name):
    """A batched sweep over step sizes equals one run per step size (the toy notebook's trick)."""
    spec = OPTIMIZERS[name]
    steps = torch.tensor([1e-3, 1e-2, 1e-1], dtype=torch.float64)
    x0 = torch.linspace(-1, 2, 4, dtype=torch.float64)
    xb = (x0.expand(3, -1).clone(),)
    state_b = spec.init(xb)
    singles = [((x0.clone(),), spec.init((x0,))) for _ in steps]
    for _ in range(15):
        f, g = _quadratic(xb[0])
        updates, state_b, _ = spec.functional_update((g,), state_b, f, xb, steps, batch_dims=1)
        xb = apply_updates(xb, updates)
        for i, s in enumerate(steps):
            (xi,), st = singles[i]
            fi, gi = _quadratic(xi)
            upd, st, _ = spec.functional_update((gi,), st, fi, (xi,), float(s))
            singles[i] = (apply_updates((xi,), upd), st)
    for i in range(3):
        torch.testing.assert_close(xb[0][i], singles[i][0][0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ADAPTED)
def test_torch_factory_trains(name):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    X, y = torch.randn(64, 3), torch.randn(64, 1)
    opt = make_torch(name, model.parameters(), 1e-2 if name != "Adam" else 1e-2)

    def closure():
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        return loss

    first = closure().item()
    for _ in range(100):
        opt.step(closure)
    assert closure().item() < first


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="not registered"):
        make_torch("LAMB", [torch.nn.Parameter(torch.ones(1))], 0.1)
    with pytest.raises(ValueError, match="no torch.optim adapter"):
        make_torch("NGN-M v2", [torch.nn.Parameter(torch.ones(1))], 0.1)
