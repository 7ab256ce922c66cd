r"""Monte Carlo estimators of ``(E_q[V], E_q[grad V], E_q[hess V])`` by reparameterisation.

Samples ``x_s = m + C u_s``, ``u_s ~ N(0, I)``, ``s = 1..S`` (optionally of a mini-batch potential
whose likelihood is scaled by ``n / |B|``):

- value and gradient (reparameterisation / Bonnet): ``E[V] ≈ mean_s V(x_s)``,
  ``g ≈ mean_s grad V(x_s)``;
- Hessian, Price's theorem (:func:`price_hessian`): ``H ≈ mean_s hess V(x_s)``;
- Hessian, gradient-only Stein/Bonnet identity (:func:`bonnet_hessian`): since
  ``E[u f(u)] = E[grad_u f(u)]`` for ``u ~ N(0, I)``, ``E[u grad V(m + C u)^T] = C^T E[hess V]``,
  so ``H ≈ C^{-T} mean_s u_s grad V(x_s)^T``, **symmetrised** ``½(Ĥ + Ĥ^T)``: a single-sample
  estimate is not symmetric (the bug AdvancedVI.jl 0.6.2 fixed, notes pitfall 6).

Compose an estimator from a Hessian rule instead of flagging one::

    est = MonteCarlo(potential, num_samples=8, hessian=bonnet_hessian, batch_size=256, seed=0)
    ex = est(q)          # draws fresh samples (and a fresh mini-batch) on every call

The stream of draws is fixed by ``seed``: the same estimator built twice gives the same sequence.
Its noise floor (``O(1/sqrt(S))`` on the ELBO) is why the notebooks use quadrature
(:mod:`common.vi.quadrature`) wherever a claim is checked at 1e-6.
"""

from __future__ import annotations

import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import SqrtGaussian, sample

__all__ = ["price_hessian", "bonnet_hessian", "HESSIAN_ESTIMATORS", "MonteCarlo"]


def price_hessian(potential, q: SqrtGaussian, x: torch.Tensor, u: torch.Tensor,
                  grads: torch.Tensor) -> torch.Tensor:
    """``mean_s hess V(x_s)`` (Price's theorem); symmetric by construction."""
    return potential.mean_hess(x)


def bonnet_hessian(potential, q: SqrtGaussian, x: torch.Tensor, u: torch.Tensor,
                   grads: torch.Tensor) -> torch.Tensor:
    """``sym(C^{-T} mean_s u_s grad V(x_s)^T)``: needs gradients only (Stein's lemma)."""
    M = u.T @ grads / u.shape[0]                                     # ≈ C^T H
    H = torch.linalg.solve_triangular(q.chol.T, M, upper=True)       # C^{-T} M
    return 0.5 * (H + H.T)


#: Hessian rules by name.
HESSIAN_ESTIMATORS = {"price": price_hessian, "bonnet": bonnet_hessian}


class MonteCarlo:
    """Reparameterised Monte Carlo expectations (an ``estimator(q) -> Expectations``).

    Args:
        potential: has ``value``, ``grad`` (and ``mean_hess`` for Price) over ``(S, d)`` points;
            a :class:`~common.vi.potentials.GLMPotential` also has ``minibatch``.
        num_samples: ``S`` draws of ``u`` per call.
        hessian: :func:`price_hessian`, :func:`bonnet_hessian` or a name in
            :data:`HESSIAN_ESTIMATORS`.
        batch_size: rows per call, drawn without replacement (``None``: the full data).
        seed: seeds the stream of draws (samples and mini-batches).
        antithetic: pair every ``u`` with ``-u`` (``num_samples`` even).
    """

    def __init__(self, potential, num_samples: int = 1, *, hessian=price_hessian,
                 batch_size: int | None = None, seed: int = 0, antithetic: bool = False):
        if isinstance(hessian, str):
            if hessian not in HESSIAN_ESTIMATORS:
                raise ValueError(f"hessian={hessian!r}: allowed are {sorted(HESSIAN_ESTIMATORS)}")
            hessian = HESSIAN_ESTIMATORS[hessian]
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples={num_samples!r}: a positive integer")
        if batch_size is not None:
            n = getattr(potential, "n", None)
            if n is None:
                raise ValueError("batch_size: this potential has no data rows to subsample")
            if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
                raise ValueError(f"batch_size={batch_size!r}: an integer in [1, n={n}]")
        self.potential = potential
        self.num_samples = num_samples
        self.hessian = hessian
        self.batch_size = batch_size
        self.antithetic = antithetic
        self.generator = torch.Generator().manual_seed(int(seed))

    def _batch(self):
        P = self.potential
        if self.batch_size is None or self.batch_size == P.n:
            return P
        idx = torch.randperm(P.n, generator=self.generator)[: self.batch_size]
        return P.minibatch(idx)

    def __call__(self, q: SqrtGaussian) -> Expectations:
        P = self._batch()
        x, u = sample(q, self.num_samples, self.generator, antithetic=self.antithetic)
        grads = P.grad(x)
        return Expectations(P.value(x).mean(), grads.mean(0), self.hessian(P, q, x, u, grads))
