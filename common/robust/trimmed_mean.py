r"""Coordinate-wise trimmed mean (Yin et al. 2018, arXiv 1803.01498).

For each coordinate, drop the ``f`` largest and the ``f`` smallest values and average the
remaining ``n - 2f``. Requires ``2f < n``. With at most ``f`` Byzantine rows, every coordinate of
the output lies within the range of the honest values (each of the averaged values is bracketed
by honest values).
"""

from __future__ import annotations

import torch

from common import kernels
from common.robust._checks import check_byzantine, check_rows

__all__ = ["trimmed_mean"]


def trimmed_mean(x: torch.Tensor, *, f: int) -> torch.Tensor:
    """Mean of the middle ``n - 2f`` values of each coordinate of ``x`` (n, d)."""
    x = check_rows(x)
    n = x.shape[0]
    check_byzantine(f, n, max_f=(n - 1) // 2, rule="2f < n")
    return kernels.trimmed_mean(x, f)
