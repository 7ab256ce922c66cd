r"""Unbiased compressors for DCSGD, in JAX: E C(x) = x, E||C(x) - x||^2 = omega ||x||^2.

compressed-sde (Compagnoni, Islamov, Proske, Lucchi; arXiv 2502.17009) compares distributed SGD
with unbiased compression (DCSGD) against distributed SignSGD. Its SDE needs only the compression
covariance Cov(C(x) - x | x), whose diagonal is exactly omega x_j^2 for the compressors here:

- :class:`Identity`: C(x) = x, omega = 0;
- :class:`Bernoulli` (p): C(x)_j = x_j b_j / p with b_j ~ Bernoulli(p) independent,
  omega = 1/p - 1, Cov(C(x) - x) = omega diag(x^2) exactly;
- :class:`RandK` (k): keep k coordinates drawn without replacement, scale by d/k,
  omega = d/k - 1, Cov(C(x) - x) with diagonal omega x_j^2 and off-diagonal
  -(d-k)/(k(d-1)) x_j x_l

(compressed-sde notes, section 3 [derived]). Bernoulli sparsification is exactly diagonal and is the
one to use for exact SDE checks (notes, pitfall 2); the SDE uses the diagonal for rand-k too.
Fresh compressor randomness per agent per step. These are the JAX counterparts, for the jitted
and vmapped simulator, of :mod:`common.federated.compressors` (torch, used to train networks):
same definitions, same omega.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from common.sde._base import (
    as_float,
    check_int_at_least,
    check_unit_interval,
    pytree_dataclass,
    static,
)

__all__ = ["Identity", "Bernoulli", "RandK"]


@pytree_dataclass
class Identity:
    """No compression (omega = 0): DCSGD reduces to distributed SGD."""

    def omega(self, dim: int):
        return 0.0

    def compress(self, key, x) -> jax.Array:
        return x


@pytree_dataclass
class Bernoulli:
    """Keep each coordinate with probability ``p`` and rescale by 1/p (omega = 1/p - 1)."""

    p: jax.Array

    def __post_init__(self):
        check_unit_interval("p", self.p, closed_left=False, closed_right=True)
        as_float(self, "p", self.p)

    def omega(self, dim: int):
        return 1.0 / self.p - 1.0

    def compress(self, key, x) -> jax.Array:
        keep = jax.random.bernoulli(key, self.p, x.shape)
        return jnp.where(keep, x / self.p, 0.0)


@pytree_dataclass
class RandK:
    """Keep ``k`` coordinates drawn without replacement, scale by d/k (omega = d/k - 1)."""

    k: int = static(1)

    def __post_init__(self):
        check_int_at_least("k", self.k, 1)

    def omega(self, dim: int):
        if self.k > dim:
            raise ValueError(f"k={self.k}: must be <= the dimension d={dim}")
        return dim / self.k - 1.0

    def compress(self, key, x) -> jax.Array:
        d = x.shape[-1]
        if self.k > d:
            raise ValueError(f"k={self.k}: must be <= the dimension d={d}")
        # the k smallest of d iid uniforms index a uniformly random k-subset
        u = jax.random.uniform(key, x.shape)
        kth = jnp.sort(u, axis=-1)[..., self.k - 1: self.k]
        return jnp.where(u <= kth, x * (d / self.k), 0.0)
