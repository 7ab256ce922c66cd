r"""The Gauss-Newton matrix and its nonzero spectrum.

For the mean-squared error :math:`\ell(\theta) = \frac{1}{2n}\sum_i \|f_\theta(x_i) - y_i\|^2`
the Hessian splits into an outer-product part and a functional part, :math:`H = G_O + H_F`, with
the Gauss-Newton (outer-product) matrix

.. math::  G_O = \frac1n \sum_{i=1}^n J_i^\top J_i = \frac1n J^\top J \in \mathbb{R}^{p\times p},

:math:`J \in \mathbb{R}^{nk\times p}` the stacked Jacobian (:mod:`.jacobian`). :math:`G_O` has
rank at most :math:`\min(nk, p)` and in networks usually far less than :math:`p`, so its condition
number is the **pseudo-condition number** over the nonzero eigenvalues,

.. math::  \kappa(G_O) = \lambda_{\max}(G_O) / \lambda_{r}(G_O), \qquad r = \operatorname{rank} G_O,

which is what Zhao, Singh and Lucchi study (arXiv 2411.02139, NeurIPS 2024); it and its rank
rule live in :mod:`common.metrics.conditioning` (NumPy only).

:math:`J^\top J` and :math:`J J^\top` share their nonzero eigenvalues, so :func:`gn_eigenvalues`
diagonalises the smaller of the two (``min(nk, p)`` square). :func:`gn_singular_values` takes the
singular values of :math:`J/\sqrt n` instead: their squares are the same eigenvalues, but an
eigenvalue far below :math:`\lambda_{\max}` is resolved to a *relative* accuracy of about
:math:`\epsilon\sqrt{\lambda_{\max}/\lambda}` rather than an absolute :math:`\epsilon\lambda_{\max}`
(:math:`\epsilon` the float64 unit round-off), which is what lets condition numbers beyond
:math:`10^{12}` be compared in log space.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["gauss_newton_matrix", "gn_eigenvalues", "gn_singular_values"]


def _check_jacobian(J: torch.Tensor, n: int) -> None:
    if not isinstance(J, torch.Tensor) or J.ndim != 2:
        raise ValueError(f"J must be a 2-D tensor (n k, p), got "
                         f"{tuple(J.shape) if isinstance(J, torch.Tensor) else type(J).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or J.shape[0] % n:
        raise ValueError(f"n={n!r}: the number of samples, a positive integer dividing the "
                         f"number of rows of J ({J.shape[0]})")


def gauss_newton_matrix(J: torch.Tensor, n: int) -> torch.Tensor:
    """:math:`G_O = J^\\top J / n`, the ``(p, p)`` Gauss-Newton matrix of the MSE loss."""
    _check_jacobian(J, n)
    return J.T @ J / n


def gn_eigenvalues(J: torch.Tensor, n: int) -> np.ndarray:
    """The ``min(nk, p)`` largest eigenvalues of :math:`G_O`, descending, as float64 NumPy.

    Computed from :math:`J J^\\top / n` (``nk x nk``) when ``nk < p``, else from
    :math:`J^\\top J / n`; the two share their nonzero eigenvalues. Rounding can leave tiny
    negative values where the true eigenvalue is 0; the rank rule of
    :func:`common.metrics.conditioning.pseudo_condition_number` decides what counts as nonzero.
    """
    _check_jacobian(J, n)
    gram = J @ J.T if J.shape[0] < J.shape[1] else J.T @ J
    ev = torch.linalg.eigvalsh(gram / n)
    return ev.detach().cpu().double().numpy()[::-1].copy()


def gn_singular_values(J: torch.Tensor, n: int) -> np.ndarray:
    """Singular values of :math:`J/\\sqrt n`, descending (their squares are :math:`G_O`'s
    eigenvalues); float64 NumPy. Use these for condition numbers beyond about 1e12."""
    _check_jacobian(J, n)
    s = torch.linalg.svdvals(J / math.sqrt(n))
    return s.detach().cpu().double().numpy()
