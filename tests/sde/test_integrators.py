"""Integrators: weak order on an Ornstein-Uhlenbeck process, schemes as data, update orders,
and the contract of ``simulate`` (keys, shapes, records).

Weak order. dX = -lam X dt + s dW, X_0 = 1, has E X_T = e^{-lam T} and
E X_T^2 = e^{-2 lam T} + s^2 (1 - e^{-2 lam T}) / (2 lam). Each scheme is run for n = 4, 8, 16, 32
steps to T = 1 with 2^15 paths. Monte Carlo error is removed with a control variate written here,
independently of the library: the exact OU transition Y_{k+1} = e^{-lam dt} Y_k + s sqrt((1 -
e^{-2 lam dt}) / (2 lam)) xi_k driven by the *same* normals xi_k as the scheme (the documented key
contract: a step with key k uses dW = sqrt(dt) normal(k, x.shape)). Y_T has the exact law, so
mean(phi(X_T) - phi(Y_T)) estimates the weak error without bias, and since X - Y is O(dt) pathwise
(O(dt^2) for Heun) its standard error shrinks with dt like the error itself. Bands:

- the estimated errors equal the schemes' exact errors (computed here from their linear
  recursions) within Z_BAND standard errors: an implementation test of every step size;
- the fitted order over n = 4..32 is in [0.85, 1.25] for Euler-Maruyama (the exact slopes over this
  range are 1.04-1.17 for E X and E X^2: pre-asymptotic terms push them above 1) and in [1.8, 2.3]
  for Heun (exact 2.02-2.14); the fitted slopes' standard errors are below 0.01, so the bands are
  wide for the Monte Carlo and tight enough to tell order 1 from order 2.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.sde import (
    ADAMW_ORDER,
    ADAMW_ORDER_M_FIRST,
    EULER_MARUYAMA,
    HEUN,
    SDE,
    SGDSDE,
    AdamW,
    AdamWSDE,
    DiagQuadratic,
    Gaussian,
    Scheme,
    SignSGD,
    State,
    Tableau,
    integrate_step,
    simulate,
    simulate_many,
)
from common.sde._base import pytree_dataclass, static
from tests.sde._stats import Z_BAND

LAM, S, T = 1.0, 1.0, 1.0
NS = (4, 8, 16, 32)
PATHS = 2**15


@pytree_dataclass
class OU(SDE):
    """dX = -lam X dt + s dW (a test SDE; ``lr`` is the time step)."""

    lam: jax.Array
    s: jax.Array
    lr: jax.Array
    scheme: Scheme = static(Scheme())

    def drift(self, state):
        return State(-self.lam * state.x)

    def diffusion(self, state, dw):
        return {"x": self.s * dw}


@jax.jit
def _errors(sde, n, key):
    """(mean(X_T - Y_T), SE, mean(X_T^2 - Y_T^2), SE) over PATHS paths; n is traced."""
    dt = sde.lr
    alpha = jnp.exp(-sde.lam * dt)
    beta = sde.s * jnp.sqrt(-jnp.expm1(-2 * sde.lam * dt) / (2 * sde.lam))

    def path(key):
        def body(k, carry):
            x, y = carry
            kk = jax.random.fold_in(key, k)
            x = integrate_step(sde, x, kk, dt, sde.scheme)
            y = alpha * y + beta * jax.random.normal(kk, (1,))  # same normals as the scheme
            return x, y

        return jax.lax.fori_loop(0, n, body, (State(jnp.ones(1)), jnp.ones(1)))

    x, y = jax.vmap(path)(jax.random.split(key, PATHS))
    d1, d2 = (x.x - y)[:, 0], (x.x**2 - y**2)[:, 0]
    se = lambda v: jnp.std(v) / jnp.sqrt(v.size)  # noqa: E731
    return jnp.stack([d1.mean(), se(d1), d2.mean(), se(d2)])


def _exact_scheme_errors(tableau, n):
    """Weak errors of the scheme itself, from its exact linear recursion on the OU process."""
    dt = T / n
    if tableau is EULER_MARUYAMA:
        a, b2 = 1 - LAM * dt, S * S * dt
    else:  # Heun: X1 = X + f(X) dt + s dW; X+ = X + (f(X) + f(X1)) dt / 2 + s dW
        a, b2 = 1 - LAM * dt + (LAM * dt) ** 2 / 2, S * S * dt * (1 - LAM * dt / 2) ** 2
    m, q = a**n, 1.0
    for _ in range(n):
        q = a * a * q + b2
    exact_m = math.exp(-LAM * T)
    exact_q = exact_m**2 + S * S * (1 - math.exp(-2 * LAM * T)) / (2 * LAM)
    return m - exact_m, q - exact_q


@pytest.mark.parametrize("tableau,band", [(EULER_MARUYAMA, (0.85, 1.25)), (HEUN, (1.8, 2.3))])
def test_weak_order_on_ornstein_uhlenbeck(tableau, band):
    errs = []
    for i, n in enumerate(NS):
        sde = OU(LAM, S, T / n, Scheme(tableau))
        e1, s1, e2, s2 = map(float, _errors(sde, n, jax.random.PRNGKey(100 + i)))
        x1, x2 = _exact_scheme_errors(tableau, n)
        # float32 paths: the per-step rounding (1e-7 relative) adds < 1e-6 to each estimate
        assert abs(e1 - x1) <= Z_BAND * s1 + 1e-6, (tableau.name, n, "E X", e1, x1, s1)
        assert abs(e2 - x2) <= Z_BAND * s2 + 1e-6, (tableau.name, n, "E X^2", e2, x2, s2)
        errs.append((e1, e2))
    log_dt = np.log([T / n for n in NS])
    for j, label in enumerate(("E X_T", "E X_T^2")):
        order = np.polyfit(log_dt, np.log(np.abs([e[j] for e in errs])), 1)[0]
        assert band[0] <= order <= band[1], f"{tableau.name} weak order of {label}: {order:.3f}"


def test_tableaux_are_validated():
    with pytest.raises(ValueError, match="sum to 1"):
        Tableau("bad", a=((), (1.0,)), c=(0.0, 1.0), w=(0.5, 0.6), weak_order=1.0)
    with pytest.raises(ValueError, match="rows of length"):
        Tableau("bad", a=((0.0,),), c=(0.0,), w=(1.0,), weak_order=1.0)
    with pytest.raises(ValueError, match="every state component"):
        Scheme(order=(("x",),)).groups(("x", "v"))


def test_heun_equals_euler_maruyama_without_drift():
    """With a constant (here zero) drift every Runge-Kutta scheme gives the same step."""
    sde_em = OU(0.0, 0.7, 0.1, Scheme(EULER_MARUYAMA))
    sde_heun = OU(0.0, 0.7, 0.1, Scheme(HEUN))
    key = jax.random.PRNGKey(3)
    x = State(jnp.arange(3.0))
    a = integrate_step(sde_em, x, key, 0.1, sde_em.scheme)
    b = integrate_step(sde_heun, x, key, 0.1, sde_heun.scheme)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-6)


def test_update_order_keeps_the_adamw_sde_finite():
    """Pitfall 2 of the adaptive-sde notes: from V_0 = 0, t_0 = 0, advancing everything at once
    divides by zero (iota(0) = 0) and, at t > 0, by eps; (t, V) first gives AdamW's first step."""
    f, noise = DiagQuadratic(jnp.linspace(0.5, 5, 10)), Gaussian(jnp.full(10, 1e-3))
    staggered = AdamWSDE(f, noise, 1e-3, beta1=0.999, beta2=0.9999)
    at_once = AdamWSDE(f, noise, 1e-3, beta1=0.999, beta2=0.9999, scheme=Scheme())
    key, x0 = jax.random.PRNGKey(0), jnp.ones(10)
    good = staggered.step(staggered.init(x0), key)
    bad = at_once.step(at_once.init(x0), key)
    assert not np.all(np.isfinite(bad.x))
    # AdamW's first step is x0 - lr sign(g) up to the noise (sigma = 1e-3 << |g| >= 0.5) and the
    # exponential vs geometric bias corrections (relative 1 - beta ~ 1e-3 here)
    opt = AdamW(f, noise, 1e-3, beta1=0.999, beta2=0.9999)
    first = opt.step(opt.init(x0), key)
    np.testing.assert_allclose(good.x, first.x, rtol=0, atol=1e-3 * 1e-2)


