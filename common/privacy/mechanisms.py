r"""The Gaussian mechanism.

Releasing ``v + N(0, (s * Delta)^2 I)`` for a query of L2 sensitivity ``Delta`` with noise
multiplier ``s`` is the event :class:`~common.privacy.events.GaussianEvent` ``(s)`` (Dwork and
Roth 2014, Thm A.1, and its Renyi/PLD analyses). :func:`gaussian_mechanism` returns the noisy
value *and* that event, so a run records what it did.
"""

from __future__ import annotations

import torch

from common.privacy.events import GaussianEvent

__all__ = ["gaussian_mechanism", "gaussian_mechanism_shared", "gaussian_noise_like"]


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


def gaussian_mechanism_shared(value: torch.Tensor, *, sensitivity: float, noise_multipliers,
                              generator: torch.Generator | None = None):
    """R runs' releases with one shared draw: ``value[..., r] + s_r * sensitivity * xi`` with
    ``xi ~ N(0, I)`` of shape ``value.shape[:-1] + (1,)`` (drawn once, in that shape, from
    ``generator``); ``noise_multipliers`` holds the R values ``s_r >= 0`` (a tensor on
    ``value``'s device; 0 releases the value unchanged). Returns the noisy values and each
    run's event (``None`` where ``s_r = 0``: no privacy is claimed)."""
    if not sensitivity > 0:
        raise ValueError(f"sensitivity={sensitivity}: must be > 0")
    s = torch.as_tensor(noise_multipliers, dtype=value.dtype, device=value.device)
    if s.ndim != 1 or s.shape[0] != value.shape[-1]:
        raise ValueError(f"noise_multipliers has shape {tuple(s.shape)}: must be "
                         f"({value.shape[-1]},), one per run on the last axis of value")
    if torch.any(~(s >= 0)):
        raise ValueError(f"noise_multipliers={s.tolist()}: each must be >= 0")
    xi = torch.randn(*value.shape[:-1], 1, generator=generator, dtype=value.dtype,
                     device=value.device)
    events = [GaussianEvent(float(v)) if v > 0 else None for v in s.tolist()]
    return value + xi * (s * sensitivity), events
