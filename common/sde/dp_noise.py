r"""Per-example clipping plus Gaussian DP noise: the privatised gradient of DP-SGD / DP-SignSGD.

dp-sde (Compagnoni, Stanghellini, Islamov, Lucchi, Koloskova; arXiv 2603.03226) privatises a
mini-batch gradient as in the DP^2 code it reportedly used [secondary]: per-example *global* L2
clipping at C, sum, the Gaussian mechanism with noise multiplier sigma, divide by B,

.. math::  \tilde g = \frac1B \Big[\sum_{i=1}^B \mathrm{clip}_C(\nabla f(x) + Z_i)
           + \sigma C \xi\Big], \quad \mathrm{clip}_C(v) = v \min(1, C/\|v\|_2),
           \quad \xi \sim N(0, I_d),

with per-example gradients modelled as the full-batch gradient plus independent noise Z_i
(``example_noise``). ``sigma_dp = sigma C / B`` is the per-coordinate std of the DP noise in the
averaged gradient (the notes' sigma_DP). ``clip = inf`` means no clipping (then ``noise_multiplier``
must be 0, since the mechanism's std is sigma C).

Moments used by the SDEs (:meth:`ClippedGaussianDP.moments`) [derived, dp-sde notes section 3;
constants unverified against the PDF]: with r(x) = sqrt(||grad f(x)||^2 + tr Sigma_ex), the typical
per-example norm, and c = min(1, C / r),

    E g~ ~ c grad f(x),        Cov g~ ~ c^2 Sigma_ex / B + sigma_dp^2 I.

This is exact in Phase 2 (no example clipped: c = 1) and is the Phase-1 model of the notes when
every example is clipped and the norms concentrate (d large, small SNR; the notes use
||grad f_i|| ~ sqrt(d) sigma_b, we keep ||grad f||^2 in r). In between, where only some examples
are clipped, it is an interpolation with no accuracy claim.

Floating-point detail: the clipped sum is formed as ``C * u`` with
``u = sum_i v_i min(1/C, 1/||v_i||) + sigma xi``. When every example is clipped, ``u`` does not
depend on C, so ``sign(g~)`` is *exactly* invariant to C (dp-sde claim C4, checked bit for bit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from common.sde._base import (
    as_float,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    pytree_dataclass,
    static,
)
from common.sde.noise import Gaussian, StudentT, finite_variance

__all__ = ["ClippedGaussianDP"]


@pytree_dataclass
class ClippedGaussianDP:
    """Per-example clipping at ``clip`` plus the Gaussian mechanism, averaged over ``batch_size``.

    Example::

        >>> import jax
        >>> mech = ClippedGaussianDP(Gaussian(jnp.ones(4)), clip=1.0, noise_multiplier=2.0,
        ...                          batch_size=8)
        >>> float(mech.sigma_dp)  # sigma C / B
        0.25
        >>> mech.perturb(jax.random.PRNGKey(0), jnp.zeros(4)).shape
        (4,)
    """

    example_noise: Gaussian | StudentT
    clip: jax.Array
    noise_multiplier: jax.Array
    batch_size: int = static(1)

    def __post_init__(self):
        check_positive("clip", self.clip, allow_inf=True)
        check_nonnegative("noise_multiplier", self.noise_multiplier)
        check_int_at_least("batch_size", self.batch_size, 1)
        if not isinstance(self.example_noise, (Gaussian, StudentT)):
            raise ValueError(f"example_noise={self.example_noise!r}: must be Gaussian or StudentT")
        as_float(self, "clip", self.clip)
        as_float(self, "noise_multiplier", self.noise_multiplier)
        if not isinstance(self.clip, jax.core.Tracer) and bool(jnp.isinf(self.clip)) \
                and float(self.noise_multiplier) != 0.0:
            raise ValueError(f"noise_multiplier={float(self.noise_multiplier)}: must be 0 when "
                             "clip=inf (the mechanism's noise std is noise_multiplier * clip)")

    @property
    def dim(self) -> int:
        return self.example_noise.dim

    @property
    def sigma_dp(self) -> jax.Array:
        """sigma C / B, the DP noise std per coordinate of the averaged gradient (0 if C = inf)."""
        c = jnp.where(jnp.isinf(self.clip), 0.0, self.clip)
        return self.noise_multiplier * c / self.batch_size

    def perturb(self, key, grad) -> jax.Array:
        """One privatised gradient g~ from the full-batch gradient ``grad`` (module docstring)."""
        k_ex, k_dp = jax.random.split(key)
        per_example = grad + self.example_noise.sample(k_ex, (self.batch_size,))
        norms = jnp.linalg.norm(per_example, axis=-1, keepdims=True)
        finite = jnp.isfinite(self.clip)
        inv_clip = jnp.where(finite, 1.0 / self.clip, 0.0)
        u = (per_example * jnp.minimum(inv_clip, 1.0 / norms)).sum(0)
        u = u + self.noise_multiplier * jax.random.normal(k_dp, grad.shape, grad.dtype)
        clipped = self.clip * u / self.batch_size
        unclipped = per_example.sum(0) / self.batch_size
        return jnp.where(finite, clipped, unclipped)

    def check_finite_variance(self) -> None:
        if not finite_variance(self.example_noise):
            raise ValueError("example_noise: the DP SDEs need per-example noise with finite "
                             "variance (Student-t nu > 2)")

    def moments(self, grad):
        r"""``(c, var)``: E g~ ~ c grad and diag Cov g~ ~ var (module docstring) [derived]."""
        ex_var = self.example_noise.variance()
        r = jnp.sqrt(jnp.sum(grad * grad, axis=-1, keepdims=True) + jnp.sum(ex_var))
        c = jnp.minimum(1.0, self.clip / r)
        return c, c**2 * ex_var / self.batch_size + self.sigma_dp**2
