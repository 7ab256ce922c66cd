"""Small helpers shared by the functional optimizers: tuples of tensors with optional batch dims.

A functional update takes ``grads`` as a tuple of tensors. With ``batch_dims = b > 0``, the first
``b`` dimensions of every tensor index *independent problems* (for example one row per step-size
in a sweep): norms reduce over the remaining dimensions only, and scalar hyperparameters may be
tensors of the batch shape. This runs a whole grid of runs in one set of tensor ops, which is
what makes the 20,000-step toy sweeps cheap on a CPU.
"""

from __future__ import annotations

import torch

__all__ = ["as_tuple", "tree_sq_norm", "expand_to", "apply_updates", "check_loss"]


def as_tuple(tensors) -> tuple[torch.Tensor, ...]:
    if isinstance(tensors, torch.Tensor):
        return (tensors,)
    return tuple(tensors)


def tree_sq_norm(tensors, batch_dims: int = 0) -> torch.Tensor:
    """Squared L2 norm over all tensors, reducing all but the first ``batch_dims`` dimensions."""
    total = None
    for t in tensors:
        dims = tuple(range(batch_dims, t.ndim))
        sq = (t * t).sum(dim=dims) if dims else t * t
        total = sq if total is None else total + sq
    if total is None:
        raise ValueError("grads is empty")
    return total


def expand_to(x, t: torch.Tensor, batch_dims: int):
    """Reshape a per-problem value (scalar or batch-shaped) to broadcast against tensor ``t``."""
    if not isinstance(x, torch.Tensor) or x.ndim == 0:
        return x
    return x.reshape(x.shape + (1,) * (t.ndim - x.ndim)) if batch_dims else x


def apply_updates(params, updates) -> tuple[torch.Tensor, ...]:
    """``params + updates``, tensor by tensor (new tensors; the inputs are not modified)."""
    return tuple(p + u for p, u in zip(as_tuple(params), as_tuple(updates), strict=True))


def check_loss(loss, name: str = "loss") -> torch.Tensor:
    """The loss as a tensor; NGN-type step sizes need ``f >= 0`` (a clear error otherwise)."""
    loss = torch.as_tensor(loss)
    if torch.any(loss < 0):
        raise ValueError(f"{name}={loss.min().item():.4g}: NGN-type step sizes need a "
                         "non-negative loss f >= 0 (use a loss bounded below by 0)")
    return loss


def check_positive(name: str, value) -> None:
    v = torch.as_tensor(value)
    if torch.any(~(v > 0)):
        raise ValueError(f"{name}={value}: must be > 0")


def check_unit_interval(name: str, value) -> None:
    v = torch.as_tensor(value)
    if torch.any((v < 0) | (v >= 1)) or torch.any(torch.isnan(v)):
        raise ValueError(f"{name}={value}: must be in [0, 1)")
