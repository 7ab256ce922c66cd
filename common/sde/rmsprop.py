r"""RMSpropW and its SDE (adaptive-sde: Compagnoni et al., arXiv 2411.15958, Theorem ~3.12).

**Optimizer** (PyTorch ``RMSprop`` without momentum or centring, plus decoupled weight decay
theta; defaults alpha = beta = 0.99, eps = 1e-8 outside the square root), g_k = grad f(x_k) + Z_k:

.. math::  v_{k+1} = \beta v_k + (1-\beta) g_k^2, \qquad
           x_{k+1} = x_k - \eta\, \frac{g_k}{\sqrt{v_{k+1}} + \epsilon} - \eta\theta x_k,
           \qquad v_0 = 0.

**SDE** [form derived in the adaptive-sde notes, section 3; the paper's statement is
unverified], with rho = (1 - beta)/eta held fixed as eta -> 0 and P_t = diag(sqrt(V_t)) + eps:

.. math::  dX_t = -P_t^{-1}\nabla f(X_t)\, dt - \theta X_t\, dt
                 - \sqrt{\eta}\, P_t^{-1}\Sigma^{1/2} dW_t, \qquad
           dV_t = \rho\big((\nabla f(X_t))^2 + \mathrm{diag}\,\Sigma - V_t\big)\, dt.

V tracks (grad f)^2 + diag(Sigma), not only diag(Sigma) (new relative to Malladi et al. 2022).
P uses eps without a bias correction, as PyTorch's RMSprop has none (the notes write
eps sqrt(iota_2(t)), which belongs to Adam's bias-corrected form). Integrated with V advanced
before X (``scheme.order = (("v",), ("x",))``), so X sees V_{n+1} as x_{k+1} sees v_{k+1}:
with V_0 = 0 the other order divides by eps in the first step (notes, pitfall 2).

Quadratic closed form (noise-dominated, P ~ diag sigma) [derived]: stationary
E f = (eta/4) sum_i h_i sigma_i / (h_i + theta sigma_i)
(:func:`~common.sde.closed_forms.adaptive_stationary_loss`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from common.sde._base import (
    as_float,
    check_method,
    check_nonnegative,
    check_positive,
    check_unit_interval,
    check_x0,
    pytree_dataclass,
    static,
)
from common.sde.integrators import SDE, Scheme
from common.sde.noise import Gaussian, StudentT, finite_variance
from common.sde.objectives import DiagQuadratic, Objective

__all__ = ["RMSpropState", "RMSpropW", "RMSpropWSDE", "RMSPROP_ORDER"]

#: V before X: the update order that keeps the SDE stable from V_0 = 0 (module docstring).
RMSPROP_ORDER = (("v",), ("x",))


class RMSpropState(NamedTuple):
    x: jax.Array
    v: jax.Array


def _check_hyper(obj) -> None:
    check_method(obj)
    check_unit_interval("beta", obj.beta)
    check_positive("eps", obj.eps)
    check_nonnegative("weight_decay", obj.weight_decay)
    for name in ("beta", "eps", "weight_decay"):
        as_float(obj, name, getattr(obj, name))


@pytree_dataclass
class RMSpropW:
    """RMSprop (beta = PyTorch's alpha) with decoupled weight decay ``weight_decay`` (theta)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    beta: jax.Array = 0.99
    eps: jax.Array = 1e-8
    weight_decay: jax.Array = 0.0

    def __post_init__(self):
        _check_hyper(self)

    def init(self, x0) -> RMSpropState:
        x0 = check_x0(self, x0)
        return RMSpropState(x0, jnp.zeros_like(x0))

    def step(self, state: RMSpropState, key) -> RMSpropState:
        g = self.noise.perturb(key, self.objective.grad(state.x))
        v = self.beta * state.v + (1.0 - self.beta) * g * g
        x = state.x - self.lr * g / (jnp.sqrt(v) + self.eps) - self.lr * self.weight_decay * state.x
        return RMSpropState(x, v)


@pytree_dataclass
class RMSpropWSDE(SDE):
    """The RMSpropW SDE of the module docstring (V before X; dt = lr)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    beta: jax.Array = 0.99
    eps: jax.Array = 1e-8
    weight_decay: jax.Array = 0.0
    scheme: Scheme = static(Scheme(order=RMSPROP_ORDER))

    def __post_init__(self):
        _check_hyper(self)
        if not finite_variance(self.noise):
            raise ValueError("noise: the RMSpropW SDE needs a finite covariance (Student-t nu > 2)")

    @property
    def rho(self):
        return (1.0 - self.beta) / self.lr

    def init(self, x0) -> RMSpropState:
        x0 = check_x0(self, x0)
        return RMSpropState(x0, jnp.zeros_like(x0))

    def drift(self, state: RMSpropState) -> RMSpropState:
        grad = self.objective.grad(state.x)
        p = jnp.sqrt(state.v) + self.eps
        return RMSpropState(
            x=-grad / p - self.weight_decay * state.x,
            v=self.rho * (grad * grad + self.noise.variance() - state.v))

    def diffusion(self, state: RMSpropState, dw) -> dict:
        p = jnp.sqrt(state.v) + self.eps
        return {"x": -jnp.sqrt(self.lr) * self.noise.cov_sqrt_mul(dw) / p}
