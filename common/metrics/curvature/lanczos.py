r"""Extreme Gauss-Newton eigenvalues without forming the matrix: Lanczos on GN-vector products.

For models whose Jacobian :math:`J \in \mathbb{R}^{nk\times p}` does not fit in memory, the two
Gram operators are applied matrix-free with forward- and reverse-mode products of the batch
function :math:`F(\theta) = (f_\theta(x_1), \dots, f_\theta(x_n))`:

.. math::  G_O v = \tfrac1n J^\top (J v) \quad (p\text{-dimensional; } Jv \text{ by } \texttt{jvp},
           J^\top u \text{ by } \texttt{vjp}),
           \qquad K u = \tfrac1n J (J^\top u) \quad (nk\text{-dimensional}),

and SciPy's ``eigsh`` (implicitly restarted Lanczos, ARPACK) finds the extreme eigenvalues of
either from those products alone (Pearlmutter 1994; the Gauss-Newton-vector product of
Schraudolph 2002). :math:`G_O` and :math:`K` share their nonzero eigenvalues.

**Which operator.** The largest eigenvalues come from either. The smallest *nonzero* eigenvalue
needs care, because :math:`G_O` is rank-deficient: on the ``p`` side the smallest eigenvalues
are zeros. Use the sample side :math:`K` (``nk`` usually far below ``p``) and ask for more
smallest eigenvalues than :math:`K`'s nullity; :func:`lanczos_condition_number` applies the same
relative rank rule as the dense path
(:func:`common.metrics.conditioning.pseudo_condition_number`) to them, and raises if every
returned eigenvalue falls below the cut-off (the nullity was underestimated).

The operators run on the model's device (a GPU at paper scale) in the parameters' dtype;
``eigsh`` runs on the CPU in float64 over NumPy vectors. ``chunk_size`` splits the samples to
bound memory (only for models without batch coupling: with BatchNorm in training mode the batch
function does not split).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp, vjp

from common.metrics.conditioning import DEFAULT_RTOL
from common.metrics.curvature.jacobian import (
    BatchCouplingError,
    _coupled_modules,
    _frozen_running_stats,
    model_params,
)

__all__ = ["GNOperators", "gn_operators", "lanczos_eigenvalues", "LanczosKappa",
           "lanczos_condition_number"]


class GNOperators(NamedTuple):
    """Matrix-free products of one model and batch: ``gn`` (``p``-vectors), ``gram``
    (``nk``-vectors), with their dimensions."""

    gn: Callable[[torch.Tensor], torch.Tensor]
    gram: Callable[[torch.Tensor], torch.Tensor]
    p: int
    nk: int


def _unflatten(v: torch.Tensor, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    for name, t in params.items():
        out[name] = v[i:i + t.numel()].view_as(t)
        i += t.numel()
    return out


def gn_operators(model: nn.Module, X: torch.Tensor, *, chunk_size: int | None = None,
                 params: dict[str, torch.Tensor] | None = None,
                 param_mask: dict[str, torch.Tensor] | None = None) -> GNOperators:
    """The products :math:`v \\mapsto J^\\top J v / n` and :math:`u \\mapsto J J^\\top u / n` of
    ``model`` on the batch ``X`` (rows of ``J`` sample-major, as in :func:`per_sample_jacobian`).

    ``chunk_size`` (samples per chunk) bounds memory for models without batch coupling.
    ``param_mask`` (``{name: 0/1 tensor}``, e.g. pruning masks) restricts the parameters to the
    unmasked ones: :math:`J` becomes :math:`J D` with :math:`D` the diagonal mask, so masked
    coordinates contribute nothing (``p`` stays the full count; :math:`G_O` gains zeros).
    """
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size={chunk_size!r}: a positive integer or None")
        coupled = _coupled_modules(model)
        if coupled:
            raise BatchCouplingError(f"chunk_size is not allowed: module(s) {coupled} couple "
                                     "the samples of a batch, so the batch cannot be split")
    params = model_params(model) if params is None else params
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    n = X.shape[0]
    chunks = [X] if chunk_size is None else list(torch.split(X, chunk_size))
    sizes = [c.shape[0] for c in chunks]

    def F(p, x):
        return functional_call(model, (p, buffers), (x,)).reshape(-1)

    with torch.no_grad(), _frozen_running_stats(model):
        k = F(params, chunks[0]).numel() // chunks[0].shape[0]  # outputs per sample
    p_dim = sum(t.numel() for t in params.values())
    unknown = sorted(set(param_mask or {}) - set(params))
    if unknown:
        raise KeyError(f"param_mask names parameters the model does not have: {unknown}")
    mask = torch.cat([(param_mask or {}).get(name, torch.ones_like(t)).reshape(-1).to(t)
                      for name, t in params.items()]) if param_mask else None

    def masked(v):
        return v if mask is None else v * mask

    def jv(v, x):
        with _frozen_running_stats(model):
            return jvp(lambda p: F(p, x), (params,), (_unflatten(masked(v), params),))[1]

    def jtu(u, x):
        with _frozen_running_stats(model):
            _, pullback = vjp(lambda p: F(p, x), params)
            g = pullback(u)[0]
        return masked(torch.cat([g[name].reshape(-1) for name in params]))

    def gn(v: torch.Tensor) -> torch.Tensor:
        return sum(jtu(jv(v, x), x) for x in chunks) / n

    def gram(u: torch.Tensor) -> torch.Tensor:
        parts = torch.split(u, [s * k for s in sizes])
        w = sum(jtu(ui, x) for ui, x in zip(parts, chunks))
        return torch.cat([jv(w, x) for x in chunks]) / n

    return GNOperators(gn, gram, p_dim, n * k)


def lanczos_eigenvalues(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                        num: int = 1, which: str = "LA", tol: float = 1e-10,
                        maxiter: int | None = None, ncv: int | None = None, seed: int = 0,
                        dtype: torch.dtype = torch.float64,
                        device: torch.device | str = "cpu") -> np.ndarray:
    """``num`` extreme eigenvalues of the symmetric operator ``matvec`` (``eigsh``), sorted
    descending for ``which="LA"`` (largest) and ascending for ``"SA"`` (smallest).

    The start vector is drawn from ``seed`` (deterministic). ``tol`` is ARPACK's relative
    accuracy of the Ritz values; ``ncv`` the Krylov basis size (SciPy's default
    ``max(2 num + 1, 20)``). The largest eigenvalues converge in tens of products; the smallest
    of an operator with condition number ``kappa`` need many more (thousands at ``kappa`` of
    1e6 with ``ncv = 80``, measured on a 300-dimensional Gram): a larger ``ncv`` cuts the
    count most. Non-convergence raises ``RuntimeError`` with that advice.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    if which not in ("LA", "SA"):
        raise ValueError(f"which={which!r}: 'LA' (largest) or 'SA' (smallest algebraic)")
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num < dim:
        raise ValueError(f"num={num!r}: an integer in [1, dim - 1] = [1, {dim - 1}]")

    def mv(x):
        v = torch.as_tensor(np.asarray(x).reshape(-1), dtype=dtype, device=device)
        return matvec(v).detach().cpu().double().numpy()

    op = LinearOperator((dim, dim), matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(dim)
    try:
        vals = eigsh(op, k=num, which=which, tol=tol, maxiter=maxiter, ncv=ncv, v0=v0,
                     return_eigenvectors=False)
    except ArpackNoConvergence as exc:
        raise RuntimeError(
            f"Lanczos (eigsh, which={which!r}) did not converge: {exc}. The smallest end of an "
            "ill-conditioned operator converges slowly (the relative gaps there are about "
            "1/kappa); raise ncv (Krylov basis size) or maxiter, or loosen tol") from exc
    return np.sort(vals)[::-1] if which == "LA" else np.sort(vals)


class LanczosKappa(NamedTuple):
    """A Lanczos pseudo-condition number: ``kappa = lambda_max / lambda_min`` where
    ``lambda_min`` is the smallest returned eigenvalue above ``rtol * lambda_max``;
    ``smallest`` are the returned smallest eigenvalues (ascending), ``below_cut`` how many of
    them the rank rule discarded."""

    kappa: float
    lambda_max: float
    lambda_min: float
    smallest: np.ndarray
    below_cut: int


def lanczos_condition_number(ops: GNOperators, *, num_smallest: int = 1,
                             rtol: float = DEFAULT_RTOL, tol: float = 1e-10,
                             maxiter: int | None = None, ncv: int | None = None, seed: int = 0,
                             dtype: torch.dtype = torch.float64,
                             device: torch.device | str = "cpu") -> LanczosKappa:
    """:math:`\\kappa(G_O)` from Lanczos on the sample-side operator :math:`K = J J^\\top/n`.

    ``num_smallest`` must exceed the nullity of :math:`K` (``nk`` minus the rank of
    :math:`G_O`); if every returned eigenvalue is below ``rtol * lambda_max`` the rule cannot
    find the smallest nonzero one and a ``ValueError`` says so.
    """
    if not 0 < rtol < 1:
        raise ValueError(f"rtol={rtol!r}: a relative cut-off strictly between 0 and 1")
    kw = dict(tol=tol, maxiter=maxiter, ncv=ncv, seed=seed, dtype=dtype, device=device)
    lam_max = float(lanczos_eigenvalues(ops.gram, ops.nk, num=1, which="LA", **kw)[0])
    small = lanczos_eigenvalues(ops.gram, ops.nk, num=num_smallest, which="SA", **kw)
    keep = small[small > rtol * lam_max]
    if keep.size == 0:
        raise ValueError(f"all {num_smallest} smallest eigenvalues are below rtol * lambda_max "
                         f"= {rtol * lam_max:.3g}: the Gram operator's nullity is at least "
                         f"{num_smallest}; raise num_smallest")
    lam_min = float(keep.min())
    return LanczosKappa(lam_max / lam_min if lam_min > 0 else math.inf, lam_max, lam_min, small,
                        int(small.size - keep.size))
