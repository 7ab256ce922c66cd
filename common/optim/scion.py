r"""Scion: stochastic conditional gradients with layer-wise norm LMOs, constrained or not.

Algorithm 1 of Islamov et al. (arXiv 2603.21191), the constrained Scion of Pethick et al.
(arXiv 2502.07529), for every parameter tensor ``l`` with its norm ``||.||_l`` and radius
``eta_l``:

.. math::
    m_{k+1} &= (1 - \alpha)\, m_k + \alpha\, g(x_k; \xi_k) \\
    d_{k+1} &= \arg\min_{\|d\|_l \le 1} \langle m_{k+1}, d \rangle \quad
              \text{(the LMO, } \texttt{common.optim.lmo}\text{)} \\
    x_{k+1} &= (1 - \beta)\, x_k + \beta\, \eta_l\, d_{k+1}
              \quad\text{(constrained: a Frank-Wolfe step, the iterates stay in the ball)} \\
    x_{k+1} &= x_k + \beta\, \eta_l\, d_{k+1}
              \quad\text{(unconstrained)}

**Names (the papers' symbols clash with the usual ones).** As in the reference code
(``LIONS-EPFL/scion``):

- ``lr`` is **beta**, the step size (the Frank-Wolfe weight; in the constrained variant it is
  also the coefficient of the decoupled weight decay). A "learning rate" of 3.6e-4 is beta.
- ``scale`` is **eta**, the *radius* of the norm ball of a parameter group (50 for the hidden
  matrices, 3000 for the tied embedding in the paper). It is not a step size.
- ``momentum`` is **alpha = 1 - (the usual momentum)**: ``momentum=0.1`` is the usual 0.9;
  ``momentum=1`` uses the stochastic gradient itself.

Every update is positively homogeneous of degree 0 in ``m`` (an LMO ignores the gradient's scale),
so ``lr`` alone sets the size of a step: ``||x_{k+1} - x_k|| <= 2 beta eta`` (constrained).
The constrained iterates satisfy ``||x_{k+1}|| <= (1 - beta) ||x_k|| + beta eta``, so a start
inside the ball (``||x_0|| <= eta``; Theorem 4.1 asks ``2 ||x_0|| <= eta``) stays inside.

Functional API (one call updates a tuple of tensors; ``norm`` and ``scale`` may be one value for
all of them or a tuple with one per tensor)::

    state = scion_init(params)                  # m_0 = 0, as the reference code
    state = scion_init(params, grads=g0)        # m_0 = g(x_0), as Theorem 4.1
    updates, state, info = scion_update(grads, state, params, lr=beta, momentum=alpha,
                                        norm=("Spectral", "Sign"), scale=(50.0, 3000.0))

:class:`Scion` is the ``torch.optim`` adapter (parameter groups carry ``norm`` and ``scale``);
:class:`ScionLight` the reference's memory-saving variant that keeps the momentum in ``p.grad``.
:func:`scion_dual_norm` is the network's dual norm ``sum_l eta_l ||G_l||_{*,l}`` (eq. 14 of
arXiv 2603.21191 with the radii), the quantity of the paper's mu-KL diagnostic.

Where we depart from the reference: the functional update supports ``batch_dims`` (a grid of
step sizes in one run) and a first momentum ``m_0 = g(x_0)``; the spectral LMO runs Newton-Schulz
in float32 (the reference: bfloat16 under ``torch.compile``), see :mod:`common.optim.lmo`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, expand_to
from common.optim.adapter import FunctionalOptimizer
from common.optim.lmo import get_lmo

__all__ = ["ScionState", "scion_init", "scion_update", "scion_direction", "scion_dual_norm",
           "Scion", "ScionLight", "per_tensor"]


class ScionState(NamedTuple):
    """Scion's state: the momenta ``m_k`` (one per tensor) and the step count."""

    momentum: tuple[torch.Tensor, ...]
    count: int


