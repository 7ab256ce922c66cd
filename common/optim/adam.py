r"""Adam with explicit weight decay: coupled (L2 in the gradient, ``torch.optim.Adam``) and
decoupled (AdamW, ``torch.optim.AdamW``).

**Adam** (Kingma & Ba, arXiv 1412.6980, Algorithm 1), with the gradient ``g_k`` at ``x_k``:

.. math::  m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k, \quad
           v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2, \quad
           \hat m_k = \frac{m_k}{1-\beta_1^{k+1}}, \quad \hat v_k = \frac{v_k}{1-\beta_2^{k+1}},
           \quad x_{k+1} = x_k - \eta\, \frac{\hat m_k}{\sqrt{\hat v_k} + \epsilon}

(``k`` counts from 0, so the first bias correction is ``1 - beta``). Defaults
``(beta1, beta2) = (0.9, 0.999)``, ``eps = 1e-8``.

**Weight decay, coupled and decoupled** (:mod:`common.optim.weight_decay`).
:func:`adam_cd_update` takes both parts, named for where they enter: a **coupled** part ``c``
(``g_k + c x_k`` enters both moments, an L2 penalty rescaled by the preconditioner, as
``torch.optim.Adam(weight_decay=c)``) and a **decoupled** part ``d`` (Loshchilov & Hutter,
arXiv 1711.05101: the decay bypasses the moments,
``x_{k+1} = x_k - eta (m_hat / (sqrt(v_hat) + eps) + d x_k)``; ``torch.optim.AdamW`` writes it as
``x <- x (1 - eta d)`` before the Adam step, the same iterate). With ``c`` and ``d`` both
positive it is the interpolation between Adam and AdamW of Zhao, Cheng, Masarczyk & Lucchi
(arXiv 2602.16642, Section 3.4 and Fig. 8: ``c + d`` fixed, the coupled share varied).
:func:`adam_update` (``weight_decay`` = ``c``, ``d = 0``) is Adam and :func:`adamw_update`
(``weight_decay`` = ``d``, ``c = 0``) is AdamW: the two special cases, the same floats.
With ``beta1 = beta2 = 0`` the step is ``g / (|g| + eps)``, SignSGD while ``|g| >> eps``
(that paper's "Adam0", Fig. 9); :mod:`common.optim.signsgd` is the exact sign.

**Where we depart from PyTorch.** The step is computed in the paper's order,
``lr * m_hat / (sqrt(v_hat) + eps)``; torch folds the bias corrections into the step size and
``eps`` (``lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)``), which is the same number up to rounding
(tests compare the two at float64 to 1e-12).

AdamW is the torch twin of :class:`common.sde.AdamW` (the JAX discrete optimizer that the AdamW
SDEs model, adaptive-sde arXiv 2411.15958) under the same registry name ``"AdamW"``; with the
Gaussian mechanism in front, Adam is dp-sde's DP-Adam (arXiv 2603.03226).

Functional API (pure): ``state = adam_init(params)``;
``updates, state, info = adam_update(grads, state, params, lr=...)`` (likewise
``adamw_update`` and ``adam_cd_update(..., coupled_weight_decay=c, decoupled_weight_decay=d)``).
``lr`` may be a tensor that broadcasts against the parameters (a grid of runs side by side) or,
with ``batch_dims=b``, of the leading batch shape; so may ``c`` and ``d``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, check_unit_interval, expand_to
from common.optim.adapter import FunctionalOptimizer
from common.optim.weight_decay import check_weight_decay, coupled_grads, decoupled_updates

__all__ = ["AdamState", "adam_init", "adam_update", "adamw_update", "adam_cd_update", "Adam",
           "AdamW", "AdamCD"]


class AdamState(NamedTuple):
    m: tuple[torch.Tensor, ...]
    v: tuple[torch.Tensor, ...]
    count: int


def adam_init(params) -> AdamState:
    """Initial state: zero first and second moments, step 0 (Adam and AdamW share it)."""
    params = as_tuple(params)
    return AdamState(tuple(torch.zeros_like(p) for p in params),
                     tuple(torch.zeros_like(p) for p in params), 0)


def _check(lr, beta1, beta2, eps):
    check_positive("lr", lr)
    check_unit_interval("beta1", beta1)
    check_unit_interval("beta2", beta2)
    check_positive("eps", eps)


def _moments(grads, state: AdamState, beta1, beta2):
    # torch.add / torch.addcmul with a scalar factor: the kernels of the in-place
    # m.mul_(beta1).add_(g, alpha=1 - beta1) form, so both give the same floats
    m = tuple(torch.add(beta1 * mi, g, alpha=1 - beta1) for mi, g in zip(state.m, grads,
                                                                          strict=True))
    v = tuple(torch.addcmul(beta2 * vi, g, g, value=1 - beta2) for vi, g in zip(state.v, grads,
                                                                                strict=True))
    return m, v


def _direction(m, v, k, beta1, beta2, eps):
    bc1, bc2 = 1 - beta1 ** (k + 1), 1 - beta2 ** (k + 1)
    return tuple((mi / bc1, (vi / bc2).sqrt() + eps) for mi, vi in zip(m, v))


def adam_cd_update(grads, state: AdamState, params=None, *, lr, beta1=0.9, beta2=0.999,
                   eps=1e-8, coupled_weight_decay=0.0, decoupled_weight_decay=0.0,
                   batch_dims: int = 0):
    """One Adam step with a coupled part ``c`` and a decoupled part ``d`` of weight decay.

    ``g~ = g + c x`` enters the moments; ``updates = -lr (m_hat / (sqrt(v_hat) + eps) + d x)``.
    Returns ``(updates, state, info)``. ``c = 0`` is AdamW, ``d = 0`` is Adam.
    """
    grads = as_tuple(grads)
    _check(lr, beta1, beta2, eps)
    check_weight_decay("coupled_weight_decay", coupled_weight_decay)
    check_weight_decay("decoupled_weight_decay", decoupled_weight_decay)
    grads = coupled_grads(grads, params, coupled_weight_decay, batch_dims=batch_dims)
    m, v = _moments(grads, state, beta1, beta2)
    updates = tuple(-(expand_to(lr, mh, batch_dims) * mh / denom)
                    for mh, denom in _direction(m, v, state.count, beta1, beta2, eps))
    updates = decoupled_updates(updates, params, lr, decoupled_weight_decay,
                                batch_dims=batch_dims)
    return updates, AdamState(m, v, state.count + 1), {"step_size": lr}


def adam_update(grads, state: AdamState, params=None, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, batch_dims: int = 0):
    """One Adam step with coupled weight decay (``g + weight_decay * x``, as
    ``torch.optim.Adam``); ``(updates, state, info)`` with
    ``updates = -lr * m_hat / (sqrt(v_hat) + eps)``."""
    if not isinstance(weight_decay, torch.Tensor) and weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0")
    return adam_cd_update(grads, state, params, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                          coupled_weight_decay=weight_decay, batch_dims=batch_dims)


def adamw_update(grads, state: AdamState, params, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                 weight_decay=0.01, batch_dims: int = 0):
    """One AdamW step (decoupled decay, as ``torch.optim.AdamW``): ``updates = -lr (m_hat /
    (sqrt(v_hat) + eps) + weight_decay * x)``."""
    if not isinstance(weight_decay, torch.Tensor) and weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0")
    return adam_cd_update(grads, state, params, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                          decoupled_weight_decay=weight_decay, batch_dims=batch_dims)


class _AdamBase(FunctionalOptimizer):
    init = staticmethod(adam_init)
    state_class = AdamState
    per_param = ("m", "v")
    hyperparameters = ("lr", "beta1", "beta2", "eps", "weight_decay")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        _check(lr, betas[0], betas[1], eps)
        check_weight_decay("weight_decay", weight_decay)
        super().__init__(params, lr=lr, beta1=betas[0], beta2=betas[1], eps=eps,
                         weight_decay=weight_decay)


class Adam(_AdamBase):
    """``torch.optim`` adapter of :func:`adam_update` (coupled weight decay)."""

    update = staticmethod(adam_update)


class AdamW(_AdamBase):
    """``torch.optim`` adapter of :func:`adamw_update` (decoupled weight decay, default 0.01
    as ``torch.optim.AdamW``)."""

    update = staticmethod(adamw_update)

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class AdamCD(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`adam_cd_update`: Adam with a coupled part
    ``coupled_weight_decay`` and a decoupled part ``decoupled_weight_decay`` of weight decay."""

    init = staticmethod(adam_init)
    update = staticmethod(adam_cd_update)
    state_class = AdamState
    per_param = ("m", "v")
    hyperparameters = ("lr", "beta1", "beta2", "eps", "coupled_weight_decay",
                       "decoupled_weight_decay")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, coupled_weight_decay: float = 0.0,
                 decoupled_weight_decay: float = 0.0):
        _check(lr, betas[0], betas[1], eps)
        check_weight_decay("coupled_weight_decay", coupled_weight_decay)
        check_weight_decay("decoupled_weight_decay", decoupled_weight_decay)
        super().__init__(params, lr=lr, beta1=betas[0], beta2=betas[1], eps=eps,
                         coupled_weight_decay=coupled_weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay)
