"""NGN, NGN-M, version 2 and NGN-MD against NumPy references written here, independently.

The references use the paper's own forms (NGN-M's heavy-ball recursion
x_{k+1} = x_k - (1-beta) gamma_k g_k + beta (x_k - x_{k-1}); NGN-MD's Algorithm 2), not the EMA
form the library implements, so agreement also checks that the two forms are equivalent.
Tolerance: float64 throughout. The two forms round differently (~1e-16 per operation) and the
iteration map amplifies those differences over 20-25 steps: the largest deviation observed is
5e-12 relative (c = 1e3), so 1e-10 leaves margin while any real formula error (at least 1e-3
here) fails by orders of magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.optim import (
    NGN,
    NGNM,
    NGNMD,
    apply_updates,
    ngn_init,
    ngn_m_init,
    ngn_m_update,
    ngn_m_v2_init,
    ngn_m_v2_update,
    ngn_md_init,
    ngn_md_update,
    ngn_step_size,
    ngn_update,
)

RTOL = 1e-10


def _problem(seed=0, n=30, d=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)


def _np_loss_grad(A, b, x):
    r = A @ x - b
    return 0.5 * np.mean(r**2), A.T @ r / len(b)


def _torch_loss_grad(A, b, x):
    r = torch.as_tensor(A) @ x - torch.as_tensor(b)
    return 0.5 * (r**2).mean(), torch.as_tensor(A).T @ r / len(b)


def np_ngn_m(A, b, x0, c, beta, steps):
    x_prev, x = x0.copy(), x0.copy()
    for _ in range(steps):
        f, g = _np_loss_grad(A, b, x)
        gamma = c / (1 + c / (2 * f) * (g @ g))
        x, x_prev = x - (1 - beta) * gamma * g + beta * (x - x_prev), x
    return x


def np_v2(A, b, x0, c, beta, steps):
    x, m = x0.copy(), np.zeros_like(x0)
    for _ in range(steps):
        f, g = _np_loss_grad(A, b, x)
        m = beta * m + (1 - beta) * g
        x = x - c / (1 + c * (m @ m) / (2 * f)) * m
    return x


def np_ngn_md(A, b, x0, c, b1, b2, eps, steps, version):
    x, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    for k in range(steps):
        f, g = _np_loss_grad(A, b, x)
        v = b2 * v + (1 - b2) * g * g
        D = eps + np.sqrt(v / (1 - b2 ** (k + 1)))
        if version == "v1":
            step = c / (1 + c / (2 * f) * np.sum(g * g / D)) * g / D
        else:
            step = c / (1 + c / (2 * f) * g * g / D) * g / D
        m = b1 * m + (1 - b1) * step
        x = x - m
    return x


def _run_functional(init, update, A, b, x0, steps, **hyper):
    x = (torch.tensor(x0),)
    state = init(x)
    for _ in range(steps):
        f, g = _torch_loss_grad(A, b, x[0])
        updates, state, _ = update((g,), state, f, **hyper)
        x = apply_updates(x, updates)
    return x[0].numpy()


@pytest.mark.parametrize("c", [1e-2, 1.0, 1e3])
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_ngn_m_matches_heavy_ball_reference(c, beta):
    A, b, x0 = _problem()
    got = _run_functional(ngn_m_init, ngn_m_update, A, b, x0, 25, c=c, beta=beta)
    np.testing.assert_allclose(got, np_ngn_m(A, b, x0, c, beta, 25), rtol=RTOL, atol=1e-14)


def test_ngn_is_ngn_m_without_momentum():
    A, b, x0 = _problem(1)
    got = _run_functional(ngn_init, ngn_update, A, b, x0, 20, c=3.0)
    np.testing.assert_allclose(got, np_ngn_m(A, b, x0, 3.0, 0.0, 20), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("c", [1e-2, 10.0])
def test_version_2_matches_reference(c):
    A, b, x0 = _problem(2)
    got = _run_functional(ngn_m_v2_init, ngn_m_v2_update, A, b, x0, 20, c=c, beta=0.9)
    np.testing.assert_allclose(got, np_v2(A, b, x0, c, 0.9, 20), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("c", [1e-3, 0.1, 10.0])
def test_ngn_md_matches_algorithm_2(version, c):
    A, b, x0 = _problem(3)
    got = _run_functional(ngn_md_init, ngn_md_update, A, b, x0, 20, c=c, beta1=0.9,
                          beta2=0.999, eps=1e-8, version=version)
    want = np_ngn_md(A, b, x0, c, 0.9, 0.999, 1e-8, 20, version)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-14)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 1e6), st.floats(1e-6, 1e3), st.floats(1e-6, 1e3), st.booleans())
def test_step_size_bounds_on_a_quadratic(c, L, x, negative):
    """For f = L x^2 / 2, ||f'||^2 = 2 L f exactly, so gamma = c / (1 + c L): the lower bound
    c / (1 + cL) of NGN's analysis is attained, and gamma <= c always. (|x| >= 1e-6 keeps
    f above the f = 0 guard TINY = 1e-30, below which gamma -> c by design.)"""
    x = -x if negative else x
    f, g2 = 0.5 * L * x * x, (L * x) ** 2
    gamma = float(ngn_step_size(torch.tensor(f, dtype=torch.float64), g2, c))
    assert gamma <= c * (1 + 1e-12)
    assert gamma == pytest.approx(c / (1 + c * L), rel=1e-9)


def test_zero_loss_is_guarded():
    assert float(ngn_step_size(torch.tensor(0.0), torch.tensor(0.0), 2.0)) == 2.0
    assert float(ngn_step_size(torch.tensor(0.0), torch.tensor(1.0), 2.0)) < 1e-20


def test_bad_inputs_are_named():
    x = (torch.ones(2),)
    with pytest.raises(ValueError, match="c=-1"):
        ngn_m_update(x, ngn_m_init(x), 1.0, c=-1.0)
    with pytest.raises(ValueError, match=r"beta=1.0: must be in \[0, 1\)"):
        ngn_m_update(x, ngn_m_init(x), 1.0, c=1.0, beta=1.0)
    with pytest.raises(ValueError, match="non-negative loss"):
        ngn_m_update(x, ngn_m_init(x), -0.5, c=1.0)
    with pytest.raises(ValueError, match="version"):
        ngn_md_update(x, ngn_md_init(x), 1.0, c=1.0, version="v3")
    with pytest.raises(ValueError, match="needs a closure"):
        NGNM([torch.nn.Parameter(torch.ones(2))]).step()


def _module_and_closure(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    model = model.double()
    X, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    return model, X, y


@pytest.mark.parametrize("name,cls,init,update,hyper", [
    ("NGN", NGN, ngn_init, ngn_update, {"c": 0.7}),
    ("NGN-M", NGNM, ngn_m_init, ngn_m_update, {"c": 0.7, "beta": 0.8}),
    ("NGN-MDv1", NGNMD, ngn_md_init, ngn_md_update, {"c": 0.05, "version": "v1"}),
    ("NGN-MDv2", NGNMD, ngn_md_init, ngn_md_update, {"c": 0.05, "version": "v2"}),
])
def test_adapter_reproduces_the_functional_update(name, cls, init, update, hyper):
    model, X, y = _module_and_closure()
    opt = cls(model.parameters(), **hyper)

    def closure():
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)

    # the same five steps, functionally, from an identical copy of the model
    twin, X2, y2 = _module_and_closure()
    names = [n for n, _ in twin.named_parameters()]
    params = tuple(p.detach().clone() for p in twin.parameters())
    state = init(params)
    for _ in range(5):
        params = tuple(p.requires_grad_(True) for p in params)
        out = torch.func.functional_call(twin, dict(zip(names, params)), (X2,))
        loss = ((out - y2) ** 2).mean()
        grads = torch.autograd.grad(loss, params)
        updates, state, _ = update(grads, state, loss.detach(), **hyper)
        params = tuple(p.detach() + u for p, u in zip(params, updates))
    for p, q in zip(model.parameters(), params):
        torch.testing.assert_close(p.detach(), q, rtol=1e-13, atol=1e-15)


def test_adapter_uses_the_global_norm_across_groups_and_saves_state():
    model, X, y = _module_and_closure()
    w1, b1, w2, b2 = model.parameters()
    opt = NGNM([{"params": [w1, b1]}, {"params": [w2, b2], "c": 0.1}], c=1.0, beta=0.9)

    def closure():
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        return loss

    loss = closure()
    sq = sum(float((p.grad**2).sum()) for p in model.parameters())
    g1 = w1.grad.clone()
    before = w1.detach().clone()
    opt.step(closure)
    gamma = 1.0 / (1 + 1.0 * sq / (2 * loss.item()))  # group 1 uses c = 1 and the global norm
    torch.testing.assert_close(w1.detach(), before - 0.1 * gamma * g1, rtol=1e-12, atol=1e-14)
    sd = opt.state_dict()
    opt2 = NGNM([{"params": [w1, b1]}, {"params": [w2, b2], "c": 0.1}], c=1.0, beta=0.9)
    opt2.load_state_dict(sd)
    assert opt2._load([w1, b1]).count == 1
    torch.testing.assert_close(opt2._load([w1, b1]).momentum[0], opt._load([w1, b1]).momentum[0])


def test_ngn_md_adapter_refuses_several_groups():
    model, _, _ = _module_and_closure()
    w1, b1, w2, b2 = model.parameters()
    with pytest.raises(ValueError, match="one parameter group"):
        NGNMD([{"params": [w1]}, {"params": [w2]}])
