"""Noise models, the DP mechanism and the JAX sampling of the compressors against independent
references.

- KS tests of every generator against scipy's distributions (p > KS_ALPHA = 1e-8 each; with the
  suite's budget this keeps a correct implementation's failure probability below 1e-6).
- Closed-form E[sign(mu + Z)] against scipy's CDFs, the Student-t special cases nu = 1, 2, and a
  Monte Carlo average of signs.
- The DP mechanism: no clipping gives N(grad, sigma_b^2 / B + sigma_DP^2); norms never exceed C;
  with every example clipped, sign(g~) does not depend on C, bit for bit.
- Compressors: unbiased with E||C(x) - x||^2 = omega ||x||^2 (Monte Carlo, Z_BAND bands).
"""

from __future__ import annotations

import functools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from common.federated.compressors import Bernoulli, Identity, RandK
from common.sde import (
    ClippedGaussianDP,
    DiagQuadratic,
    Gaussian,
    StudentT,
    compress,
    injected_gradient,
    sign_mean_gaussian,
    sign_mean_student_t,
    student_t_density_at_zero,
)
from tests.sde._stats import KS_ALPHA, Z_BAND

N_KS = 20_000  # KS rejects a 3 % error in a scale parameter at this size (D ~ 0.012 > 0.006)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@partial(jax.jit, static_argnums=2)
def _sample(noise, key, n):
    return noise.sample(key, (n,))


@partial(jax.jit, static_argnums=3)
def _perturb_many(mech, key, grad, n):
    return jax.vmap(mech.perturb, in_axes=(0, None))(jax.random.split(key, n), grad)


_sign_mean_t = jax.jit(sign_mean_student_t)


def _ks(sample, cdf, label):
    p = stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), cdf).pvalue
    assert p > KS_ALPHA, f"{label}: KS p-value {p:.2g}"


def test_gaussian_diagonal_ks():
    std = jnp.array([0.1, 1.0, 3.0])
    z = _sample(Gaussian(std), jax.random.PRNGKey(0), N_KS)
    assert z.shape == (N_KS, 3)
    for j in range(3):
        _ks(z[:, j] / std[j], stats.norm.cdf, f"Gaussian coordinate {j}")


def test_gaussian_full_covariance_ks_and_moments():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    cov = A @ A.T + 0.5 * np.eye(4)
    noise = Gaussian.from_covariance(cov)
    z = np.asarray(_sample(noise, jax.random.PRNGKey(1), N_KS), dtype=np.float64)
    # whitened by an independent square root (Cholesky), every coordinate is N(0, 1)
    white = np.linalg.solve(np.linalg.cholesky(cov), z.T).T
    for j in range(4):
        _ks(white[:, j], stats.norm.cdf, f"whitened coordinate {j}")
    # sample covariance: each entry's SE is at most sqrt((c_ii c_jj + c_ij^2) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / N_KS)
    assert np.all(np.abs(np.cov(z.T) - cov) <= Z_BAND * se)
    np.testing.assert_allclose(noise.variance(), np.diag(cov), rtol=1e-5)
    assert not noise.is_diagonal


@pytest.mark.parametrize("nu", [0.5, 1.0, 1.5, 3.0, 30.0])
def test_student_t_ks(nu):
    scale = jnp.array([0.5, 2.0])
    z = _sample(StudentT(nu, scale), jax.random.PRNGKey(int(10 * nu)), N_KS)
    for j in range(2):
        _ks(z[:, j] / scale[j], stats.t(nu).cdf, f"Student-t nu={nu} coordinate {j}")


def test_student_t_variance():
    np.testing.assert_allclose(StudentT(3.0, jnp.array([2.0])).variance(), [12.0], rtol=1e-6)
    assert np.isinf(StudentT(2.0, jnp.ones(1)).variance()).all()
    assert np.isinf(StudentT(1.0, jnp.ones(1)).variance()).all()


@SETTINGS
@given(st.floats(-30, 30), st.floats(0.3, 1e5))
def test_sign_mean_student_t_against_scipy(z, nu):
    got = float(_sign_mean_t(jnp.float32(z), jnp.float32(nu)))
    want = 2 * stats.t(nu).cdf(z) - 1
    # float32: at most 2e-5 absolute (betainc up to nu = 120, a normal approximation above)
    assert got == pytest.approx(want, abs=3e-5)


@SETTINGS
@given(st.floats(-50, 50))
def test_sign_mean_special_cases(z):
    x = jnp.float32(z)
    assert float(_sign_mean_t(x, 1.0)) == pytest.approx(2 / np.pi * np.arctan(z), abs=1e-5)
    assert float(_sign_mean_t(x, 2.0)) == pytest.approx(z / np.sqrt(2 + z * z), abs=1e-5)
    assert float(sign_mean_gaussian(x)) == pytest.approx(2 * stats.norm.cdf(z) - 1, abs=1e-6)
    # odd, bounded
    assert float(_sign_mean_t(-x, 3.0)) == -float(_sign_mean_t(x, 3.0))
    assert abs(float(_sign_mean_t(x, 0.7))) <= 1.0


