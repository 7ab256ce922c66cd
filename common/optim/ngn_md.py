r"""NGN-MD: the NGN step size with a diagonal (RMSprop) preconditioner and momentum; NGN-D.

Islamov, Ajroldi, Orvieto, Lucchi, arXiv 2508.15071, Algorithm 2 (lines 1-7 read in the paper;
lines 8-9 and the ``v2`` form are reconstructed in our notes [unverified]). Per step, with
mini-batch loss ``f >= 0`` and gradient ``g``:

.. math::
    v_k &= \beta_2 v_{k-1} + (1-\beta_2)\, g \odot g, \qquad
    D_k = \mathrm{diag}\big(\varepsilon + \sqrt{v_k / (1-\beta_2^{k+1})}\big) \\
    \text{v1:}\quad \gamma_k &= \frac{c}{1 + \frac{c}{2f} \sum_j g_j^2 / (D_k)_j}, \qquad
        u_k = \gamma_k D_k^{-1} g \\
    \text{v2:}\quad \gamma_k^{(j)} &= \frac{c}{1 + \frac{c}{2f} g_j^2 / (D_k)_j}, \qquad
        (u_k)_j = \gamma_k^{(j)} g_j / (D_k)_j \\
    m_k &= \beta_1 m_{k-1} + (1-\beta_1) u_k, \qquad x_{k+1} = x_k - m_k.

v1 is the Sigma-regularised NGN step ``x - gamma Sigma^{-1} g`` with ``Sigma = D_k`` (by
Sherman-Morrison, the paper's App. F). As in NGN-M, the step is taken *before* averaging, the
opposite order to Adam. Bias correction uses ``1 - beta2^(k+1)`` with ``k`` from 0: the paper
prints ``beta2^k``, which divides by zero at ``k = 0`` (PyTorch's Adam uses ``k + 1`` too).

**NGN-D** (Algorithm 3: diagonal NGN without momentum, ``c_j = c / (D_k)_j``) equals v2 with
``beta1 = 0``; it is exposed as ``ngn_d_update``. Defaults ``(beta1, beta2) = (0.9, 0.999)``,
``eps = 1e-8``. No weight decay (the App. G variants are reconstructed, not implemented).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from common.optim._tree import (
    as_tuple,
    check_loss,
    check_positive,
    check_unit_interval,
    expand_to,
)
from common.optim.adapter import FunctionalOptimizer
from common.optim.ngn import TINY

__all__ = ["NGNMDState", "ngn_md_init", "ngn_md_update", "ngn_d_update", "NGNMD"]


class NGNMDState(NamedTuple):
    momentum: tuple[torch.Tensor, ...]
    second_moment: tuple[torch.Tensor, ...]
    count: int


def ngn_md_init(params) -> NGNMDState:
    """Initial state: zero first and second moments, step 0."""
    params = as_tuple(params)
    return NGNMDState(tuple(torch.zeros_like(p) for p in params),
                      tuple(torch.zeros_like(p) for p in params), 0)


def _sum_rest(t: torch.Tensor, batch_dims: int) -> torch.Tensor:
    dims = tuple(range(batch_dims, t.ndim))
    return t.sum(dim=dims) if dims else t


def ngn_md_update(grads, state: NGNMDState, loss, *, c, beta1=0.9, beta2=0.999, eps=1e-8,
                  version: str = "v1", batch_dims: int = 0):
    """One NGN-MD step; ``version`` is ``"v1"`` (scalar gamma) or ``"v2"`` (per coordinate).

    Returns ``(updates, state, info)``; ``info["step_size"]`` is ``gamma_k`` (v1) or the mean of
    ``gamma_k^{(j)}`` over coordinates (v2).
    """
    grads = as_tuple(grads)
    check_positive("c", c)
    check_unit_interval("beta1", beta1)
    check_unit_interval("beta2", beta2)
    check_positive("eps", eps)
    if version not in ("v1", "v2"):
        raise ValueError(f"version={version!r}: allowed values are 'v1' and 'v2'")
    f = check_loss(loss).clamp_min(TINY)
    k = state.count
    bias = 1.0 - beta2 ** (k + 1)
    v = tuple(beta2 * vi + (1 - beta2) * g * g for vi, g in zip(state.second_moment, grads,
                                                                strict=True))
    D = tuple(eps + (vi / bias).sqrt() for vi in v)
    if version == "v1":
        precond_sq = sum(_sum_rest(g * g / d, batch_dims) for g, d in zip(grads, D))
        gamma = c / (1.0 + c * precond_sq / (2.0 * f))
        u = tuple(expand_to(gamma, g, batch_dims) * g / d for g, d in zip(grads, D))
        info_gamma = gamma
    else:
        cc = [expand_to(c, g, batch_dims) for g in grads]
        ff = [expand_to(f, g, batch_dims) for g in grads]
        gam = tuple(ci / (1.0 + ci * g * g / (2.0 * fi * d))
                    for ci, fi, g, d in zip(cc, ff, grads, D))
        u = tuple(gj * g / d for gj, g, d in zip(gam, grads, D))
        per_problem = sum(gj.numel() for gj in gam) // gam[0].shape[:batch_dims].numel()
        info_gamma = sum(_sum_rest(gj, batch_dims) for gj in gam) / per_problem
    b1 = [expand_to(beta1, g, batch_dims) for g in grads]
    m = tuple(bi * mi + (1 - bi) * ui for bi, mi, ui in zip(b1, state.momentum, u, strict=True))
    return tuple(-mi for mi in m), NGNMDState(m, v, k + 1), {"step_size": info_gamma}


def ngn_d_update(grads, state: NGNMDState, loss, *, c, beta2=0.999, eps=1e-8,
                 batch_dims: int = 0):
    """NGN-D (Algorithm 3): NGN-MD v2 without momentum (``beta1 = 0``)."""
    return ngn_md_update(grads, state, loss, c=c, beta1=0.0, beta2=beta2, eps=eps,
                         version="v2", batch_dims=batch_dims)


class NGNMD(FunctionalOptimizer):
    """``torch.optim`` adapter of :func:`ngn_md_update` (one parameter group)."""

    init = staticmethod(ngn_md_init)
    update = staticmethod(ngn_md_update)
    state_class = NGNMDState
    per_param = ("momentum", "second_moment")
    hyperparameters = ("c", "beta1", "beta2", "eps", "version")
    single_group = True

    def __init__(self, params, c: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, version: str = "v1", *, foreach: bool | None = None):
        ngn_md_update((torch.zeros(1),), ngn_md_init((torch.zeros(1),)), 0.0, c=c, beta1=beta1,
                      beta2=beta2, eps=eps, version=version)  # validates the hyperparameters
        super().__init__(params, foreach=foreach, c=c, beta1=beta1, beta2=beta2, eps=eps,
                         version=version)

    def _foreach_group(self, params, grads, loss, hyper):
        """:func:`ngn_md_update` in place with ``torch._foreach_*``, operation by operation in the
        functional update's order (v1 equal to rounding of the final sum; v2 computes
        ``c / x`` as ``c * (1 / x)``, one rounding apart)."""
        c, beta1, beta2, eps = hyper["c"], hyper["beta1"], hyper["beta2"], hyper["eps"]
        f = check_loss(loss).clamp_min(TINY)
        (m, v), k = self._foreach_state(params)
        bias = 1.0 - beta2 ** (k + 1)
        gg = torch._foreach_mul(grads, 1 - beta2)            # (1 - beta2) g, then * g
        torch._foreach_mul_(gg, grads)
        torch._foreach_mul_(v, beta2)
        torch._foreach_add_(v, gg)                           # v = beta2 v + (1 - beta2) g g
        d = torch._foreach_div(v, bias)
        torch._foreach_sqrt_(d)
        torch._foreach_add_(d, eps)                          # D = eps + sqrt(v / bias)
        if hyper["version"] == "v1":
            q = torch._foreach_mul(grads, grads)
            torch._foreach_div_(q, d)
            precond_sq = sum(t.sum() for t in q)
            gamma = c / (1.0 + c * precond_sq / (2.0 * f))
            u = torch._foreach_mul(grads, gamma)
            torch._foreach_div_(u, d)                        # u = gamma g / D
            step_size = gamma
        else:
            den = torch._foreach_mul(d, 2.0 * f)
            x = torch._foreach_mul(grads, c)
            torch._foreach_mul_(x, grads)
            torch._foreach_div_(x, den)
            torch._foreach_add_(x, 1.0)
            torch._foreach_reciprocal_(x)
            torch._foreach_mul_(x, c)                        # gamma_j = c / (1 + c g^2 / (2 f D))
            step_size = sum(t.sum() for t in x) / sum(t.numel() for t in x)
            u = torch._foreach_mul(x, grads)
            torch._foreach_div_(u, d)                        # u_j = gamma_j g_j / D_j
        torch._foreach_mul_(m, beta1)
        torch._foreach_mul_(u, 1 - beta1)
        torch._foreach_add_(m, u)                            # m = beta1 m + (1 - beta1) u
        torch._foreach_sub_(params, m)
        self.state[params[0]]["count"] = k + 1
        return step_size


