r"""Closed forms for the Gauss-Newton matrix of deep linear networks, and the condition bound.

A deep linear network :math:`f(x) = W_L \cdots W_1 x` with :math:`W_l \in \mathbb{R}^{m_l \times
m_{l-1}}`, :math:`m_0 = d`, :math:`m_L = k` (PyTorch's ``Linear.weight`` layout, no biases),
trained with the MSE on inputs :math:`X \in \mathbb{R}^{n\times d}`,
:math:`\Sigma = X^\top X / n`. Write :math:`P_l = W_{l-1}\cdots W_1` (:math:`P_1 = I_d`) and
:math:`Q_l = W_L \cdots W_{l+1}` (:math:`Q_L = I_k`). With each :math:`W_l` flattened row-major
(as :func:`common.metrics.curvature.jacobian.per_sample_jacobian` does),

.. math::

    J_l(x) = \frac{\partial f(x)}{\partial\,\mathrm{vec}_r W_l} = Q_l \otimes (P_l x)^\top,
    \qquad
    G_O[l, l'] = (Q_l^\top Q_{l'}) \otimes (P_l \Sigma P_{l'}^\top).

With any :math:`R` such that :math:`R^\top R = \Sigma` (here the triangular factor of
:math:`X/\sqrt n`), :math:`G_O = F^\top F` for :math:`F = [\,Q_l \otimes R P_l^\top\,]_{l=1}^L`, so
the nonzero spectrum of :math:`G_O` is that of the small matrix

.. math::  \tilde M = F F^\top = \sum_{l=1}^{L} (Q_l Q_l^\top) \otimes (R P_l^\top P_l R^\top)
           \qquad (kd \times kd \text{ for } n \ge d),

the Kronecker form of Singh et al. (2021) that the paper builds on; rank
:math:`r(d + k - r)` with :math:`r = \min(d, m_1, \dots, m_{L-1}, k)` for generic weights and
:math:`\Sigma \succ 0`.

**The bound** (the structure of the paper's Lemma 2; reconstructed in our notes from Weyl's
inequalities, not read in the paper). With :math:`\sigma^2_{\min}(P_l) :=
\lambda_{\min}(P_l^\top P_l)` (``d x d``; 0 when some width is below ``d``) and
:math:`\sigma^2_{\min}(Q_l) := \lambda_{\min}(Q_l Q_l^\top)` (``k x k``),

.. math::

    \kappa(G_O) \le \kappa(\Sigma)\,
      \frac{\sum_l \sigma^2_{\max}(Q_l)\,\sigma^2_{\max}(P_l)}
           {\sum_l \sigma^2_{\min}(Q_l)\,\sigma^2_{\min}(P_l)}
    = \kappa(\Sigma) \sum_l w_l\, \kappa^2(Q_l)\,\kappa^2(P_l),\qquad
    w_l \propto \sigma^2_{\min}(Q_l)\,\sigma^2_{\min}(P_l),\ \textstyle\sum_l w_l = 1,

a convex combination of the layers' condition numbers (when every lower term is positive); the
**loose bound** replaces it by its maximum over the layers. Weyl gives
:math:`\lambda_{\max}(M) \le \sum_l
\lambda_{\max}(\cdot)\lambda_{\max}(\cdot)` and :math:`\lambda_{\min}(M) \ge \sum_l
\lambda_{\min}(\cdot)\lambda_{\min}(\cdot)` for :math:`M = \sum_l P_l^\top P_l \otimes Q_l
Q_l^\top`, and :math:`\kappa(S^{1/2} M S^{1/2}) \le \kappa(S)\kappa(M)` with :math:`S = \Sigma
\otimes I_k`. It is exact for :math:`L = 1` (:math:`\kappa = \kappa(\Sigma)`) and for
:math:`L = 2` on whitened data (:math:`\tilde M` is then a Kronecker *sum*, whose eigenvalues are
the sums :math:`\lambda_i(W_2 W_2^\top) + \lambda_j(W_1^\top W_1)`) as long as that sum is
nonsingular (a hidden width below both ``d`` and ``k`` makes it singular and the bound infinite).

Reference: J. Zhao, S. P. Singh, A. Lucchi, "Theoretical characterisation of the Gauss-Newton
conditioning in Neural Networks", arXiv 2411.02139 (NeurIPS 2024); S. P. Singh, G. Bachmann,
T. Hofmann, "Analytic insights into structure and rank of neural network Hessian maps",
arXiv 2106.16225 (NeurIPS 2021).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["chain_products", "linear_gn_jacobian", "linear_gn_matrix", "linear_gn_kron",
           "linear_gn_eigenvalues", "linear_gn_singular_values", "linear_gn_rank",
           "data_factor", "covariance_condition", "WeylBound", "weyl_bound",
           "marchenko_pastur_kappa"]


def _check(weights: Sequence[torch.Tensor], X: torch.Tensor | None = None) -> list[torch.Tensor]:
    ws = list(weights)
    if not ws:
        raise ValueError("weights is empty: a linear network needs at least one layer")
    for i, w in enumerate(ws):
        if not isinstance(w, torch.Tensor) or w.ndim != 2:
            raise ValueError(f"weights[{i}] must be a 2-D tensor (out, in)")
    for i in range(1, len(ws)):
        if ws[i].shape[1] != ws[i - 1].shape[0]:
            raise ValueError(f"weights[{i}] has {ws[i].shape[1]} inputs but weights[{i - 1}] "
                             f"has {ws[i - 1].shape[0]} outputs")
    if X is not None and (X.ndim != 2 or X.shape[1] != ws[0].shape[1]):
        raise ValueError(f"X must be (n, {ws[0].shape[1]}) for weights[0] of shape "
                         f"{tuple(ws[0].shape)}, got {tuple(X.shape)}")
    return ws


def chain_products(
        weights: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(P, Q)`` with ``P[l] = W_{l-1} ... W_1`` (``P[0] = I_d``) and ``Q[l] = W_L ... W_{l+1}``
    (``Q[L-1] = I_k``), for the 0-based layer index ``l``."""
    ws = _check(weights)
    L = len(ws)
    eye = lambda m: torch.eye(m, dtype=ws[0].dtype, device=ws[0].device)  # noqa: E731
    P = [eye(ws[0].shape[1])]
    for w in ws[:-1]:
        P.append(w @ P[-1])
    Q = [eye(ws[-1].shape[0])]
    for w in reversed(ws[1:]):
        Q.append(Q[-1] @ w)
    return P, Q[::-1][:L]


