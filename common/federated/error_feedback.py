r"""EF21 error feedback as a reusable piece (Richtarik, Sokolov, Fatkhullin, NeurIPS 2021,
arXiv 2106.05203).

Each client keeps a local estimate ``g_i`` and sends only the compressed *difference* between
its new target (a gradient, or a momentum buffer) and that estimate:

.. math::  c_i = \mathcal C(v_i - g_i), \qquad g_i \leftarrow g_i + \eta\, c_i,

and the server, which knows every ``g_i`` from the same messages, tracks their mean. With a
contractive compressor the estimates converge to the targets, which removes the bias of the
compressor. Clip21 (Khirirat et al. 2023) and Clip21-SGD2M (arXiv 2502.11682) use clipping
``clip_tau`` as the operator and a step ``eta = beta_hat``. The operator is any function of an
(n, d) tensor: a compressor from :mod:`common.federated.compressors` (``partial(c, generator=g)``)
or ``lambda u: clip_rows(u, tau)`` from :mod:`common.privacy`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

__all__ = ["EF21State", "ef21_init", "ef21_step"]


class EF21State(NamedTuple):
    """Client estimates ``g_i`` (n, d) and the server's copy of their mean (d,)."""

    local: torch.Tensor
    server: torch.Tensor


def ef21_init(local: torch.Tensor) -> EF21State:
    """State from initial estimates (n, d) (zeros, or the first targets)."""
    if local.ndim != 2:
        raise ValueError(f"local estimates must be (n_clients, d); got {tuple(local.shape)}")
    return EF21State(local.clone(), local.mean(dim=0))


def ef21_step(state: EF21State, target: torch.Tensor, operator: Callable, *,
              step: float = 1.0) -> tuple[torch.Tensor, EF21State]:
    """One EF21 round: ``(messages (n, d), new state)``; pure (inputs are not modified).

    ``messages = operator(target - local)``; ``local += step * messages``;
    ``server += step * mean(messages)``. Noise for local DP is added by the caller to what it
    transmits, not here: the local estimates stay noise-free (Clip21-SGD2M, Algorithm 1).
    """
    if target.shape != state.local.shape:
        raise ValueError(f"target has shape {tuple(target.shape)}, the state "
                         f"{tuple(state.local.shape)}")
    if not step > 0:
        raise ValueError(f"step={step}: must be > 0")
    messages = operator(target - state.local)
    return messages, EF21State(state.local + step * messages,
                               state.server + step * messages.mean(dim=0))
