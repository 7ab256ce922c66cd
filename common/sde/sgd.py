r"""SGD and its SDE (Li, Tai & E 2017, arXiv 1511.06251; as used by adaptive-sde, arXiv 2411.15958).

**Optimizer.** With the noisy gradient g_k = grad f(x_k) + Z_k drawn by ``noise.perturb``,

.. math::  x_{k+1} = x_k - \eta\, g_k.

With a :class:`~common.sde.dp_noise.ClippedGaussianDP` noise model this *is* DP-SGD (privatise,
then the base optimizer; its SDE is :class:`~common.sde.dp.DPSGDSDE`).

**SDE** [derived; adaptive-sde notes section 3: "SGD SDE (Li et al. 2017)"]:

.. math::  dX_t = -\nabla f(X_t)\, dt - \sqrt{\eta}\, \Sigma^{1/2} dW_t,

integrated with dt = eta. The sign in front of the noise is immaterial in law (W and -W are both
Brownian motions); it is chosen so that one Euler-Maruyama step with key k,
x - eta grad f(x) - eta Sigma^{1/2} xi, is exactly the SGD step whose Gaussian noise was drawn with
the same key: on Gaussian noise the two simulations coincide draw for draw, a test of both. Needs a
finite covariance: Student-t noise with nu <= 2 raises (the SGD SDE is ill-defined there, while
SGD itself runs and blows up, compressed-sde claim C4).

Quadratic closed form: stationary E f = eta tr(Sigma) / 4
(:func:`~common.sde.closed_forms.sgd_stationary_loss`).
"""

from __future__ import annotations

import jax

from common.sde._base import check_method, check_x0, pytree_dataclass, static
from common.sde.dp_noise import ClippedGaussianDP
from common.sde.integrators import SDE, Scheme, State
from common.sde.noise import Gaussian, StudentT, finite_variance
from common.sde.objectives import DiagQuadratic, Objective

__all__ = ["SGD", "SGDSDE"]


@pytree_dataclass
class SGD:
    """SGD on ``noise.perturb(key, grad f(x))``: ``x <- x - lr * g``.

    Example::

        >>> import jax, jax.numpy as jnp
        >>> from common.sde import DiagQuadratic, Gaussian, simulate
        >>> opt = SGD(DiagQuadratic(jnp.ones(3)), Gaussian(0.1 * jnp.ones(3)), lr=0.1)
        >>> traj = simulate(opt, jnp.ones(3), jax.random.PRNGKey(0), num_steps=10, num_paths=4)
        >>> traj.mean.shape
        (11,)
    """

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT | ClippedGaussianDP
    lr: jax.Array

    def __post_init__(self):
        check_method(self)

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def step(self, state: State, key) -> State:
        g = self.noise.perturb(key, self.objective.grad(state.x))
        return State(state.x - self.lr * g)


@pytree_dataclass
class SGDSDE(SDE):
    """dX = -grad f(X) dt - sqrt(lr) Sigma^{1/2} dW (module docstring); Euler-Maruyama, dt = lr."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        check_method(self)
        if not isinstance(self.noise, (Gaussian, StudentT)):
            raise ValueError(f"noise={type(self.noise).__name__}: the SGD SDE takes Gaussian or "
                             "StudentT noise (for ClippedGaussianDP use DPSGDSDE)")
        if not finite_variance(self.noise):
            raise ValueError("noise: the SGD SDE needs a finite covariance, Student-t nu > 2 "
                             "(with nu <= 2 it is ill-defined)")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def drift(self, state: State) -> State:
        return State(-self.objective.grad(state.x))

    def diffusion(self, state: State, dw) -> dict:
        return {"x": -jax.numpy.sqrt(self.lr) * self.noise.cov_sqrt_mul(dw)}