@pytest.mark.parametrize("order", [ADAMW_ORDER, ADAMW_ORDER_M_FIRST])
def test_adamw_sde_update_orders_against_a_hand_written_step(order):
    """One Euler-Maruyama step of the AdamW SDE in NumPy, for the default order ((t, V) then
    (M, X) together) and the notes' order ((t, V), then M, then X): X's drift reads V_{n+1} and
    t_{n+1} in both, and M_n (default) or M_{n+1}, fresh noise included (M first)."""
    d, lr, b1, b2, eps, theta = 4, 1e-2, 0.9, 0.99, 1e-8, 0.3
    h, sigma = np.linspace(0.5, 2.0, d), np.linspace(0.2, 0.5, d)
    f, noise = DiagQuadratic(jnp.asarray(h)), Gaussian(jnp.asarray(sigma))
    process = AdamWSDE(f, noise, lr, beta1=b1, beta2=b2, eps=eps, weight_decay=theta,
                       scheme=Scheme(order=order))
    x, m, v, t = np.linspace(-1, 1, d), np.linspace(0.1, 0.4, d), np.linspace(0.2, 0.5, d), 0.05
    state = process.init(jnp.asarray(x, jnp.float32))._replace(
        m=jnp.asarray(m, jnp.float32), v=jnp.asarray(v, jnp.float32), t=jnp.float32(t))
    key = jax.random.PRNGKey(5)
    out = process.step(state, key)
    dw = math.sqrt(lr) * np.asarray(jax.random.normal(key, (d,)), float)
    rho1, rho2 = (1 - b1) / lr, (1 - b2) / lr
    g = h * x
    v1, t1 = v + lr * rho2 * (g**2 + sigma**2 - v), t + lr
    m1 = m + lr * rho1 * (g - m) + math.sqrt(lr) * rho1 * sigma * dw
    m_seen = m1 if order == ADAMW_ORDER_M_FIRST else m
    iota1, iota2 = 1 - math.exp(-rho1 * t1), 1 - math.exp(-rho2 * t1)
    direction = m_seen + lr * rho1 * (g - m_seen)
    x1 = x + lr * (-math.sqrt(iota2) / iota1 * direction / (np.sqrt(v1) + eps * math.sqrt(iota2))
                   - theta * x)
    # float32 state against float64 arithmetic: a few ulps of the O(1) entries
    for got, want in ((out.x, x1), (out.m, m1), (out.v, v1)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=2e-6)
    assert order != ADAMW_ORDER_M_FIRST or not np.allclose(
        np.asarray(out.x), np.asarray(AdamWSDE(f, noise, lr, beta1=b1, beta2=b2, eps=eps,
                                               weight_decay=theta).step(state, key).x))


