r"""Pure-torch references of the kernels: their specification, CPU fallback and test oracle.

Every GPU kernel of :mod:`common.kernels` computes exactly what the function of the same name here
computes (to floating-point summation order); the tests compare them in Triton's interpreter.

**Fused per-sample clipping** (:func:`clipped_sum`). For per-sample gradients ``G`` (B, d), the
norms ``n_b = ||G_b||``, the clip factors ``c_b = min(1, C / n_b)`` and

.. math::  s = \sum_b c_b G_b \;(+\, \text{noise}),

DP-SGD's clipped sum (Abadi et al. 2016). A row with a non-finite entry has a non-finite norm, so
its factor is 0 (inf) or NaN and the sum becomes NaN: clipping cannot bound such a row, and the
NaN makes that visible instead of hiding it.

**1-bit signs** (:func:`pack_signs`, :func:`unpack_signs`, :func:`majority_vote_packed`). Bit j of
word w is 1 iff ``x[32 w + j] > 0``; zero, negative values and NaN give 0, which unpacks to -1
(one bit cannot say 0; ``torch.sign(0) = 0`` differs there). Words are int32, bit 0 the lowest;
padding bits are 0. The majority vote of n packed vectors is ``sign(sum_i (2 b_i - 1))`` per
coordinate, in {-1, 0, +1} (0 on ties, possible for even n): signSGD with majority vote
(Bernstein et al. 2018, arXiv 1802.04434) on the wire format.

**Order statistics across clients** (:func:`coordinate_median`, :func:`trimmed_mean`), over the
rows of x (n, d). Values are ordered as ``torch.sort`` orders them: NaN above +inf. So a Byzantine
client that sends NaN acts like one that sends +inf, and cannot poison a median on its own (unlike
``torch.median``, which returns NaN for any column holding a NaN). The median for even n is the
lower middle value (``even="lower"``) or the mean of the two middle values (``even="mean"``). The
trimmed mean drops the f smallest and f largest values of each coordinate and averages the rest.
"""

from __future__ import annotations

import torch

__all__ = ["row_norms", "clipped_sum", "pack_signs", "unpack_signs", "majority_vote_packed",
           "coordinate_median", "trimmed_mean", "WORD_BITS"]

WORD_BITS = 32


def row_norms(G: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of every row of ``G`` (B, d): the reference of the fused kernels."""
    return torch.linalg.vector_norm(G, dim=1)


def clipped_sum(G: torch.Tensor, max_norm: float, noise: torch.Tensor | None = None):
    """``(sum_b min(1, C/||G_b||) G_b + noise, ||G_b||)`` for G (B, d)."""
    norms = row_norms(G)
    factors = torch.clamp(max_norm / norms.clamp_min(torch.finfo(G.dtype).tiny), max=1.0)
    total = factors @ G
    return (total if noise is None else total + noise), norms


def pack_signs(x: torch.Tensor) -> torch.Tensor:
    """int32 words (..., ceil(d / 32)); bit j of word w is ``x[..., 32 w + j] > 0``."""
    d = x.shape[-1]
    words = -(-d // WORD_BITS)
    bits = torch.zeros(*x.shape[:-1], words * WORD_BITS, dtype=torch.int64, device=x.device)
    bits[..., :d] = (x > 0).to(torch.int64)
    weights = torch.ones(WORD_BITS, dtype=torch.int64, device=x.device) << torch.arange(
        WORD_BITS, device=x.device)
    packed = (bits.reshape(*x.shape[:-1], words, WORD_BITS) * weights).sum(-1)
    return torch.where(packed >= 2**31, packed - 2**32, packed).to(torch.int32)


def unpack_signs(packed: torch.Tensor, d: int) -> torch.Tensor:
    """float32 (..., d) in {-1, +1} from int32 words (the inverse of :func:`pack_signs`)."""
    shifts = torch.arange(WORD_BITS, device=packed.device, dtype=torch.int32)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    flat = bits.reshape(*packed.shape[:-1], -1)[..., :d]
    return (2 * flat - 1).to(torch.float32)


def majority_vote_packed(packed: torch.Tensor, d: int) -> torch.Tensor:
    """``sign(sum_i (2 b_i - 1))`` over n packed vectors (n, words) -> float32 (d,)."""
    return torch.sign(unpack_signs(packed, d).sum(0))


def coordinate_median(x: torch.Tensor, even: str = "lower") -> torch.Tensor:
    """Per-column median of x (n, d); NaN orders above +inf (see the module docstring)."""
    n = x.shape[0]
    lower = torch.kthvalue(x, (n - 1) // 2 + 1, dim=0).values
    if even == "lower" or n % 2 == 1:
        return lower
    upper = torch.kthvalue(x, n // 2 + 1, dim=0).values
    return (lower + upper) / 2


def trimmed_mean(x: torch.Tensor, f: int) -> torch.Tensor:
    """Per-column mean of the order statistics f .. n - f - 1 of x (n, d)."""
    n = x.shape[0]
    if f == 0:
        return x.mean(dim=0)
    return torch.sort(x, dim=0).values[f:n - f].mean(dim=0)
