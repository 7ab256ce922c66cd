r"""SignSGD and Signum: steps along the sign of the gradient or of its momentum.

**SignSGD** (Bernstein, Wang, Azizzadenesheli, Anandkumar, arXiv 1802.04434, Algorithm 1):

.. math::  x_{k+1} = x_k - \eta\, \mathrm{sign}(g_k),

elementwise, with ``sign(0) = 0`` (torch's convention). **Signum** (the same paper, Algorithm 3):
the sign of an exponential moving average of the gradients,

.. math::  m_k = \beta m_{k-1} + (1-\beta) g_k, \quad m_{-1} = 0, \qquad
           x_{k+1} = x_k - \eta\, \mathrm{sign}(m_k).

The paper writes the momentum without the ``1 - beta`` factor in places; the sign is the same
(a positive factor), so the iterates are too. Default ``beta = 0.9``.

**Weight decay** (:mod:`common.optim.weight_decay`), following torch's naming: ``weight_decay`` of
:func:`signsgd_update` / :func:`signum_update` is **coupled** (``g + lambda x`` inside the sign
or the momentum, as in Bernstein et al.'s code and the "Signum" of Zhao, Cheng, Masarczyk &
Lucchi, arXiv 2602.16642); the ``W`` variants :func:`signsgdw_update` / :func:`signumw_update`
decay **decoupled**, scaled by the step size like ``torch.optim.AdamW``:

.. math::  x_{k+1} = x_k - \eta\,(\mathrm{sign}(m_k) + \lambda x_k)

(that paper's "SignumW"; with ``beta = 0`` its "SignGD with decoupled weight decay", Thm 3.3,
whose coupled counterpart ``x_{k+1} = x_k - eta sign(g_k + lambda x_k)`` is Thm 3.4). torch has
neither method.

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
from common.optim.weight_decay import check_weight_decay, coupled_grads, decoupled_updates

__all__ = ["SignSGDState", "SignumState", "signsgd_init", "signsgd_update", "signsgdw_update",
           "signum_init", "signum_update", "signumw_update", "SignSGD", "SignSGDW", "Signum",
           "SignumW"]


class SignSGDState(NamedTuple):
    """SignSGD keeps no buffers; the state only counts steps."""

    count: int


class SignumState(NamedTuple):
    momentum: tuple[torch.Tensor, ...]
    count: int


def signsgd_init(params) -> SignSGDState:
    """Initial state of SignSGD: only the step count (no buffers)."""
    return SignSGDState(0)


def signsgd_update(grads, state: SignSGDState, params=None, *, lr, weight_decay=0.0,
                   batch_dims: int = 0):
    """One SignSGD step: ``updates = -lr * sign(g + weight_decay * x)`` (coupled decay).
    Returns ``(updates, state, info)``."""
    check_positive("lr", lr)
    grads = coupled_grads(grads, params, _decay("weight_decay", weight_decay),
                          batch_dims=batch_dims)
    updates = tuple(-expand_to(lr, g, batch_dims) * torch.sign(g) for g in grads)
    return updates, SignSGDState(state.count + 1), {"step_size": lr}


def signum_init(params) -> SignumState:
    """Initial state of Signum: zero momentum buffers, step 0."""
    return SignumState(tuple(torch.zeros_like(p) for p in as_tuple(params)), 0)


def signum_update(grads, state: SignumState, params=None, *, lr, beta=0.9, weight_decay=0.0,
                  batch_dims: int = 0):
    """One Signum step: ``m = beta m + (1 - beta) (g + weight_decay * x)`` (coupled decay);
    ``updates = -lr * sign(m)``."""
    check_positive("lr", lr)
    check_unit_interval("beta", beta)
    grads = coupled_grads(grads, params, _decay("weight_decay", weight_decay),
                          batch_dims=batch_dims)
    momentum = tuple(
        expand_to(beta, m, batch_dims) * m + (1 - expand_to(beta, m, batch_dims)) * g
        for m, g in zip(state.momentum, grads, strict=True))
    updates = tuple(-expand_to(lr, m, batch_dims) * torch.sign(m) for m in momentum)
    return updates, SignumState(momentum, state.count + 1), {"step_size": lr}


def signsgdw_update(grads, state: SignSGDState, params, *, lr, weight_decay=0.0,
                    batch_dims: int = 0):
    """One SignSGDW step (decoupled decay): ``updates = -lr (sign(g) + weight_decay * x)``."""
    updates, state, info = signsgd_update(grads, state, params, lr=lr, batch_dims=batch_dims)
    return decoupled_updates(updates, params, lr, _decay("weight_decay", weight_decay),
                             batch_dims=batch_dims), state, info


def signumw_update(grads, state: SignumState, params, *, lr, beta=0.9, weight_decay=0.0,
                   batch_dims: int = 0):
    """One SignumW step (decoupled decay): ``m = beta m + (1 - beta) g``;
    ``updates = -lr (sign(m) + weight_decay * x)``."""
    updates, state, info = signum_update(grads, state, params, lr=lr, beta=beta,
                                         batch_dims=batch_dims)
    return decoupled_updates(updates, params, lr, _decay("weight_decay", weight_decay),
                             batch_dims=batch_dims), state, info


def _decay(name: str, value):
    check_weight_decay(name, value)
    return value


class SignSGD(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`signsgd_update` (coupled ``weight_decay``)."""

    init = staticmethod(signsgd_init)
    update = staticmethod(signsgd_update)
    state_class = SignSGDState
    hyperparameters = ("lr", "weight_decay")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.0):
        check_positive("lr", lr)
        check_weight_decay("weight_decay", weight_decay)
        super().__init__(params, lr=lr, weight_decay=weight_decay)


class SignSGDW(SignSGD):
    """``torch.optim`` adapter of :func:`signsgdw_update` (decoupled ``weight_decay``)."""

    update = staticmethod(signsgdw_update)


class Signum(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`signum_update` (coupled ``weight_decay``)."""

    init = staticmethod(signum_init)
    update = staticmethod(signum_update)
    state_class = SignumState
    per_param = ("momentum",)
    hyperparameters = ("lr", "beta", "weight_decay")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, beta: float = 0.9, weight_decay: float = 0.0):
        check_positive("lr", lr)
        check_unit_interval("beta", beta)
        check_weight_decay("weight_decay", weight_decay)
        super().__init__(params, lr=lr, beta=beta, weight_decay=weight_decay)


class SignumW(Signum):
    """``torch.optim`` adapter of :func:`signumw_update` (decoupled ``weight_decay``)."""

    update = staticmethod(signumw_update)
