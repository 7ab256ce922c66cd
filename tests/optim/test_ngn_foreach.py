"""The foreach (multi-tensor, in-place) path of the NGN-family adapters against their functional
path (issue 29, deliverable 4).

Reference: the functional update (``foreach=False``), itself checked against NumPy references in
test_ngn.py. Both paths run the same operations in the same order, so in float64 they agree to
the last bits; tolerances: float64 ``rtol=1e-12`` over 8 steps (NGN-MDv2 and NGN-D compute
``c / x`` as ``c * (1 / x)``, one rounding apart per step; the iteration amplifies it by at most
a few units), float32 ``rtol=1e-5`` (a few float32 ulps, 1.2e-7 each, amplified over 8 steps
of a tanh network); a wrong coefficient (beta, 1 - beta, the bias correction) moves the
parameters by >= 1e-3 relative here.
The optimizers have no weight decay, so there is none to compare.
"""

from __future__ import annotations

import pytest
import torch

from common.optim import NGN, NGNM, NGNMD

CASES = [
    ("NGN", NGN, {"c": 0.7}),
    ("NGN-M", NGNM, {"c": 0.7, "beta": 0.8}),
    ("NGN-MDv1", NGNMD, {"c": 0.05, "version": "v1"}),
    ("NGN-MDv2", NGNMD, {"c": 0.05, "version": "v2"}),
    ("NGN-D", NGNMD, {"c": 0.05, "beta1": 0.0, "version": "v2"}),
]


def _model(dtype, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3),
                                torch.nn.Tanh(), torch.nn.Linear(3, 1)).to(dtype)
    X, y = torch.randn(32, 6, dtype=dtype), torch.randn(32, 1, dtype=dtype)
    return model, X, y


def _groups(model, cls):
    """Two parameter groups with different step sizes (NGN-MD takes one group only)."""
    params = list(model.parameters())
    if cls is NGNMD:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "c": 0.2}]


def _run(cls, hyper, name, dtype, foreach, steps=8, switch_at=None):
    model, X, y = _model(dtype)
    opt = cls(_groups(model, cls), foreach=foreach, **hyper)

    def closure():
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        return loss

    sizes = []
    for k in range(steps):
        if switch_at is not None and k == switch_at:  # continue on the other path from its state
            sd = opt.state_dict()
            opt = cls(_groups(model, cls), foreach=not foreach, **hyper)
            opt.load_state_dict(sd)
        opt.step(closure)
        sizes.append(opt.last_step_size)
    return [p.detach().clone() for p in model.parameters()], sizes, opt


@pytest.mark.parametrize("name,cls,hyper", CASES)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_foreach_equals_functional(name, cls, hyper, dtype, rtol):
    fast, sizes_fast, opt_fast = _run(cls, hyper, name, dtype, foreach=True)
    slow, sizes_slow, opt_slow = _run(cls, hyper, name, dtype, foreach=False)
    for p, q in zip(fast, slow, strict=True):
        torch.testing.assert_close(p, q, rtol=rtol, atol=rtol * 1e-2)
    assert sizes_fast == pytest.approx(sizes_slow, rel=rtol)
    # the state is the same too (so state_dict moves between the paths)
    for g_fast, g_slow in zip(opt_fast.param_groups, opt_slow.param_groups, strict=True):
        a, b = opt_fast._load(g_fast["params"]), opt_slow._load(g_slow["params"])
        assert a.count == b.count == 8
        for field in cls.per_param:
            for s, t in zip(getattr(a, field), getattr(b, field), strict=True):
                torch.testing.assert_close(s, t, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("name,cls,hyper", CASES)
def test_state_dict_moves_between_the_paths(name, cls, hyper):
    ref, _, _ = _run(cls, hyper, name, torch.float64, foreach=False)
    for start in (True, False):
        mixed, _, _ = _run(cls, hyper, name, torch.float64, foreach=start, switch_at=4)
        for p, q in zip(mixed, ref, strict=True):
            torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_foreach_is_the_default_for_one_device_and_dtype():
    model, _, _ = _model(torch.float32)
    opt = NGNM(model.parameters(), c=1.0)
    group = opt.param_groups[0]
    for p in group["params"]:
        p.grad = torch.ones_like(p)
    assert group["foreach"] is None and opt._uses_foreach(group, group["params"])
    off = NGNM(model.parameters(), foreach=False)
    assert not off._uses_foreach(off.param_groups[0], group["params"])
    # mixed dtypes: the automatic rule falls back to the functional path, foreach=True refuses
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    a.grad, b.grad = torch.ones(3), torch.ones(2, dtype=torch.float64)
    mixed = NGNM([a, b], c=1.0)
    assert not mixed._uses_foreach(mixed.param_groups[0], [a, b])
    mixed.step(lambda: torch.tensor(1.0))  # runs on the functional path
    forced = NGNM([a, b], c=1.0, foreach=True)
    with pytest.raises(ValueError, match="one device and of one dtype"):
        forced.step(lambda: torch.tensor(1.0))


def test_bad_foreach_values_are_named():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="foreach="):
        NGN([p], foreach="yes")


@pytest.mark.parametrize("name,cls,hyper", CASES[:3])
def test_foreach_is_bitwise_the_functional_update_on_cpu(name, cls, hyper):
    """NGN, NGN-M and NGN-MDv1 run the functional update's operations in its order; on a CPU
    torch's foreach kernels loop over the same per-tensor kernels, so the results are identical
    (which keeps the notebooks' float32 outputs unchanged). NGN-MDv2/NGN-D are one rounding apart
    (``c * (1 / x)``), so they are checked to tolerance above only."""
    fast, sizes_fast, _ = _run(cls, hyper, name, torch.float32, foreach=True)
    slow, sizes_slow, _ = _run(cls, hyper, name, torch.float32, foreach=False)
    for p, q in zip(fast, slow, strict=True):
        assert torch.equal(p, q)
    assert sizes_fast == sizes_slow
