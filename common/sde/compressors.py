r"""The JAX form of the unbiased compressors, for the jitted simulators of :mod:`common.sde`.

A compressor is defined once, in :mod:`common.federated.compressors` (torch): its parameters, its
``omega`` (E C(x) = x, E||C(x) - x||^2 = omega ||x||^2) and its torch sampling, used to train
networks. The SDE simulators take those same objects:

- **an SDE needs only omega.** :class:`~common.sde.distributed.DCSGDSDE` reads
  ``compressor.omega(d)`` and nothing else, so any unbiased compressor (QSGD too) has an SDE;
- **a discrete JAX optimizer needs a JAX sampling.** :class:`~common.sde.distributed.DCSGD`
  compresses inside ``jit`` and ``vmap`` with :func:`compress`, which samples a compressor by the
  rule registered for its class in :data:`JAX_SAMPLERS` (matched by class name, so this module
  imports no torch):

  - ``Identity``: C(x) = x (omega 0); ``None`` means the same (no compression);
  - ``Bernoulli(p)``: C(x)_j = x_j b_j / p, b_j ~ Bernoulli(p) independent, omega = 1/p - 1,
    Cov(C(x) - x) = omega diag(x^2) exactly (the one to use for exact SDE checks, compressed-sde
    notes, pitfall 2);
  - ``RandK(k)``: keep k coordinates drawn without replacement, scale by d/k, omega = d/k - 1,
    covariance diagonal omega x_j^2 and off-diagonal -(d-k)/(k(d-1)) x_j x_l (the SDE keeps the
    diagonal).

(compressed-sde: Compagnoni, Islamov, Proske, Lucchi, arXiv 2502.17009; notes, section 3
[derived].) Fresh compressor randomness per agent per step. The compressors are frozen, hashable
dataclasses: static fields of the simulated pytrees (changing one recompiles).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["JAX_SAMPLERS", "compress", "compression_omega", "check_compressor"]


def _identity(compressor, key, x):
    return x


def _bernoulli(compressor, key, x):
    keep = jax.random.bernoulli(key, compressor.p, x.shape)
    return jnp.where(keep, x / compressor.p, 0.0)


def _rand_k(compressor, key, x):
    d, k = x.shape[-1], compressor.k
    if k > d:
        raise ValueError(f"k={k}: must be <= the dimension d={d}")
    # the k smallest of d iid uniforms index a uniformly random k-subset
    u = jax.random.uniform(key, x.shape)
    kth = jnp.sort(u, axis=-1)[..., k - 1: k]
    return jnp.where(u <= kth, x * (d / k), 0.0)


#: compressor class name (``common.federated.compressors``) -> JAX sampling ``(c, key, x) -> C(x)``
JAX_SAMPLERS = {"Identity": _identity, "Bernoulli": _bernoulli, "RandK": _rand_k}


def compress(compressor, key, x) -> jax.Array:
    """``C(x)`` for one agent's vector ``x`` (d,), in JAX (``None``: no compression)."""
    if compressor is None:
        return x
    return JAX_SAMPLERS[type(compressor).__name__](compressor, key, x)


def compression_omega(compressor, dim: int) -> float:
    """The compressor's omega at dimension ``dim`` (0 without compression)."""
    return 0.0 if compressor is None else compressor.omega(dim)


def check_compressor(compressor, dim: int, *, sampled: bool) -> None:
    """An unbiased compressor with an omega at ``dim`` (its own checks name bad parameters);
    with ``sampled``, one that has a JAX sampling in :data:`JAX_SAMPLERS`."""
    if compressor is None:
        return
    if not getattr(compressor, "unbiased", False) or not hasattr(compressor, "omega"):
        raise ValueError(f"compressor={compressor!r}: must be an unbiased compressor of "
                         "common.federated.compressors (Identity, RandK, Bernoulli, QSGD)")
    if sampled and type(compressor).__name__ not in JAX_SAMPLERS:
        raise ValueError(f"compressor={compressor!r}: the discrete JAX optimizer samples only "
                         f"{sorted(JAX_SAMPLERS)} (its SDE needs only omega)")
    compressor.omega(dim)  # validates, e.g. k <= d
