r"""Coordinate-wise trimmed mean (Yin et al. 2018, arXiv 1803.01498).

For each coordinate, drop the ``f`` largest and the ``f`` smallest values and average the
remaining ``n - 2f``. Requires ``2f < n``. With at most ``f`` Byzantine rows, every coordinate of
the output lies within the range of the honest values (each of the averaged values is bracketed
by honest values).
"""

from __future__ import annotations

import torch

from common import kernels
from common.robust._checks import byzantine_rows

__all__ = ["trimmed_mean"]


@byzantine_rows(lambda n: (n - 1) // 2, "2f < n")
def trimmed_mean(x: torch.Tensor, *, f: int) -> torch.Tensor:
    """Mean of the middle ``n - 2f`` values of each coordinate of ``x`` (n, d); non-finite rows
    count as Byzantine (left out, ``common.robust._checks``)."""
    return kernels.trimmed_mean(x, f)
