r"""The pseudo-condition number of a positive semi-definite matrix, with an explicit rank rule.

A Gauss-Newton matrix :math:`G_O = J^\top J / n` is rank-deficient, so its condition number is the
**pseudo-condition number** over the nonzero eigenvalues,

.. math::  \kappa(G_O) = \lambda_{\max}(G_O) / \lambda_{r}(G_O), \qquad r = \operatorname{rank} G_O,

as in Zhao, Singh and Lucchi (arXiv 2411.02139, NeurIPS 2024). Which eigenvalues count as nonzero
is a *rule the caller states*: an analytic rank (known for deep linear networks,
:func:`common.metrics.curvature.linear_gn_rank`) or a relative tolerance
:math:`\lambda > \text{rtol}\cdot\lambda_{\max}`. The paper notes that :math:`\kappa` is very
sensitive to that choice after training; :func:`rank_sensitivity` shows it.

NumPy only (torch tensors are accepted and converted), so the registry of scalar metrics can list
:func:`pseudo_condition_number` without importing torch. The spectra themselves come from
:mod:`common.metrics.curvature`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["pseudo_condition_number", "numerical_rank", "rank_sensitivity", "DEFAULT_RTOL"]

#: Relative cut-off used when a caller picks the tolerance rule without a value of its own
#: (float64 Gram eigenvalues carry absolute errors of about 1e-16 lambda_max, so 1e-10 leaves six
#: decades of margin above rounding noise).
DEFAULT_RTOL = 1e-10


def _as_eigenvalues(eigenvalues) -> np.ndarray:
    if hasattr(eigenvalues, "detach"):  # a torch tensor
        eigenvalues = eigenvalues.detach().cpu().double().numpy()
    ev = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    if ev.size == 0:
        raise ValueError("eigenvalues is empty")
    if not np.all(np.isfinite(ev)):
        raise ValueError("eigenvalues has non-finite entries")
    ev = np.sort(ev)[::-1]
    if ev[0] <= 0:
        raise ValueError(f"eigenvalues: the largest is {ev[0]:.3g}; a PSD matrix with a "
                         "positive eigenvalue is needed")
    return ev


def _check_rtol(rtol) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol={rtol!r}: a relative cut-off strictly between 0 and 1")
    return float(rtol)


def numerical_rank(eigenvalues, rtol: float = DEFAULT_RTOL) -> int:
    """Number of eigenvalues above ``rtol * lambda_max``."""
    ev = _as_eigenvalues(eigenvalues)
    return int(np.sum(ev > _check_rtol(rtol) * ev[0]))


def pseudo_condition_number(eigenvalues, *, rank: int | None = None,
                            rtol: float | None = None) -> float:
    """:math:`\\lambda_{\\max} / \\lambda_r` over the nonzero eigenvalues of a PSD matrix.

    Exactly one rank rule must be given:

    - ``rank=r``: the ``r`` largest eigenvalues are the nonzero ones (an analytic rank). If the
      ``r``-th is not positive the assumed rank is not attained and the result is ``inf``.
    - ``rtol=t``: eigenvalues above ``t * lambda_max`` are the nonzero ones
      (:data:`DEFAULT_RTOL` is the usual choice).

    ``eigenvalues`` may be in any order (NumPy or torch); for singular values pass their
    squares.
    """
    ev = _as_eigenvalues(eigenvalues)
    if (rank is None) == (rtol is None):
        raise ValueError("pseudo_condition_number needs exactly one rank rule: rank=<int> (the "
                         "analytic rank) or rtol=<float> (relative cut-off, e.g. DEFAULT_RTOL); "
                         f"got rank={rank!r}, rtol={rtol!r}")
    if rank is not None:
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or \
                not 1 <= rank <= ev.size:
            raise ValueError(f"rank={rank!r}: an integer in [1, {ev.size}] (the number of "
                             "eigenvalues given)")
        lam_min = ev[int(rank) - 1]
        return float(ev[0] / lam_min) if lam_min > 0 else math.inf
    r = numerical_rank(ev, rtol)
    return float(ev[0] / ev[r - 1])


def rank_sensitivity(eigenvalues, rtols: Sequence[float]) -> np.ndarray:
    """``[(numerical rank, pseudo-condition number) for each rtol]`` as a ``(len(rtols), 2)``
    float array: how much the condition number depends on the cut-off."""
    ev = _as_eigenvalues(eigenvalues)
    out = np.empty((len(rtols), 2))
    for i, t in enumerate(rtols):
        r = numerical_rank(ev, t)
        out[i] = (r, ev[0] / ev[r - 1])
    return out
