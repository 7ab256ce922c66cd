r"""Geometric median by the smoothed Weiszfeld algorithm (RFA: Pillutla, Kakade, Harchaoui,
"Robust aggregation for federated learning", arXiv 1912.13445).

The geometric median minimises ``sum_i ||z - x_i||``. Weiszfeld's iteration re-weights each row by
the inverse distance; smoothing by ``nu`` avoids division by zero when ``z`` hits a row:

.. math::  w_i = 1 / \max(\nu s, \|z - x_i\|), \qquad z \leftarrow \sum_i w_i x_i / \sum_i w_i.

**Smoothing relative to the data.** RFA's ``nu`` is absolute; here it is relative to the data's
scale ``s``, the median distance of the rows to their coordinate-wise median (a robust scale: it
lies among the honest distances when fewer than half the rows are Byzantine). An absolute ``nu``
breaks scale equivariance: at scale 1e-8 every distance is below ``nu = 1e-6``, every weight is
the same and the result is the plain mean. With ``s = 0`` (more than half the rows coincide) the
smoothing falls back to the smallest positive normal number of the dtype.

Starts from the mean; stops when a step moves ``z`` by less than ``tol`` times the mean distance
of the rows to ``z`` (a scale-free criterion; the objective is flat at the optimum, so its
decrease would stop the iteration long before ``z`` settles), or after ``max_iter`` iterations.
Breakdown point 1/2. Non-finite rows count as Byzantine (left out, ``common.robust._checks``).
"""

from __future__ import annotations

import torch

from common import kernels
from common.kernels.buffers import work_buffer
from common.robust._checks import byzantine_rows

__all__ = ["geometric_median"]


@byzantine_rows(lambda n: (n - 1) // 2, "f < n/2")
def geometric_median(x: torch.Tensor, *, f: int = 0, nu: float = 1e-6, max_iter: int = 100,
                     tol: float = 1e-7) -> torch.Tensor:
    """Smoothed-Weiszfeld geometric median of the rows of ``x`` (n, d); ``nu`` is relative to
    the median distance of the rows to their coordinate-wise median."""
    if not nu > 0:
        raise ValueError(f"nu={nu}: must be > 0")
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter}: must be >= 1")
    # one (n, d) work buffer for every difference and weighted copy of x (the same operations
    # as fresh temporaries, so the same values; a fresh 100 MB buffer costs ~40 ms of page faults)
    work = torch.sub(x, kernels.coordinate_median(x), out=work_buffer(x))
    scale = torch.linalg.vector_norm(work, dim=1).median()
    smoothing = torch.clamp(nu * scale, min=torch.finfo(x.dtype).tiny)
    z = x.mean(dim=0)
    for _ in range(max_iter):
        dist = torch.linalg.vector_norm(torch.sub(x, z, out=work), dim=1)
        w = 1.0 / torch.maximum(dist, smoothing)
        z_new = torch.mul(w[:, None], x, out=work).sum(dim=0) / w.sum()
        moved = torch.linalg.vector_norm(z_new - z)
        z = z_new
        if moved <= tol * dist.mean():
            break
    return z
