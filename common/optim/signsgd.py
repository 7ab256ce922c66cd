r"""SignSGD and Signum: steps along the sign of the gradient or of its momentum.

**SignSGD** (Bernstein, Wang, Azizzadenesheli, Anandkumar, arXiv 1802.04434, Algorithm 1):

.. math::  x_{k+1} = x_k - \eta\, \mathrm{sign}(g_k),

elementwise, with ``sign(0) = 0`` (torch's convention). **Signum** (the same paper, Algorithm 3):
the sign of an exponential moving average of the gradients,

.. math::  m_k = \beta m_{k-1} + (1-\beta) g_k, \quad m_{-1} = 0, \qquad
           x_{k+1} = x_k - \eta\, \mathrm{sign}(m_k).

The paper writes the momentum without the ``1 - beta`` factor in places; the sign is the same
(a positive factor), so the iterates are too. Default ``beta = 0.9``. Weight decay, if any, is the
caller's composition (add ``weight_decay * x`` to the gradient).

These are the torch twins of :class:`common.sde.SignSGD` (the JAX discrete optimizer that the
SignSGD SDE models, adaptive-sde arXiv 2411.15958) under the same registry name ``"SignSGD"``.
With the Gaussian mechanism in front, SignSGD is dp-sde's DP-SignSGD (arXiv 2603.03226).

Functional API (pure): ``state = signsgd_init(params)``;
``updates, state, info = signsgd_update(grads, state, params, lr=...)``. ``lr`` may be a tensor
that broadcasts against the parameters (a grid of runs side by side) or, with ``batch_dims=b``,
of the leading batch shape.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, check_unit_interval, expand_to
from common.optim.adapter import FunctionalOptimizer

__all__ = ["SignSGDState", "SignumState", "signsgd_init", "signsgd_update", "signum_init",
           "signum_update", "SignSGD", "Signum"]


class SignSGDState(NamedTuple):
    """SignSGD keeps no buffers; the state only counts steps."""

    count: int


class SignumState(NamedTuple):
    momentum: tuple[torch.Tensor, ...]
    count: int


def signsgd_init(params) -> SignSGDState:
    """Initial state of SignSGD: only the step count (no buffers)."""
    return SignSGDState(0)


def signsgd_update(grads, state: SignSGDState, params=None, *, lr, batch_dims: int = 0):
    """One SignSGD step: ``updates = -lr * sign(g)``. Returns ``(updates, state, info)``."""
    grads = as_tuple(grads)
    check_positive("lr", lr)
    updates = tuple(-expand_to(lr, g, batch_dims) * torch.sign(g) for g in grads)
    return updates, SignSGDState(state.count + 1), {"step_size": lr}


def signum_init(params) -> SignumState:
    """Initial state of Signum: zero momentum buffers, step 0."""
    return SignumState(tuple(torch.zeros_like(p) for p in as_tuple(params)), 0)


def signum_update(grads, state: SignumState, params=None, *, lr, beta=0.9, batch_dims: int = 0):
    """One Signum step: ``m = beta m + (1 - beta) g``; ``updates = -lr * sign(m)``."""
    grads = as_tuple(grads)
    check_positive("lr", lr)
    check_unit_interval("beta", beta)
    momentum = tuple(
        expand_to(beta, m, batch_dims) * m + (1 - expand_to(beta, m, batch_dims)) * g
        for m, g in zip(state.momentum, grads, strict=True))
    updates = tuple(-expand_to(lr, m, batch_dims) * torch.sign(m) for m in momentum)
    return updates, SignumState(momentum, state.count + 1), {"step_size": lr}


class SignSGD(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`signsgd_update`."""

    init = staticmethod(signsgd_init)
    update = staticmethod(signsgd_update)
    state_class = SignSGDState
    hyperparameters = ("lr",)
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3):
        check_positive("lr", lr)
        super().__init__(params, lr=lr)


class Signum(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`signum_update`."""

    init = staticmethod(signum_init)
    update = staticmethod(signum_update)
    state_class = SignumState
    per_param = ("momentum",)
    hyperparameters = ("lr", "beta")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, beta: float = 0.9):
        check_positive("lr", lr)
        check_unit_interval("beta", beta)
        super().__init__(params, lr=lr, beta=beta)
