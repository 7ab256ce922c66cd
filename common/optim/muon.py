r"""Muon: momentum, then an orthogonalised step (Newton-Schulz), with decoupled weight decay.

As ``torch.optim.Muon`` computes it (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/;
the lr adjustment of Keller Jordan's code), for a matrix parameter ``X`` of shape ``(A, B)``:

.. math::
    b_k &= \mu\, b_{k-1} + (1 - \mu)\, g_k \qquad (b_0 = 0) \\
    u_k &= (1 - \mu)\, g_k + \mu\, b_k \ \text{(Nesterov)} \quad\text{or}\quad u_k = b_k \\
    O_k &= \mathrm{NS5}(u_k) \\
    X_{k+1} &= (1 - \gamma \lambda)\, X_k - \gamma \sqrt{\max(1, A/B)}\; O_k

with ``gamma = lr``, ``lambda = weight_decay`` and NS5 the quintic Newton-Schulz iteration of
:func:`common.optim.newton_schulz.newton_schulz`. Muon is Scion's unconstrained spectral step
with heavy-ball (not EMA-in-the-LMO) bookkeeping and an ``sqrt(max(1, A/B))`` radius (Pethick et
al., arXiv 2502.07529, section 5), which is why it is the baseline of the Scion papers. It is meant
for the hidden matrices; the usual recipe trains embeddings, the output head and vectors with
AdamW (:class:`common.optim.AdamW`) in a second optimizer.

Where we depart from ``torch.optim.Muon``: Newton-Schulz runs in float32 by default
(``ns_dtype=torch.bfloat16`` runs torch's bfloat16 iteration; the two agree to bfloat16 rounding,
which the tests check, not bit for bit: batched vs. plain matrix products, ``+ eps`` vs. a clamp);
tensors that are not matrices are read as ``(shape[0], -1)`` matrices (a vector as a column, so its
orthogonalised update is ``u / ||u||``) where torch raises; the update is pure and supports
``batch_dims``.

Functional API: ``state = muon_init(params)``;
``updates, state, info = muon_update(grads, state, params, lr=0.02, momentum=0.95)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from common.optim._tree import as_tuple, check_positive, expand_to
from common.optim.adapter import FunctionalOptimizer
from common.optim.newton_schulz import NS5_COEFFICIENTS, newton_schulz

__all__ = ["MuonState", "muon_init", "muon_update", "Muon", "ADJUST_LR"]

#: name -> the factor ``lr`` is multiplied by for an ``(A, B)`` matrix, as in torch.optim.Muon.
ADJUST_LR = {
    "original": lambda A, B: math.sqrt(max(1.0, A / B)),
    "match_rms_adamw": lambda A, B: 0.2 * math.sqrt(max(A, B)),
    "none": lambda A, B: 1.0,
}


class MuonState(NamedTuple):
    """Muon's state: the momentum buffers ``b_k`` (one per tensor) and the step count."""

    buffer: tuple[torch.Tensor, ...]
    count: int


def muon_init(params) -> MuonState:
    """Zero momentum buffers, step 0 (torch's ``momentum_buffer`` starts at 0)."""
    return MuonState(tuple(torch.zeros_like(p) for p in as_tuple(params)), 0)


def _as_matrix(t: torch.Tensor, batch_dims: int) -> torch.Tensor:
    core = t.shape[batch_dims:]
    if len(core) == 0:
        raise ValueError("Muon needs parameters with at least one dimension (got a scalar)")
    return t.reshape(*t.shape[:batch_dims], core[0], -1)


def muon_update(grads, state: MuonState, params, *, lr, momentum: float = 0.95,
                nesterov: bool = True, weight_decay: float = 0.1, ns_steps: int = 5,
                ns_coefficients=NS5_COEFFICIENTS, eps: float = 1e-7,
                ns_dtype: torch.dtype | None = None, adjust_lr: str = "original",
                batch_dims: int = 0):
    """One Muon step; returns ``(updates, state, info)``. Defaults are torch.optim.Muon's."""
    grads, params = as_tuple(grads), as_tuple(params)
    check_positive("lr", lr)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum={momentum}: must be in [0, 1) (the usual momentum, 0.95)")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0")
    if adjust_lr not in ADJUST_LR:
        raise ValueError(f"adjust_lr={adjust_lr!r}: allowed are {sorted(ADJUST_LR)}")
    buf = tuple(b.lerp(g, 1 - momentum) for b, g in zip(state.buffer, grads, strict=True))
    direction = tuple(g.lerp(b, momentum) for g, b in zip(grads, buf)) if nesterov else buf
    updates = []
    for u, p in zip(direction, params, strict=True):
        M = _as_matrix(u, batch_dims)
        O = newton_schulz(M, ns_steps, ns_coefficients, eps, ns_dtype).reshape(u.shape)
        factor = ADJUST_LR[adjust_lr](M.shape[-2], M.shape[-1])
        gamma = expand_to(lr, p, batch_dims)
        updates.append(-gamma * weight_decay * p - (gamma * factor) * O)
    return tuple(updates), MuonState(buf, state.count + 1), {"step_size": lr}


class Muon(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`muon_update` (same arguments as ``torch.optim.Muon``,
    plus ``ns_dtype``)."""

    init = staticmethod(muon_init)
    update = staticmethod(muon_update)
    state_class = MuonState
    per_param = ("buffer",)
    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay", "ns_steps",
                       "ns_coefficients", "eps", "ns_dtype", "adjust_lr")
    needs_loss = False

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.95, nesterov: bool = True,
                 weight_decay: float = 0.1, ns_steps: int = 5, ns_coefficients=NS5_COEFFICIENTS,
                 eps: float = 1e-7, ns_dtype: torch.dtype | None = None,
                 adjust_lr: str = "original"):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, ns_steps=ns_steps,
                         ns_coefficients=ns_coefficients, eps=eps, ns_dtype=ns_dtype,
                         adjust_lr=adjust_lr)
