r"""Objectives for the SDE simulator: the diagonal quadratic of the papers, or any JAX loss.

The closed forms of :mod:`common.sde.closed_forms` are for the diagonal quadratic

.. math::  f(x) = \tfrac12 \sum_j h_j (x_j - x^\star_j)^2, \qquad
           \nabla f(x) = h \odot (x - x^\star),

the common set-up of the three SDE papers' notes (d = 10, h = linspace(0.5, 5, 10)). For a
network, ravel its parameters into one vector and wrap the full-batch loss in :class:`Objective`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from common.sde._base import (
    as_float,
    check_positive,
    check_same_dim,
    check_vector,
    pytree_dataclass,
    static,
)

__all__ = ["DiagQuadratic", "Objective"]


@pytree_dataclass
class DiagQuadratic:
    """f(x) = 1/2 sum_j h_j (x_j - x*_j)^2 with h > 0 (``x_star`` defaults to 0).

    Example::

        >>> f = DiagQuadratic(jnp.array([1.0, 2.0]))
        >>> float(f.loss(jnp.array([1.0, 1.0])))
        1.5
    """

    h: jax.Array
    x_star: jax.Array | None = None

    def __post_init__(self):
        check_vector("h", self.h)
        check_positive("h", self.h)
        as_float(self, "h", self.h)
        if self.x_star is None:
            object.__setattr__(self, "x_star", jnp.zeros_like(self.h))
        check_same_dim("x_star", self.x_star, "h", self.h.shape[0])
        as_float(self, "x_star", self.x_star)

    @property
    def dim(self) -> int:
        return self.h.shape[-1]

    def loss(self, x) -> jax.Array:
        r = x - self.x_star
        return 0.5 * jnp.sum(self.h * r * r, axis=-1)

    def grad(self, x) -> jax.Array:
        return self.h * (x - self.x_star)


@pytree_dataclass
class Objective:
    """Any differentiable f(x) = ``loss_fn(x, data)`` of a 1-D parameter vector; grad by autodiff.

    ``loss_fn`` is static (a module-level function compiles once); ``data`` is a pytree of arrays.
    """

    loss_fn: Callable = static(None)
    data: Any = None

    def __post_init__(self):
        if not callable(self.loss_fn):
            raise ValueError(f"loss_fn={self.loss_fn!r}: must be a callable loss_fn(x, data)")

    dim = None

    def loss(self, x) -> jax.Array:
        return self.loss_fn(x, self.data)

    def grad(self, x) -> jax.Array:
        return jax.grad(self.loss_fn)(x, self.data)
