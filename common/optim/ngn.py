r"""NGN and NGN-M: the non-negative Gauss-Newton step size, without and with momentum.

**NGN** (Orvieto & Xiao, arXiv 2407.04358). With ``f_S >= 0`` the mini-batch loss and ``g`` its
gradient, one step minimises the regularised Gauss-Newton model of ``r = sqrt(f_S)``,
``(r + \nabla r^T p)^2 + ||p||^2 / (2c)``, which gives

.. math::  \gamma_k = \frac{c}{1 + \frac{c}{2 f_{S_k}(x_k)} \|\nabla f_{S_k}(x_k)\|^2},
           \qquad x_{k+1} = x_k - \gamma_k \nabla f_{S_k}(x_k).

``gamma_k <= c`` always, and ``gamma_k >= c / (1 + cL)`` for L-smooth ``f >= 0``: the step
shrinks by itself where the loss is small relative to the squared gradient.

**NGN-M** (Islamov, Ajroldi, Orvieto, Lucchi, arXiv 2508.15071, Algorithm 1). The NGN step is
applied *before* heavy-ball averaging:

.. math::  x_{k+1} = x_k - (1-\beta)\gamma_k \nabla f_{S_k}(x_k) + \beta (x_k - x_{k-1}),

equivalently ``m_k = beta m_{k-1} + (1 - beta) gamma_k g_k``, ``x_{k+1} = x_k - m_k`` with
``m_{-1} = 0`` (``x_{-1} = x_0``). Default ``beta = 0.9``.

**NGN-M "version 2"** (the ordering the paper rejects in its section 3.1; the formula is our
reading of the text [unverified], its behaviour, divergence at large ``c``, is what the paper
reports): average the gradients first, then take an NGN step on the average,
``m_k = beta m_{k-1} + (1 - beta) g_k``, ``gamma_k = c / (1 + c ||m_k||^2 / (2 f))``,
``x_{k+1} = x_k - gamma_k m_k``.

Implementation notes (as in the parent method's reference code): ``f`` is the *mini-batch loss
value* from the same forward pass as the gradient, and ``||g||`` is the *global* norm over all
parameters. ``f = 0`` is guarded by ``max(f, tiny)``. There is no weight decay: the paper's
weight-decay variants (App. G) are reconstructed in our notes and not implemented.

Functional API (pure; never modifies its inputs): ``state = ngn_m_init(params)``, then
``updates, state, info = ngn_m_update(grads, state, loss, c=..., beta=...)`` and
``params = apply_updates(params, updates)``. ``info["step_size"]`` is ``gamma_k``.
With ``batch_dims=b``, the leading ``b`` dims index independent problems and ``c`` may be a
tensor of that shape (see :mod:`common.optim._tree`).

Example::

    >>> import torch
    >>> from common.optim import ngn_m_init, ngn_m_update, apply_updates
    >>> x = (torch.tensor([3.0]),)
    >>> state = ngn_m_init(x)
    >>> g = (2 * x[0],); f = x[0].pow(2).sum()
    >>> updates, state, info = ngn_m_update(g, state, f, c=1.0, beta=0.9)
    >>> round(float(info["step_size"]), 4)  # c / (1 + c * 36 / (2 * 9)) = 1/3
    0.3333
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import (
    as_tuple,
    check_loss,
    check_positive,
    check_unit_interval,
    expand_to,
    tree_sq_norm,
)
from common.optim.adapter import FunctionalOptimizer

__all__ = ["ngn_step_size", "NGNState", "NGNMState", "ngn_init", "ngn_update", "ngn_m_init",
           "ngn_m_update",           "ngn_m_v2_init", "ngn_m_v2_update", "NGN", "NGNM", "TINY"]

#: Guard for ``f = 0`` in the step size: ``f`` is replaced by ``max(f, TINY)``.
TINY = 1e-30


def ngn_step_size(loss, grad_sq_norm, c):
    r"""``gamma = c / (1 + c * ||g||^2 / (2 max(f, TINY)))`` (elementwise over batched inputs)."""
    loss = torch.as_tensor(loss)
    f = loss.clamp_min(TINY) if loss.is_floating_point() else loss.double().clamp_min(TINY)
    return c / (1.0 + c * grad_sq_norm / (2.0 * f))


class NGNMState(NamedTuple):
    """Momentum buffers (one per parameter tensor) and the number of steps taken."""

    momentum: tuple[torch.Tensor, ...]
    count: int


class NGNState(NamedTuple):
    """NGN keeps no buffers; the state only counts steps."""

    count: int


def ngn_init(params) -> NGNState:
    """The initial NGN state (no buffers)."""
    return NGNState(count=0)


def _gamma(grads, loss, c, batch_dims, grad_sq_norm):
    check_positive("c", c)
    if grad_sq_norm is None:
        grad_sq_norm = tree_sq_norm(grads, batch_dims)
    return ngn_step_size(check_loss(loss), grad_sq_norm, c)


def ngn_update(grads, state: NGNState, loss, *, c, batch_dims: int = 0, grad_sq_norm=None):
    """One NGN step: ``updates = -gamma * g``. Returns ``(updates, state, info)``.

    ``grad_sq_norm`` overrides the squared norm of ``grads`` (the torch adapter passes the global
    norm over all parameter groups when it updates one group at a time).
    """
    grads = as_tuple(grads)
    gamma = _gamma(grads, loss, c, batch_dims, grad_sq_norm)
    updates = tuple(-expand_to(gamma, g, batch_dims) * g for g in grads)
    return updates, NGNState(state.count + 1), {"step_size": gamma}


def ngn_m_init(params) -> NGNMState:
    """Zero momentum buffers shaped like ``params`` (``m_{-1} = 0``)."""
    return NGNMState(momentum=tuple(torch.zeros_like(p) for p in as_tuple(params)), count=0)


def ngn_m_update(grads, state: NGNMState, loss, *, c, beta=0.9, batch_dims: int = 0,
                 grad_sq_norm=None):
    """One NGN-M step (Algorithm 1): ``m = beta m + (1-beta) gamma g``; ``updates = -m``."""
    grads = as_tuple(grads)
    check_unit_interval("beta", beta)
    gamma = _gamma(grads, loss, c, batch_dims, grad_sq_norm)
    momentum = tuple(
        expand_to(beta, m, batch_dims) * m
        + (1 - expand_to(beta, m, batch_dims)) * expand_to(gamma, g, batch_dims) * g
        for m, g in zip(state.momentum, grads, strict=True))
    return tuple(-m for m in momentum), NGNMState(momentum, state.count + 1), {"step_size": gamma}


ngn_m_v2_init = ngn_m_init


def ngn_m_v2_update(grads, state: NGNMState, loss, *, c, beta=0.9, batch_dims: int = 0):
    """NGN-M "version 2" [unverified form]: average first, then ``gamma(||m||)``; ``-gamma m``."""
    grads = as_tuple(grads)
    check_unit_interval("beta", beta)
    momentum = tuple(
        expand_to(beta, m, batch_dims) * m + (1 - expand_to(beta, m, batch_dims)) * g
        for m, g in zip(state.momentum, grads, strict=True))
    gamma = _gamma(momentum, loss, c, batch_dims, None)
    updates = tuple(-expand_to(gamma, m, batch_dims) * m for m in momentum)
    return updates, NGNMState(momentum, state.count + 1), {"step_size": gamma}


class NGN(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`ngn_update` (NGN, no momentum)."""

    init = staticmethod(ngn_init)
    update = staticmethod(ngn_update)
    state_class = NGNState
    per_param = ()
    hyperparameters = ("c",)

    def __init__(self, params, c: float = 1.0, *, foreach: bool | None = None):
        check_positive("c", c)
        super().__init__(params, foreach=foreach, c=c)

    def _foreach_group(self, params, grads, loss, hyper):
        """:func:`ngn_update` in place with ``torch._foreach_*`` (same operations, same order)."""
        gamma = _gamma(grads, loss, hyper["c"], 0, hyper.get("grad_sq_norm"))
        torch._foreach_add_(params, torch._foreach_mul(grads, -gamma))
        self.state[params[0]]["count"] = self.state[params[0]].get("count", 0) + 1
        return gamma


