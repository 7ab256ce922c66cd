r"""SGD with momentum, exactly as ``torch.optim.SGD`` computes it, as a pure functional update.

.. math::
    g_k &\leftarrow g_k + \lambda x_k \quad\text{(coupled L2 weight decay, if } \lambda > 0) \\
    b_k &= \begin{cases} g_k & k = 0 \\ \mu b_{k-1} + (1 - \tau) g_k & k > 0 \end{cases} \\
    x_{k+1} &= x_k - \eta\,(g_k + \mu b_k \text{ if Nesterov else } b_k)

with momentum ``mu``, dampening ``tau``. Two parameterisations matter for the papers and shift
divergence thresholds by a factor ``1/(1-mu)``:

- **EMA form** (``dampening = momentum``, e.g. 0.9): ``b = 0.9 b + 0.1 g``. The NGN-M paper's deep
  learning baselines use it ("SGD-M with dampening 0.9").
- **heavy-ball form** (``dampening = 0``): ``b = 0.9 b + g``, ten times the effective step.

Note the first step: torch initialises the buffer to ``g`` itself, not ``(1 - tau) g``, so with
dampening the very first step is ``1/(1-tau)`` times larger than the EMA recursion from zero.
We keep torch's convention by default (``buffer_init="grad"``) so this module and
``torch.optim.SGD`` agree bit for bit; ``buffer_init="zero"`` starts the recursion from
``b_{-1} = 0`` instead (``b_0 = (1 - tau) g_0``), the EMA as it is usually written. With dampening
0 the two coincide. Divergence thresholds of the EMA form depend on this choice (the NGN-M
chapter measures both): the oversized first step of torch's form can throw the iterate out of the
region where the later, averaged steps would be stable.

Plain SGD, ``x_{k+1} = x_k - eta g_k`` (momentum 0, no buffer), is :func:`sgd_update`; it is the
torch twin of :class:`common.sde.SGD` under the registry name ``"SGD"``.

**SGDW** (:func:`sgdw_update`): the same momentum recursion on the plain gradient, with the weight
decay **decoupled** and scaled by the step size (:mod:`common.optim.weight_decay`),

.. math::  b_k = \mu b_{k-1} + (1-\tau) g_k, \qquad x_{k+1} = (1 - \eta\lambda)\, x_k - \eta\, b_k ,

the SGDW of Loshchilov & Hutter (arXiv 1711.05101) and of Zhao, Cheng, Masarczyk & Lucchi
(arXiv 2602.16642, Thm 3.1, heavy-ball form ``tau = 0``). torch has no SGDW;
``weight_decay`` of :func:`sgdm_update` (and of ``torch.optim.SGD``) is the *coupled* decay.

Functional API: ``state = sgdm_init(params)``;
``updates, state, info = sgdm_update(grads, state, params, lr=..., momentum=..., dampening=...)``.
``lr`` may be a tensor of the batch shape when ``batch_dims > 0`` (a whole learning-rate sweep in
one call).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, expand_to
from common.optim.adapter import FunctionalOptimizer
from common.optim.weight_decay import check_weight_decay, decoupled_updates

__all__ = ["SGDState", "SGDMState", "sgd_init", "sgd_update", "sgdm_init", "sgdm_update",
           "sgdw_update", "SGDW", "FORMS", "BUFFER_INITS", "sgdm_torch"]

#: Named momentum parameterisations: form -> dampening as a function of the momentum.
FORMS = {"ema": lambda mu: mu, "heavy_ball": lambda mu: 0.0}

#: How the momentum buffer starts: torch's ``b_0 = g_0`` or the recursion from ``b_{-1} = 0``.
BUFFER_INITS = ("grad", "zero")


class SGDState(NamedTuple):
    """Plain SGD keeps no buffers; the state only counts steps."""

    count: int


def sgd_init(params) -> SGDState:
    """Initial state of plain SGD: only the step count (no buffers)."""
    return SGDState(0)


def sgd_update(grads, state: SGDState, params=None, *, lr, batch_dims: int = 0):
    """One plain SGD step: ``updates = -lr * g``. Returns ``(updates, state, info)``."""
    grads = as_tuple(grads)
    check_positive("lr", lr)
    updates = tuple(-expand_to(lr, g, batch_dims) * g for g in grads)
    return updates, SGDState(state.count + 1), {"step_size": lr}


class SGDMState(NamedTuple):
    buffer: tuple[torch.Tensor, ...]
    count: int


def sgdm_init(params) -> SGDMState:
    """Initial state: zero momentum buffers, step 0."""
    return SGDMState(tuple(torch.zeros_like(p) for p in as_tuple(params)), 0)


def sgdm_update(grads, state: SGDMState, params=None, *, lr, momentum=0.9, dampening=0.0,
                nesterov: bool = False, weight_decay: float = 0.0, buffer_init: str = "grad",
                batch_dims: int = 0):
    """One step of torch's SGD; returns ``(updates, state, info)`` with ``updates = -lr * d``.

    ``buffer_init``: ``"grad"`` (torch: ``b_0 = g_0``) or ``"zero"`` (``b_0 = (1 - dampening)
    g_0``, the recursion from a zero buffer; module docstring).
    """
    grads = as_tuple(grads)
    check_positive("lr", lr)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum={momentum}: must be in [0, 1)")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"dampening={dampening}: must be in [0, 1]")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening = 0 (as in torch)")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0")
    if buffer_init not in BUFFER_INITS:
        raise ValueError(f"buffer_init={buffer_init!r}: allowed values are {list(BUFFER_INITS)}")
    if weight_decay:
        if params is None:
            raise ValueError("weight_decay > 0 needs params")
        grads = tuple(g + weight_decay * p for g, p in zip(grads, as_tuple(params), strict=True))
    if state.count == 0 and buffer_init == "grad":
        buf = tuple(g.clone() for g in grads)
    else:  # from the stored buffer (zeros at the first step with buffer_init="zero")
        buf = tuple(momentum * b + (1 - dampening) * g
                    for b, g in zip(state.buffer, grads, strict=True))
    direction = tuple(g + momentum * b for g, b in zip(grads, buf)) if nesterov else buf
    updates = tuple(-expand_to(lr, d, batch_dims) * d for d in direction)
    return updates, SGDMState(buf, state.count + 1), {"step_size": lr}


def sgdw_update(grads, state: SGDMState, params, *, lr, momentum=0.9, dampening=0.0,
                nesterov: bool = False, weight_decay: float = 0.0, batch_dims: int = 0):
    """One SGDW step (decoupled decay): torch's momentum recursion on ``g``, then
    ``updates = -lr * d - lr * weight_decay * x``. Returns ``(updates, state, info)``."""
    check_weight_decay("weight_decay", weight_decay)
    updates, state, info = sgdm_update(grads, state, params, lr=lr, momentum=momentum,
                                       dampening=dampening, nesterov=nesterov,
                                       batch_dims=batch_dims)
    return decoupled_updates(updates, params, lr, weight_decay, batch_dims=batch_dims), state, info


class SGDW(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`sgdw_update` (heavy-ball momentum by default, as the
    SGDW of arXiv 2602.16642: ``dampening = 0``)."""

    init = staticmethod(sgdm_init)
    update = staticmethod(sgdw_update)
    state_class = SGDMState
    per_param = ("buffer",)
    hyperparameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-2, momentum: float = 0.9, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        check_positive("lr", lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum={momentum}: must be in [0, 1)")
        check_weight_decay("weight_decay", weight_decay)
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)


def sgdm_torch(params, *, lr: float, momentum: float = 0.9, form: str = "ema"):
    """``torch.optim.SGD`` in a named form: ``"ema"`` (dampening = momentum) or ``"heavy_ball"``.

    This is the baseline the NGN-M paper uses (its deep-learning runs: "SGD-M with dampening 0.9").
    """
    if form not in FORMS:
        raise ValueError(f"form={form!r}: allowed values are {sorted(FORMS)}")
    return torch.optim.SGD(params, lr=lr, momentum=momentum, dampening=FORMS[form](momentum))
