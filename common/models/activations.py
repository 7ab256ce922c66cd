r"""Activations as the mean-field theory sees them: a unit's output as a function of its inputs.

A *single-node* activation maps one pre-activation to one output, :math:`g(u) = \phi(u)`.
A *multi-node* activation combines ``arity`` independent pre-activations into one output,
:math:`g(u_1, u_2) = \psi(\phi(u_1), \phi(u_2))` with a pooling ``psi`` (mean or max over a
pair of adjacent units), and the pooled value is duplicated back to both positions so the layer
keeps its width (the multi-node activations of Bassi et al., arXiv:2505.12096, official code
``abassi98/igb_and_trainability``). Duplication does not change the mean-field maps: the next
layer sees each pooled value through two independent weights of variance
:math:`\sigma_w^2/N`, i.e. one weight of variance :math:`2\sigma_w^2/N` over :math:`N/2`
distinct values, and :math:`q' = \sigma_w^2\,\mathbb E[g^2] + \sigma_b^2` either way.

What the maps of :mod:`common.models.meanfield` need from an activation (all NumPy, vectorised,
float64):

- ``fn(*u)``: the unit's output :math:`g`;
- ``grad_sq(*u)``: :math:`\|\nabla g(u)\|^2`, which gives the slope of the correlation map at
  :math:`c = 1` (Price's theorem: :math:`\partial_c \mathbb E[g(u_a)g(u_b)] = q\,\mathbb E[\nabla
  g(u_a)\cdot\nabla g(u_b)]`), i.e. :math:`\chi_1 = \sigma_w^2\,\mathbb E\|\nabla g\|^2`;
- ``homogeneous``: :math:`g(a u) = a\,g(u)` for :math:`a > 0` (ReLU, identity); then every map
  scales with :math:`q` and has closed forms in :math:`q` (fixed point
  :math:`q^* = \sigma_b^2/(1 - \sigma_w^2 \mathbb E[g(z)^2])`);
- ``kernel``: optional closed form of :math:`k(c) = \mathbb E[g(z_a) g(z_b)]` for unit-variance
  inputs with correlation :math:`c` (homogeneous activations only, where it fixes the map for
  every :math:`q`), and ``grad_kernel`` the same for the gradients. ReLU has the arc-cosine
  kernels (Cho & Saul 2009) of degree 1, :math:`k(c) = \tfrac12 (\sqrt{1-c^2} + (\pi -
  \arccos c)\,c)/\pi`, and degree 0 for its derivative, :math:`\tfrac12(\pi - \arccos c)/\pi`:
  exact where Gauss-Hermite quadrature converges slowly (the kink at 0; a node at 0 even biases
  :math:`\mathbb E[\Theta(z)]`) and needed where :math:`1 - c` reaches :math:`10^{-8}`;
- ``torch_fn``: the same function on torch tensors, for the networks.

The registry :data:`ACTIVATIONS` holds the single-node activations; :func:`pooled` builds a
multi-node one, :func:`get` accepts ``"tanh"`` or ``"tanh+meanpool"`` / ``"tanh+maxpool"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "POOLS", "pooled", "get", "arccos_kernel"]


def arccos_kernel(c, degree: int = 1):
    r"""Normalised arc-cosine kernel :math:`J_n(c)/\pi` of Cho & Saul (NeurIPS 2009).

    For unit-variance Gaussians :math:`(z_a, z_b)` with correlation :math:`c`:

    - degree 0 (the step function, ReLU's derivative): :math:`J_0/\pi = (\pi - \arccos c)/\pi`
      and :math:`\mathbb E[\Theta(z_a)\Theta(z_b)] = \tfrac12 J_0/\pi`;
    - degree 1 (ReLU): :math:`J_1/\pi = (\sqrt{1-c^2} + (\pi - \arccos c)\,c)/\pi` and
      :math:`\mathbb E[\mathrm{relu}(z_a)\mathrm{relu}(z_b)] = \tfrac12 J_1/\pi`.

    Both equal 1 at :math:`c = 1`. ``c`` is clipped to [-1, 1] (round-off).
    """
    if degree not in (0, 1):
        raise ValueError(f"degree={degree!r}: the arc-cosine kernel is implemented for 0 and 1")
    c = np.clip(np.asarray(c, dtype=np.float64), -1.0, 1.0)
    theta = np.arccos(c)
    if degree == 0:
        return (np.pi - theta) / np.pi
    return (np.sqrt(np.maximum(1.0 - c * c, 0.0)) + (np.pi - theta) * c) / np.pi


@dataclass(frozen=True)
class Activation:
    """A unit's output as a function of ``arity`` independent pre-activations (module docstring).

    Attributes:
        name: registry name (``"tanh"``, ``"relu"``, ``"tanh+maxpool"``, ...).
        fn: NumPy ``g(*u)``.
        grad_sq: NumPy ``||grad g(*u)||^2``.
        torch_fn: torch version of a single-node activation (pooled ones are applied by
            :func:`apply_torch`).
        arity: number of pre-activations one output reads (1, or 2 for a pair pool).
        homogeneous: positively homogeneous of degree 1 (the maps scale with q).
        kernel: closed form ``k(c) = E[g(z_a) g(z_b)]`` for unit variances, or None.
        grad_kernel: closed form ``E[grad g(z_a) . grad g(z_b)]`` for unit variances, or None
            (at c = 1 it gives chi_1 / sigma_w2 of a homogeneous activation exactly).
        odd: ``g(-u) = -g(u)`` (then E[g] = 0, and with sigma_b = 0, c = 0 is a fixed point).
        base: for a pooled activation, the single-node activation it pools.
        pool: for a pooled activation, the pool's name (``"mean"`` / ``"max"``).
    """

    name: str
    fn: Callable
    grad_sq: Callable
    torch_fn: Callable | None = None
    arity: int = 1
    homogeneous: bool = False
    kernel: Callable | None = None
    grad_kernel: Callable | None = None
    odd: bool = False
    base: Activation | None = None
    pool: str | None = None

    def apply_torch(self, x):
        """Apply to a torch tensor whose last axis holds the units (pairs pooled, duplicated)."""
        if self.arity == 1:
            return self.torch_fn(x)
        y = self.base.torch_fn(x)
        if y.shape[-1] % 2:
            raise ValueError(f"{self.name}: the layer width {y.shape[-1]} must be even to pool "
                             "adjacent pairs")
        pairs = y.unflatten(-1, (y.shape[-1] // 2, 2))
        pooled = pairs.mean(-1) if self.pool == "mean" else pairs.amax(-1)
        return pooled.repeat_interleave(2, dim=-1)


def _torch(name: str) -> Callable:
    def fn(x):
        import torch

        return {"tanh": torch.tanh, "relu": torch.relu, "erf": torch.erf,
                "linear": lambda t: t}[name](x)
    return fn


def _erf(u):
    from scipy.special import erf

    return erf(u)


_SQRT_PI = math.sqrt(math.pi)

#: Single-node activations: tanh and erf (bounded, odd), ReLU and the identity (homogeneous).
ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", np.tanh, lambda u: (1.0 - np.tanh(u) ** 2) ** 2, _torch("tanh"),
                       odd=True),
    "erf": Activation("erf", _erf, lambda u: (2.0 / _SQRT_PI) ** 2 * np.exp(-2.0 * u * u),
                      _torch("erf"), odd=True),
    "relu": Activation("relu", lambda u: np.maximum(u, 0.0), lambda u: (u > 0).astype(float),
                       _torch("relu"), homogeneous=True,
                       kernel=lambda c: 0.5 * arccos_kernel(c, 1),
                       grad_kernel=lambda c: 0.5 * arccos_kernel(c, 0)),
    "linear": Activation("linear", lambda u: np.asarray(u, dtype=float),
                         lambda u: np.ones_like(np.asarray(u, dtype=float)), _torch("linear"),
                         homogeneous=True, kernel=lambda c: np.asarray(c, dtype=float),
                         grad_kernel=lambda c: np.ones_like(np.asarray(c, dtype=float)), odd=True),
}


def _mean_pool(base: Activation):
    def fn(u1, u2):
        return 0.5 * (base.fn(u1) + base.fn(u2))

    def grad_sq(u1, u2):  # d/du_j of (phi(u1) + phi(u2))/2 is phi'(u_j)/2
        return 0.25 * (base.grad_sq(u1) + base.grad_sq(u2))
    return fn, grad_sq


def _max_pool(base: Activation):
    # phi is non-decreasing for every registered activation, so max(phi(u1), phi(u2)) =
    # phi(max(u1, u2)) and the gradient is phi'(u_max) on the winner (almost everywhere)
    def fn(u1, u2):
        return base.fn(np.maximum(u1, u2))

    def grad_sq(u1, u2):
        return base.grad_sq(np.maximum(u1, u2))
    return fn, grad_sq


#: Pair pools of multi-node activations: name -> builder of (fn, grad_sq) from the base.
POOLS: dict[str, Callable] = {"mean": _mean_pool, "max": _max_pool}


def pooled(base: str | Activation, pool: str) -> Activation:
    """The multi-node activation ``psi(phi(u1), phi(u2))`` over adjacent unit pairs.

    ``base`` is a single-node activation (name or object), ``pool`` is ``"mean"`` or ``"max"``.
    """
    base = get(base) if isinstance(base, str) else base
    if base.arity != 1:
        raise ValueError(f"base={base.name!r}: pooling needs a single-node activation")
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}: allowed values are {sorted(POOLS)}")
    fn, grad_sq = POOLS[pool](base)
    return Activation(f"{base.name}+{pool}pool", fn, grad_sq, None, arity=2,
                      homogeneous=base.homogeneous, kernel=None,
                      odd=base.odd and pool == "mean", base=base, pool=pool)


def get(name: str | Activation) -> Activation:
    """An activation by name: a key of :data:`ACTIVATIONS`, or ``"<base>+<pool>pool"``."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation={name!r}: a name (str) or an Activation")
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if "+" in name:
        base, _, pool = name.partition("+")
        if pool.endswith("pool") and base in ACTIVATIONS and pool[:-4] in POOLS:
            return pooled(base, pool[:-4])
    allowed = sorted(ACTIVATIONS) + [f"<{'|'.join(sorted(ACTIVATIONS))}>+"
                                     f"<{'|'.join(sorted(POOLS))}>pool"]
    raise ValueError(f"activation={name!r}: allowed values are {allowed}")
