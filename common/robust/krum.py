r"""Krum and multi-Krum (Blanchard et al., NeurIPS 2017, "Machine learning with adversaries:
Byzantine tolerant gradient descent").

Score of row i: the sum of squared distances to its ``n - f - 2`` nearest other rows,
``s_i = sum_{j in N_i} ||x_i - x_j||^2``. Krum returns the row with the smallest score;
multi-Krum with ``m`` averages the ``m`` rows with the smallest scores (``m = 1`` is Krum).
Requires ``n > 2f + 2``. Ties are broken by the lowest index (``torch.topk`` on a stable sort).
"""

from __future__ import annotations

import torch

from common import kernels
from common.kernels.buffers import work_buffer
from common.robust._checks import byzantine_rows

__all__ = ["krum", "multi_krum", "pairwise_sq_distances", "centred_sq_distances", "krum_scores"]


def pairwise_sq_distances(x: torch.Tensor) -> torch.Tensor:
    """``D_ij = ||x_i - x_j||^2`` (n, n) from the Gram matrix, clamped at 0, exact zero diagonal.

    The Gram form costs one (n, d) x (d, n) product instead of n^2 d subtractions. It computes
    ``||a||^2 + ||b||^2 - 2 a.b``, which cancels catastrophically when the rows share an offset
    large against their spread (in float32, an offset 1e3 times the spread already reorders
    Krum's scores). The rows are therefore first centred on their coordinate-wise median, which
    lies inside the honest rows' range when fewer than half are Byzantine: the honest distances
    keep their relative precision whatever the common offset, and distances are translation
    invariant, so nothing else changes.
    """
    return centred_sq_distances(x)[0]


def centred_sq_distances(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pairwise_sq_distances` and the (n, d) work buffer it used, free for the caller.

    One (n, d) buffer instead of three: the centred rows ``c = x - median`` are written once, the
    Gram matrix ``c c^T`` read from them, then ``c`` is squared in place for the squared norms
    ``(c * c).sum(1)`` (the same products and the same reduction as a fresh ``c * c``, so the
    same values). A fresh 100 MB buffer costs about 40 ms of first-touch page faults at
    n = 25, d = 10^6 (benchmarks/README.md, ``aggregators``), less on huge pages
    (:func:`common.kernels.buffers.work_buffer`); the caller may write its own (n, d) result
    into the returned buffer (NNM's mixed rows).
    """
    # the lower median, as coordinate_median's default; the buffer on huge pages where offered
    c = torch.sub(x, kernels.coordinate_median(x), out=work_buffer(x))
    gram = c @ c.T
    sq = c.mul_(c).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * gram
    d = d.clamp_min(0.0)
    d.fill_diagonal_(0.0)
    return d, c


def krum_scores(x: torch.Tensor, f: int) -> torch.Tensor:
    """Krum's score of each row: the sum of its ``n - f - 2`` smallest squared distances to
    the other rows."""
    return _krum_scores(x, f)[0]


def _krum_scores(x: torch.Tensor, f: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`krum_scores` and the (n, d) work buffer of the distances, free for the caller."""
    n = x.shape[0]
    k = n - f - 2
    d, work = centred_sq_distances(x)
    d.fill_diagonal_(float("inf"))  # exclude the row itself
    return torch.topk(d, k, dim=1, largest=False).values.sum(dim=1), work


@byzantine_rows(lambda n: (n - 3) // 2, "n > 2f + 2")
def multi_krum(x: torch.Tensor, *, f: int, m: int = 1) -> torch.Tensor:
    """Average of the ``m`` rows of ``x`` (n, d) with the smallest Krum scores; non-finite rows
    count as Byzantine (left out, ``common.robust._checks``)."""
    n = x.shape[0]
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n - f:
        raise ValueError(f"m={m!r}: multi-Krum averages 1 <= m <= n - f = {n - f} rows")
    scores, work = _krum_scores(x, f)
    order = torch.sort(scores, stable=True).indices[:m]
    # the m chosen rows gathered into the distances' work buffer (an (m, d) block with the
    # layout of a fresh x[order], so the same mean) instead of a fresh (m, d) tensor
    return torch.index_select(x, 0, order, out=work[:m]).mean(dim=0)


def krum(x: torch.Tensor, *, f: int) -> torch.Tensor:
    """The row of ``x`` (n, d) with the smallest Krum score."""
    return multi_krum(x, f=f, m=1)
