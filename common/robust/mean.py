"""The mean: the non-robust baseline (breakdown point 0: one client can move it arbitrarily)."""

from __future__ import annotations

import torch

from common.robust._checks import byzantine_rows

__all__ = ["mean"]


@byzantine_rows(lambda n: n - 1, "f < n")
def mean(x: torch.Tensor, *, f: int = 0) -> torch.Tensor:
    """``(1/n) sum_i x_i`` over the rows of ``x`` (n, d).

    ``f`` only counts non-finite rows as Byzantine (``common.robust._checks``): up to ``f`` of
    them are left out; any finite Byzantine row moves the mean arbitrarily.
    """
    return x.mean(dim=0)
