"""RMSprop equals torch.optim.RMSprop; NGN-D's adapter equals its functional update."""

from __future__ import annotations

import numpy as np
import torch

from common.optim import (
    NGNMD,
    RMSprop,
    apply_updates,
    ngn_d_update,
    ngn_md_init,
    rmsprop_init,
    rmsprop_update,
)


def test_rmsprop_matches_torch():
    """Same recursion as torch.optim.RMSprop (defaults, no momentum); torch divides by
    ``sqrt(v) + eps`` inside ``addcdiv_`` (one rounding) where the functional update forms
    ``-lr * g / (sqrt(v) + eps)`` first: rtol 1e-14 is a few ulps over eight steps."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(7, dtype=torch.float64))
    opt = torch.optim.RMSprop([p], lr=0.01)
    x = (p.detach().clone(),)
    state = rmsprop_init(x)
    target = torch.linspace(-1, 1, 7, dtype=torch.float64)
    for _ in range(8):
        opt.zero_grad()
        (torch.cosh(p - target)).sum().backward()
        opt.step()
        updates, state, _ = rmsprop_update((torch.sinh(x[0] - target),), state, x, lr=0.01)
        x = apply_updates(x, updates)
        torch.testing.assert_close(x[0], p.detach(), rtol=1e-14, atol=1e-15)


def test_rmsprop_numpy_reference():
    """Two steps by hand: v_0 = 0.01 g^2, so the first step is lr g / (0.1 |g| + eps), about
    10 lr sign(g)."""
    x, v = np.array([2.0, -1.5]), np.zeros(2)
    xs = (torch.tensor(x),)
    state = rmsprop_init(xs)
    for _ in range(2):
        g = 2 * x
        v = 0.99 * v + 0.01 * g * g
        x = x - 0.1 * g / (np.sqrt(v) + 1e-8)
        updates, state, _ = rmsprop_update((2 * xs[0],), state, xs, lr=0.1)
        xs = apply_updates(xs, updates)
    np.testing.assert_allclose(xs[0].numpy(), x, rtol=1e-14)


def test_rmsprop_adapter_equals_functional():
    torch.manual_seed(1)
    p = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = RMSprop([p], lr=0.03)
    x, state = (p.detach().clone(),), rmsprop_init((p.detach(),))
    for _ in range(5):
        opt.zero_grad()
        (p ** 4).sum().backward()
        opt.step()
        updates, state, _ = rmsprop_update((4 * x[0] ** 3,), state, x, lr=0.03)
        x = apply_updates(x, updates)
    torch.testing.assert_close(x[0], p.detach(), rtol=1e-14, atol=1e-15)


def test_ngn_d_adapter_equals_functional():
    """The NGN-D registry adapter is NGNMD(version="v2", beta1=0): the same steps as
    ``ngn_d_update`` on the closure's loss."""
    torch.manual_seed(2)
    p = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    opt = NGNMD([p], c=0.5, beta1=0.0, version="v2")
    x, state = (p.detach().clone(),), ngn_md_init((p.detach(),))
    for _ in range(6):
        def closure():
            opt.zero_grad()
            loss = (p ** 2).sum() + (p ** 4).sum()
            loss.backward()
            return loss

        opt.step(closure)
        loss = (x[0] ** 2).sum() + (x[0] ** 4).sum()
        updates, state, _ = ngn_d_update((2 * x[0] + 4 * x[0] ** 3,), state, loss, c=0.5)
        x = apply_updates(x, updates)
    torch.testing.assert_close(x[0], p.detach(), rtol=1e-13, atol=1e-15)