# --- simulate: keys, records, shapes

def _sgd_sde(d=3):
    return SGDSDE(DiagQuadratic(jnp.linspace(1.0, 2.0, d)), Gaussian(jnp.full(d, 0.3)), 0.05)


def test_simulate_path_does_not_depend_on_num_paths_or_record_every():
    sde, x0, key = _sgd_sde(), jnp.ones(3), jax.random.PRNGKey(7)
    a = simulate(sde, x0, key, num_steps=20, num_paths=5, keep_paths=True)
    b = simulate(sde, x0, key, num_steps=20, num_paths=2, record_every=5, keep_paths=True)
    np.testing.assert_array_equal(a.paths[::5, :2], b.paths)
    np.testing.assert_array_equal(a.final_state.x[:2], b.final_state.x)


def test_simulate_many_equals_separate_runs():
    sde_a = _sgd_sde()
    opt_b = SignSGD(sde_a.objective, sde_a.noise, 0.05)
    x0, keys = jnp.ones(3), (jax.random.PRNGKey(1), jax.random.PRNGKey(2))
    run = {"num_steps": 20, "num_paths": 2, "record_every": 5, "keep_paths": True}
    both = simulate_many((sde_a, opt_b), x0, keys, **run)
    for process, key, traj in zip((sde_a, opt_b), keys, both):
        np.testing.assert_array_equal(traj.paths, simulate(process, x0, key, **run).paths)
    with pytest.raises(ValueError, match="one key per process"):
        simulate_many((sde_a, opt_b), x0, keys[:1], **run)


