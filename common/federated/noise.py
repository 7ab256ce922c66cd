r"""Injected gradient noise for simulated clients (torch): Gaussian and Student-t.

The SDE papers (adaptive-sde, arXiv 2411.15958; compressed-sde, arXiv 2502.17009) run networks
on gradients plus injected synthetic noise. :data:`NOISES` maps a noise name to a sampler
``sample(shape, generator, dtype=torch.float32) -> tensor`` of standardised draws:

- ``"gaussian"``: N(0, 1);
- ``"student_t"``: the standard Student-t ``t_nu`` (:func:`student_t`; bind ``nu`` with
  :func:`functools.partial` or :func:`student_t_sampler`).

**Student-t** by Bailey's polar method, ``T = cos(2 pi V) sqrt(nu (U^{-2/nu} - 1))`` with
``U, V ~ Uniform(0, 1)``. This is the torch twin of :meth:`common.sde.StudentT.sample` (JAX, for
the jitted simulators): the same formula and the same cut of ``U`` at ``eps/2``, so every draw is
bounded, ``|T| <= sqrt(nu) (2/eps)^{1/nu}`` (1.7e7 for ``nu = 1`` in float32);
``tests/federated/test_noise.py`` checks both against scipy's ``t_nu``.
"""

from __future__ import annotations

import math
from functools import partial

import torch

__all__ = ["gaussian", "student_t", "student_t_sampler", "NOISES"]


def gaussian(shape, generator: torch.Generator | None = None, dtype=torch.float32):
    """Standard normal draws."""
    return torch.randn(shape, generator=generator, dtype=dtype)


def student_t(shape, nu: float, generator: torch.Generator | None = None,
              dtype=torch.float32) -> torch.Tensor:
    """Standard Student-t draws with ``nu`` degrees of freedom (module docstring)."""
    if not nu > 0:
        raise ValueError(f"nu={nu}: must be > 0")
    u = torch.rand(shape, generator=generator, dtype=dtype).clamp_min(0.5 * torch.finfo(dtype).eps)
    v = torch.rand(shape, generator=generator, dtype=dtype)
    return torch.cos(2.0 * math.pi * v) * torch.sqrt(nu * torch.expm1(-2.0 * torch.log(u) / nu))


def student_t_sampler(nu: float):
    """``sample(shape, generator, dtype)`` of ``t_nu`` draws (for :data:`NOISES`-style use)."""
    if not nu > 0:
        raise ValueError(f"nu={nu}: must be > 0")
    return partial(_student_t_positional, nu=nu)


def _student_t_positional(shape, generator=None, dtype=torch.float32, *, nu):
    return student_t(shape, nu, generator, dtype)


#: noise name -> factory of a sampler ``sample(shape, generator, dtype)`` given the noise's
#: parameters (``nu`` for Student-t; the Gaussian takes none)
NOISES = {
    "gaussian": lambda **_: gaussian,
    "student_t": lambda nu, **_: student_t_sampler(nu),
}
