"""SGD, SignSGD, Signum, Adam (coupled weight decay) and AdamW (decoupled) against NumPy
recursions written here from the papers' equations, against torch.optim where torch has the
method, and the adapters against the functional updates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.optim import (
    Adam,
    AdamW,
    SignSGD,
    Signum,
    adam_init,
    adam_update,
    adamw_update,
    apply_updates,
    sgd_init,
    sgd_update,
    signsgd_init,
    signsgd_update,
    signum_init,
    signum_update,
)

TARGET = np.linspace(-1.0, 1.0, 7)


def _grad_np(x):
    return np.sinh(x - TARGET)  # the gradient of sum cosh(x - target): smooth, convex


def _run(init, update, steps=12, x0=None, **hyper):
    x = (torch.tensor(np.linspace(0.5, -0.7, 7) if x0 is None else x0, dtype=torch.float64),)
    state = init(x)
    out = []
    for _ in range(steps):
        g = (torch.sinh(x[0] - torch.tensor(TARGET)),)
        updates, state, _ = update(g, state, x, **hyper)
        x = apply_updates(x, updates)
        out.append(x[0].numpy().copy())
    return np.array(out)


def _np_adam(steps, lr, b1, b2, eps, wd, decoupled):
    x = np.linspace(0.5, -0.7, 7)
    m = v = np.zeros(7)
    out = []
    for k in range(1, steps + 1):
        g = _grad_np(x) + (0.0 if decoupled else wd * x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
        x = x - step - (lr * wd * x if decoupled else 0.0)
        out.append(x.copy())
    return np.array(out)


# float64 recursions over 12 steps: the two sides differ by rounding only (~1e-16 per step);
# rtol 1e-12 leaves a wide margin and still catches any formula error (those are >= 1e-4 here)
RTOL = 1e-12


def test_sgd_reference():
    x, out = np.linspace(0.5, -0.7, 7), []
    for _ in range(12):
        x = x - 0.1 * _grad_np(x)
        out.append(x)
    np.testing.assert_allclose(_run(sgd_init, sgd_update, lr=0.1), out, rtol=RTOL)


def test_signsgd_reference():
    x, out = np.linspace(0.5, -0.7, 7), []
    for _ in range(12):
        x = x - 0.05 * np.sign(_grad_np(x))
        out.append(x)
    np.testing.assert_allclose(_run(signsgd_init, signsgd_update, lr=0.05), out, rtol=RTOL)


def test_signum_reference():
    x, m, out = np.linspace(0.5, -0.7, 7), np.zeros(7), []
    for _ in range(12):
        m = 0.8 * m + 0.2 * _grad_np(x)
        x = x - 0.05 * np.sign(m)
        out.append(x)
    np.testing.assert_allclose(_run(signum_init, signum_update, lr=0.05, beta=0.8), out,
                               rtol=RTOL)


def test_sign_of_zero_is_zero():
    (u,), _, _ = signsgd_update((torch.tensor([0.0, -2.0, 3.0]),), signsgd_init(None), lr=0.1)
    torch.testing.assert_close(u, torch.tensor([0.0, 0.1, -0.1]))


@pytest.mark.parametrize("wd", [0.0, 0.3])
def test_adam_coupled_reference(wd):
    ours = _run(adam_init, adam_update, lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=wd)
    np.testing.assert_allclose(ours, _np_adam(12, 0.05, 0.9, 0.99, 1e-8, wd, False), rtol=RTOL)


@pytest.mark.parametrize("wd", [0.0, 0.3])
def test_adamw_decoupled_reference(wd):
    ours = _run(adam_init, adamw_update, lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8,
                weight_decay=wd)
    np.testing.assert_allclose(ours, _np_adam(12, 0.05, 0.9, 0.99, 1e-8, wd, True), rtol=RTOL)


def test_coupled_and_decoupled_decay_differ():
    """A negative control: the two weight decays are different algorithms (beyond rounding)."""
    a = _run(adam_init, adam_update, lr=0.05, weight_decay=0.3)
    b = _run(adam_init, adamw_update, lr=0.05, weight_decay=0.3)
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.parametrize("torch_cls,ours,wd", [
    (torch.optim.Adam, adam_update, 0.0), (torch.optim.Adam, adam_update, 0.1),
    (torch.optim.AdamW, adamw_update, 0.1), (torch.optim.SGD, sgd_update, 0.0)])
def test_against_torch_optim(torch_cls, ours, wd):
    """torch folds the bias corrections into lr and eps (module docstring of common.optim.adam):
    the same iterates up to float64 rounding (rtol 1e-12 over 12 steps)."""
    p = torch.nn.Parameter(torch.tensor(np.linspace(0.5, -0.7, 7)))
    kw = {"lr": 0.05} if torch_cls is torch.optim.SGD else {"lr": 0.05, "weight_decay": wd}
    opt = torch_cls([p], **kw)
    hyper = {} if torch_cls is torch.optim.SGD else {"weight_decay": wd}
    init = sgd_init if ours is sgd_update else adam_init
    ref = []
    for _ in range(12):
        opt.zero_grad()
        torch.cosh(p - torch.tensor(TARGET)).sum().backward()
        opt.step()
        ref.append(p.detach().numpy().copy())
    np.testing.assert_allclose(_run(init, ours, lr=0.05, **hyper), ref, rtol=RTOL)


@pytest.mark.parametrize("cls,update,init,hyper", [
    (Adam, adam_update, adam_init, {"lr": 0.05, "weight_decay": 0.1}),
    (AdamW, adamw_update, adam_init, {"lr": 0.05, "weight_decay": 0.1}),
    (SignSGD, signsgd_update, signsgd_init, {"lr": 0.05}),
    (Signum, signum_update, signum_init, {"lr": 0.05, "beta": 0.8})])
def test_adapters_apply_the_functional_update_exactly(cls, update, init, hyper):
    p = torch.nn.Parameter(torch.tensor(np.linspace(0.5, -0.7, 7)))
    opt = cls([p], **hyper)
    for _ in range(12):
        opt.zero_grad()
        torch.cosh(p - torch.tensor(TARGET)).sum().backward()
        opt.step()  # no closure: these methods do not need the loss
    if "beta" in hyper:
        fhyper = hyper
    elif cls in (Adam, AdamW):
        fhyper = {**hyper, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    else:
        fhyper = hyper
    np.testing.assert_array_equal(p.detach().numpy(), _run(init, update, **fhyper)[-1])
    sd = opt.state_dict()
    assert sd["state"][0]["count"] == 12


def test_broadcast_lr_runs_a_grid_side_by_side():
    """A learning-rate vector on the last axis (dp-sde's grid of runs) equals one run per lr."""
    lrs = torch.tensor([0.01, 0.1])
    x = (torch.tensor(np.linspace(0.5, -0.7, 7))[:, None].expand(7, 2).clone(),)
    state = adam_init(x)
    for _ in range(5):
        g = (torch.sinh(x[0] - torch.tensor(TARGET)[:, None]),)
        updates, state, _ = adam_update(g, state, x, lr=lrs)
        x = apply_updates(x, updates)
    for j, lr in enumerate(lrs.tolist()):
        np.testing.assert_allclose(x[0][:, j].numpy(), _run(adam_init, adam_update, 5, lr=lr)[-1],
                                   rtol=RTOL)


@pytest.mark.parametrize("bad,match", [({"lr": 0.0}, "lr"), ({"lr": 0.1, "beta1": 1.0}, "beta1"),
                                       ({"lr": 0.1, "eps": 0.0}, "eps"),
                                       ({"lr": 0.1, "weight_decay": -1.0}, "weight_decay")])
def test_adam_validation(bad, match):
    x = (torch.ones(3),)
    with pytest.raises(ValueError, match=match):
        adam_update((torch.ones(3),), adam_init(x), x, **bad)
