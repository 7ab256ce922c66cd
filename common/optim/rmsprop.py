r"""RMSprop, exactly as ``torch.optim.RMSprop`` computes it without momentum or centring.

Tieleman & Hinton, "Lecture 6.5 - rmsprop", COURSERA: Neural Networks for Machine Learning
(2012); the form is PyTorch's. With the gradient ``g_k`` at ``x_k``:

.. math::  v_k = \alpha v_{k-1} + (1-\alpha)\, g_k \odot g_k, \qquad
           x_{k+1} = x_k - \eta\, \frac{g_k}{\sqrt{v_k} + \epsilon}, \qquad v_{-1} = 0,

defaults ``alpha = 0.99``, ``eps = 1e-8`` (outside the square root), no bias correction (so the
first steps are ``1/sqrt(1 - alpha)`` = 10 times larger than a bias-corrected one would be).
It is the diagonal preconditioner NGN-D is compared with in the NGN-M paper (arXiv 2508.15071,
Table 9). The SDE model of RMSprop with decoupled weight decay is :class:`common.sde.RMSpropW`
(a JAX discrete optimizer; with ``theta = 0`` the same recursion).

Functional API (pure): ``state = rmsprop_init(params)``;
``updates, state, info = rmsprop_update(grads, state, params, lr=...)``; ``lr`` may be a tensor of
the batch shape when ``batch_dims > 0``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, check_unit_interval, expand_to
from common.optim.adapter import FunctionalOptimizer

__all__ = ["RMSpropState", "rmsprop_init", "rmsprop_update", "RMSprop"]


class RMSpropState(NamedTuple):
    """RMSprop's state: the running averages ``v`` of squared gradients and the step count."""

    square_avg: tuple[torch.Tensor, ...]
    count: int


def rmsprop_init(params) -> RMSpropState:
    """Zero second-moment buffers shaped like ``params`` (``v_{-1} = 0``)."""
    return RMSpropState(tuple(torch.zeros_like(p) for p in as_tuple(params)), 0)


def rmsprop_update(grads, state: RMSpropState, params=None, *, lr, alpha: float = 0.99,
                   eps: float = 1e-8, batch_dims: int = 0):
    """One RMSprop step: ``updates = -lr * g / (sqrt(v) + eps)``. Returns ``(updates, state,
    info)``; ``info["step_size"]`` is ``lr``."""
    grads = as_tuple(grads)
    check_positive("lr", lr)
    check_unit_interval("alpha", alpha)
    check_positive("eps", eps)
    v = tuple(alpha * s + (1 - alpha) * g * g
              for s, g in zip(state.square_avg, grads, strict=True))
    updates = tuple(-expand_to(lr, g, batch_dims) * g / (vi.sqrt() + eps)
                    for g, vi in zip(grads, v))
    return updates, RMSpropState(v, state.count + 1), {"step_size": lr}


class RMSprop(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`rmsprop_update` (equal to ``torch.optim.RMSprop`` with
    its defaults up to rounding; tests/optim/test_rmsprop.py)."""

    init = staticmethod(rmsprop_init)
    update = staticmethod(rmsprop_update)
    state_class = RMSpropState
    per_param = ("square_avg",)
    hyperparameters = ("lr", "alpha", "eps")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8):
        rmsprop_update((torch.zeros(1),), rmsprop_init((torch.zeros(1),)), lr=lr, alpha=alpha,
                       eps=eps)  # validates the hyperparameters
        super().__init__(params, lr=lr, alpha=alpha, eps=eps)