def per_tensor(value, n: int, name: str) -> tuple:
    """``value`` repeated for ``n`` tensors, or checked to hold one entry per tensor."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} tensors")
        return tuple(value)
    return (value,) * n


def _check_momentum(momentum) -> None:
    m = torch.as_tensor(momentum)
    if torch.any(~((m > 0) & (m <= 1))):
        raise ValueError(f"momentum={momentum}: alpha = 1 - (usual momentum) must be in (0, 1] "
                         "(momentum=0.1 is the usual 0.9)")


def scion_init(params, grads=None) -> ScionState:
    """Zero momentum (the reference code), or ``m_0 = g(x_0)`` when ``grads`` is given."""
    params = as_tuple(params)
    if grads is None:
        return ScionState(tuple(torch.zeros_like(p) for p in params), 0)
    grads = as_tuple(grads)
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} tensors for {len(params)} parameters")
    return ScionState(tuple(g.detach().clone() for g in grads), 0)


def scion_direction(tensors, norm, batch_dims: int = 0) -> tuple[torch.Tensor, ...]:
    """``d_l = lmo_l(m_l)`` on the unit ball of each tensor's norm."""
    tensors = as_tuple(tensors)
    norms = per_tensor(norm, len(tensors), "norm")
    return tuple(get_lmo(n).lmo(t, 1.0, batch_dims) for t, n in zip(tensors, norms))


def scion_update(grads, state: ScionState, params, *, lr, momentum=0.1, norm="Auto", scale=1.0,
                 unconstrained: bool = False, batch_dims: int = 0):
    """One Scion step; returns ``(updates, state, info)`` with ``x + updates = x_{k+1}``.

    Args:
        grads: stochastic gradients ``g(x_k)``, one tensor per parameter.
        state: :class:`ScionState` from :func:`scion_init` or the previous call.
        params: the current ``x_k`` (the constrained step shrinks them).
        lr: beta, the step size in (0, 1] (a tensor of the batch shape with ``batch_dims``).
        momentum: alpha = 1 - usual momentum, in (0, 1].
        norm: a name of :data:`common.optim.lmo.LMOS` or a norm object, or one per tensor.
        scale: eta, the radius (> 0), or one per tensor.
        unconstrained: drop the ``-beta x_k`` shrinkage.
    """
    grads, params = as_tuple(grads), as_tuple(params)
    if len(grads) != len(params) or len(state.momentum) != len(grads):
        raise ValueError("grads, params and the state's momentum need one tensor per parameter")
    check_positive("lr", lr)
    if torch.any(torch.as_tensor(lr) > 1):
        raise ValueError(f"lr={lr}: beta must be in (0, 1] (it is a convex-combination weight)")
    _check_momentum(momentum)
    scales = per_tensor(scale, len(grads), "scale")
    for s in scales:
        check_positive("scale", s)
    plain = not isinstance(momentum, torch.Tensor) and momentum == 1
    m = tuple(g if plain else
              (1 - expand_to(momentum, g, batch_dims)) * b + expand_to(momentum, g, batch_dims) * g
              for b, g in zip(state.momentum, grads))
    directions = scion_direction(m, norm, batch_dims)
    updates = []
    for d, p, s in zip(directions, params, scales):
        beta = expand_to(lr, d, batch_dims)
        u = beta * expand_to(s, d, batch_dims) * d
        updates.append(u if unconstrained else u - beta * p)
    return tuple(updates), ScionState(m, state.count + 1), {"step_size": lr}


def scion_dual_norm(grads, norm, scale=1.0) -> torch.Tensor:
    """``sum_l eta_l ||G_l||_{*,l}``: the network's dual norm with the radii (exact)."""
    grads = as_tuple(grads)
    norms = per_tensor(norm, len(grads), "norm")
    scales = per_tensor(scale, len(grads), "scale")
    total = sum(float(s) * get_lmo(n).dual_norm(g.detach()) for g, n, s in
                zip(grads, norms, scales))
    return torch.as_tensor(total)


