r"""Geometric median by the smoothed Weiszfeld algorithm (RFA: Pillutla, Kakade, Harchaoui,
"Robust aggregation for federated learning", arXiv 1912.13445).

The geometric median minimises ``sum_i ||z - x_i||``. Weiszfeld's iteration re-weights each row by
the inverse distance; smoothing by ``nu`` avoids division by zero when ``z`` hits a row:

.. math::  w_i = 1 / \max(\nu, \|z - x_i\|), \qquad z \leftarrow \sum_i w_i x_i / \sum_i w_i.

Starts from the mean; stops when a step moves ``z`` by less than ``tol`` times the mean distance
of the rows to ``z`` (a scale-free criterion; the objective is flat at the optimum, so its
decrease would stop the iteration long before ``z`` settles), or after ``max_iter`` iterations.
Breakdown point 1/2.
"""

from __future__ import annotations

import torch

from common.robust._checks import check_byzantine, check_rows

__all__ = ["geometric_median"]


def geometric_median(x: torch.Tensor, *, f: int = 0, nu: float = 1e-6, max_iter: int = 100,
                     tol: float = 1e-7) -> torch.Tensor:
    """Smoothed-Weiszfeld geometric median of the rows of ``x`` (n, d)."""
    x = check_rows(x)
    n = x.shape[0]
    check_byzantine(f, n, max_f=(n - 1) // 2, rule="f < n/2")
    if not nu > 0:
        raise ValueError(f"nu={nu}: must be > 0")
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter}: must be >= 1")
    z = x.mean(dim=0)
    for _ in range(max_iter):
        dist = torch.linalg.vector_norm(x - z, dim=1)
        w = 1.0 / dist.clamp_min(nu)
        z_new = (w[:, None] * x).sum(dim=0) / w.sum()
        moved = torch.linalg.vector_norm(z_new - z)
        z = z_new
        if moved <= tol * dist.mean():
            break
    return z
