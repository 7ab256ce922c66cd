"""Shared pieces of the VI steps: the divergence error and the guards every step applies."""

from __future__ import annotations

import torch

__all__ = ["Diverged", "require_finite"]


class Diverged(ArithmeticError):
    """A VI iterate left the set the method is defined on (non-finite values, a factor whose
    diagonal changed sign, a covariance or precision that is no longer positive definite). The
    message says which guard fired."""


def require_finite(**tensors: torch.Tensor) -> None:
    """Raise :class:`Diverged` naming the first tensor with a NaN or an infinity."""
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise Diverged(f"{name} is not finite")
