r"""How far an aggregate is from the honest mean, relative to the honest spread.

The empirical robustness ratio of Allouah et al.'s (f, kappa)-robustness (Definition 3.2 in
Byz-Clip21-SGD2M, arXiv 2603.23472): for honest rows ``S``,

.. math::  r = \frac{\|\mathrm{RAgg}(x) - \bar x_S\|^2}
               {\frac{1}{|S|}\sum_{i \in S}\|x_i - \bar x_S\|^2}.

With ``|S| = n - f`` honest rows, an aggregator is (f, kappa)-robust (Allouah, Farhadkhani,
Guerraoui, Gupta, Pinot, Stephan, "Fixing by Mixing", AISTATS 2023, arXiv 2302.01772,
Definition 2) when ``r <= kappa`` for *every* input and every such ``S``; Byz-Clip21-SGD2M's
(delta, c)-robustness is the same statement with ``kappa = c * delta``, ``delta = f / n``. The mean
has no such bound (one Byzantine row moves it arbitrarily far).

:func:`robustness_coefficient` gives the proven ``kappa`` of the rules this repository uses, from
that paper (read in its full text):

- coordinate-wise median and geometric median (Propositions 5 and 4):
  ``kappa = 4 (1 + f / (n - 2f))^2``;
- nearest-neighbour mixing before a (f, kappa)-robust rule (Lemma 1):
  ``kappa' <= 8f / (n - f) * (kappa + 1)``, so NNM + median has
  ``kappa' = 8f / (n - f) * (4 (1 + f / (n - 2f))^2 + 1)``.

These are worst-case bounds over all inputs: a measured ratio above them means the implementation
is wrong, one far below them says only that the attack tried was weak.
"""

from __future__ import annotations

import torch

__all__ = ["robustness_ratio", "robustness_coefficient", "ROBUSTNESS_COEFFICIENTS"]


def robustness_ratio(aggregate: torch.Tensor, honest: torch.Tensor) -> float:
    """``||aggregate - mean(honest)||^2 / mean_i ||honest_i - mean(honest)||^2``."""
    center = honest.mean(dim=0)
    spread = ((honest - center) ** 2).sum(dim=1).mean()
    if not spread > 0:
        raise ValueError("the honest rows are identical: the ratio is undefined")
    return float(((aggregate - center) ** 2).sum() / spread)


def _median_kappa(n: int, f: int) -> float:
    return 4.0 * (1.0 + f / (n - 2 * f)) ** 2


def _nnm_median_kappa(n: int, f: int) -> float:
    return 8.0 * f / (n - f) * (_median_kappa(n, f) + 1.0)


#: aggregator name (:data:`common.robust.AGGREGATORS`) -> ``kappa(n, f)``, the proven
#: robustness coefficient (module docstring).
ROBUSTNESS_COEFFICIENTS = {
    "median": _median_kappa,
    "geometric_median": _median_kappa,
    "nnm_median": _nnm_median_kappa,
}


def robustness_coefficient(aggregator: str, n: int, f: int) -> float:
    """The proven bound ``kappa`` on :func:`robustness_ratio` of ``aggregator`` with ``f`` of
    ``n`` inputs Byzantine (``0 <= f < n/2``); Byz-Clip21-SGD2M's ``c`` is ``kappa * n / f``."""
    if aggregator not in ROBUSTNESS_COEFFICIENTS:
        raise ValueError(f"aggregator={aggregator!r}: a proven coefficient is known for "
                         f"{sorted(ROBUSTNESS_COEFFICIENTS)}")
    if not (isinstance(n, int) and isinstance(f, int) and 0 <= f and 2 * f < n):
        raise ValueError(f"n={n}, f={f}: integers with 0 <= f < n/2")
    return ROBUSTNESS_COEFFICIENTS[aggregator](n, f)
