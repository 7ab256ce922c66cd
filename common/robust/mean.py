"""The mean: the non-robust baseline (breakdown point 0: one client can move it arbitrarily)."""

from __future__ import annotations

import torch

from common.robust._checks import check_rows

__all__ = ["mean"]


def mean(x: torch.Tensor, *, f: int = 0) -> torch.Tensor:
    """``(1/n) sum_i x_i`` over the rows of ``x`` (n, d). ``f`` is accepted and ignored."""
    return check_rows(x).mean(dim=0)
