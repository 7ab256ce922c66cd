r"""Weight decay, coupled and decoupled, as two pure pieces that any update composes with.

A weight-decay coefficient enters an optimizer in one of two places, and the two are different
algorithms for every optimizer except plain SGD without momentum:

- **coupled** (an L2 penalty ``(c/2)||x||^2`` added to the loss): the decay joins the gradient
  *before* the optimizer's own transformation (momentum, sign, Adam's preconditioner),

  .. math::  \tilde g_k = g_k + c\, x_k ;

  this is what ``torch.optim.SGD(weight_decay=c)`` and ``torch.optim.Adam(weight_decay=c)`` do.
- **decoupled** (Loshchilov & Hutter, arXiv 1711.05101): the decay bypasses the transformation
  and shrinks the iterate directly, scaled by the current step size,

  .. math::  x_{k+1} = x_k + u_k - \eta_k\, d\, x_k ,

  where ``u_k`` is the optimizer's update computed from the plain gradient. This is
  ``torch.optim.AdamW`` (``x <- x (1 - lr d)`` before the Adam step: the same iterate), the
  SGDW of Thm 3.1 and the SignumW of Zhao, Cheng, Masarczyk & Lucchi (arXiv 2602.16642, Table 1
  and Section 2.2): ``W <- (1 - eta lambda) W - eta V`` and ``W <- W - eta (sign(m) + lambda W)``.
  PyTorch multiplies the decoupled coefficient by the learning rate, so a decayed learning rate
  decays the weight decay too; the papers' decoupled grids (AdamW, SignumW: 5e-4 .. 10) are
  10^2-10^4 times larger than the coupled ones for that reason.

The optimizers with weight decay in :mod:`common.optim` are compositions of their plain update
with one or both of :func:`coupled_grads` and :func:`decoupled_updates`; nothing else in them
knows about decay. ``c`` and ``d`` may be tensors of the batch shape (``batch_dims``) like ``lr``.
"""

from __future__ import annotations

import torch

from common.optim._tree import as_tuple, expand_to

__all__ = ["check_weight_decay", "coupled_grads", "decoupled_updates"]


def check_weight_decay(name: str, value) -> None:
    """``value >= 0`` (a scalar or a tensor of coefficients), else a ValueError naming ``name``."""
    v = torch.as_tensor(value)
    if torch.any(~(v >= 0)):
        raise ValueError(f"{name}={value}: must be >= 0 (and not NaN)")


def _is_zero(value) -> bool:
    return not isinstance(value, torch.Tensor) and value == 0


def coupled_grads(grads, params, coupled_weight_decay, *, batch_dims: int = 0):
    """``g + c x`` for every tensor (the L2 term's gradient joins the gradient); ``grads``
    unchanged (the same tuple) when ``c`` is the number 0."""
    grads = as_tuple(grads)
    check_weight_decay("coupled_weight_decay", coupled_weight_decay)
    if _is_zero(coupled_weight_decay):
        return grads
    if params is None:
        raise ValueError("coupled_weight_decay > 0 needs params")
    return tuple(g + expand_to(coupled_weight_decay, p, batch_dims) * p
                 for g, p in zip(grads, as_tuple(params), strict=True))


def decoupled_updates(updates, params, lr, decoupled_weight_decay, *, batch_dims: int = 0):
    """``u - lr d x`` for every tensor (the decay bypasses the optimizer's transformation);
    ``updates`` unchanged (the same tuple) when ``d`` is the number 0."""
    updates = as_tuple(updates)
    check_weight_decay("decoupled_weight_decay", decoupled_weight_decay)
    if _is_zero(decoupled_weight_decay):
        return updates
    if params is None:
        raise ValueError("decoupled_weight_decay > 0 needs params")
    return tuple(
        u - expand_to(lr, p, batch_dims) * expand_to(decoupled_weight_decay, p, batch_dims) * p
        for u, p in zip(updates, as_tuple(params), strict=True))
