r"""Distributed methods with compressed or sign messages: DSGD, DCSGD, DSignSGD (torch).

compressed-sde (Compagnoni, Islamov, Proske, Lucchi, AISTATS 2025, arXiv 2502.17009; its notes,
section 3). N agents hold stochastic gradients g_i; each sends a compressed message and the
server moves along the aggregate of the messages:

.. math::  \text{DSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i g_i, \quad
           \text{DCSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i \mathcal C_i(g_i), \quad
           \text{DSignSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i \mathrm{sign}(g_i),

with C an unbiased compressor of variance omega (:mod:`common.federated.compressors`). A
:class:`CompressedMethod` is a compressor applied to every agent's gradient plus the server's
aggregator (the mean, :func:`~common.federated.mean_of_signs`, a majority vote); its step
function :func:`compressed_step` runs in :func:`common.federated.run_rounds` like any other
federated method. The SDEs of DCSGD and DSignSGD (JAX) are :mod:`common.sde.distributed`; a
compressor enters DCSGD's SDE only through its omega.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from common.federated.clip21 import FedState
from common.federated.compressors import (
    Identity,
    RandK,
    Sign,
    majority_vote,
    mean_of_signs,
    one_bit_majority_vote,
)

__all__ = ["CompressedMethod", "server_mean", "dsgd", "dcsgd", "dsignsgd", "rand_k", "VOTES",
           "compressed_step"]


def server_mean(messages: torch.Tensor) -> torch.Tensor:
    """The server's average of the agents' messages, (N, d) -> (d,)."""
    return messages.mean(0)


@dataclass(frozen=True)
class CompressedMethod:
    """Every agent sends ``compressor(g_i)``; the server moves along ``aggregate`` of the N
    messages (a function of an (N, d) tensor acting coordinate by coordinate across the agents,
    as the mean and the sign votes do)."""

    name: str
    compressor: Any
    aggregate: Callable[[torch.Tensor], torch.Tensor] = server_mean

    @property
    def is_sign(self) -> bool:
        return isinstance(self.compressor, Sign)

    def omega(self, d: int) -> float:
        """The compressor's omega (0 for DSGD); ValueError for sign methods (biased)."""
        return float(self.compressor.omega(d))

    def direction(self, grads: torch.Tensor, generator=None) -> torch.Tensor:
        """The server's direction for the agents' gradients (N, d) -> (d,)."""
        return self.aggregate(self.compressor(grads, generator=generator))

    def direction_paths(self, grads: torch.Tensor, generator=None) -> torch.Tensor:
        """The direction of R independent runs at once, (R, N, d) -> (R, d): the R N gradients
        are compressed in one call, and the aggregate (coordinate-wise across agents) is taken
        on the runs' coordinates laid side by side, (N, R d)."""
        r, n, d = grads.shape
        msgs = self.compressor(grads.reshape(r * n, d), generator=generator).reshape(r, n, d)
        if self.aggregate is server_mean:
            return msgs.mean(1)
        return self.aggregate(msgs.transpose(0, 1).reshape(n, r * d)).reshape(r, d)


def dsgd() -> CompressedMethod:
    """Uncompressed distributed SGD."""
    return CompressedMethod("DSGD", Identity())


def dcsgd(compressor) -> CompressedMethod:
    """Distributed compressed SGD with an unbiased compressor."""
    if not getattr(compressor, "unbiased", False):
        raise ValueError(f"compressor={compressor!r}: DCSGD needs an unbiased compressor "
                         "(Identity, RandK, Bernoulli, QSGD)")
    return CompressedMethod(f"DCSGD {compressor.label}", compressor)


#: server vote of DSignSGD -> (aggregator, method label)
VOTES = {
    "mean": (mean_of_signs, "DSignSGD"),
    "majority": (majority_vote, "DSignSGD (majority vote)"),
    "one_bit": (one_bit_majority_vote, "DSignSGD (1-bit majority vote)"),
}


def dsignsgd(vote: str = "mean") -> CompressedMethod:
    """Distributed SignSGD: the server averages the signs (``"mean"``, the notes' method), takes
    their majority (``"majority"``) or the majority of packed 1-bit messages (``"one_bit"``)."""
    if vote not in VOTES:
        raise ValueError(f"vote={vote!r}: allowed values are {sorted(VOTES)}")
    aggregate, label = VOTES[vote]
    return CompressedMethod(label, Sign(), aggregate)


def rand_k(k: int, d: int):
    """``RandK(k)``, or ``Identity()`` when k = d (rand-d keeps every coordinate: the same map)."""
    if not 1 <= k <= d:
        raise ValueError(f"k={k}: must be in [1, d={d}]")
    return Identity() if k == d else RandK(k)


def compressed_step(state: FedState, grad_fn: Callable, *, lr: float, method: CompressedMethod,
                    generator: torch.Generator | None = None) -> tuple[FedState, dict]:
    """One round: ``x <- x - lr * aggregate(C(g_1), ..., C(g_N))`` with ``g = grad_fn(x)``
    (N, d). Pure: ``state`` is not modified. ``info["messages"]`` holds the compressed
    messages; the state keeps the agents' gradients in ``v`` and the direction in ``g``."""
    if not lr > 0:
        raise ValueError(f"lr={lr}: the step size must be > 0")
    grads = grad_fn(state.x)
    msgs = method.compressor(grads, generator=generator)
    direction = method.aggregate(msgs)
    x = state.x - lr * direction
    return FedState(x, direction, grads, state.g_local, msgs, state.t + 1), {"messages": msgs}
