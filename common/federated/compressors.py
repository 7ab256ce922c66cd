r"""Compressors with their variance parameter omega, and sign aggregation.

An unbiased compressor ``C`` satisfies ``E C(x) = x`` and ``E ||C(x) - x||^2 <= omega ||x||^2``
(the class used by DCSGD, Compagnoni et al., arXiv 2502.17009, and by the EF/MARINA literature).
Every compressor acts row by row on an (n, d) tensor (one row per client, independent randomness
per row) or on a single (d,) vector, and takes an explicit ``torch.Generator``; it is a frozen
(hashable) dataclass with ``unbiased``, ``omega(d)`` and a short ``label`` for tables.
The SDE simulators (:mod:`common.sde.distributed`, JAX) take these same objects: an SDE needs only
``omega``, and the JAX sampling of the sparsifiers is :mod:`common.sde.compressors`.

===============  ==================================================  ===========================
compressor       definition                                          omega
===============  ==================================================  ===========================
Identity         x                                                   0
RandK(k)         keep k uniformly chosen coordinates, scale by d/k   d/k - 1
Bernoulli(p)     keep each coordinate w.p. p, scale by 1/p           1/p - 1
QSGD(s)          stochastic rounding of ``|x_j|/||x||`` to s levels  min(d/s^2, sqrt(d)/s)
                 (Alistarh et al. 2017, arXiv 1610.02132)
TopK(k)          keep the k largest ``|x_j|`` (biased, contractive:  n/a (alpha = k/d)
                 ``||C(x) - x||^2 <= (1 - k/d) ||x||^2``)
Sign             sign(x), optionally scaled by ||x||_1 / d (biased)  n/a
===============  ==================================================  ===========================

:func:`majority_vote` (signSGD with majority vote, Bernstein et al. 2018, arXiv 1802.04434) and
:func:`mean_of_signs` aggregate sign messages. ``sign(0) = 0`` (torch's convention).
:func:`omega_table` measures each compressor's omega and bias by Monte Carlo next to its formula.
:func:`one_bit_majority_vote` is the same vote on the 1-bit wire format (each client sends
``ceil(d/32)`` int32 words; zero maps to -1 there), through :mod:`common.kernels` (Triton on CUDA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from common.experiment.seeding import derive_seed

__all__ = ["Identity", "RandK", "Bernoulli", "QSGD", "TopK", "Sign", "majority_vote",
           "mean_of_signs", "one_bit_majority_vote", "COMPRESSORS", "omega_table"]


def _rows(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if x.ndim == 1:
        return x.unsqueeze(0), True
    if x.ndim == 2:
        return x, False
    raise ValueError(f"x must be (d,) or (n, d); got shape {tuple(x.shape)}")


def _rand(shape, generator, like):
    return torch.rand(shape, generator=generator, dtype=like.dtype, device="cpu").to(like.device)


@dataclass(frozen=True)
class Identity:
    unbiased = True
    label = "identity"

    def omega(self, d: int) -> float:
        return 0.0

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        return x.clone()


@dataclass(frozen=True)
class RandK:
    """Keep ``k`` uniformly random coordinates (without replacement), scaled by ``d / k``."""

    k: int
    unbiased = True

    @property
    def label(self) -> str:
        return f"rand-{self.k}"

    def omega(self, d: int) -> float:
        self._check(d)
        return d / self.k - 1.0

    def _check(self, d: int) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= d:
            raise ValueError(f"k={self.k!r}: must be an integer in [1, d={d}]")

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        rows, single = _rows(x)
        n, d = rows.shape
        self._check(d)
        keep = _rand((n, d), generator, rows).topk(self.k, dim=1).indices
        mask = torch.zeros_like(rows).scatter_(1, keep, 1.0)
        out = rows * mask * (d / self.k)
        return out[0] if single else out


@dataclass(frozen=True)
class Bernoulli:
    """Keep each coordinate independently with probability ``p``, scaled by ``1/p``."""

    p: float
    unbiased = True

    @property
    def label(self) -> str:
        return f"Bernoulli({self.p:g})"

    def __post_init__(self):
        if not 0 < self.p <= 1:
            raise ValueError(f"p={self.p}: must be in (0, 1]")

    def omega(self, d: int) -> float:
        return 1.0 / self.p - 1.0

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        return x * (_rand(x.shape, generator, x) < self.p) / self.p


@dataclass(frozen=True)
class QSGD:
    """QSGD with ``s`` levels: ``||x|| sign(x_j) xi_j / s``, ``xi_j`` a stochastic rounding of
    ``s |x_j| / ||x||`` to its neighbouring integers (unbiased)."""

    s: int
    unbiased = True

    @property
    def label(self) -> str:
        return f"QSGD({self.s})"

    def __post_init__(self):
        if isinstance(self.s, bool) or not isinstance(self.s, int) or self.s < 1:
            raise ValueError(f"s={self.s!r}: the number of levels must be an integer >= 1")

    def omega(self, d: int) -> float:
        return min(d / self.s**2, math.sqrt(d) / self.s)

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        rows, single = _rows(x)
        norm = torch.linalg.vector_norm(rows, dim=1, keepdim=True)
        level = rows.abs() / norm.clamp_min(torch.finfo(rows.dtype).tiny) * self.s
        low = level.floor()
        xi = low + (_rand(rows.shape, generator, rows) < (level - low)).to(rows.dtype)
        out = norm * torch.sign(rows) * xi / self.s
        return out[0] if single else out


@dataclass(frozen=True)
class TopK:
    """Keep the ``k`` coordinates of largest magnitude (biased; contractive with alpha = k/d)."""

    k: int
    unbiased = False

    @property
    def label(self) -> str:
        return f"top-{self.k}"

    def omega(self, d: int) -> float:
        raise ValueError("TopK is biased: it has a contraction factor (k/d), not an omega")

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        rows, single = _rows(x)
        if not 1 <= self.k <= rows.shape[1]:
            raise ValueError(f"k={self.k}: must be in [1, d={rows.shape[1]}]")
        keep = rows.abs().topk(self.k, dim=1).indices
        out = torch.zeros_like(rows).scatter_(1, keep, rows.gather(1, keep))
        return out[0] if single else out


@dataclass(frozen=True)
class Sign:
    """``sign(x)``; with ``scaled=True``, ``(||x||_1 / d) sign(x)`` (biased)."""

    scaled: bool = False
    unbiased = False

    @property
    def label(self) -> str:
        return "scaled sign" if self.scaled else "sign"

    def omega(self, d: int) -> float:
        raise ValueError("Sign is biased: it has no omega")

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        s = torch.sign(x)
        if self.scaled:
            s = s * x.abs().mean(dim=-1, keepdim=True)
        return s


def majority_vote(x: torch.Tensor) -> torch.Tensor:
    """``sign(sum_i sign(x_i))`` over the rows of ``x`` (n, d); ties give 0."""
    if x.ndim != 2:
        raise ValueError(f"x must be (n, d); got shape {tuple(x.shape)}")
    return torch.sign(torch.sign(x).sum(dim=0))


def mean_of_signs(x: torch.Tensor) -> torch.Tensor:
    """``(1/n) sum_i sign(x_i)`` over the rows of ``x`` (n, d) (DSignSGD's server average)."""
    if x.ndim != 2:
        raise ValueError(f"x must be (n, d); got shape {tuple(x.shape)}")
    return torch.sign(x).mean(dim=0)


def one_bit_majority_vote(x: torch.Tensor) -> torch.Tensor:
    """The majority vote of the rows of ``x`` (n, d) sent as packed sign bits: every client's
    ``x_i > 0`` packed to 32 bits per word, then ``sign(sum_i (2 b_i - 1))`` per coordinate (0 on
    ties). Equal to :func:`majority_vote` wherever no entry is exactly 0."""
    from common import kernels

    if x.ndim != 2:
        raise ValueError(f"x must be (n, d); got shape {tuple(x.shape)}")
    return kernels.majority_vote_packed(kernels.pack_signs(x), x.shape[1]).to(x.dtype)


COMPRESSORS = {"identity": Identity, "rand_k": RandK, "bernoulli": Bernoulli, "qsgd": QSGD,
               "top_k": TopK, "sign": Sign}


def omega_table(compressors, x: torch.Tensor, num_samples: int, seed: int = 0) -> list[dict]:
    """For each compressor: its ``omega(d)`` and the Monte Carlo E||C(x) - x||^2 / ||x||^2 over
    ``num_samples`` draws (with its standard error) and the largest ``|mean C(x)_j - x_j|`` in
    standard errors (unbiasedness)."""
    x = x.to(torch.float64)
    d = x.numel()
    rows = []
    for comp in compressors:
        gen = torch.Generator().manual_seed(derive_seed(seed, "omega", repr(comp)))
        s = comp(x.expand(num_samples, d).clone(), generator=gen)
        ratio = ((s - x) ** 2).sum(1) / (x**2).sum()
        se = s.std(dim=0) / math.sqrt(num_samples)
        z = ((s.mean(0) - x).abs() / se.clamp_min(1e-300)).max()
        rows.append({"compressor": comp.label, "omega": float(comp.omega(d)),
                     "measured": float(ratio.mean()),
                     "measured_se": float(ratio.std() / math.sqrt(num_samples)),
                     "bias_z": float(z)})
    return rows
