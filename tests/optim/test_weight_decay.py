"""Coupled and decoupled weight decay: SGDW, SignSGD/Signum with either decay, AdamCD (a coupled
part c and a decoupled part d), against NumPy recursions written here from the papers' update
rules (arXiv 2602.16642 Table 1 / Section 2.2; arXiv 1711.05101), against torch.optim where torch
has the method, the special cases bit for bit, and the step-decay schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.optim import (
    SGDW,
    AdamCD,
    SignSGDW,
    Signum,
    SignumW,
    StepDecay,
    adam_cd_update,
    adam_init,
    adam_update,
    adamw_update,
    apply_updates,
    make_schedule,
    sgdm_init,
    sgdm_update,
    sgdw_update,
    signsgd_init,
    signsgd_update,
    signsgdw_update,
    signum_init,
    signum_update,
    signumw_update,
    step_decay_thirds,
)

TARGET = np.linspace(-1.0, 1.0, 7)
X0 = np.linspace(0.5, -0.7, 7)
# float64 recursions over 12 steps: the two sides differ by rounding only (~1e-16 per step);
# rtol 1e-12 leaves a wide margin and still catches any formula error (those are >= 1e-4 here)
RTOL = 1e-12


def _grad_np(x):
    return np.sinh(x - TARGET)  # the gradient of sum cosh(x - target): smooth, convex


def _run(init, update, steps=12, **hyper):
    x = (torch.tensor(X0, dtype=torch.float64),)
    state = init(x)
    out = []
    for _ in range(steps):
        g = (torch.sinh(x[0] - torch.tensor(TARGET)),)
        updates, state, _ = update(g, state, x, **hyper)
        x = apply_updates(x, updates)
        out.append(x[0].numpy().copy())
    return np.array(out)


def _np_run(step, steps=12):
    """``step(x, g, k, buf) -> (x, buf)`` iterated from X0."""
    x, buf, out = X0.copy(), None, []
    for k in range(steps):
        x, buf = step(x, _grad_np(x), k, buf)
        out.append(x.copy())
    return np.array(out)


# ---- SGDW -----------------------------------------------------------------------------------

@pytest.mark.parametrize("momentum,wd", [(0.0, 0.3), (0.9, 0.3), (0.5, 0.0)])
def test_sgdw_reference(momentum, wd):
    """V <- beta V + g (V_0 = g_0, torch's first step); x <- (1 - lr wd) x - lr V."""
    lr = 0.05

    def step(x, g, k, buf):
        buf = g.copy() if buf is None else momentum * buf + g
        return (1 - lr * wd) * x - lr * buf, buf

    ours = _run(sgdm_init, sgdw_update, lr=lr, momentum=momentum, weight_decay=wd)
    np.testing.assert_allclose(ours, _np_run(step), rtol=RTOL)


def test_sgdw_without_decay_is_torch_sgd_bit_for_bit():
    a = _run(sgdm_init, sgdw_update, lr=0.05, momentum=0.9, weight_decay=0.0)
    b = _run(sgdm_init, sgdm_update, lr=0.05, momentum=0.9, dampening=0.0)
    np.testing.assert_array_equal(a, b)


def test_sgdw_and_coupled_sgd_differ_with_momentum():
    """Negative control: with momentum, coupled (torch.optim.SGD) and decoupled decay are
    different algorithms (beyond rounding)."""
    a = _run(sgdm_init, sgdw_update, lr=0.05, momentum=0.9, weight_decay=0.3)
    b = _run(sgdm_init, sgdm_update, lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.3)
    assert np.abs(a - b).max() > 1e-3


# ---- sign methods ---------------------------------------------------------------------------

def test_signsgd_coupled_and_decoupled_references():
    lr, wd = 0.05, 0.4
    coupled = _np_run(lambda x, g, k, b: (x - lr * np.sign(g + wd * x), b))
    decoupled = _np_run(lambda x, g, k, b: (x - lr * (np.sign(g) + wd * x), b))
    np.testing.assert_allclose(_run(signsgd_init, signsgd_update, lr=lr, weight_decay=wd),
                               coupled, rtol=RTOL)
    np.testing.assert_allclose(_run(signsgd_init, signsgdw_update, lr=lr, weight_decay=wd),
                               decoupled, rtol=RTOL)
    assert np.abs(coupled - decoupled).max() > 1e-3


def test_signum_coupled_and_decoupled_references():
    """Signum: m <- beta m + (1 - beta)(g + wd x), x <- x - lr sign(m);
    SignumW: m <- beta m + (1 - beta) g, x <- x - lr (sign(m) + wd x)."""
    lr, wd, beta = 0.05, 0.4, 0.8

    def coupled(x, g, k, m):
        m = (0 if m is None else beta * m) + (1 - beta) * (g + wd * x)
        return x - lr * np.sign(m), m

    def decoupled(x, g, k, m):
        m = (0 if m is None else beta * m) + (1 - beta) * g
        return x - lr * (np.sign(m) + wd * x), m

    np.testing.assert_allclose(
        _run(signum_init, signum_update, lr=lr, beta=beta, weight_decay=wd), _np_run(coupled),
        rtol=RTOL)
    np.testing.assert_allclose(
        _run(signum_init, signumw_update, lr=lr, beta=beta, weight_decay=wd),
        _np_run(decoupled), rtol=RTOL)


def test_sign_methods_without_decay_are_unchanged():
    """weight_decay = 0 gives the plain methods bit for bit (the W variants included)."""
    plain = _run(signum_init, signum_update, lr=0.05, beta=0.8)
    np.testing.assert_array_equal(
        _run(signum_init, signumw_update, lr=0.05, beta=0.8, weight_decay=0.0), plain)
    np.testing.assert_array_equal(
        _run(signsgd_init, signsgdw_update, lr=0.05), _run(signsgd_init, signsgd_update, lr=0.05))


# ---- Adam with a coupled part c and a decoupled part d --------------------------------------

def _np_adam_cd(steps, lr, b1, b2, eps, c, d):
    x, m, v, out = X0.copy(), np.zeros(7), np.zeros(7), []
    for k in range(1, steps + 1):
        g = _grad_np(x) + c * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * ((m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps) + d * x)
        out.append(x.copy())
    return np.array(out)


@pytest.mark.parametrize("c,d", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.3), (0.2, 0.1)])
def test_adam_cd_reference(c, d):
    ours = _run(adam_init, adam_cd_update, lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8,
                coupled_weight_decay=c, decoupled_weight_decay=d)
    np.testing.assert_allclose(ours, _np_adam_cd(12, 0.05, 0.9, 0.99, 1e-8, c, d), rtol=RTOL)


