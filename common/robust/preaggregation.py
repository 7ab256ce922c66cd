r"""Pre-aggregation steps, composable with any aggregator: nearest-neighbour mixing and bucketing.

**Nearest-neighbour mixing** (NNM; Allouah et al., "Fixing by mixing", AISTATS 2023,
arXiv 2302.01772): replace each row by the mean of its ``n - f`` nearest rows in L2, itself
included. Byz-Clip21-SGD2M (arXiv 2603.23472) aggregates with NNM followed by the coordinate-wise
median.

**Bucketing** (Karimireddy, He, Jaggi, "Byzantine-robust learning on heterogeneous datasets via
bucketing", ICLR 2022, arXiv 2006.09365): shuffle the rows, average them in buckets of size ``s``
(the last bucket may be smaller), and pass the ``ceil(n / s)`` bucket means on.

:func:`compose` chains a pre-aggregation with an aggregator, e.g.
``compose(nnm, coordinate_median)``; the result is again an aggregator ``agg(x, *, f)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from common.robust._checks import byzantine_rows, check_rows
from common.robust.krum import centred_sq_distances

__all__ = ["nnm", "bucketing", "compose"]


@byzantine_rows(lambda n: n - 1, "f < n", per_row=True)
def nnm(x: torch.Tensor, *, f: int) -> torch.Tensor:
    """Each row replaced by the mean of its ``n - f`` nearest rows (itself included): (n, d).

    Non-finite rows count as Byzantine (``common.robust._checks``): with ``k <= f`` of them, the
    ``n - k`` finite rows are mixed with ``f - k`` and returned, (n - k, d).
    """
    n = x.shape[0]
    if f == 0:
        return x.mean(dim=0).expand_as(x).clone()
    d, work = centred_sq_distances(x)
    d.fill_diagonal_(-1.0)  # a row is always its own nearest neighbour, even among duplicates
    idx = torch.topk(d, n - f, dim=1, largest=False).indices  # (n, n - f)
    # the mixing as one (n, n) x (n, d) product: W[i, j] = 1/(n - f) for j among i's neighbours
    # (gathering x[idx] would materialise n (n - f) d numbers), written into the distances'
    # (n, d) work buffer: no fresh 100 MB buffer at d = 10^6 (same product, same values)
    weights = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    weights.scatter_(1, idx, 1.0 / (n - f))
    return torch.matmul(weights, x, out=work)


def bucketing(x: torch.Tensor, *, s: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bucket means (ceil(n/s), d) of a random permutation of the rows of ``x``."""
    x = check_rows(x)
    if isinstance(s, bool) or not isinstance(s, int) or s < 1:
        raise ValueError(f"s={s!r}: bucket size must be an integer >= 1")
    perm = torch.randperm(x.shape[0], generator=generator, device="cpu").to(x.device)
    return torch.stack([chunk.mean(dim=0) for chunk in x[perm].split(s)])


def compose(pre: Callable, agg: Callable, **pre_kwargs) -> Callable:
    """``agg(pre(x, f=f, **pre_kwargs), f=f_after)`` as one aggregator.

    The inner aggregator receives the same ``f``. After NNM the Byzantine influence is spread
    over all rows, and the Byz-Clip21-SGD2M code passes ``f`` on unchanged; after bucketing, at
    most ``f`` of the ``ceil(n/s)`` buckets are contaminated, so the inner aggregator's own check
    (e.g. ``f < ceil(n/s) / 2`` for the median) decides whether the bucket size is too large.
    """

    # the non-finite-row rule runs once, on the input, with the tolerance of ``agg`` (NNM keeps
    # the number of rows); after bucketing, ``agg`` checks its tolerance on the buckets itself
    max_f = getattr(agg, "max_f", None) if pre is not bucketing else None
    rule = getattr(agg, "rule", "f < n") if max_f is not None else "f < n"

    @byzantine_rows(max_f or (lambda n: n - 1), rule)
    def aggregator(x: torch.Tensor, *, f: int = 0, **agg_kwargs) -> torch.Tensor:
        mixed = pre(x, **pre_kwargs) if pre is bucketing else pre(x, f=f, **pre_kwargs)
        return agg(mixed, f=f, **agg_kwargs)

    name = f"{getattr(pre, '__name__', 'pre')}_{getattr(agg, '__name__', 'agg')}"
    aggregator.__name__ = aggregator.__qualname__ = name
    aggregator.__doc__ = (f"{name}: {pre.__name__} then {agg.__name__} (non-finite rows count as "
                          "Byzantine, common.robust._checks).")
    return aggregator