def test_sign_mean_monotone_and_gaussian_limit():
    z = jnp.linspace(-5, 5, 401)
    for nu in (0.5, 1.0, 4.0):
        assert np.all(np.diff(np.asarray(_sign_mean_t(z, nu))) >= 0)
    # t_nu -> N(0, 1): |2 F_nu - 1 - erf(z / sqrt 2)| = O(1/nu), 3.2e-5 at nu = 1e4 (scipy)
    for nu in (50.0, 500.0, 1e4):
        want = 2 * stats.t(nu).cdf(np.asarray(z, dtype=np.float64)) - 1
        np.testing.assert_allclose(_sign_mean_t(z, nu), want, atol=2e-5)
    np.testing.assert_allclose(_sign_mean_t(z, 1e4), sign_mean_gaussian(z), atol=1e-4)
    # small-SNR slope 2 p(0) (the phase-3 constant): 0.637 (nu=1), 0.707 (nu=2)
    np.testing.assert_allclose(2 * student_t_density_at_zero(jnp.array([1.0, 2.0])),
                               [2 / np.pi, 1 / np.sqrt(2)], rtol=1e-6)


@pytest.mark.parametrize("noise", [Gaussian(jnp.array([0.5, 2.0])),
                                   StudentT(1.5, jnp.array([0.5, 2.0]))], ids=["gauss", "t1.5"])
def test_sign_mean_matches_monte_carlo(noise):
    mu = jnp.array([0.5, -1.0])
    # band Z_BAND / sqrt(N_KS) = 0.042, against a Gaussian vs t_1.5 difference of 0.10 here
    signs = jnp.sign(mu + _sample(noise, jax.random.PRNGKey(5), N_KS))
    se = np.sqrt(1.0 / N_KS)  # the variance of a sign is at most 1
    np.testing.assert_array_less(np.abs(signs.mean(0) - noise.sign_mean(mu)), Z_BAND * se)


def test_injected_gradient_is_grad_plus_noise():
    f, noise = DiagQuadratic(jnp.array([1.0, 2.0])), Gaussian(jnp.array([0.1, 0.2]))
    oracle = injected_gradient(f.grad, noise)
    key, x = jax.random.PRNGKey(0), jnp.array([1.0, 1.0])
    np.testing.assert_allclose(oracle(key, x), f.grad(x) + noise.sample(key), rtol=1e-6)


# --- DP mechanism

DP_D, DP_B = 10, 4  # one shape for the DP tests below: they share one compiled program


def test_dp_without_clipping_is_gaussian():
    """C far above every norm: g~ - grad ~ N(0, sigma_b^2 / B + sigma_DP^2) per coordinate."""
    d, B = DP_D, DP_B
    grad = jnp.linspace(-1, 1, d)
    mech = ClippedGaussianDP(Gaussian(jnp.full(d, 0.7)), clip=1e4, noise_multiplier=0.5 * B / 1e4,
                             batch_size=B)
    assert float(mech.sigma_dp) == pytest.approx(0.5)
    g = _perturb_many(mech, jax.random.PRNGKey(2), grad, N_KS)
    s = np.sqrt(0.7**2 / B + 0.5**2)
    for j in range(d):
        _ks((g[:, j] - grad[j]) / s, stats.norm.cdf, f"DP phase 2, coordinate {j}")
    c, var = mech.moments(grad)
    assert np.all(np.asarray(c) == 1.0)
    np.testing.assert_allclose(var, np.full(d, s * s), rtol=1e-5)


def _per_example_norm_bound(mech, grad, key):
    """Reproduce perturb's per-example vectors and check each clipped one has norm <= C."""
    k_ex, _ = jax.random.split(key)
    per = grad + mech.example_noise.sample(k_ex, (mech.batch_size,))
    clipped = per * np.minimum(1.0, mech.clip / np.linalg.norm(per, axis=-1, keepdims=True))
    return np.linalg.norm(clipped, axis=-1)


def test_dp_clipping_bounds_norms_and_matches_a_reference():
    d, B, C = 6, 5, 0.3
    mech = ClippedGaussianDP(Gaussian(jnp.ones(d)), clip=C, noise_multiplier=0.0, batch_size=B)
    grad, key = jnp.linspace(0, 2, d), jax.random.PRNGKey(4)
    assert np.all(_per_example_norm_bound(mech, grad, key) <= C * (1 + 1e-6))
    # reference: the clipped mean written the usual way (sigma = 0)
    k_ex, _ = jax.random.split(key)
    per = np.asarray(grad + mech.example_noise.sample(k_ex, (B,)), dtype=np.float64)
    ref = (per * np.minimum(1, C / np.linalg.norm(per, axis=1, keepdims=True))).mean(0)
    np.testing.assert_allclose(mech.perturb(key, grad), ref, rtol=1e-5, atol=1e-7)