@pytest.mark.parametrize("torch_cls,part", [(torch.optim.Adam, "coupled_weight_decay"),
                                            (torch.optim.AdamW, "decoupled_weight_decay")])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_cd_special_cases_against_torch(torch_cls, part, betas):
    """d = 0 is torch.optim.Adam(weight_decay=c), c = 0 is torch.optim.AdamW(weight_decay=d):
    the same iterates up to float64 rounding (torch folds the bias corrections into lr and eps)."""
    p = torch.nn.Parameter(torch.tensor(X0))
    opt = torch_cls([p], lr=0.05, betas=betas, weight_decay=0.3)
    ref = []
    for _ in range(12):
        opt.zero_grad()
        torch.cosh(p - torch.tensor(TARGET)).sum().backward()
        opt.step()
        ref.append(p.detach().numpy().copy())
    ours = _run(adam_init, adam_cd_update, lr=0.05, beta1=betas[0], beta2=betas[1],
                **{part: 0.3})
    np.testing.assert_allclose(ours, ref, rtol=RTOL)


@settings(max_examples=25, deadline=None)
@given(wd=st.floats(0.0, 2.0), lr=st.floats(1e-4, 0.2), beta1=st.floats(0.0, 0.99))
def test_adam_and_adamw_are_adam_cd_bit_for_bit(wd, lr, beta1):
    """Adam is AdamCD with d = 0 and AdamW is AdamCD with c = 0: the same floats."""
    hyper = {"lr": lr, "beta1": beta1, "beta2": 0.99}
    np.testing.assert_array_equal(
        _run(adam_init, adam_update, 5, weight_decay=wd, **hyper),
        _run(adam_init, adam_cd_update, 5, coupled_weight_decay=wd, **hyper))
    np.testing.assert_array_equal(
        _run(adam_init, adamw_update, 5, weight_decay=wd, **hyper),
        _run(adam_init, adam_cd_update, 5, decoupled_weight_decay=wd, **hyper))


def test_adam_cd_covers_mt_grpo_logit_adam():
    """common.rl.task_weights.logit_adam_update (a flag picks coupled or decoupled decay) is
    AdamCD with (c, d) = (wd, 0) or (0, wd): a candidate for the lead to consolidate."""
    tw = pytest.importorskip("common.rl.task_weights")
    for decoupled in (False, True):
        state = tw.TaskWeightState(np.array(X0), np.zeros(7), np.zeros(7), 0)
        x = (torch.tensor(X0),)
        fstate = adam_init(x)
        part = "decoupled_weight_decay" if decoupled else "coupled_weight_decay"
        for _ in range(8):
            g = _grad_np(state.logits)
            state = tw.logit_adam_update(state, g, lr=0.05, weight_decay=0.3,
                                         decoupled=decoupled)
            upd, fstate, _ = adam_cd_update((torch.tensor(_grad_np(x[0].numpy())),), fstate, x,
                                            lr=0.05, **{part: 0.3})
            x = apply_updates(x, upd)
        np.testing.assert_allclose(x[0].numpy(), state.logits, rtol=RTOL)


