"""Step-size stability metrics: divergence flags and the learning-rate sensitivity score.

**LR sensitivity** (Wortsman et al., "Small-scale proxies for large-scale Transformer training
instabilities", arXiv 2309.14322; used by the NGN-M paper, arXiv 2508.15071). With ``l_gamma``
the final value of a metric to minimise (loss, or negative accuracy) at step size ``gamma`` on a
grid ``G``, ``l_0`` its value at initialisation and ``l* = min_gamma l_gamma``:

.. math::  \\mathrm{sensitivity} = \\frac{1}{|G|} \\sum_{\\gamma \\in G}
           \\big(\\min\\{l_0, l_\\gamma\\} - l^*\\big).

A diverged run (NaN or infinite) counts as ``l_0``: no better than not training.

**Near-best width** (:func:`near_best_width`): the number of decades of a step-size grid over
which a metric to maximise stays within a tolerance of its best value, the "width of the basin"
the NGN-M paper (arXiv 2508.15071, Fig. 4) reads off its accuracy-versus-step-size curves.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIVERGENCE_THRESHOLD", "diverged", "lr_sensitivity", "near_best_width"]

#: A run whose loss exceeds this (or is not finite) is called diverged (NGN-M paper, App. E).
DIVERGENCE_THRESHOLD = 1e10


def diverged(values, threshold: float = DIVERGENCE_THRESHOLD) -> np.ndarray:
    """Elementwise: not finite, or above ``threshold``."""
    v = np.asarray(values, dtype=np.float64)
    return ~np.isfinite(v) | (v > threshold)


def lr_sensitivity(final_metric, initial_metric: float) -> float:
    """Mean over the grid of ``min(l_0, l_gamma) - min_gamma l_gamma`` (lower is more robust).

    Args:
        final_metric: final values ``l_gamma`` over the step-size grid (to minimise).
        initial_metric: ``l_0``, the metric at initialisation.
    """
    v = np.asarray(final_metric, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("final_metric must be a non-empty 1-D sequence over the grid")
    if not np.isfinite(initial_metric):
        raise ValueError(f"initial_metric={initial_metric}: must be finite")
    v = np.where(np.isfinite(v), v, initial_metric)
    capped = np.minimum(initial_metric, v)
    return float(np.mean(capped - capped.min()))


def near_best_width(grid, values, tolerance: float) -> float:
    """Decades of the grid over which ``values`` (to maximise) stay within ``tolerance`` of their
    best: log10(largest / smallest) grid value of the near-best set, which must be a contiguous
    run of the grid containing the best value (a gap ends the run; NaN counts as not near-best).
    """
    grid, values = np.asarray(grid, float), np.asarray(values, float)
    if grid.shape != values.shape or grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"grid and values must be non-empty 1-D of the same length; got "
                         f"{grid.shape} and {values.shape}")
    ok = np.isfinite(values) & (values >= np.nanmax(values) - tolerance)
    best = int(np.nanargmax(values))
    lo = hi = best
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(grid) - 1 and ok[hi + 1]:
        hi += 1
    return float(np.log10(grid[hi] / grid[lo]))
