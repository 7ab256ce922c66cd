r"""Gradient-noise models: Gaussian with a given covariance and Student-t (heavy tails).

The three SDE papers (adaptive-sde, arXiv 2411.15958; compressed-sde, arXiv 2502.17009; dp-sde,
arXiv 2603.03226) model a stochastic gradient as the full-batch gradient plus noise,

.. math::  \nabla f_\gamma(x) = \nabla f(x) + Z, \qquad \mathbb E Z = 0,

and run their network experiments exactly so: full-batch gradients plus injected synthetic noise
(adaptive-sde notes, section 3 [secondary]). ``noise.perturb(key, grad)`` is that oracle, and
:func:`injected_gradient` wraps it around any gradient function (a network's, once its parameters
are raveled into one vector). Every discrete optimizer in :mod:`common.sde` draws its stochastic
gradients through ``perturb``; its SDE reads the same noise object's moments, so the two are
always driven by the same noise model.

Each model exposes what the SDEs need, elementwise over the d coordinates:

- ``sample(key, sample_shape=())`` -> ``sample_shape + (d,)``; ``perturb(key, grad)`` = grad + Z;
- ``variance()`` = diag(Sigma) (``inf`` for Student-t with nu <= 2); ``cov_sqrt_mul(v)`` = A v with
  A A^T = Sigma (the diffusion of SGD-type SDEs);
- ``sign_mean(mu)`` = E[sign(mu + Z)], in closed form (:func:`sign_mean_gaussian`,
  :func:`sign_mean_student_t`), the drift of SignSGD-type SDEs; sign variance = 1 - sign_mean^2
  for independent coordinates;
- ``density_at_zero()``: the density at 0 of the standardized marginal, p(0) (1/sqrt(2 pi) for the
  Gaussian), which sets SignSGD's small-SNR ("phase 3") slope E[sign(mu + Z)] ~ 2 p(0) mu / scale.

The parametrisation of Student-t noise as Z_i = scale_i T_i, T_i ~ t_nu independent, is the notes'
reading [derived]; whether the paper's lemma uses the scale or the covariance is [unverified].
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betainc, erf, gammaln

from common.sde._base import (
    as_float,
    check_positive,
    check_vector,
    normal,
    pytree_dataclass,
)

__all__ = ["Gaussian", "StudentT", "sign_mean_gaussian", "sign_mean_student_t",
           "student_t_density_at_zero", "injected_gradient"]

#: density of N(0, 1) at 0, i.e. 1 / sqrt(2 pi)
GAUSSIAN_DENSITY_AT_ZERO = 1.0 / math.sqrt(2.0 * math.pi)


def sign_mean_gaussian(z):
    r"""``E[sign(z + N(0, 1))] = erf(z / sqrt 2)``: adaptive-sde Cor. 3.3's drift [derived form]."""
    return erf(jnp.asarray(z) / math.sqrt(2.0))


def sign_mean_student_t(z, nu):
    r"""``E[sign(z + T)] = 2 F_nu(z) - 1`` for T ~ t_nu, any nu > 0 (adaptive-sde notes, section 3).

    Written with the regularised incomplete beta function as
    ``sign(z) I_{z^2 / (nu + z^2)}(1/2, nu/2)``, which has no cancellation at small ``z`` (the usual
    ``1 - I_{nu/(nu+z^2)}(nu/2, 1/2)`` loses all digits there in float32). Special cases used as
    references in the tests: nu = 1 gives (2/pi) arctan z, nu = 2 gives z / sqrt(2 + z^2).
    For nu > 120, where float32 ``betainc`` degrades (7e-4 absolute at nu = 1e4), the normal
    approximation F_nu(z) ~ Phi(z (1 - 1/(4 nu)) / sqrt(1 + z^2 / (2 nu))) is used instead (its
    error is O(1/nu^2), below 1.3e-5 there); either way the absolute error stays below 2e-5.
    """
    z = jnp.asarray(z)
    if not jnp.issubdtype(z.dtype, jnp.floating):
        z = z.astype(jnp.result_type(float))
    nu = jnp.asarray(nu, dtype=z.dtype)
    z2 = z * z
    exact = jnp.sign(z) * betainc(0.5, 0.5 * jnp.minimum(nu, 120.0), z2 / (nu + z2))
    normal = sign_mean_gaussian(z * (1.0 - 0.25 / nu) / jnp.sqrt(1.0 + 0.5 * z2 / nu))
    return jnp.where(nu > 120.0, normal, exact)


