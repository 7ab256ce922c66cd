r"""Euclidean gradient descent on ``(m, C)``: black-box VI in the Cholesky parameterisation.

The Euclidean baseline of the SR-VN paper's Fig. 1 (which cites Ranganath, Gerrish and Blei,
"Black Box Variational Inference", AISTATS 2014, arXiv 1401.0118). With Bonnet's and Price's
theorems (``d E_q[V] / d Sigma = ½ H``, so ``d E_q[V] / d C = H C``) and the exact entropy
gradient ``d(-sum log C_ii)/dC = -diag(1 / C_ii)``, the gradient of the negative ELBO in the
lower-triangular coordinates is

    dF/dm = g,       dF/dC = tril(H C) - diag(1 / C_ii),

and the step of size ``h`` (``lr``) is ``m <- m - h g``, ``C <- C - h dF/dC``. Its flow is
``(ṁ, Ċ) = -(dF/dm, dF/dC)`` (:func:`gd_direction`).

**Departure.** Ranganath et al. estimate gradients with the score function; we use the exact
(quadrature) or reparameterised expectations of :mod:`common.vi.expectations`, which isolates the
geometry from estimator noise. Which estimator the paper's Fig. 1 used is [unverified].

**Guard.** A non-positive diagonal entry of ``C`` (where ``log C_ii`` is undefined) or non-finite
values raise :class:`Diverged`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import SqrtGaussian
from common.vi.guards import Diverged, require_finite

__all__ = ["GDState", "gd_init", "gd_direction", "gd_update", "gd_gaussian"]


class GDState(NamedTuple):
    """GD's coordinates: the mean ``m`` and the lower-triangular factor ``C``."""

    mean: torch.Tensor
    chol: torch.Tensor


def gd_init(q: SqrtGaussian) -> GDState:
    """The GD state of ``q``: its mean and Cholesky-like factor (copies)."""
    return GDState(q.mean.clone(), q.chol.clone())


def gd_direction(q: SqrtGaussian, ex: Expectations):
    """``-(dF/dm, dF/dC) = -(g, tril(H C) - diag(1/C_ii))``."""
    C = q.chol
    return -ex.grad, -(torch.tril(ex.hess @ C) - torch.diag(1.0 / torch.diagonal(C)))


def gd_update(state: GDState, ex: Expectations, lr: float) -> GDState:
    """One gradient step of size ``lr`` (= h); pure."""
    dm, dC = gd_direction(SqrtGaussian(*state), ex)
    return GDState(state.mean + lr * dm, state.chol + lr * dC)


def gd_gaussian(state: GDState) -> SqrtGaussian:
    """The iterate as a :class:`SqrtGaussian`; raises :class:`Diverged` (guard above)."""
    require_finite(mean=state.mean, chol=state.chol)
    diag = torch.diagonal(state.chol)
    if bool((diag <= 0).any()):
        raise Diverged(f"a diagonal entry of C is not positive (min {float(diag.min()):.3g})")
    return SqrtGaussian(state.mean, state.chol)
