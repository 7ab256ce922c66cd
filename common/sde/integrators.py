r"""Integrators for Ito SDEs on state tuples: Euler-Maruyama, stochastic Heun, update orders.

An SDE here is an object with

- ``drift(state)``: a state of the same NamedTuple type holding b(state) for every component;
- ``diffusion(state, dw)``: a dict ``{component: G(state) dW}`` for the components that receive
  noise (G linear in the Brownian increment ``dw``, which has the shape of ``state.x``);
- ``drift_and_diffusion(state, dw)``: both at once (the :class:`SDE` mixin's default calls the two);
- ``lr``: the step size, used as the time step ``dt = lr`` (one optimizer step of size eta is SDE
  time eta; adaptive-sde notes, section 3 [derived]).

Time-dependent coefficients (Adam's bias corrections) read a time component ``t`` of the state,
advanced with drift 1, so every SDE is autonomous and the integrators need no time argument.

**Schemes as data.** A :class:`Tableau` is an explicit stochastic Runge-Kutta scheme with the
diffusion frozen at the start of the step (Ito):

.. math::  Y_i = X_n + \Delta t \sum_{j<i} a_{ij} b(Y_j) + c_i\, G(X_n)\Delta W_n, \qquad
           X_{n+1} = X_n + \Delta t \sum_i w_i b(Y_i) + G(X_n) \Delta W_n,

with Delta W_n = sqrt(dt) xi_n, xi_n ~ N(0, I). :data:`EULER_MARUYAMA` (one stage) has weak order
1; :data:`HEUN` (a = [[0], [1]], c = (0, 1), w = (1/2, 1/2)) is Platen's explicit weak order-2.0
scheme for *additive* noise (Kloeden & Platen 1992, section 15.1) and weak order 1 otherwise.

**Update order.** A :class:`Scheme` pairs a tableau with an ``order``: groups of state components
advanced one group after the other, each group seeing the components already advanced in this step
(a Gauss-Seidel splitting; ``None`` advances everything at once from X_n). Every group reuses the
step's Brownian increment. The order is what keeps the Adam(W)/RMSprop(W) SDEs stable: with
V_0 = 0, an Euler step of X from V_n gives P_0^{-1} ~ 1/eps and the loss jumps to 1e12
(adaptive-sde notes, pitfall 2); advancing (t, V) first makes X see V_{n+1} and t_{n+1}, as the
discrete optimizer's x_{k+1} sees v_{k+1} and its bias corrections 1 - beta^{k+1}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from common.sde._base import normal

__all__ = ["Tableau", "Scheme", "EULER_MARUYAMA", "HEUN", "TABLEAUX", "State", "SDE",
           "integrate_step"]


class State(NamedTuple):
    """The state of plain methods (SGD, SignSGD and their variants): the iterate only."""

    x: jax.Array


@dataclass(frozen=True)
class Tableau:
    """An explicit stochastic Runge-Kutta tableau (module docstring), written as data.

    Attributes:
        name: label.
        a: stage coefficients, row i has i entries (strictly lower triangular).
        c: weight of the step's Brownian increment G(X_n) dW in each stage.
        w: drift weights of the final combination (sum to 1).
        weak_order: the order for additive noise (1 for every scheme with multiplicative noise).
    """

    name: str
    a: tuple[tuple[float, ...], ...]
    c: tuple[float, ...]
    w: tuple[float, ...]
    weak_order: float

    def __post_init__(self):
        s = len(self.w)
        if len(self.a) != s or len(self.c) != s or any(len(r) != i for i, r in enumerate(self.a)):
            raise ValueError(f"tableau {self.name!r}: a must have rows of length 0..{s - 1} and "
                             f"c, w length {s}")
        if not math.isclose(sum(self.w), 1.0, abs_tol=1e-12):
            raise ValueError(f"tableau {self.name!r}: weights w={self.w} must sum to 1")

    @property
    def stages(self) -> int:
        return len(self.w)


EULER_MARUYAMA = Tableau("euler_maruyama", a=((),), c=(0.0,), w=(1.0,), weak_order=1.0)
HEUN = Tableau("heun", a=((), (1.0,)), c=(0.0, 1.0), w=(0.5, 0.5), weak_order=2.0)
TABLEAUX = {t.name: t for t in (EULER_MARUYAMA, HEUN)}


@dataclass(frozen=True)
class Scheme:
    """A tableau plus the update order of the state's components (``None``: all at once)."""

    tableau: Tableau = EULER_MARUYAMA
    order: tuple[tuple[str, ...], ...] | None = None

    def groups(self, fields: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        if self.order is None:
            return (tuple(fields),)
        flat = [name for group in self.order for name in group]
        if sorted(flat) != sorted(fields):
            raise ValueError(f"order={self.order}: must list every state component {fields} "
                             "exactly once")
        return self.order


def integrate_step(sde, state, key, dt, scheme: Scheme = Scheme()):
    """One step of ``scheme`` for ``sde`` from ``state`` with time step ``dt`` (pure)."""
    xi = normal(key, jnp.shape(state.x), jnp.result_type(state.x))
    dw = jnp.sqrt(dt).astype(xi.dtype) * xi
    for group in scheme.groups(state._fields):
        state = _advance(sde, state, group, dt, dw, scheme.tableau)
    return state


def _advance(sde, y0, group, dt, dw, tab: Tableau):
    first, noise = sde.drift_and_diffusion(y0, dw)
    slopes = [first]
    for i in range(1, tab.stages):
        yi = y0._replace(**{
            name: getattr(y0, name)
            + dt * sum(a * getattr(s, name) for a, s in zip(tab.a[i], slopes))
            + tab.c[i] * noise.get(name, 0.0)
            for name in group})
        slopes.append(sde.drift(yi))
    return y0._replace(**{
        name: getattr(y0, name) + dt * sum(w * getattr(s, name) for w, s in zip(tab.w, slopes))
        + noise.get(name, 0.0)
        for name in group})


class SDE:
    """Mixin for the SDE models: ``step(state, key)`` integrates one step of size ``dt = lr``.

    Subclasses are pytree dataclasses with fields ``lr`` and ``scheme`` (a :class:`Scheme`, static)
    and methods ``init``, ``drift`` and ``diffusion``. They may override ``drift_and_diffusion``
    to share work between the two at the same state (XLA does not merge two identical
    ``betainc`` loops, so the Student-t SignSGD SDE would otherwise pay twice).
    """

    def drift_and_diffusion(self, state, dw):
        return self.drift(state), self.diffusion(state, dw)

    def step(self, state, key):
        return integrate_step(self, state, key, self.lr, self.scheme)
