"""Whole-vector or layer-by-layer application of an aggregator.

Byz-Clip21-SGD2M (arXiv 2603.23472) defines robust aggregation on the whole flattened model
vector; the authors' code aggregates each parameter tensor separately (NNM distances and the
median computed layer by layer). :func:`layerwise` reproduces the code's behaviour: it splits the
columns of the (n, d) message matrix into blocks (one per parameter tensor) and aggregates each
block on its own. With a coordinate-wise aggregator and no pre-aggregation both agree; with NNM,
Krum or the geometric median they do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from common.robust._checks import check_rows

__all__ = ["layerwise", "block_sizes"]


def block_sizes(params) -> list[int]:
    """Number of entries of each parameter tensor, in order (the column blocks of a flat model)."""
    return [p.numel() for p in params]


def layerwise(aggregator: Callable, x: torch.Tensor, sizes: Sequence[int],
              **kwargs) -> torch.Tensor:
    """Apply ``aggregator`` to each column block of ``x`` (n, d); ``sum(sizes)`` must equal d."""
    x = check_rows(x)
    sizes = [int(s) for s in sizes]
    if any(s < 1 for s in sizes) or sum(sizes) != x.shape[1]:
        raise ValueError(f"sizes must be positive and sum to d={x.shape[1]}; got sum "
                         f"{sum(sizes)} over {len(sizes)} blocks")
    return torch.cat([aggregator(block, **kwargs) for block in x.split(sizes, dim=1)])
