r"""Variational optimisation of a quantum cost: exact-gradient descent and the official random walk.

**Gradient descent** (the official ``VanillaGradientDescent``; exact gradients by adjoint
differentiation): :math:`\theta_{t+1} = \theta_t - \eta\,\nabla C(\theta_t)`, ``num_steps`` steps.
The official loop records :math:`C(\theta_t)` *before* each update (``num_steps`` values); we record
:math:`C(\theta_0), \dots, C(\theta_T)`, so ``losses[-1]`` is the cost after the last update
(``losses[-2]`` is the official "final" value).

**Random walk** (the random phase of the official ``HybridRandomWalk``, the control of
``code_randomwalk``): each step draws a unit vector :math:`u` and sets
:math:`\theta \leftarrow \theta - \eta(\eta u)`, i.e. a step of length :math:`\eta^2`. The official
hybrid is this walk for ``max_random_iterations`` steps followed by gradient descent; compose the
two functions (the walk's end point starts the descent). The committed official notebook sets
``max_random_iterations`` to the number of iterations (a pure walk), but its pickled results show
10 random steps (pseudo-gradient norm ``lr`` for 10 iterations, true gradients after).

Both take a ``cost_and_grad(theta) -> (C, grad)`` callable (batched over parameter sets when
``theta`` is ``(B, D)``, as :func:`common.quantum.statevector.cost_and_grad` and the JAX backend
are), so several runs advance together as one batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["gradient_descent", "random_walk"]


def _check(theta0, lr, num_steps) -> np.ndarray:
    th = np.array(theta0, dtype=float)
    if th.ndim not in (1, 2) or not np.all(np.isfinite(th)):
        raise ValueError(f"theta0 must be a finite (D,) or (B, D) array, got shape {th.shape}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r}: a positive step size")
    if not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
        raise ValueError(f"num_steps={num_steps!r}: a non-negative integer")
    return th


def gradient_descent(cost_and_grad: Callable, theta0, lr: float, num_steps: int):
    """Plain GD; returns ``(theta_T, losses (T+1,) or (T+1, B), grad_norms (T,) or (T, B))``."""
    theta = _check(theta0, lr, num_steps)
    losses, norms = [], []
    for _ in range(num_steps):
        value, grad = cost_and_grad(theta)
        losses.append(value)
        norms.append(np.linalg.norm(grad, axis=-1))
        theta = theta - lr * grad
    losses.append(cost_and_grad(theta)[0])
    return theta, np.array(losses), np.array(norms)


def random_walk(cost: Callable, theta0, lr: float, num_steps: int, rng: np.random.Generator):
    """The official random walk: ``theta -= lr * (lr * u)``, ``u`` uniform on the unit sphere.

    Returns ``(theta_T, losses (T+1,) or (T+1, B))``; ``cost(theta)`` may be batched.
    """
    theta = _check(theta0, lr, num_steps)
    losses = [cost(theta)]
    for _ in range(num_steps):
        u = rng.standard_normal(theta.shape)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        theta = theta - lr * (lr * u)
        losses.append(cost(theta))
    return theta, np.array(losses)
