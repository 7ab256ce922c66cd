r"""AdamW and its SDEs (adaptive-sde: Compagnoni et al., arXiv 2411.15958, Theorem ~3.12).

**Optimizer** (Loshchilov & Hutter, arXiv 1711.05101; PyTorch ``AdamW`` decays
p <- p(1 - eta theta) before the Adam step, which equals the form below because g_k is taken at
x_k), with g_k = grad f(x_k) + Z_k:

.. math::  m_{k+1} = \beta_1 m_k + (1-\beta_1) g_k, \quad v_{k+1} = \beta_2 v_k + (1-\beta_2) g_k^2,
           \quad x_{k+1} = x_k - \eta\,\frac{m_{k+1}/(1-\beta_1^{k+1})}
           {\sqrt{v_{k+1}/(1-\beta_2^{k+1})} + \epsilon} - \eta\theta x_k.

Defaults beta = (0.9, 0.999), eps = 1e-8, theta = 0 (Adam).

**SDE, the paper's new form** (:class:`AdamWSDE`) [form derived in the adaptive-sde notes,
section 3; constants unverified against the PDF]. With rho_i = (1 - beta_i)/eta held fixed,
iota_i(t) = 1 - exp(-rho_i t) (continuous bias corrections) and
P_t = diag(sqrt V_t) + eps sqrt(iota_2(t)):

.. math::  dX_t &= -\frac{\sqrt{\iota_2(t)}}{\iota_1(t)} P_t^{-1}
                    \big(M_t + \eta\rho_1(\nabla f(X_t) - M_t)\big)\, dt - \theta X_t\, dt, \\
           dM_t &= \rho_1(\nabla f(X_t) - M_t)\, dt + \sqrt{\eta}\,\rho_1 \Sigma^{1/2} dW_t, \\
           dV_t &= \rho_2\big((\nabla f(X_t))^2 + \mathrm{diag}\,\Sigma - V_t\big)\, dt.

**Malladi-style baseline** (:class:`AdamWMalladiSDE`; Malladi et al., arXiv 2205.10287, rewritten
in the same t = k eta units, as the notes do): no eta rho_1 (grad f - M) correction and
dV = rho_2 (diag Sigma - V) dt. The original is in t = k eta^2 units with sigma = sigma_0 / eta;
do not mix the two conventions (notes, pitfall 3).

**Update order** (``ADAMW_ORDER = (("t", "v"), ("m", "x"))``): t and V advance first, so X sees
t_{n+1} and V_{n+1}, as x_{k+1} sees v_{k+1} and 1 - beta^{k+1}: this is what keeps the Euler
step finite from V_0 = 0, t_0 = 0 (notes, pitfall 2; with everything advanced at once the first
step divides 0 by 0). M advances *together with* X: the correction term eta rho_1 (grad f - M_n)
already turns M_n into E[m_{k+1} | m_k], so advancing M first would count the momentum step twice
(an O(eta) drift bias). Measured against AdamW on the notes' set-up (d = 10, eta = 1e-3,
x0 = 1, 512 paths): mean relative error 0.2 % over the first 1000 steps with this order, 1 % with
M advanced first. The choice of order is ours [derived]; the notes say "update V (and M) before X":
that order is :data:`ADAMW_ORDER_M_FIRST` (``(("t", "v"), ("m",), ("x",))``), an option
(``AdamWSDE(..., scheme=Scheme(order=ADAMW_ORDER_M_FIRST))``), not the default.

**Known gap in the noise-dominated phase** [derived by us, checked in ``tests/sde``]. X's drift is
E[m_{k+1} | m_k] = beta1 M + (1 - beta1) grad f, but the SDE has no noise on X: of the noise that
AdamW's x_{k+1} receives through m_{k+1}, the SDE delivers the fraction 1 - eta rho1 = beta1. Near
the minimiser its stationary loss is therefore the (X, M) Lyapunov value *with* the
(1 - eta rho1) coupling (:func:`~common.sde.closed_forms.adamw_stationary_loss`), about
beta1^2 = 0.81 x AdamW's at beta1 = 0.9 (AdamW itself sits at (eta/4) sum h sigma / (h + theta
sigma); measured on the notes' quadratic: SDE 0.81 x AdamW). The gap
is O(1 - beta1), which vanishes in the SDE's own limit (rho fixed, eta -> 0) but not at
beta1 = 0.9; the notes' pilot (0.18 % over 4000 steps) does not show it, and we could not check
the paper's statement. beta1 = 0 (eta rho1 = 1) would remove M, and all noise, from X's drift:
the SDEs require beta1 in (0, 1).
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

__all__ = ["AdamWState", "AdamWSDEState", "AdamW", "AdamWSDE", "AdamWMalladiSDE", "ADAMW_ORDER",
           "ADAMW_ORDER_M_FIRST"]

#: (t, V) before (M, X): the update order of the AdamW SDEs (module docstring).
ADAMW_ORDER = (("t", "v"), ("m", "x"))
#: (t, V), then M, then X: the notes' order (pitfall 2, "update V (and M) before X"); X then sees
#: M_{n+1}, fresh noise included, and the correction term on top of it (module docstring).
ADAMW_ORDER_M_FIRST = (("t", "v"), ("m",), ("x",))


class AdamWState(NamedTuple):
    x: jax.Array
    m: jax.Array
    v: jax.Array
    count: jax.Array  # steps taken, k


class AdamWSDEState(NamedTuple):
    x: jax.Array
    m: jax.Array
    v: jax.Array
    t: jax.Array  # SDE time, t = k eta on the grid


def _check_hyper(obj) -> None:
    check_method(obj)
    check_unit_interval("beta1", obj.beta1)
    check_unit_interval("beta2", obj.beta2)
    check_positive("eps", obj.eps)
    check_nonnegative("weight_decay", obj.weight_decay)
    for name in ("beta1", "beta2", "eps", "weight_decay"):
        as_float(obj, name, getattr(obj, name))


@pytree_dataclass
class AdamW:
    """AdamW on ``noise.perturb(key, grad f(x))`` (module docstring); ``weight_decay=0`` is Adam."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    beta1: jax.Array = 0.9
    beta2: jax.Array = 0.999
    eps: jax.Array = 1e-8
    weight_decay: jax.Array = 0.0

    def __post_init__(self):
        _check_hyper(self)

    def init(self, x0) -> AdamWState:
        x0 = check_x0(self, x0)
        return AdamWState(x0, jnp.zeros_like(x0), jnp.zeros_like(x0), jnp.zeros((), jnp.int32))

    def step(self, state: AdamWState, key) -> AdamWState:
        g = self.noise.perturb(key, self.objective.grad(state.x))
        m = self.beta1 * state.m + (1.0 - self.beta1) * g
        v = self.beta2 * state.v + (1.0 - self.beta2) * g * g
        k = state.count + 1
        m_hat = m / (1.0 - self.beta1**k)
        v_hat = v / (1.0 - self.beta2**k)
        x = state.x - self.lr * m_hat / (jnp.sqrt(v_hat) + self.eps) \
            - self.lr * self.weight_decay * state.x
        return AdamWState(x, m, v, k)


