"""Input validation shared by the aggregators and attacks."""

from __future__ import annotations

import torch

__all__ = ["check_rows", "check_byzantine"]


def check_rows(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """``x`` must be a floating (n, d) tensor with n >= 1 and d >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n_clients, d), got "
                        f"{type(x).__name__}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n_clients, d) with n_clients, d >= 1; got "
                         f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


def check_byzantine(f: int, n: int, *, max_f: int, rule: str) -> int:
    """``f`` must be an integer with 0 <= f <= max_f (the aggregator's tolerance, ``rule``)."""
    if isinstance(f, bool) or not isinstance(f, int):
        raise TypeError(f"f (number of Byzantine clients) must be an int, got {f!r}")
    if f < 0 or f > max_f:
        raise ValueError(f"f={f} Byzantine clients out of n={n}: this aggregator tolerates "
                         f"0 <= f <= {max_f} ({rule})")
    return f
