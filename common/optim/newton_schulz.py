r"""Orthogonalisation of a matrix: the quintic Newton-Schulz iteration and the exact polar factor.

For ``G = U S V^T`` (thin SVD) the *polar factor* is ``U V^T``: the maximiser of ``<G, O>`` over the
spectral-norm unit ball, i.e. the linear minimisation oracle of the spectral norm up to sign.
Two ways to compute it:

- :func:`polar_svd`: exactly, from ``torch.linalg.svd`` (the reference: tests and small problems).
- :func:`newton_schulz`: the quintic Newton-Schulz iteration of Muon / Scion
  (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/; Pethick et al. 2025,
  arXiv 2502.07529): transpose when the matrix has more rows than columns, normalise
  ``X_0 = G / (||G||_F + eps)`` (so every singular value is at most 1), then ``steps`` times

  .. math::  A = X X^T, \qquad X \leftarrow a X + (b A + c A^2) X,

  with ``(a, b, c) = (3.4445, -4.7750, 2.0315)``. Each step maps every singular value ``s`` to
  ``p(s) = a s + b s^3 + c s^5`` (the singular vectors are kept), a polynomial with a steep slope at
  0. After five steps the result is ``U S' V^T`` with ``S'`` roughly in [0.68, 1.20] for
  well-conditioned matrices; singular values that start tiny (below ~1e-3 of the largest, as in
  large square Gaussian matrices) are not reached: NS5 is an *approximate* polar factor.

Where we depart from the references: the Scion and modded-nanogpt code runs NS5 in bfloat16 under
``torch.compile``; here the default precision is the input's, at least float32 (``dtype=`` selects
another, ``torch.bfloat16`` reproduces the GPU path and ``torch.optim.Muon``). A batch of matrices
``(..., m, n)`` is orthogonalised matrix by matrix in one call.
"""

from __future__ import annotations

import torch

__all__ = ["NS5_COEFFICIENTS", "newton_schulz", "polar_svd", "ns_dtype"]

#: (a, b, c) of the quintic iteration (Jordan et al. 2024): Muon, Scion, torch.optim.Muon.
NS5_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def ns_dtype(dtype: torch.dtype) -> torch.dtype:
    """The default working precision for inputs of ``dtype``: float64 stays, the rest float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _check_matrix(G: torch.Tensor, name: str = "G") -> None:
    if G.ndim < 2:
        raise ValueError(f"{name} must be a matrix or a batch of matrices (..., m, n); "
                         f"got shape {tuple(G.shape)}")


def newton_schulz(G: torch.Tensor, steps: int = 5, coefficients=NS5_COEFFICIENTS,
                  eps: float = 1e-7, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Approximate polar factor of every matrix in ``G`` (..., m, n) by ``steps`` quintic steps.

    Args:
        G: a matrix or a batch of matrices.
        steps: Newton-Schulz iterations (5 in Muon and Scion).
        coefficients: ``(a, b, c)`` of ``p(s) = a s + b s^3 + c s^5``.
        eps: added to the Frobenius norm before normalising (the references' 1e-7).
        dtype: working precision; default float32 (float64 inputs: float64).

    Returns a tensor of ``G``'s shape and dtype.
    """
    _check_matrix(G)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps={steps!r}: a non-negative integer")
    a, b, c = (float(v) for v in coefficients)
    work = ns_dtype(G.dtype) if dtype is None else dtype
    X = G.to(work)
    tall = G.shape[-2] > G.shape[-1]
    if tall:
        X = X.mT
    lead = X.shape[:-2]
    X = X.reshape(-1, *X.shape[-2:])
    X = X / (torch.linalg.matrix_norm(X, keepdim=True) + eps)
    for _ in range(steps):
        A = X @ X.mT
        B = torch.baddbmm(A, A, A, beta=b, alpha=c)  # b A + c A^2
        X = torch.baddbmm(X, B, X, beta=a)  # a X + B X
    X = X.reshape(*lead, *X.shape[-2:])
    if tall:
        X = X.mT
    return X.to(G.dtype)


def polar_svd(G: torch.Tensor) -> torch.Tensor:
    """Exact polar factor ``U V^T`` of every matrix in ``G`` (..., m, n), from the thin SVD.

    Computed in at least float32. For a rank-deficient ``G`` the factor is not unique (any
    completion of the zero singular directions works); this returns the SVD's, which still has
    ``<G, U V^T> = ||G||_nuclear`` and ``||U V^T||_op = 1``.
    """
    _check_matrix(G)
    X = G.to(ns_dtype(G.dtype))
    U, _, Vh = torch.linalg.svd(X, full_matrices=False)
    return (U @ Vh).to(G.dtype)