def student_t_density_at_zero(nu):
    r"""``p_nu(0) = Gamma((nu+1)/2) / (sqrt(nu pi) Gamma(nu/2))``: 0.318 (nu=1), 0.354 (nu=2)."""
    nu = jnp.asarray(nu)
    return jnp.exp(gammaln(0.5 * (nu + 1.0)) - gammaln(0.5 * nu)) / jnp.sqrt(nu * math.pi)


@pytree_dataclass
class Gaussian:
    r"""Gaussian gradient noise Z ~ N(0, Sigma).

    ``Gaussian(std)`` is diagonal, Sigma = diag(std^2); ``Gaussian.from_covariance(cov)`` takes a
    full covariance and stores its symmetric square root Sigma^{1/2} (``sqrt_cov``), so that
    ``sample`` draws Sigma^{1/2} xi with xi ~ N(0, I). The SignSGD-type SDEs need independent
    coordinates (adaptive-sde notes, pitfall 7: with correlated noise the sign covariance has
    orthant-probability off-diagonals) and reject a full covariance.

    Example::

        >>> import jax
        >>> noise = Gaussian(jnp.array([0.5, 2.0]))
        >>> noise.sample(jax.random.PRNGKey(0), (3,)).shape
        (3, 2)
    """

    std: jax.Array
    sqrt_cov: jax.Array | None = None

    def __post_init__(self):
        check_vector("std", self.std)
        check_positive("std", self.std)
        as_float(self, "std", self.std)
        if self.sqrt_cov is not None:
            as_float(self, "sqrt_cov", self.sqrt_cov)

    @classmethod
    def isotropic(cls, std: float, dim: int) -> Gaussian:
        """Sigma = std^2 I_dim."""
        check_positive("std", std)
        return cls(jnp.full((int(dim),), std))

    @classmethod
    def from_covariance(cls, cov) -> Gaussian:
        """Sigma = ``cov`` (symmetric positive semi-definite, with a positive diagonal)."""
        cov = np.asarray(cov, dtype=float)
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
            raise ValueError(f"cov has shape {cov.shape}: must be a square (d, d) matrix")
        if not np.allclose(cov, cov.T, rtol=1e-6, atol=1e-12 * np.abs(cov).max()):
            raise ValueError("cov: must be symmetric")
        lam, q = np.linalg.eigh(cov)
        if lam.min() < -1e-6 * max(lam.max(), 0.0):
            raise ValueError(f"cov has eigenvalue {lam.min():.3g}: must be positive semi-definite")
        root = (q * np.sqrt(np.clip(lam, 0.0, None))) @ q.T
        return cls(np.sqrt(np.diag(cov)), root)

    @property
    def dim(self) -> int:
        return self.std.shape[-1]

    @property
    def is_diagonal(self) -> bool:
        return self.sqrt_cov is None

    @property
    def scale(self) -> jax.Array:
        """Marginal scale of each coordinate (the standard deviation)."""
        return self.std

    def sample(self, key, sample_shape=()) -> jax.Array:
        xi = normal(key, tuple(sample_shape) + (self.dim,), self.std.dtype)
        return self.cov_sqrt_mul(xi)

    def perturb(self, key, grad) -> jax.Array:
        """One stochastic gradient: the full-batch gradient plus injected noise, grad + Z."""
        return grad + self.sample(key)

    def variance(self) -> jax.Array:
        return self.std**2

    def cov_sqrt_mul(self, v) -> jax.Array:
        """Sigma^{1/2} v over the last axis."""
        return self.std * v if self.sqrt_cov is None else v @ self.sqrt_cov.T

    def sign_mean(self, mu) -> jax.Array:
        return sign_mean_gaussian(mu / self.std)

    def density_at_zero(self):
        return jnp.asarray(GAUSSIAN_DENSITY_AT_ZERO, self.std.dtype)