class NGNM(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`ngn_m_update` (NGN-M, Algorithm 1 of 2508.15071)."""

    init = staticmethod(ngn_m_init)
    update = staticmethod(ngn_m_update)
    state_class = NGNMState
    per_param = ("momentum",)
    hyperparameters = ("c", "beta")

    def __init__(self, params, c: float = 1.0, beta: float = 0.9, *,
                 foreach: bool | None = None):
        check_positive("c", c)
        check_unit_interval("beta", beta)
        super().__init__(params, foreach=foreach, c=c, beta=beta)

    def _foreach_group(self, params, grads, loss, hyper):
        """:func:`ngn_m_update` in place with ``torch._foreach_*``: ``m <- beta m + ((1-beta)
        gamma) g``, ``x <- x - m`` (the functional update's operations, in its order)."""
        beta = hyper["beta"]
        gamma = _gamma(grads, loss, hyper["c"], 0, hyper.get("grad_sq_norm"))
        (momentum,), count = self._foreach_state(params)
        scaled = torch._foreach_mul(grads, (1 - beta) * gamma)
        torch._foreach_mul_(momentum, beta)
        torch._foreach_add_(momentum, scaled)
        torch._foreach_sub_(params, momentum)
        self.state[params[0]]["count"] = count + 1
        return gamma