def test_dp_signsgd_is_exactly_invariant_to_the_clip_when_all_clipped():
    """dp-sde claim C4 (Phase 1): same key, C = 1e-3 and 1e-2, every example clipped."""
    d, B = DP_D, DP_B
    grad = jnp.linspace(-0.5, 0.5, d)
    signs = []
    for C in (1e-3, 1e-2):
        mech = ClippedGaussianDP(Gaussian(jnp.ones(d)), clip=C, noise_multiplier=1.5,
                                 batch_size=B)
        g = _perturb_many(mech, jax.random.PRNGKey(9), grad, N_KS)
        assert np.all(_per_example_norm_bound(mech, grad, jax.random.PRNGKey(9)) > 0)
        signs.append(np.sign(np.asarray(g)))
    np.testing.assert_array_equal(signs[0], signs[1])
    assert np.mean(signs[0] != 0) > 0.99  # the signs are informative, not all zero


# --- compressors

COMPRESSORS = {"identity": (Identity(), 0.0), "bernoulli": (Bernoulli(0.25), 3.0),
               "randk": (RandK(2), 4.0)}
X_COMP = jnp.array([1.0, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0, 1.5, -0.5, 1.0])
N_COMP = 100_000


@functools.cache
def _compressed():
    """N_COMP compressions of X_COMP by each compressor, in one compiled program."""
    keys = jax.random.split(jax.random.PRNGKey(0), N_COMP)
    run = jax.jit(lambda: tuple(
        jax.vmap(partial(compress, c), in_axes=(0, None))(keys, X_COMP) for c in comps))
    comps = [c for c, _ in COMPRESSORS.values()]
    out = run()
    return dict(zip(COMPRESSORS, (np.asarray(o, dtype=np.float64) for o in out)))


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_compressors_unbiased_with_variance_omega(name):
    comp, omega = COMPRESSORS[name]
    x = np.asarray(X_COMP, dtype=np.float64)
    assert float(comp.omega(10)) == pytest.approx(omega)
    c = _compressed()[name]
    # per-coordinate variance is omega x_j^2, so the SE of the mean is |x_j| sqrt(omega / n)
    se = np.abs(x) * np.sqrt(omega / N_COMP)
    assert np.all(np.abs(c.mean(0) - x) <= Z_BAND * se + 1e-6)
    sq = ((c - x) ** 2).sum(1)
    target = omega * float(np.sum(x * x))
    assert abs(sq.mean() - target) <= Z_BAND * sq.std() / np.sqrt(N_COMP) + 1e-6
    if isinstance(comp, RandK):
        assert np.all((c != 0).sum(1) <= 2)


# --- validation

@pytest.mark.parametrize("make,match", [
    (lambda: StudentT(0.0, jnp.ones(2)), r"nu=0: must be in \(0, inf\)"),
    (lambda: StudentT(-1.0, jnp.ones(2)), r"nu=-1: must be in \(0, inf\)"),
    (lambda: Gaussian(jnp.array([1.0, -0.1])), "std=.*must be in"),
    (lambda: Gaussian(jnp.ones((2, 2))), "std has shape"),
    (lambda: Gaussian.from_covariance(np.array([[1.0, 2.0], [2.0, 1.0]])), "positive semi"),
    (lambda: Bernoulli(0.0), r"p=0.0: must be in \(0, 1\]"),
    (lambda: RandK(0).omega(10), r"k=0: must be an integer in \[1, d=10\]"),
    (lambda: RandK(11).omega(10), r"k=11: must be an integer in \[1, d=10\]"),
    (lambda: ClippedGaussianDP(Gaussian(jnp.ones(2)), clip=-1.0, noise_multiplier=1.0),
     r"clip=-1: must be in \(0, inf\]"),
    (lambda: ClippedGaussianDP(Gaussian(jnp.ones(2)), clip=1.0, noise_multiplier=-1.0),
     r"noise_multiplier=-1: must be in \[0, inf\)"),
    (lambda: ClippedGaussianDP(Gaussian(jnp.ones(2)), clip=1.0, noise_multiplier=1.0,
                               batch_size=0), "batch_size=0: must be an integer >= 1"),
    (lambda: ClippedGaussianDP(Gaussian(jnp.ones(2)), clip=np.inf, noise_multiplier=1.0),
     "must be 0 when clip=inf"),
])
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_noise_models_are_pytrees_that_skip_validation_on_unflatten():
    noise = StudentT(1.5, jnp.array([1.0, 2.0]))
    leaves, tree = jax.tree_util.tree_flatten(noise)
    assert len(leaves) == 2
    # unflattening with placeholders (as JAX does inside transformations) does not validate
    rebuilt = jax.tree_util.tree_unflatten(tree, [object(), object()])
    assert isinstance(rebuilt, StudentT)
    # a batch of noise scales runs under vmap without recompiling per value
    sample = jax.vmap(lambda s: StudentT(1.5, s).sample(jax.random.PRNGKey(0)))(
        jnp.ones((3, 2)))
    assert sample.shape == (3, 2)
