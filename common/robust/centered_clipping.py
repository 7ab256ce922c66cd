r"""Centered clipping (Karimireddy, He, Jaggi, "Learning from history for Byzantine robust
optimization", ICML 2021, arXiv 2012.10333).

Starting from a center ``v`` (in the paper: the previous aggregate, i.e. the server momentum),
repeat ``iterations`` times:

.. math::  v \leftarrow v + \frac{1}{n} \sum_i \mathrm{clip}_\tau(x_i - v),
           \qquad \mathrm{clip}_\tau(u) = \min(1, \tau / \|u\|)\, u.

A pure function: pass the previous aggregate as ``center``. Without one, the coordinate-wise median
is used as a robust starting point (our default; the paper always has a previous aggregate).
"""

from __future__ import annotations

import torch

from common.kernels.buffers import work_buffer
from common.robust._checks import byzantine_rows
from common.robust.median import coordinate_median

__all__ = ["centered_clipping"]


@byzantine_rows(lambda n: (n - 1) // 2, "f < n/2")
def centered_clipping(x: torch.Tensor, *, f: int = 0, tau: float = 1.0, iterations: int = 3,
                      center: torch.Tensor | None = None) -> torch.Tensor:
    """Centered clipping of the rows of ``x`` (n, d) around ``center`` with radius ``tau``.

    ``f`` must be below n/2 like every other rule's (the paper's analysis needs a majority of
    honest clients); non-finite rows count as Byzantine (left out, ``common.robust._checks``).
    """
    if not tau > 0:
        raise ValueError(f"tau={tau}: must be > 0")
    if iterations < 1:
        raise ValueError(f"iterations={iterations}: must be >= 1")
    v = coordinate_median(x) if center is None else center
    if v.shape != x.shape[1:]:
        raise ValueError(f"center has shape {tuple(v.shape)}, expected ({x.shape[1]},)")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("center must be finite (the previous aggregate); got NaN or inf")
    # one (n, d) work buffer for every iteration's differences and clipped differences (the same
    # operations as fresh temporaries, so the same values; a fresh 100 MB buffer costs ~40 ms of
    # page faults at n = 25, d = 10^6)
    work = work_buffer(x)
    for _ in range(iterations):
        u = torch.sub(x, v, out=work)
        norms = torch.linalg.vector_norm(u, dim=1, keepdim=True)
        scale = torch.clamp(tau / norms.clamp_min(torch.finfo(x.dtype).tiny), max=1.0)
        v = v + u.mul_(scale).mean(dim=0)
    return v
