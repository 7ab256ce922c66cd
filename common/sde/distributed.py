r"""DCSGD and DSignSGD with their SDEs (compressed-sde: Compagnoni, Islamov, Proske, Lucchi,
arXiv 2502.17009).

N homogeneous agents, agent i's gradient g_i = grad f(x) + Z_i with independent Z_i from ``noise``
(heterogeneous agents f_i are not implemented here). Fresh noise and compressor randomness per
agent per step.

**Optimizers** (compressed-sde notes, section 3):

.. math::  \text{DCSGD: } x_{k+1} = x_k - \frac{\eta}{N}\sum_i \mathcal C_i(g_i), \qquad
           \text{DSignSGD: } x_{k+1} = x_k - \frac{\eta}{N}\sum_i \mathrm{sign}(g_i),

with an unbiased compressor C of variance omega (a compressor of
:mod:`common.federated.compressors`, sampled in JAX by :mod:`common.sde.compressors`; ``None`` is
no compression). DSignSGD averages
the signs at the server; whether the paper uses the mean or a majority vote is [unverified]
(notes, pitfall 6).

**SDEs** [derived in the compressed-sde notes; stationary levels checked there against
simulation; the paper's statements unverified]:

.. math::  \text{DCSGD: } dX_t = -\nabla f\, dt - \sqrt{\eta/N}\, \big(\Sigma
           + \omega\,\mathrm{diag}((\nabla f)^2 + \mathrm{diag}\,\Sigma)\big)^{1/2} dW_t,

.. math::  \text{DSignSGD: } dX_t = -m(X_t)\, dt
           - \sqrt{\eta/N}\,\sqrt{I - \mathrm{diag}(m)^2}\, dW_t,
           \quad m = \mathbb E\,\mathrm{sign}(\nabla f + Z) \text{ (erf or } 2F_\nu - 1).

The compression covariance omega diag((grad f)^2 + diag Sigma) is exact for Bernoulli
sparsification and the diagonal of rand-k's (whose small off-diagonals are dropped). Compression
leaves the drift unchanged and multiplies the noise; its multiplicative part omega (grad f)^2 acts
even at Sigma = 0. Both SDEs need independent noise coordinates; DCSGD's needs a finite variance
(for Student-t nu <= 2 it is ill-defined, claim C4). DCSGD with N = 1 and omega = 0 is the SGD SDE;
DSignSGD with N = 1 is the SignSGD SDE.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from common.sde._base import check_int_at_least, check_method, check_x0, pytree_dataclass, static
from common.sde.compressors import check_compressor, compress, compression_omega
from common.sde.integrators import SDE, Scheme, State
from common.sde.noise import Gaussian, StudentT, finite_variance
from common.sde.objectives import DiagQuadratic, Objective
from common.sde.signsgd import check_independent_coordinates, sign_std

__all__ = ["DCSGD", "DCSGDSDE", "DSignSGD", "DSignSGDSDE"]


def _check(obj, needs_compressor: bool) -> None:
    check_method(obj)
    check_int_at_least("num_clients", obj.num_clients, 1)
    if needs_compressor:
        check_compressor(obj.compressor, obj.noise.dim, sampled=not isinstance(obj, SDE))


def _agent_gradients(obj, state, key):
    grad = obj.objective.grad(state.x)
    return grad + obj.noise.sample(key, (obj.num_clients,))


@pytree_dataclass
class DCSGD:
    """Distributed SGD with unbiased compression (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    compressor: object = static(None)
    num_clients: int = static(1)

    def __post_init__(self):
        _check(self, True)

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def step(self, state: State, key) -> State:
        k_noise, k_comp = jax.random.split(key)
        g = _agent_gradients(self, state, k_noise)
        keys = jax.random.split(k_comp, self.num_clients)
        compressed = jax.vmap(lambda k, x: compress(self.compressor, k, x))(keys, g)
        return State(state.x - self.lr * jnp.mean(compressed, axis=0))


@pytree_dataclass
class DCSGDSDE(SDE):
    """dX = -grad f dt - sqrt(lr/N) (Sigma + omega diag(grad f^2 + diag Sigma))^{1/2} dW."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    compressor: object = static(None)
    num_clients: int = static(1)
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        _check(self, True)
        check_independent_coordinates(self.noise, "DCSGD SDE")
        if not finite_variance(self.noise):
            raise ValueError("noise: the DCSGD SDE needs a finite covariance, Student-t nu > 2 "
                             "(with nu <= 2 it is ill-defined)")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def drift(self, state: State) -> State:
        return State(-self.objective.grad(state.x))

    def diffusion(self, state: State, dw) -> dict:
        grad = self.objective.grad(state.x)
        var = self.noise.variance()
        omega = compression_omega(self.compressor, self.noise.dim)
        total = var + omega * (grad * grad + var)
        return {"x": -jnp.sqrt(self.lr / self.num_clients) * jnp.sqrt(total) * dw}


@pytree_dataclass
class DSignSGD:
    """Distributed SignSGD, the server averaging the agents' signs (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    num_clients: int = static(1)

    def __post_init__(self):
        _check(self, False)

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def step(self, state: State, key) -> State:
        g = _agent_gradients(self, state, key)
        return State(state.x - self.lr * jnp.mean(jnp.sign(g), axis=0))


@pytree_dataclass
class DSignSGDSDE(SDE):
    """dX = -m dt - sqrt(lr/N) sqrt(1 - m^2) dW, m = E sign(grad f + Z) (module docstring)."""

    objective: DiagQuadratic | Objective
    noise: Gaussian | StudentT
    lr: jax.Array
    num_clients: int = static(1)
    scheme: Scheme = static(Scheme())

    def __post_init__(self):
        _check(self, False)
        check_independent_coordinates(self.noise, "DSignSGD SDE")

    def init(self, x0) -> State:
        return State(check_x0(self, x0))

    def drift(self, state: State) -> State:
        return State(-self.noise.sign_mean(self.objective.grad(state.x)))

    def diffusion(self, state: State, dw) -> dict:
        return self.drift_and_diffusion(state, dw)[1]

    def drift_and_diffusion(self, state: State, dw):
        m = self.noise.sign_mean(self.objective.grad(state.x))
        return State(-m), {"x": -jnp.sqrt(self.lr / self.num_clients) * sign_std(m) * dw}
