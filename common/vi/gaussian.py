r"""The square-root Gaussian family: ``q = N(m, C C^T)`` with ``C`` lower-triangular.

The variational family of square-root natural-gradient VI (Kumar, Möllenhoff, Khan, Lucchi,
"Optimization Guarantees for Square-Root Natural-Gradient Variational Inference", TMLR 2025,
arXiv 2507.07853): a mean ``m`` and a Cholesky-like factor ``C`` (lower-triangular, positive
diagonal), so ``Sigma = C C^T`` is positive definite by construction and no matrix inverse is
needed to sample or to evaluate the entropy

    H[q] = sum_i log C_ii + (d / 2) (1 + log 2 pi),
    x = m + C u,  u ~ N(0, I).

The negative ELBO of a target ``pi(theta) ∝ exp(-V(theta))`` is
``F(m, C) = E_q[V] - H[q] = KL(q || pi) - log Z`` (:func:`negative_elbo`).

``tril_half`` is the map of the paper's Eq. (10): the strict lower triangle plus half the diagonal,
so that ``tril_half(A) + tril_half(A)^T = A`` for symmetric ``A`` (read in two independent
implementations that cite the paper, not in its PDF: [secondary]). ``vech`` / ``unvech`` flatten
the lower triangle (used by the continuous-time flows).

Everything is torch float64; inputs may be NumPy arrays. Nothing here mutates its inputs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["SqrtGaussian", "sqrt_gaussian", "from_covariance", "from_precision", "covariance",
           "entropy", "negative_elbo", "sample", "log_density", "gaussian_kl", "tril_half",
           "vech", "unvech", "NotPositiveDefinite", "as_tensor", "DTYPE"]

DTYPE = torch.float64


class NotPositiveDefinite(ValueError):
    """A matrix that must be positive definite (a covariance, a precision) is not."""


def as_tensor(x, name: str = "x", *, device=None) -> torch.Tensor:
    """``x`` as a float64 tensor (NumPy arrays and lists are converted; tensors keep their
    device unless ``device`` is given)."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype=DTYPE, device=device if device is not None else x.device)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=DTYPE, device=device)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}") from exc


class SqrtGaussian(NamedTuple):
    """``N(mean, chol @ chol.T)``: ``mean`` of shape ``(d,)``, ``chol`` of shape ``(d, d)``,
    lower-triangular with a positive diagonal. Build it with :func:`sqrt_gaussian` (validated)."""

    mean: torch.Tensor
    chol: torch.Tensor

    @property
    def dim(self) -> int:
        return int(self.mean.shape[-1])


def sqrt_gaussian(mean, chol, *, validate: bool = True) -> SqrtGaussian:
    """A validated :class:`SqrtGaussian`.

    Raises ``ValueError`` naming the argument when ``mean`` is not a vector, ``chol`` is not a
    ``(d, d)`` lower-triangular matrix with a positive, finite diagonal, or a value is not finite.
    """
    m = as_tensor(mean, "mean")
    C = as_tensor(chol, "chol", device=m.device)
    if validate:
        if m.ndim != 1 or m.shape[0] < 1:
            raise ValueError(f"mean: expected a vector of shape (d,), got {tuple(m.shape)}")
        d = m.shape[0]
        if C.shape != (d, d):
            raise ValueError(f"chol: expected shape ({d}, {d}) to match mean, got "
                             f"{tuple(C.shape)}")
        if not (torch.isfinite(m).all() and torch.isfinite(C).all()):
            raise ValueError("mean and chol must be finite")
        if torch.triu(C, diagonal=1).abs().max() > 0:
            raise ValueError("chol: must be lower-triangular (entries above the diagonal are "
                             "nonzero)")
        if (torch.diagonal(C) <= 0).any():
            raise ValueError(f"chol: the diagonal must be positive, got min "
                             f"{float(torch.diagonal(C).min()):.3g}")
    return SqrtGaussian(m, C)


def _cholesky(A: torch.Tensor, name: str) -> torch.Tensor:
    A = 0.5 * (A + A.T)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0 or not torch.isfinite(L).all():
        raise NotPositiveDefinite(f"{name} is not positive definite (Cholesky failed at "
                                  f"column {int(info)})")
    return L


def from_covariance(mean, cov) -> SqrtGaussian:
    """``N(mean, cov)`` with ``chol = cholesky(cov)``; raises :class:`NotPositiveDefinite`."""
    m = as_tensor(mean, "mean")
    S = as_tensor(cov, "cov", device=m.device)
    if S.shape != (m.shape[0], m.shape[0]):
        raise ValueError(f"cov: expected shape ({m.shape[0]}, {m.shape[0]}), got "
                         f"{tuple(S.shape)}")
    return SqrtGaussian(m, _cholesky(S, "cov"))


