r"""SDEs of DP-SGD and DP-SignSGD (dp-sde: Compagnoni, Stanghellini, Islamov, Lucchi, Koloskova,
arXiv 2603.03226).

The discrete algorithms are compositions, not classes: privatise, then the base optimizer,
``SGD(objective, ClippedGaussianDP(...), lr)`` (DP-SGD) and ``SignSGD(objective,
ClippedGaussianDP(...), lr)`` (DP-SignSGD), see :mod:`common.sde.dp_noise`.

**SDEs** [derived in the dp-sde notes, section 3, from the abstract, summaries and the group's
SignSGD SDE; the forms are the notes', the constants are unverified against the PDF]. With the
mechanism's moments (c, s^2) = ``noise.moments(grad f)``: E g~ ~ c grad f and per-coordinate
variance s^2 = c^2 sigma_b^2 / B + sigma_DP^2, c = min(1, C / r),
r = sqrt(||grad f||^2 + tr Sigma_b):

.. math::  \text{DP-SGD: } dX_t = -c\,\nabla f(X_t)\, dt - \sqrt{\eta}\, s(X_t)\, dW_t,

.. math::  \text{DP-SignSGD: } dX_t = -m(X_t)\, dt
           - \sqrt{\eta}\sqrt{I - \mathrm{diag}(m)^2}\, dW_t,
           \qquad m = \mathrm{erf}\big(c \nabla f / (\sqrt2\, s)\big).

Phase 2 (no example clipped, c = 1) is the notes' main model: DP-SGD's diffusion is
sqrt(eta) (Sigma_b / B + sigma_DP^2 I)^{1/2}, DP-SignSGD's drift erf(grad f / (sqrt 2 s)); with
Gaussian per-example noise the averaged noise is exactly Gaussian. Phase 1 (every example clipped,
c = C / r) is the notes' norm-concentration model (d large); there s is proportional to C, so C
cancels in DP-SignSGD's drift and diffusion, as it cancels exactly in the discrete algorithm
(claim C4). Between the phases the formula interpolates with no accuracy claim.

Consequences on f = 1/2 x^T H x (phase 2, small SNR) [derived]: DP-SGD's stationary loss
eta sum(s^2) / 4 is proportional to sigma_DP^2 ~ 1/eps^2 and its speed is eps-independent;
DP-SignSGD's is eta sqrt(pi/2) sum(s) / 4 ~ 1/eps with speed ~ 1/s ~ eps (claims C1, C2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import erf

from common.sde._base import check_method, check_x0, pytree_dataclass, static
from common.sde.dp_noise import ClippedGaussianDP
from common.sde.integrators import SDE, Scheme, State
from common.sde.objectives import DiagQuadratic, Objective
from common.sde.signsgd import sign_std

__all__ = ["DPSGDSDE", "DPSignSGDSDE"]


def _check(obj, name: str) -> None:
    check_method(obj)
    if not isinstance(obj.noise, ClippedGaussianDP):
        raise ValueError(f"noise={type(obj.noise).__name__}: the {name} takes a ClippedGaussianDP "
                         "mechanism")
    obj.noise.check_finite_variance()
    if not obj.noise.example_noise.is_diagonal:
        raise ValueError(f"noise.example_noise: the {name} needs independent per-example noise "
                         "coordinates (a diagonal covariance)")


@pytree_dataclass
class DPSGDSDE(SDE):
    """dX = -c grad f dt - sqrt(lr) s dW with (c, s^2) from the mechanism (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: ClippedGaussianDP
    lr: jax.Array
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        _check(self, "DP-SGD SDE")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def drift(self, state: State) -> State:
        grad = self.objective.grad(state.x)
        c, _ = self.noise.moments(grad)
        return State(-c * grad)

    def diffusion(self, state: State, dw) -> dict:
        _, var = self.noise.moments(self.objective.grad(state.x))
        return {"x": -jnp.sqrt(self.lr * var) * dw}


@pytree_dataclass
class DPSignSGDSDE(SDE):
    """dX = -m dt - sqrt(lr) sqrt(1 - m^2) dW, m = erf(c grad f / (sqrt 2 s)) (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: ClippedGaussianDP
    lr: jax.Array
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        _check(self, "DP-SignSGD SDE")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def _sign_mean(self, state: State):
        grad = self.objective.grad(state.x)
        c, var = self.noise.moments(grad)
        return erf(c * grad / jnp.sqrt(2.0 * var))

    def drift(self, state: State) -> State:
        return State(-self._sign_mean(state))

    def diffusion(self, state: State, dw) -> dict:
        return {"x": -jnp.sqrt(self.lr) * sign_std(self._sign_mean(state)) * dw}
