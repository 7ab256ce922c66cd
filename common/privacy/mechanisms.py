r"""The Gaussian mechanism.

Releasing ``v + N(0, (s * Delta)^2 I)`` for a query of L2 sensitivity ``Delta`` with noise
multiplier ``s`` is the event :class:`~common.privacy.events.GaussianEvent` ``(s)`` (Dwork and
Roth 2014, Thm A.1, and its Renyi/PLD analyses). :func:`gaussian_mechanism` returns the noisy
value *and* that event, so a run records what it did.
"""

from __future__ import annotations

import torch

from common.privacy.events import GaussianEvent

__all__ = ["gaussian_mechanism", "gaussian_noise_like"]


def gaussian_noise_like(t: torch.Tensor, std: float, generator: torch.Generator | None = None):
    """``N(0, std^2)`` noise with the shape, dtype and device of ``t``."""
    if std < 0:
        raise ValueError(f"std={std}: must be >= 0")
    return std * torch.randn(t.shape, generator=generator, dtype=t.dtype, device=t.device)


def gaussian_mechanism(value: torch.Tensor, *, sensitivity: float, noise_multiplier: float,
                       generator: torch.Generator | None = None):
    """``(value + N(0, (noise_multiplier * sensitivity)^2), GaussianEvent(noise_multiplier))``."""
    if not sensitivity > 0:
        raise ValueError(f"sensitivity={sensitivity}: must be > 0")
    event = GaussianEvent(noise_multiplier)  # validates the multiplier
    return value + gaussian_noise_like(value, noise_multiplier * sensitivity, generator), event
