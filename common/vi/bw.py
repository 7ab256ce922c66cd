r"""Bures-Wasserstein gradient descent: the Wasserstein geometry restricted to Gaussians.

Lambert, Chewi, Bach, Bonnabel and Rigollet, "Variational inference via Wasserstein gradient
flows", NeurIPS 2022, arXiv 2205.15902 (the Wasserstein baseline of the SR-VN paper's Fig. 1).
With ``g = E_q[grad V]``, ``H = E_q[hess V]``, ``M = H - Sigma^{-1}`` and step ``h`` (``lr``):

    m_{t+1}     = m_t - h g_t,
    Sigma_{t+1} = (I - h M_t) Sigma_t (I - h M_t).

Its flow (the Bures-Wasserstein gradient flow of the KL) is ``ṁ = -g``,
``Sigma' = -(M Sigma + Sigma M)`` (:func:`bw_direction`). The covariance update is a congruence,
so ``Sigma`` stays positive semi-definite; it loses definiteness when ``I - h M`` is singular.

**Guard.** A covariance that is not positive definite or non-finite values raise
:class:`Diverged`. The forward-backward variant of Diao et al. (2023) is not implemented.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import SqrtGaussian
from common.vi.guards import Diverged, require_finite

__all__ = ["BWState", "bw_init", "bw_direction", "bw_update", "bw_gaussian"]


class BWState(NamedTuple):
    """BW-GD's coordinates: the mean ``m`` and the covariance ``Sigma``."""

    mean: torch.Tensor
    cov: torch.Tensor


def bw_init(q: SqrtGaussian) -> BWState:
    """The BW-GD state of ``q``: its mean and covariance ``Sigma = C C^T``."""
    return BWState(q.mean.clone(), q.chol @ q.chol.T)


def _chol(S: torch.Tensor) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(0.5 * (S + S.T))
    if int(info) != 0 or not bool(torch.isfinite(L).all()):
        raise Diverged("the covariance is not positive definite")
    return L


def _m_matrix(cov: torch.Tensor, ex: Expectations) -> torch.Tensor:
    return ex.hess - torch.cholesky_inverse(_chol(cov))


def bw_direction(mean: torch.Tensor, cov: torch.Tensor, ex: Expectations):
    """``(ṁ, Sigma') = (-g, -(M Sigma + Sigma M))`` with ``M = H - Sigma^{-1}``."""
    M = _m_matrix(cov, ex)
    MS = M @ cov
    return -ex.grad, -(MS + MS.T)


def bw_update(state: BWState, ex: Expectations, lr: float) -> BWState:
    """One Bures-Wasserstein step of size ``lr`` (= h); pure."""
    d = state.mean.shape[0]
    A = torch.eye(d, dtype=state.cov.dtype, device=state.cov.device) - lr * _m_matrix(state.cov,
                                                                                        ex)
    cov = A @ state.cov @ A.T
    return BWState(state.mean - lr * ex.grad, 0.5 * (cov + cov.T))


def bw_gaussian(state: BWState) -> SqrtGaussian:
    """``N(m, Sigma)`` with ``C = cholesky(Sigma)``; raises :class:`Diverged`."""
    require_finite(mean=state.mean, cov=state.cov)
    return SqrtGaussian(state.mean, _chol(state.cov))