@pytest.mark.parametrize("bad,match", [
    ({"coupled_weight_decay": -0.1}, "coupled_weight_decay"),
    ({"decoupled_weight_decay": float("nan")}, "decoupled_weight_decay")])
def test_adam_cd_validation(bad, match):
    x = (torch.ones(3),)
    with pytest.raises(ValueError, match=match):
        adam_cd_update((torch.ones(3),), adam_init(x), x, lr=0.1, **bad)


def test_decay_without_params_is_an_error():
    with pytest.raises(ValueError, match="needs params"):
        signsgdw_update((torch.ones(3),), signsgd_init(None), None, lr=0.1, weight_decay=0.1)


# ---- adapters apply the functional updates exactly ------------------------------------------

@pytest.mark.parametrize("cls,update,init,hyper,fhyper", [
    (SGDW, sgdw_update, sgdm_init, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.2},
     {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.2}),
    (SignSGDW, signsgdw_update, signsgd_init, {"lr": 0.05, "weight_decay": 0.2},
     {"lr": 0.05, "weight_decay": 0.2}),
    (Signum, signum_update, signum_init, {"lr": 0.05, "beta": 0.8, "weight_decay": 0.2},
     {"lr": 0.05, "beta": 0.8, "weight_decay": 0.2}),
    (SignumW, signumw_update, signum_init, {"lr": 0.05, "beta": 0.8, "weight_decay": 0.2},
     {"lr": 0.05, "beta": 0.8, "weight_decay": 0.2}),
    (AdamCD, adam_cd_update, adam_init,
     {"lr": 0.05, "coupled_weight_decay": 0.1, "decoupled_weight_decay": 0.2},
     {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "coupled_weight_decay": 0.1,
      "decoupled_weight_decay": 0.2})])
def test_adapters_apply_the_functional_update_exactly(cls, update, init, hyper, fhyper):
    p = torch.nn.Parameter(torch.tensor(X0))
    opt = cls([p], **hyper)
    for _ in range(12):
        opt.zero_grad()
        torch.cosh(p - torch.tensor(TARGET)).sum().backward()
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), _run(init, update, **fhyper)[-1])


@pytest.mark.parametrize("cls,kw", [(SGDW, {"weight_decay": -1.0}), (SignumW, {"beta": 1.0}),
                                    (AdamCD, {"decoupled_weight_decay": -1.0})])
def test_adapter_validation_names_the_parameter(cls, kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        cls([torch.nn.Parameter(torch.ones(2))], lr=0.1, **kw)


# ---- the decoupled decay's exact identity (arXiv 2602.16642, Thm 3.1) ----------------------

@settings(max_examples=15, deadline=None)
@given(momentum=st.sampled_from([0.0, 0.5, 0.9]), wd=st.floats(1e-3, 0.5),
       lr=st.floats(1e-3, 0.5))
def test_sgdw_shrinks_the_row_sum_exactly(momentum, wd, lr):
    """Cross-entropy gradients of a linear head have zero column sums over the classes
    (sum_k dL/dW_k = 0), so under SGDW the row sum W^T 1 shrinks by exactly (1 - lr wd) per step
    whatever the momentum; float64 over 20 steps: relative error <= 1e-10 (rounding)."""
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(30, 5, generator=gen, dtype=torch.float64), torch.arange(30) % 4
    W = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    state, s0 = sgdm_init((W,)), W.sum(0)
    for _ in range(20):
        Wr = W.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(X @ Wr.T, y).backward()
        upd, state, _ = sgdw_update((Wr.grad,), state, (W,), lr=lr, momentum=momentum,
                                    weight_decay=wd)
        (W,) = apply_updates((W,), upd)
    torch.testing.assert_close(W.sum(0), s0 * (1 - lr * wd) ** 20, rtol=1e-10, atol=1e-300)


# ---- schedules ------------------------------------------------------------------------------

def test_step_decay_thirds():
    s = step_decay_thirds(60)
    assert s.boundaries == (20, 40)
    assert [s(k) for k in (0, 19, 20, 39, 40, 59)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert step_decay_thirds(200).boundaries == (67, 133)
    assert make_schedule("constant", 5)(4) == 1.0
    assert make_schedule("step_thirds", 3000).boundaries == (1000, 2000)


def test_step_decay_drives_torch_lambda_lr():
    """The schedule is torch's LambdaLR factor, stepped once per epoch."""
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, step_decay_thirds(9))
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [0.5] * 3 + [0.05] * 3 + [0.005] * 3, rtol=1e-12)


@pytest.mark.parametrize("kw,match", [({"num_steps": 0}, "num_steps"),
                                      ({"num_steps": 9, "milestones": (0.6, 0.3)}, "milestones"),
                                      ({"num_steps": 9, "factor": 0.0}, "factor")])
def test_step_decay_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        StepDecay(**kw)
    with pytest.raises(ValueError, match="schedule"):
        make_schedule("cosine", 9)
