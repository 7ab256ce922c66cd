r"""How far an aggregate is from the honest mean, relative to the honest spread.

The empirical robustness ratio of Allouah et al.'s (f, kappa)-robustness (Definition 3.2 in
Byz-Clip21-SGD2M, arXiv 2603.23472): for honest rows ``S``,

.. math::  r = \frac{\|\mathrm{RAgg}(x) - \bar x_S\|^2}
               {\frac{1}{|S|}\sum_{i \in S}\|x_i - \bar x_S\|^2}.

A (delta, c)-robust aggregator keeps ``r <= c * delta / (1 - delta)`` for every input; the mean has
no such bound (one Byzantine row moves it arbitrarily far).
"""

from __future__ import annotations

import torch

__all__ = ["robustness_ratio"]


def robustness_ratio(aggregate: torch.Tensor, honest: torch.Tensor) -> float:
    """``||aggregate - mean(honest)||^2 / mean_i ||honest_i - mean(honest)||^2``."""
    center = honest.mean(dim=0)
    spread = ((honest - center) ** 2).sum(dim=1).mean()
    if not spread > 0:
        raise ValueError("the honest rows are identical: the ratio is undefined")
    return float(((aggregate - center) ** 2).sum() / spread)