def from_precision(mean, precision) -> SqrtGaussian:
    """``N(mean, precision^-1)``; the factor is ``cholesky(precision^-1)``."""
    m = as_tensor(mean, "mean")
    P = as_tensor(precision, "precision", device=m.device)
    L = _cholesky(P, "precision")
    return SqrtGaussian(m, _cholesky(torch.cholesky_inverse(L), "precision^-1"))


def covariance(q: SqrtGaussian) -> torch.Tensor:
    """``Sigma = C C^T``."""
    return q.chol @ q.chol.T


def entropy(q: SqrtGaussian) -> torch.Tensor:
    """``sum_i log C_ii + (d/2)(1 + log 2 pi)`` (``|C_ii|`` for a factor whose diagonal flipped
    sign: ``C C^T`` is the same covariance)."""
    d = q.dim
    return torch.log(torch.diagonal(q.chol).abs()).sum() + 0.5 * d * (1.0 + math.log(2 * math.pi))


def negative_elbo(q: SqrtGaussian, expected_potential) -> torch.Tensor:
    """``F(q) = E_q[V] - H[q]`` given ``E_q[V]`` (a number or a 0-d tensor)."""
    return torch.as_tensor(expected_potential, dtype=DTYPE, device=q.mean.device) - entropy(q)


def sample(q: SqrtGaussian, num_samples: int, generator: torch.Generator | None = None,
           *, antithetic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, u)`` with ``u ~ N(0, I)`` of shape ``(num_samples, d)`` and ``x = m + u C^T``.

    ``antithetic=True`` draws ``num_samples / 2`` normals and appends their negatives (exact odd
    moments; ``num_samples`` must be even).
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples={num_samples!r}: a positive integer")
    if antithetic and num_samples % 2:
        raise ValueError(f"num_samples={num_samples}: must be even with antithetic=True")
    n = num_samples // 2 if antithetic else num_samples
    u = torch.randn(n, q.dim, generator=generator, dtype=DTYPE, device="cpu").to(q.mean.device)
    if antithetic:
        u = torch.cat([u, -u])
    return q.mean + u @ q.chol.T, u


def log_density(q: SqrtGaussian, x) -> torch.Tensor:
    """``log q(x)`` for ``x`` of shape ``(..., d)``."""
    x = as_tensor(x, "x", device=q.mean.device)
    r = (x - q.mean).reshape(-1, q.dim)
    z = torch.linalg.solve_triangular(q.chol, r.T, upper=False)
    quad = (z * z).sum(0).reshape(x.shape[:-1])
    logdet = torch.log(torch.diagonal(q.chol).abs()).sum()
    return -0.5 * quad - logdet - 0.5 * q.dim * math.log(2 * math.pi)


def gaussian_kl(q: SqrtGaussian, p: SqrtGaussian) -> torch.Tensor:
    """``KL(q || p) = ½[tr(Σp⁻¹Σq) + (mp-mq)ᵀΣp⁻¹(mp-mq) - d + log det Σp - log det Σq]``."""
    if q.dim != p.dim:
        raise ValueError(f"q has dimension {q.dim} but p has {p.dim}")
    A = torch.linalg.solve_triangular(p.chol, q.chol, upper=False)      # Lp^-1 Cq
    b = torch.linalg.solve_triangular(p.chol, (p.mean - q.mean)[:, None], upper=False)
    logdet = 2 * (torch.log(torch.diagonal(p.chol).abs()).sum()
                  - torch.log(torch.diagonal(q.chol).abs()).sum())
    return 0.5 * ((A * A).sum() + (b * b).sum() - q.dim + logdet)


def tril_half(A: torch.Tensor) -> torch.Tensor:
    """Strict lower triangle of ``A`` plus half its diagonal (the paper's Eq. (10), [secondary]).

    For symmetric ``A``: ``tril_half(A) + tril_half(A).T == A``.
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: expected a square matrix, got shape {tuple(A.shape)}")
    return torch.tril(A, diagonal=-1) + 0.5 * torch.diag_embed(torch.diagonal(A, dim1=-2, dim2=-1))


def vech(L: torch.Tensor) -> torch.Tensor:
    """The lower triangle of ``L`` (diagonal included) as a vector, row by row."""
    d = L.shape[-1]
    i, j = torch.tril_indices(d, d, device=L.device)
    return L[..., i, j]


def unvech(v: torch.Tensor, dim: int) -> torch.Tensor:
    """Inverse of :func:`vech`: a lower-triangular ``(dim, dim)`` matrix."""
    if v.shape[-1] != dim * (dim + 1) // 2:
        raise ValueError(f"v: expected {dim * (dim + 1) // 2} entries for dim={dim}, got "
                         f"{v.shape[-1]}")
    i, j = torch.tril_indices(dim, dim, device=v.device)
    L = torch.zeros(*v.shape[:-1], dim, dim, dtype=v.dtype, device=v.device)
    L[..., i, j] = v
    return L