def test_simulate_records_and_shapes():
    sde, x0 = _sgd_sde(), jnp.ones(3)
    traj = simulate(sde, x0, jax.random.PRNGKey(1), num_steps=20, num_paths=5, record_every=5,
                    quantiles=(0.1, 0.5, 0.9), keep_paths=True)
    assert traj.steps.tolist() == [0, 5, 10, 15, 20]
    assert traj.mean.shape == traj.std.shape == (5,)
    assert traj.quantiles.shape == (3, 5) and traj.paths.shape == (5, 5)
    assert traj.final_state.x.shape == (5, 3)
    np.testing.assert_allclose(traj.mean, traj.paths.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(traj.std, traj.paths.std(axis=1), rtol=1e-5)
    np.testing.assert_allclose(traj.quantiles[1], np.median(traj.paths, axis=1), rtol=1e-6)
    assert float(traj.mean[0]) == pytest.approx(float(sde.objective.loss(x0)))
    again = simulate(sde, x0, jax.random.PRNGKey(1), num_steps=20, num_paths=5, record_every=5,
                     quantiles=(0.1, 0.5, 0.9), keep_paths=True)
    np.testing.assert_array_equal(traj.paths, again.paths)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_steps": 0}, "num_steps=0: must be an integer >= 1"),
    ({"num_paths": 1.5}, "num_paths=1.5: must be an integer >= 1"),
    ({"record_every": 3}, "record_every=3: must divide num_steps=20"),
    ({"quantiles": (1.5,)}, r"quantiles=\(1.5,\): each must be in \[0, 1\]"),
])
def test_simulate_validates(kwargs, match):
    base = {"num_steps": 20, "num_paths": 5}
    with pytest.raises(ValueError, match=match):
        simulate(_sgd_sde(), jnp.ones(3), jax.random.PRNGKey(0), **{**base, **kwargs})
    with pytest.raises(ValueError, match="x0 has length 2: must match the dimension d=3"):
        simulate(_sgd_sde(), jnp.ones(2), jax.random.PRNGKey(0), **base)


@pytest.mark.parametrize("impl", ["threefry2x32", "philox4x32"])
def test_simulate_noise_is_standard_normal_for_each_key_impl(impl):
    """The opt-in faster generator (a ``philox4x32`` key, see ``simulate``) keeps the contract: one
    SGD SDE step from x0 = 0 is -lr sigma xi, and xi passes a KS test against N(0, 1) (KS_ALPHA);
    paths do not depend on ``num_paths``."""
    from scipy import stats

    from tests.sde._stats import KS_ALPHA

    sde, key = _sgd_sde(), jax.random.key(3, impl=impl)
    traj = simulate(sde, jnp.zeros(3), key, num_steps=1, num_paths=8000)
    xi = -np.asarray(traj.final_state.x) / (0.05 * 0.3)
    assert stats.kstest(xi.ravel(), "norm").pvalue > KS_ALPHA
    few = simulate(sde, jnp.zeros(3), key, num_steps=1, num_paths=5)
    np.testing.assert_array_equal(np.asarray(few.final_state.x), np.asarray(traj.final_state.x)[:5])
