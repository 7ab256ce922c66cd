r"""ZCA whitening: a linear map that makes the data's second moment the identity.

Fitted on data :math:`X \in \mathbb{R}^{n\times d}` with mean :math:`\mu` and covariance
:math:`C = \frac1n (X - \mu)^\top (X - \mu) = U \Lambda U^\top`, ZCA ("zero-phase component
analysis", Bell and Sejnowski 1997) maps

.. math::  x \mapsto W (x - \mu), \qquad W = U (\Lambda + \epsilon I)^{-1/2} U^\top,

the symmetric whitening matrix: among all whitening maps it keeps the data closest to the
original (images stay image-like). With :math:`\epsilon = 0` the whitened data have second
moment exactly :math:`I` on the samples it was fitted on; :math:`\epsilon > 0` regularises
directions of tiny variance, whose whitened variance becomes :math:`\lambda/(\lambda + \epsilon)`
(so the covariance's condition number is about :math:`1 + \epsilon/\lambda_{\min}`, not 1).
Condition numbers of the Gauss-Newton matrix depend on :math:`\kappa(\Sigma)` of exactly the
samples used, so fit and apply on the same samples when that matters (Zhao, Singh and Lucchi,
arXiv 2411.02139, whiten MNIST and CIFAR-10 this way).

Pure functions: :func:`zca_fit` returns an immutable :class:`ZCA`, :func:`zca_apply` applies it.
Computations are in float64.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # torch is imported where it is used: importing common.data stays light
    import torch

__all__ = ["ZCA", "zca_fit", "zca_apply", "zca_whiten"]


class ZCA(NamedTuple):
    """A fitted ZCA map: ``x -> (x - mean) @ matrix`` (``matrix`` symmetric ``d x d``)."""

    mean: torch.Tensor
    matrix: torch.Tensor
    eps: float


def _as_matrix(X, name: str = "X") -> torch.Tensor:
    import torch

    X = torch.as_tensor(X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (n, d) with n >= 2 samples, got shape "
                         f"{tuple(X.shape)}; flatten images first")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} has non-finite entries")
    return X.to(torch.float64)


def zca_fit(X, eps: float = 1e-5, *, center: bool = True) -> ZCA:
    """Fit ZCA on ``X`` ``(n, d)``; ``eps >= 0`` is added to the covariance's eigenvalues.

    ``center=False`` whitens the uncentred second moment :math:`X^\\top X / n` instead.
    With ``eps = 0`` a singular covariance (``n <= d``, constant pixels) raises: whitening it
    would divide by zero.
    """
    import torch

    X = _as_matrix(X)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"eps={eps!r}: a non-negative number (eigenvalue regulariser)")
    mean = X.mean(0) if center else torch.zeros(X.shape[1], dtype=X.dtype)
    Xc = X - mean
    lam, U = torch.linalg.eigh(Xc.T @ Xc / X.shape[0])
    lam = lam.clamp_min(0.0) + eps
    if lam.min() <= 0 or lam.min() < 1e-13 * lam.max():
        raise ValueError(f"the covariance is singular (smallest eigenvalue {lam.min():.3g}, "
                         f"largest {lam.max():.3g}) and eps={eps}: use eps > 0, more samples "
                         "than dimensions, or remove constant features (e.g. downsample)")
    W = (U * lam.rsqrt()) @ U.T
    return ZCA(mean, (W + W.T) / 2, float(eps))


def zca_apply(zca: ZCA, X) -> torch.Tensor:
    """``(X - mean) @ matrix`` in float64."""
    X = _as_matrix(X)
    if X.shape[1] != zca.matrix.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features, the ZCA map was fitted on "
                         f"{zca.matrix.shape[0]}")
    return (X - zca.mean) @ zca.matrix


def zca_whiten(X, eps: float = 1e-5, *, center: bool = True) -> torch.Tensor:
    """Fit ZCA on ``X`` and apply it to ``X`` (float64)."""
    return zca_apply(zca_fit(X, eps, center=center), X)
