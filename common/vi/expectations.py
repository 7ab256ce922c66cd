r"""What a natural-gradient VI step consumes: ``(E_q[V], E_q[grad V], E_q[hess V])``.

For ``q = N(m, Sigma)`` and a twice-differentiable potential ``V``, Bonnet's and Price's theorems
give the gradients of the expected potential in ``(m, Sigma)``:

    d/dm     E_q[V] = E_q[grad V] =: g,
    d/dSigma E_q[V] = ½ E_q[hess V] =: ½ H,

so every step of :mod:`common.vi.registry` is a function of ``(q, E_q[V], g, H)`` (Opper and
Archambeau 2009, doi:10.1162/neco.2008.08-07-592). An *estimator* is any callable
``estimator(q) -> Expectations``: Gauss-Hermite quadrature for GLMs
(:class:`common.vi.quadrature.GaussHermiteGLM`), the closed form of a Gaussian target
(:meth:`common.vi.potentials.GaussianPotential.expectations`) or a Monte Carlo estimator
(:class:`common.vi.monte_carlo.MonteCarlo`).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch

from common.vi.gaussian import SqrtGaussian

__all__ = ["Expectations", "Estimator"]


class Expectations(NamedTuple):
    """``value = E_q[V]`` (0-d), ``grad = E_q[grad V]`` ``(d,)``, ``hess = E_q[hess V]``
    ``(d, d)``."""

    value: torch.Tensor
    grad: torch.Tensor
    hess: torch.Tensor


class Estimator(Protocol):
    """``estimator(q) -> Expectations``."""

    def __call__(self, q: SqrtGaussian) -> Expectations: ...