class Scion(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`scion_update`.

    ``Scion(groups, lr=beta, momentum=alpha, norm="Auto", scale=eta, unconstrained=False)``; each
    parameter group may set its own ``norm`` (a name or an object of :mod:`common.optim.lmo`) and
    ``scale`` (its radius eta), as in the reference::

        Scion([{"params": hidden, "norm": "Spectral", "scale": 50.0},
               {"params": [embedding], "norm": "Sign", "scale": 3000.0}],
              lr=3.6e-4, momentum=0.1)

    ``init()`` re-initialises every parameter at ``radius * init`` of its norm (the reference's
    ``Scion.init``: on the sphere of radius eta). ``dual_norm()`` returns
    :func:`scion_dual_norm` of the current ``.grad``.
    """

    init = staticmethod(scion_init)
    update = staticmethod(scion_update)
    state_class = ScionState
    per_param = ("momentum",)
    hyperparameters = ("lr", "momentum", "norm", "scale", "unconstrained")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.1, norm="Auto",
                 scale: float = 1.0, unconstrained: bool = False):
        check_positive("lr", lr)
        _check_momentum(momentum)
        check_positive("scale", scale)
        super().__init__(params, lr=lr, momentum=momentum, norm=norm, scale=scale,
                         unconstrained=unconstrained)
        for group in self.param_groups:
            get_lmo(group["norm"])
            check_positive("scale", group["scale"])

    @torch.no_grad()
    def init_parameters(self, generator: torch.Generator | None = None) -> None:
        """Every parameter at ``scale * init`` of its group's norm (the reference's ``init``)."""
        for group in self.param_groups:
            lmo = get_lmo(group["norm"])
            for p in group["params"]:
                p.copy_(group["scale"] * lmo.init(p.shape, generator, p.dtype))

    @torch.no_grad()
    def dual_norm(self) -> torch.Tensor:
        """``sum_l eta_l ||p_l.grad||_*`` over every parameter with a gradient."""
        total = torch.zeros(())
        for group in self.param_groups:
            lmo = get_lmo(group["norm"])
            for p in group["params"]:
                if p.grad is not None:
                    total = total + group["scale"] * lmo.dual_norm(p.grad).cpu()
        return total


class ScionLight(torch.optim.Optimizer):
    """The reference's memory-saving Scion: the momentum lives in ``p.grad`` itself.

    Do **not** zero the gradients between steps: ``backward()`` adds ``g_k`` to ``p.grad``, the
    step applies the LMO to ``G_k = p.grad`` and then scales ``p.grad`` by ``1 - alpha``, so
    ``G_k = sum_j (1 - alpha)^(k - j) g_j = m_k / alpha`` (Scion's momentum from ``m_0 = 0``, up
    to the factor ``1/alpha`` that the LMO ignores). The iterates equal :class:`Scion`'s up to
    rounding; the saving is one tensor per parameter. Gradient accumulation over micro-batches
    must account for the carried ``p.grad`` (the reference multiplies it by the number of
    micro-batches before accumulating and divides the sum afterwards).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.1, norm="Auto",
                 scale: float = 1.0, unconstrained: bool = False):
        check_positive("lr", lr)
        _check_momentum(momentum)
        check_positive("scale", scale)
        super().__init__(params, dict(lr=lr, momentum=momentum, norm=norm, scale=scale,
                                      unconstrained=unconstrained))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lr = group["lr"]
            (updates, _, _) = scion_update(
                tuple(p.grad for p in params), ScionState(tuple(p.grad for p in params), 0),
                tuple(p.detach() for p in params), lr=lr, momentum=1.0, norm=group["norm"],
                scale=group["scale"], unconstrained=group["unconstrained"])
            for p, u in zip(params, updates):
                p.add_(u)
                if group["momentum"] != 1:
                    p.grad.mul_(1 - group["momentum"])
        return loss