class _AdamWSDEBase(SDE):
    def __post_init__(self):
        _check_hyper(self)
        check_unit_interval("beta1", self.beta1, closed_left=False)
        if not finite_variance(self.noise):
            raise ValueError("noise: the AdamW SDEs need a finite covariance (Student-t nu > 2)")

    @property
    def rho1(self):
        return (1.0 - self.beta1) / self.lr

    @property
    def rho2(self):
        return (1.0 - self.beta2) / self.lr

    def init(self, x0) -> AdamWSDEState:
        x0 = check_x0(self, x0)
        zero = jnp.zeros_like(x0)
        return AdamWSDEState(x0, zero, zero, jnp.zeros((), x0.dtype))

    def _x_drift(self, state, direction):
        iota1 = -jnp.expm1(-self.rho1 * state.t)
        iota2 = -jnp.expm1(-self.rho2 * state.t)
        p = jnp.sqrt(state.v) + self.eps * jnp.sqrt(iota2)
        return -jnp.sqrt(iota2) / iota1 * direction / p - self.weight_decay * state.x

    def diffusion(self, state: AdamWSDEState, dw) -> dict:
        return {"m": jnp.sqrt(self.lr) * self.rho1 * self.noise.cov_sqrt_mul(dw)}


@pytree_dataclass
class AdamWSDE(_AdamWSDEBase):
    """The paper's new AdamW SDE (module docstring); (t, V) before (M, X); dt = lr."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    beta1: jax.Array = 0.9
    beta2: jax.Array = 0.999
    eps: jax.Array = 1e-8
    weight_decay: jax.Array = 0.0
    scheme: Scheme = static(Scheme(order=ADAMW_ORDER))

    def drift(self, state: AdamWSDEState) -> AdamWSDEState:
        grad = self.objective.grad(state.x)
        direction = state.m + self.lr * self.rho1 * (grad - state.m)
        return AdamWSDEState(
            x=self._x_drift(state, direction),
            m=self.rho1 * (grad - state.m),
            v=self.rho2 * (grad * grad + self.noise.variance() - state.v),
            t=jnp.ones_like(state.t))


@pytree_dataclass
class AdamWMalladiSDE(_AdamWSDEBase):
    """Malladi-style AdamW SDE in t = k eta units (module docstring): the baseline to beat."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    beta1: jax.Array = 0.9
    beta2: jax.Array = 0.999
    eps: jax.Array = 1e-8
    weight_decay: jax.Array = 0.0
    scheme: Scheme = static(Scheme(order=ADAMW_ORDER))

    def drift(self, state: AdamWSDEState) -> AdamWSDEState:
        grad = self.objective.grad(state.x)
        return AdamWSDEState(
            x=self._x_drift(state, state.m),
            m=self.rho1 * (grad - state.m),
            v=self.rho2 * (self.noise.variance() - state.v),
            t=jnp.ones_like(state.t))