@pytree_dataclass
class StudentT:
    r"""Heavy-tailed gradient noise Z_i = scale_i T_i, T_i ~ t_nu independent, any nu > 0.

    For nu <= 2 the variance is infinite (nu <= 1: no mean either, but Z is symmetric and the
    papers use E[sign(.)] only): the SignSGD-type SDEs stay well defined (their drift is
    2 F_nu(mu / scale) - 1, bounded), while SGD-type SDEs, whose diffusion is Sigma^{1/2}, are
    not and raise a ValueError (compressed-sde claim C4). ``variance()`` is scale^2 nu/(nu - 2)
    for nu > 2 and ``inf`` otherwise.
    """

    nu: jax.Array
    scale: jax.Array

    def __post_init__(self):
        check_positive("nu", self.nu, allow_inf=False)
        check_vector("scale", self.scale)
        check_positive("scale", self.scale)
        as_float(self, "nu", self.nu)
        as_float(self, "scale", self.scale)

    @property
    def dim(self) -> int:
        return self.scale.shape[-1]

    is_diagonal = True

    def sample(self, key, sample_shape=()) -> jax.Array:
        """Bailey's polar method (Math. Comp. 62, 1994): T = cos(2 pi V) sqrt(nu (U^{-2/nu} - 1))
        with U, V ~ Uniform(0, 1) is exactly t_nu. Two uniforms per draw and no rejection loop,
        so it vectorises (``jax.random.t`` goes through a rejection gamma sampler, two orders of
        magnitude slower inside ``vmap``/``scan`` on CPU).

        ``jax.random.uniform`` draws U on a grid of spacing eps (2^-23 in float32), including 0;
        the draw U = 0 (probability eps) is moved to eps / 2, so the tail is cut at
        ``|T|`` ~ sqrt(nu) (2 / eps)^(1/nu) (1.7e7 for nu = 1 in float32). Mapping it to the
        smallest normal float instead gave ``|T|`` ~ 1e38^(1/nu), which overflows a quadratic's
        loss in float32 even for nu = 3 (one draw in ~8 million)."""
        shape = tuple(sample_shape) + (self.dim,)
        dtype = self.scale.dtype
        k_u, k_v = jax.random.split(key)
        u = jnp.maximum(jax.random.uniform(k_u, shape, dtype), 0.5 * jnp.finfo(dtype).eps)
        v = jax.random.uniform(k_v, shape, dtype)
        t = jnp.cos(2.0 * math.pi * v) * jnp.sqrt(self.nu * jnp.expm1(-2.0 * jnp.log(u) / self.nu))
        return self.scale * t

    def perturb(self, key, grad) -> jax.Array:
        """One stochastic gradient: the full-batch gradient plus injected noise, grad + Z."""
        return grad + self.sample(key)

    def variance(self) -> jax.Array:
        finite = self.scale**2 * self.nu / jnp.maximum(self.nu - 2.0, 1e-30)
        return jnp.where(self.nu > 2.0, finite, jnp.inf)

    def has_finite_variance(self) -> bool:
        """Whether nu > 2, as a Python bool (``True`` for a traced ``nu``, which cannot be
        checked: validation skips traced values, see :mod:`common.sde._base`)."""
        if isinstance(self.nu, jax.core.Tracer):
            return True
        return bool(np.all(np.asarray(self.nu) > 2.0))

    def cov_sqrt_mul(self, v) -> jax.Array:
        return jnp.sqrt(self.variance()) * v

    def sign_mean(self, mu) -> jax.Array:
        return sign_mean_student_t(mu / self.scale, self.nu)

    def density_at_zero(self):
        return student_t_density_at_zero(self.nu).astype(self.scale.dtype)


def finite_variance(noise) -> bool:
    """Whether a noise model has a finite covariance (False for Student-t with nu <= 2)."""
    return noise.has_finite_variance() if isinstance(noise, StudentT) else True


def injected_gradient(grad_fn, noise):
    """The papers' oracle for networks: ``g(key, x) = grad_fn(x) + Z``, Z from ``noise``.

    ``grad_fn`` maps a parameter vector of length ``noise.dim`` to the full-batch gradient, e.g.
    ``jax.grad(lambda w: loss(unravel(w), X, y))`` with ``w, unravel = ravel_pytree(params)``.
    """
    def oracle(key, x):
        return noise.perturb(key, grad_fn(x))

    return oracle
