"""Conformance over the registry: every (optimizer, SDE) pair meets the same contract.

For every entry of ``common.sde.SDES``: both processes build from one set of arguments, their
steps run under ``jax.jit`` and ``jax.vmap``, keep the state's structure, shapes and dtype, are
deterministic given a key and differ across keys, and the pair reduces to its expected limit
(``LIMITS``; an entry without one says why in ``NO_LIMIT``). Bad parameters raise ValueError
naming the parameter and the allowed range.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import sde
from common.federated.compressors import QSGD, Identity, RandK, Sign

D = 4
F = sde.DiagQuadratic(jnp.linspace(0.5, 2.0, D))
X0 = jnp.linspace(-1.0, 1.0, D)
LR = 0.01


def _noise(kind, std=0.3):
    if kind == "dp":
        return sde.ClippedGaussianDP(sde.Gaussian(jnp.full(D, std)), clip=10.0,
                                     noise_multiplier=0.1, batch_size=3)
    return sde.Gaussian(jnp.full(D, std))


def _pair(name, std=0.3, **hyper):
    pair = sde.get(name)
    return pair.make(F, _noise(pair.noise_kind, std), LR, **hyper)


NAMES = sorted(sde.SDES)


@jax.jit
def _steps(processes, states, keys):
    """One step of every process from its state, one path per key (jit + vmap), compiled as one
    program for the whole registry (compilation dominates on CPU)."""
    return tuple(jax.vmap(p.step, in_axes=(None, 0))(s, keys) for p, s in zip(processes, states))


@functools.cache
def _contract_runs():
    """For every entry: its two processes, their initial states, and two identical calls."""
    processes = [p for name in NAMES for p in _pair(name, std=3.0)]  # noise above |grad f| <= 2
    states = [p.init(X0) for p in processes]
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    return processes, states, _steps(processes, states, keys), _steps(processes, states, keys)


@pytest.mark.parametrize("name", NAMES)
def test_pair_contract(name):
    opt, model = _pair(name)
    assert type(opt) is sde.get(name).optimizer and type(model) is sde.get(name).sde
    processes, states, first, second = _contract_runs()
    i = 2 * NAMES.index(name)
    for process, state, out, again in zip(processes[i:i + 2], states[i:i + 2], first[i:i + 2],
                                          second[i:i + 2]):
        assert type(out) is type(state)
        for before, after in zip(state, out):
            assert after.shape == (3,) + jnp.shape(before)
            assert after.dtype == jnp.asarray(before).dtype
        assert np.all(np.isfinite(out.x))
        for a, b in zip(out, again):
            np.testing.assert_array_equal(a, b)  # deterministic given the key
        # and random across keys (in some component: the AdamW SDEs' noise enters through M)
        assert any(not np.array_equal(leaf[0], leaf[1]) for leaf in out)
        assert float(process.objective.loss(out.x[0])) >= 0


def _same_step(a, b, seed=5, rtol=1e-6):
    key = jax.random.PRNGKey(seed)
    sa, sb = a.step(a.init(X0), key), b.step(b.init(X0), key)
    np.testing.assert_allclose(sa.x, sb.x, rtol=rtol, atol=1e-7)


def _limit_sgd():
    """Euler-Maruyama with dt = lr on Gaussian noise is SGD itself, draw for draw."""
    opt, model = _pair("SGD")
    _same_step(opt, model)
    full = sde.Gaussian.from_covariance(np.diag([0.1, 0.2, 0.3, 0.4]) + 0.05)
    _same_step(sde.SGD(F, full, LR), sde.SGDSDE(F, full, LR), rtol=1e-5)


def _limit_signsgd():
    """Noise -> 0: both are SignGD, x - lr sign(grad f)."""
    tiny = sde.Gaussian(jnp.full(D, 1e-6))
    signgd = X0 - LR * jnp.sign(F.grad(X0))
    for process in (sde.SignSGD(F, tiny, LR), sde.SignSGDSDE(F, tiny, LR)):
        np.testing.assert_allclose(process.step(process.init(X0), jax.random.PRNGKey(1)).x,
                                   signgd, rtol=1e-6)


def _first_step_is_signgd(opt, model):
    """Noise -> 0, beta -> 1 (rho fixed): the first step from v = 0 is SignGD for both (the
    update order at work: V_1 before X_1). beta's close to 1 make the exponential vs geometric
    bias corrections agree to 1e-3 relative, hence the tolerance."""
    signgd = X0 - LR * jnp.sign(F.grad(X0))
    for process in (opt, model):
        x1 = process.step(process.init(X0), jax.random.PRNGKey(2)).x
        np.testing.assert_allclose(x1, signgd, rtol=0, atol=LR * 2e-3)


def _limit_rmspropw():
    tiny = sde.Gaussian(jnp.full(D, 1e-6))
    # RMSprop's first step is lr g / sqrt((1 - beta) g^2) = lr sign(g) / sqrt(1 - beta)
    opt, model = (cls(F, tiny, LR * np.sqrt(1e-4), beta=1 - 1e-4)
                  for cls in (sde.RMSpropW, sde.RMSpropWSDE))
    signgd = X0 - LR * jnp.sign(F.grad(X0))
    for process in (opt, model):
        x1 = process.step(process.init(X0), jax.random.PRNGKey(2)).x
        np.testing.assert_allclose(x1, signgd, rtol=0, atol=LR * 1e-3)


def _limit_adamw():
    tiny = sde.Gaussian(jnp.full(D, 1e-6))
    _first_step_is_signgd(*(cls(F, tiny, LR, beta1=0.999, beta2=0.9999)
                            for cls in (sde.AdamW, sde.AdamWSDE)))


def _limit_dcsgd():
    """N = 1 and no compression: the DCSGD SDE is the SGD SDE, draw for draw."""
    g = _noise("additive")
    _same_step(sde.DCSGDSDE(F, g, LR, compressor=Identity(), num_clients=1),
               sde.SGDSDE(F, g, LR))


def _limit_dsignsgd():
    """N = 1: the DSignSGD SDE is the SignSGD SDE, draw for draw."""
    g = _noise("additive")
    _same_step(sde.DSignSGDSDE(F, g, LR, num_clients=1), sde.SignSGDSDE(F, g, LR))


def _dp_plain(example):
    return sde.ClippedGaussianDP(example, clip=np.inf, noise_multiplier=0.0, batch_size=1)


def _limit_dp_sgd():
    """No clipping, no DP noise, B = 1: DP-SGD's SDE is SGD's with the example noise."""
    g = _noise("additive")
    _same_step(sde.DPSGDSDE(F, _dp_plain(g), LR), sde.SGDSDE(F, g, LR))


def _limit_dp_signsgd():
    g = _noise("additive")
    _same_step(sde.DPSignSGDSDE(F, _dp_plain(g), LR), sde.SignSGDSDE(F, g, LR), rtol=1e-5)


LIMITS = {
    "SGD": _limit_sgd, "SignSGD": _limit_signsgd, "RMSpropW": _limit_rmspropw,
    "AdamW": _limit_adamw, "DCSGD": _limit_dcsgd, "DSignSGD": _limit_dsignsgd,
    "DP-SGD": _limit_dp_sgd, "DP-SignSGD": _limit_dp_signsgd,
}
NO_LIMIT = {
    "AdamW (Malladi-style)": "a baseline: its first X step is 0 (X sees M_0 = 0) and its V "
                             "ignores (grad f)^2, so it has no noise-free limit equal to AdamW's; "
                             "its failure to track is asserted in test_tracking",
}


def test_limits_cover_the_registry():
    assert set(LIMITS) | set(NO_LIMIT) == set(sde.SDES)
    assert not set(LIMITS) & set(NO_LIMIT)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_reduces_to_its_limit(name):
    LIMITS[name]()


@pytest.mark.parametrize("make,match", [
    (lambda: sde.SGD(F, _noise("additive"), -0.1), r"lr=-0.1: must be in \(0, inf\)"),
    (lambda: sde.SGDSDE(F, _noise("additive"), 0.0), r"lr=0: must be in \(0, inf\)"),
    (lambda: sde.SGDSDE(F, sde.StudentT(2.0, jnp.ones(D)), LR), "finite covariance"),
    (lambda: sde.SGD(F, sde.Gaussian(jnp.ones(3)), LR), "noise has dimension 3: must match"),
    (lambda: sde.SignSGDSDE(F, sde.Gaussian.from_covariance(np.eye(D)), LR),
     "independent noise coordinates"),
    (lambda: sde.DCSGD(F, _noise("additive"), LR, num_clients=0),
     "num_clients=0: must be an integer >= 1"),
    (lambda: sde.DCSGDSDE(F, sde.StudentT(1.5, jnp.ones(D)), LR), "nu <= 2 it is ill-defined"),
    (lambda: sde.AdamW(F, _noise("additive"), LR, beta1=1.0), r"beta1=1: must be in \[0, 1\)"),
    (lambda: sde.AdamWSDE(F, _noise("additive"), LR, beta1=0.0), r"beta1=0: must be in \(0, 1\)"),
    (lambda: sde.RMSpropW(F, _noise("additive"), LR, eps=0.0), r"eps=0: must be in \(0, inf\)"),
    (lambda: sde.RMSpropWSDE(F, _noise("additive"), LR, weight_decay=-1.0),
     r"weight_decay=-1: must be in \[0, inf\)"),
    (lambda: sde.DPSGDSDE(F, _noise("additive"), LR), "takes a ClippedGaussianDP"),
    (lambda: sde.SGDSDE(F, _noise("dp"), LR), "for ClippedGaussianDP use DPSGDSDE"),
    (lambda: sde.DiagQuadratic(jnp.array([1.0, 0.0])), "h=.*must be in"),
    (lambda: sde.DCSGD(F, _noise("additive"), LR, compressor=RandK(5)),
     r"k=5: must be an integer in \[1, d=4\]"),
    (lambda: sde.DCSGD(F, _noise("additive"), LR, compressor=QSGD(2)), "samples only"),
    (lambda: sde.DCSGDSDE(F, _noise("additive"), LR, compressor=Sign()), "unbiased"),
    (lambda: sde.get("Lion"), "not registered"),
])
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_x0_shape_is_checked():
    opt, _ = _pair("SGD")
    with pytest.raises(ValueError, match="x0 has length 3: must match the dimension d=4"):
        opt.init(jnp.ones(3))
    with pytest.raises(ValueError, match="x0 has shape"):
        opt.init(jnp.ones((2, 2)))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.floats(-1e3, -1e-6) | st.just(0.0) | st.just(float("nan")))
def test_nonpositive_lr_is_rejected_for_every_pair(lr):
    for pair in sde.SDES.values():
        noise = _noise(pair.noise_kind)
        for cls in (pair.optimizer, pair.sde):
            with pytest.raises(ValueError, match="lr=.*must be in"):
                cls(F, noise, lr, **pair.hyper)


def test_sweeping_a_hyperparameter_reuses_the_compiled_step():
    """Hyperparameters are pytree leaves: a vmap over lr runs one program for all of them."""
    lrs = jnp.array([1e-3, 1e-2, 1e-1])
    g = _noise("additive")
    x1 = jax.vmap(lambda lr: sde.SGDSDE(F, g, lr).step(sde.State(X0), jax.random.PRNGKey(0)).x)(lrs)
    for i, lr in enumerate(lrs):
        np.testing.assert_allclose(
            x1[i], sde.SGDSDE(F, g, float(lr)).step(sde.State(X0), jax.random.PRNGKey(0)).x,
            rtol=1e-6)
