r"""VN: variational Newton, the natural-gradient (Bayesian learning rule) step on the precision.

Khan and Rue, "The Bayesian Learning Rule", JMLR 2023, arXiv 2107.04562 (the "NGD" of the SR-VN
paper's Fig. 1). With precision ``S = Sigma^{-1}``, ``g = E_q[grad V]``, ``H = E_q[hess V]`` and
step ``rho`` (``lr``):

    S_{t+1} = (1 - rho) S_t + rho H_t,
    m_{t+1} = m_t - rho S_{t+1}^{-1} g_t.

On a Gaussian target (``H`` constant, ``g`` affine in ``m``) ``rho = 1`` lands on the exact
posterior in one step. Its flow is ``Ṡ = H - S``, ``ṁ = -S^{-1} g``
(:func:`vn_direction`), equal in ``(m, Sigma)`` to the SR-VN flow. Each step solves with ``S``
(``O(d^3)``), which SR-VN avoids.

**Guard.** A precision that is not positive definite (``rho > 1`` with an indefinite
combination, non-finite values) raises :class:`Diverged`; at ``rho <= 1`` ``S`` stays positive
definite as a convex combination of positive definite matrices.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import SqrtGaussian
from common.vi.guards import Diverged, require_finite

__all__ = ["VNState", "vn_init", "vn_direction", "vn_update", "vn_gaussian"]


class VNState(NamedTuple):
    """VN's coordinates: the mean ``m`` and the precision ``S``."""

    mean: torch.Tensor
    precision: torch.Tensor


def vn_init(q: SqrtGaussian) -> VNState:
    """The VN state of ``q``: its mean and precision ``S = (C C^T)^{-1}``."""
    return VNState(q.mean.clone(), torch.cholesky_inverse(q.chol))


def _chol(S: torch.Tensor, what: str) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(0.5 * (S + S.T))
    if int(info) != 0 or not bool(torch.isfinite(L).all()):
        raise Diverged(f"{what} is not positive definite")
    return L


def vn_direction(mean: torch.Tensor, precision: torch.Tensor, ex: Expectations):
    """``(ṁ, Ṡ) = (-S^{-1} g, H - S)``, the VN flow in natural coordinates."""
    L = _chol(precision, "the precision S")
    return -torch.cholesky_solve(ex.grad[:, None], L)[:, 0], ex.hess - precision


def vn_update(state: VNState, ex: Expectations, lr: float) -> VNState:
    """One VN step of size ``lr`` (= rho); pure."""
    S = (1 - lr) * state.precision + lr * ex.hess
    S = 0.5 * (S + S.T)
    L = _chol(S, "the updated precision S")
    m = state.mean - lr * torch.cholesky_solve(ex.grad[:, None], L)[:, 0]
    return VNState(m, S)


def vn_gaussian(state: VNState) -> SqrtGaussian:
    """``N(m, S^{-1})`` with ``C = cholesky(S^{-1})``; raises :class:`Diverged`."""
    require_finite(mean=state.mean, precision=state.precision)
    L = _chol(state.precision, "the precision S")
    return SqrtGaussian(state.mean, _chol(torch.cholesky_inverse(L), "S^{-1}"))