def linear_gn_jacobian(weights: Sequence[torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """The ``(n k, p)`` Jacobian from :math:`J_l(x) = Q_l \\otimes (P_l x)^\\top` (no autograd)."""
    ws = _check(weights, X)
    P, Q = chain_products(ws)
    n, k = X.shape[0], ws[-1].shape[0]
    blocks = [torch.einsum("ca,nb->ncab", q, X @ p.T).reshape(n * k, -1) for p, q in zip(P, Q)]
    return torch.cat(blocks, dim=1)


def linear_gn_matrix(weights: Sequence[torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """The full ``(p, p)`` :math:`G_O` from its blocks :math:`(Q_l^\\top Q_{l'}) \\otimes
    (P_l \\Sigma P_{l'}^\\top)`, in the parameter order of the torch Jacobians (small nets)."""
    ws = _check(weights, X)
    P, Q = chain_products(ws)
    sigma = X.T @ X / X.shape[0]
    rows = [torch.cat([torch.kron(Q[a].T @ Q[b], P[a] @ sigma @ P[b].T) for b in range(len(ws))],
                      dim=1) for a in range(len(ws))]
    return torch.cat(rows, dim=0)


def data_factor(X: torch.Tensor) -> torch.Tensor:
    """An ``R`` with ``R^T R = X^T X / n`` (the triangular QR factor of ``X / sqrt(n)``)."""
    return torch.linalg.qr(X / math.sqrt(X.shape[0]), mode="r").R


def linear_gn_kron(weights: Sequence[torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """:math:`\\tilde M = \\sum_l (Q_l Q_l^\\top) \\otimes (R P_l^\\top P_l R^\\top)`
    (``k d x k d`` for ``n >= d``): the nonzero spectrum of :math:`G_O` plus zeros."""
    ws = _check(weights, X)
    P, Q = chain_products(ws)
    R = data_factor(X)
    return sum(torch.kron(q @ q.T, (R @ p.T) @ (R @ p.T).T) for p, q in zip(P, Q))


def linear_gn_eigenvalues(weights: Sequence[torch.Tensor], X: torch.Tensor) -> np.ndarray:
    """Eigenvalues of :math:`\\tilde M`, descending, float64 NumPy (absolute accuracy about
    1e-16 lambda_max; use :func:`linear_gn_singular_values` for condition numbers beyond 1e12)."""
    ev = torch.linalg.eigvalsh(linear_gn_kron(weights, X))
    return ev.detach().cpu().double().numpy()[::-1].copy()


def _thin_factor(A: torch.Tensor) -> torch.Tensor:
    """``U S`` of the thin SVD: a factor with the same ``A A^T`` and at most ``rows`` columns."""
    U, S, _ = torch.linalg.svd(A, full_matrices=False)
    return U * S


def linear_gn_singular_values(weights: Sequence[torch.Tensor], X: torch.Tensor) -> np.ndarray:
    """Square roots of the eigenvalues of :math:`\\tilde M`, descending, from an SVD of the
    factor :math:`[A_l \\otimes B_l]_l` with :math:`A_l A_l^\\top = Q_l Q_l^\\top`,
    :math:`B_l B_l^\\top = R P_l^\\top P_l R^\\top` (thin SVDs of each factor).

    Small singular values are resolved relative to themselves, not to the largest one, so
    condition numbers of order 1e13 and beyond (plain deep square networks) come out in the
    right decade; only the chain products :math:`P_l, Q_l` are formed by plain multiplication.
    """
    ws = _check(weights, X)
    P, Q = chain_products(ws)
    R = data_factor(X)
    F = torch.cat([torch.kron(_thin_factor(q), _thin_factor(R @ p.T)) for p, q in zip(P, Q)], 1)
    return torch.linalg.svdvals(F).detach().cpu().double().numpy()


def linear_gn_rank(d: int, widths: Sequence[int], k: int) -> int:
    """:math:`r(d + k - r)`, :math:`r = \\min(d, m_1, \\dots, m_{L-1}, k)`: the rank of
    :math:`G_O` for generic weights and full-rank :math:`\\Sigma` (Singh et al. 2021)."""
    dims = [d, *widths, k]
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in dims):
        raise ValueError(f"d, widths and k must be positive integers, got d={d}, "
                         f"widths={list(widths)}, k={k}")
    r = min(dims)
    return int(r * (d + k - r))


def covariance_condition(X: torch.Tensor) -> float:
    """:math:`\\kappa(\\Sigma)` of :math:`\\Sigma = X^\\top X / n` (``inf`` if ``n < d`` or
    :math:`\\Sigma` is singular), from the singular values of ``X``."""
    if X.shape[0] < X.shape[1]:
        return math.inf
    s = torch.linalg.svdvals(X).detach().cpu().double().numpy()
    return float((s[0] / s[-1]) ** 2) if s[-1] > 0 else math.inf


class WeylBound(NamedTuple):
    """The terms of the bound. ``upper[l]`` = :math:`\\sigma^2_{\\max}(Q_l)\\sigma^2_{\\max}(P_l)`,
    ``lower[l]`` = :math:`\\sigma^2_{\\min}(Q_l)\\sigma^2_{\\min}(P_l)`."""

    kappa_sigma: float
    upper: np.ndarray
    lower: np.ndarray

    @property
    def bound(self) -> float:
        """:math:`\\kappa(\\Sigma) \\sum_l upper_l / \\sum_l lower_l` (inf if all lower are 0)."""
        den = float(self.lower.sum())
        return self.kappa_sigma * float(self.upper.sum()) / den if den > 0 else math.inf

    @property
    def weights(self) -> np.ndarray:
        """The convex weights :math:`w_l` (0 where a layer's lower term is 0)."""
        return self.lower / self.lower.sum() if self.lower.sum() > 0 else np.zeros_like(self.lower)

    @property
    def layer_kappas(self) -> np.ndarray:
        """:math:`\\kappa^2(Q_l)\\kappa^2(P_l)` per layer (``inf`` where the lower term is 0)."""
        with np.errstate(divide="ignore"):
            return np.where(self.lower > 0, self.upper / np.where(self.lower > 0, self.lower, 1),
                            np.inf)

    @property
    def loose(self) -> float:
        """The loose bound :math:`\\kappa(\\Sigma) \\max_l \\kappa^2(Q_l)\\kappa^2(P_l)` (``inf``
        as soon as one layer's lower term is 0)."""
        return self.kappa_sigma * float(self.layer_kappas.max())


def _extreme_sq(A: torch.Tensor, gram_dim: int) -> tuple[float, float]:
    """(largest, smallest) eigenvalue of the ``gram_dim``-square Gram of ``A`` (``A A^T`` or
    ``A^T A``), from ``A``'s singular values; the smallest is 0 if ``A`` has rank < gram_dim."""
    s = torch.linalg.svdvals(A).detach().cpu().double().numpy()
    smin = s[-1] ** 2 if s.size >= gram_dim else 0.0
    return float(s[0] ** 2), float(smin)


def weyl_bound(weights: Sequence[torch.Tensor], X: torch.Tensor) -> WeylBound:
    """The bound's terms for the network ``weights`` on the data ``X`` (see the module text)."""
    ws = _check(weights, X)
    P, Q = chain_products(ws)
    d, k = ws[0].shape[1], ws[-1].shape[0]
    upper, lower = [], []
    for p, q in zip(P, Q):
        pmax, pmin = _extreme_sq(p, d)  # P_l^T P_l is d x d
        qmax, qmin = _extreme_sq(q, k)  # Q_l Q_l^T is k x k
        upper.append(qmax * pmax)
        lower.append(qmin * pmin)
    return WeylBound(covariance_condition(X), np.array(upper), np.array(lower))


def marchenko_pastur_kappa(d: int, m: int, k: int) -> float:
    """Marchenko-Pastur estimate of :math:`\\kappa(G_O)` for a two-layer linear network with
    i.i.d. Gaussian weights of variance ``c/fan_in`` on whitened data (any ``c``: it cancels).

    The bulk edges :math:`\\lambda(W_1^\\top W_1) \\approx c(\\sqrt{m/d} \\pm 1)^2` (lower edge 0 if
    ``m < d``) and :math:`\\lambda(W_2 W_2^\\top) \\approx c(1 \\pm \\sqrt{k/m})^2` (0 if ``m < k``)
    in the exact ``L = 2`` formula. A large-width estimate [derived in our notes]; it is poor when
    ``m`` is close to ``d``.
    """
    for name, v in (("d", d), ("m", m), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r}: a positive integer")
    a, b = math.sqrt(m / d), math.sqrt(k / m)
    num = (a + 1) ** 2 + (1 + b) ** 2
    den = ((a - 1) ** 2 if m >= d else 0.0) + ((1 - b) ** 2 if m >= k else 0.0)
    return num / den if den > 0 else math.inf
