r"""SR-VN: square-root variational Newton, the natural-gradient step in the Cholesky factor.

Kumar, Möllenhoff, Khan and Lucchi, "Optimization Guarantees for Square-Root Natural-Gradient
Variational Inference", TMLR 2025, arXiv 2507.07853, Algorithm 1. With ``g = E_q[grad V]``,
``H = E_q[hess V]`` (:mod:`common.vi.expectations`) and step size ``rho`` (``lr``):

    m_{t+1} = m_t - rho C_t C_t^T g_t,
    C_{t+1} = C_t - rho C_t tril½(C_t^T H_t C_t - I),

``tril½(A)`` = strict lower triangle + ½ diagonal (Eq. (10)), so ``C`` stays lower-triangular and
no matrix is inverted. Its continuous-time limit (the flow of :mod:`common.vi.flows`) is
``ṁ = -C C^T g``, ``Ċ = -C tril½(C^T H C - I)``; in ``(m, Sigma)`` this is
``Sigma' = -(Sigma H Sigma - Sigma)``, the same flow as VN (:mod:`common.vi.vn`), which is why the
two methods agree to ``O(rho^2)`` per step (the paper's Fig. 1b). Fixed points: ``g = 0`` and
``C^T H C = I``, i.e. ``Sigma = H^{-1}`` (Opper and Archambeau's optimality conditions).

Near the optimum, ``delta = C^T H C - I`` obeys ``delta_{t+1} ≈ (1 - rho) delta_t`` (the notes'
[derived] linearisation): a linear rate ``(1 - rho)^2`` on ``F - F*``, independent of the
conditioning of ``H``, and quadratic convergence at ``rho = 1``. With the full diagonal
(``tril``, the ablation ``tril_map=torch.tril``) the diagonal contracts by ``1 - 2 rho``, which
does not contract at ``rho = 1``.

**Provenance.** The update was read in two independent implementations that cite Algorithm 1 and
Eqs. (10), (14) (AdvancedVI.jl's ``KLMinSqrtNaturalGradDescent`` with the opposite sign convention
``log pi = -V``; a third-party Python module), not in the PDF [secondary]; it was checked
numerically (``tests/vi``). Algorithm 1 carries a scalar ``gamma`` whose meaning is [unverified];
we fix ``gamma = 1`` as the third-party code does. The paper's rates and constants are
[unverified].

**Guard.** An iterate whose diagonal of ``C`` is not positive (``C C^T`` is still a covariance, but
the iterate has left the set the analysis covers, notes pitfall 4) raises :class:`Diverged`, as
the third-party implementation does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import SqrtGaussian, tril_half
from common.vi.guards import Diverged, require_finite

__all__ = ["SRVNState", "srvn_init", "srvn_direction", "srvn_update", "srvn_gaussian"]


class SRVNState(NamedTuple):
    """SR-VN's coordinates: the mean ``m`` and the lower-triangular factor ``C``."""

    mean: torch.Tensor
    chol: torch.Tensor


def srvn_init(q: SqrtGaussian) -> SRVNState:
    """The SR-VN state of ``q``: its mean and Cholesky-like factor (copies)."""
    return SRVNState(q.mean.clone(), q.chol.clone())


def srvn_direction(q: SqrtGaussian, ex: Expectations, *, tril_map=tril_half):
    """``(ṁ, Ċ) = (-C C^T g, -C tril½(C^T H C - I))``, the SR natural-gradient vector field."""
    C = q.chol
    eye = torch.eye(q.dim, dtype=C.dtype, device=C.device)
    dm = -(C @ (C.T @ ex.grad))
    dC = -(C @ tril_map(C.T @ ex.hess @ C - eye))
    return dm, dC


def srvn_update(state: SRVNState, ex: Expectations, lr: float, *,
                tril_map=tril_half) -> SRVNState:
    """One SR-VN step of size ``lr`` (= rho); pure (returns a new state)."""
    dm, dC = srvn_direction(SqrtGaussian(*state), ex, tril_map=tril_map)
    return SRVNState(state.mean + lr * dm, state.chol + lr * dC)


def srvn_gaussian(state: SRVNState) -> SqrtGaussian:
    """The iterate as a :class:`SqrtGaussian`; raises :class:`Diverged` (guard above)."""
    require_finite(mean=state.mean, chol=state.chol)
    diag = torch.diagonal(state.chol)
    if bool((diag <= 0).any()):
        raise Diverged(f"a diagonal entry of C is not positive (min {float(diag.min()):.3g})")
    return SqrtGaussian(state.mean, state.chol)
