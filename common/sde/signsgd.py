r"""SignSGD and its SDE (adaptive-sde: Compagnoni et al., arXiv 2411.15958, Thm 3.2 / Cor. 3.3).

**Optimizer.** x_{k+1} = x_k - eta sign(g_k), elementwise, sign(0) = 0, g_k = grad f(x_k) + Z_k
drawn by ``noise.perturb``. With a :class:`~common.sde.dp_noise.ClippedGaussianDP` noise model
this is DP-SignSGD (its SDE is :class:`~common.sde.dp.DPSignSGDSDE`).

**SDE** (Theorem 3.2 for general noise; the statement's existence is [secondary], the form below
is [derived] in the adaptive-sde notes, section 3; constants [unverified] against the PDF):

.. math::  dX_t = -m(X_t)\, dt - \sqrt{\eta}\, \sqrt{I - \mathrm{diag}(m(X_t))^2}\, dW_t,
           \qquad m(x) = \mathbb E[\mathrm{sign}(\nabla f(x) + Z)]
           = 1 - 2\,\mathbb P(\nabla f_\gamma(x) < 0),

for noise with independent coordinates (then the sign covariance is diag(1 - m^2); a correlated
Gaussian would add orthant-probability off-diagonals, notes pitfall 7, and is rejected). For
Gaussian noise m = erf(Sigma^{-1/2} grad f / sqrt 2) (Corollary 3.3 [derived form]); for Student-t
m = 2 F_nu(grad f / scale) - 1 [derived], bounded for every nu > 0, so the SDE is well defined even
with infinite variance (claim C4). The noise sign is immaterial in law.

Small-SNR ("phase 3", ``|Y| < 1`` with Y = Sigma^{-1/2} grad f / sqrt 2, elementwise) linearisation:
m ~ 2 p(0) grad f / scale (2 p(0) = sqrt(2/pi) for Gaussian noise), which gives the quadratic
stationary loss eta tr(Sigma^{1/2}) / (4 * 2 p(0)) = eta sqrt(pi/2) tr(Sigma^{1/2}) / 4 (Gaussian;
:func:`~common.sde.closed_forms.signsgd_stationary_loss`) [derived].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from common.sde._base import check_method, check_x0, pytree_dataclass, static
from common.sde.dp_noise import ClippedGaussianDP
from common.sde.integrators import SDE, Scheme, State
from common.sde.noise import Gaussian, StudentT
from common.sde.objectives import DiagQuadratic, Objective

__all__ = ["SignSGD", "SignSGDSDE", "signsgd_phase"]


@pytree_dataclass
class SignSGD:
    """SignSGD on ``noise.perturb(key, grad f(x))``: ``x <- x - lr * sign(g)``."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT | ClippedGaussianDP
    lr: jax.Array

    def __post_init__(self):
        check_method(self)

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def step(self, state: State, key) -> State:
        g = self.noise.perturb(key, self.objective.grad(state.x))
        return State(state.x - self.lr * jnp.sign(g))


def check_independent_coordinates(noise, name: str) -> None:
    """Raise unless ``noise`` is Gaussian or Student-t with independent coordinates."""
    if not isinstance(noise, (Gaussian, StudentT)):
        raise ValueError(f"noise={type(noise).__name__}: the {name} takes Gaussian or StudentT "
                         "noise (for ClippedGaussianDP use the DP SDEs of common.sde.dp)")
    if not noise.is_diagonal:
        raise ValueError(f"noise: the {name} needs independent noise coordinates (a diagonal "
                         "covariance); a full covariance adds orthant-probability terms")


@pytree_dataclass
class SignSGDSDE(SDE):
    """dX = -m dt - sqrt(lr) sqrt(1 - m^2) dW, m = E sign(grad f + Z) (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        check_method(self)
        check_independent_coordinates(self.noise, "SignSGD SDE")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def drift(self, state: State) -> State:
        return State(-self.noise.sign_mean(self.objective.grad(state.x)))

    def diffusion(self, state: State, dw) -> dict:
        return self.drift_and_diffusion(state, dw)[1]

    def drift_and_diffusion(self, state: State, dw):
        m = self.noise.sign_mean(self.objective.grad(state.x))
        return State(-m), {"x": -jnp.sqrt(self.lr) * sign_std(m) * dw}


def sign_std(m) -> jax.Array:
    """Standard deviation of a sign with mean m: sqrt(1 - m^2) (clipped against rounding)."""
    return jnp.sqrt(jnp.clip(1.0 - m * m, 0.0, 1.0))


def signsgd_phase(grad, noise) -> jax.Array:
    """Elementwise phase of SignSGD (Lemma 3.4 [secondary thresholds]): 1, 2 or 3.

    With Y = grad / (sqrt 2 scale) (Sigma^{-1/2} grad f / sqrt 2 for Gaussian noise): phase 1 if
    ``|Y| > 3/2`` (SignGD, noise negligible), 2 if ``1 < |Y| <= 3/2``, 3 if ``|Y| <= 1`` (small
    SNR, the linearised SDE). The thresholds are elementwise (notes, pitfall 6).
    """
    y = jnp.abs(grad / (jnp.sqrt(2.0) * noise.scale))
    return jnp.where(y > 1.5, 1, jnp.where(y > 1.0, 2, 3))
