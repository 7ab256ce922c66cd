"""Triton kernels of :mod:`common.kernels` (imported only when a kernel runs on the GPU, or in
Triton's interpreter with ``TRITON_INTERPRET=1``). Each computes what its namesake in
:mod:`common.kernels.reference` computes; the module docstring there states the conventions.

Memory traffic, the quantity these kernels are built to minimise (they are memory-bound):

- clipping: two passes over the (B, d) matrix, the minimum for exact clipping (every norm must be
  known before any row is scaled): one reads each row for its norm, one reads each column block
  once, accumulating the scaled rows in registers, adds the noise and writes d values;
- sign packing: 4 bytes read per coordinate, 1/8 byte written; the vote reads n d / 8 bytes;
- order statistics: one read of the (n, d) input per column block (the tile stays in registers;
  the ranks are computed by comparisons, n^2 per column, without sorting), d values written.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["clipped_sum", "pack_signs", "unpack_signs", "majority_vote_packed",
           "order_statistic_reduce"]

_BLOCK = 1024


@triton.jit
def _row_sq_norm_kernel(g_ptr, out_ptr, d, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, d, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        v = tl.load(g_ptr + row * stride + offs, mask=offs < d, other=0.0).to(tl.float32)
        acc += v * v
    tl.store(out_ptr + row, tl.sum(acc, axis=0))


@triton.jit
def _clipped_sum_kernel(g_ptr, factor_ptr, noise_ptr, out_ptr, B, d, stride,
                        HAS_NOISE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < d
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for b in range(0, B):
        c = tl.load(factor_ptr + b)
        acc += c * tl.load(g_ptr + b * stride + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_NOISE:
        acc += tl.load(noise_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, acc, mask=mask)


def clipped_sum(G: torch.Tensor, max_norm: float, noise: torch.Tensor | None = None):
    """Triton version of :func:`common.kernels.reference.clipped_sum` (same contract)."""
    B, d = G.shape
    G = G.contiguous()
    sq = torch.empty(B, device=G.device, dtype=torch.float32)
    _row_sq_norm_kernel[(B,)](G, sq, d, G.stride(0), BLOCK=_BLOCK)
    norms = sq.sqrt()
    factors = torch.clamp(max_norm / norms.clamp_min(torch.finfo(torch.float32).tiny), max=1.0)
    out = torch.empty(d, device=G.device, dtype=torch.float32)
    has_noise = noise is not None
    _clipped_sum_kernel[(triton.cdiv(d, _BLOCK),)](
        G, factors, noise.contiguous() if has_noise else out, out, B, d, G.stride(0),
        HAS_NOISE=has_noise, BLOCK=_BLOCK)
    return out.to(G.dtype), norms.to(G.dtype)


_WORDS = 128  # words per program


@triton.jit
def _pack_kernel(x_ptr, out_ptr, d, words, WORDS: tl.constexpr):
    pid = tl.program_id(0)
    w = pid * WORDS + tl.arange(0, WORDS)
    j = tl.arange(0, 32)
    idx = w[:, None] * 32 + j[None, :]
    x = tl.load(x_ptr + idx, mask=idx < d, other=0.0)
    bits = (x > 0).to(tl.int32) << j[None, :]
    tl.store(out_ptr + w, tl.sum(bits, axis=1), mask=w < words)


@triton.jit
def _unpack_kernel(p_ptr, out_ptr, d, words, WORDS: tl.constexpr):
    pid = tl.program_id(0)
    w = pid * WORDS + tl.arange(0, WORDS)
    j = tl.arange(0, 32)
    word = tl.load(p_ptr + w, mask=w < words, other=0)
    bits = (word[:, None] >> j[None, :]) & 1
    idx = w[:, None] * 32 + j[None, :]
    tl.store(out_ptr + idx, (2 * bits - 1).to(tl.float32), mask=idx < d)


@triton.jit
def _vote_kernel(p_ptr, out_ptr, n, d, words, WORDS: tl.constexpr):
    pid = tl.program_id(0)
    w = pid * WORDS + tl.arange(0, WORDS)
    j = tl.arange(0, 32)
    count = tl.zeros((WORDS, 32), dtype=tl.int32)
    for i in range(0, n):
        word = tl.load(p_ptr + i * words + w, mask=w < words, other=0)
        count += (word[:, None] >> j[None, :]) & 1
    balance = 2 * count - n
    vote = tl.where(balance > 0, 1.0, tl.where(balance < 0, -1.0, 0.0))
    idx = w[:, None] * 32 + j[None, :]
    tl.store(out_ptr + idx, vote, mask=idx < d)


def pack_signs(x: torch.Tensor) -> torch.Tensor:
    """Triton version of :func:`common.kernels.reference.pack_signs` (same contract)."""
    lead, d = x.shape[:-1], x.shape[-1]
    flat = x.reshape(-1, d).contiguous()
    words = triton.cdiv(d, 32)
    out = torch.empty(flat.shape[0], words, device=x.device, dtype=torch.int32)
    for r in range(flat.shape[0]):
        _pack_kernel[(triton.cdiv(words, _WORDS),)](flat[r], out[r], d, words, WORDS=_WORDS)
    return out.reshape(*lead, words)


def unpack_signs(packed: torch.Tensor, d: int) -> torch.Tensor:
    """Triton version of :func:`common.kernels.reference.unpack_signs` (same contract)."""
    lead, words = packed.shape[:-1], packed.shape[-1]
    flat = packed.reshape(-1, words).contiguous()
    out = torch.empty(flat.shape[0], d, device=packed.device, dtype=torch.float32)
    for r in range(flat.shape[0]):
        _unpack_kernel[(triton.cdiv(words, _WORDS),)](flat[r], out[r], d, words, WORDS=_WORDS)
    return out.reshape(*lead, d)


def majority_vote_packed(packed: torch.Tensor, d: int) -> torch.Tensor:
    """Triton version of :func:`common.kernels.reference.majority_vote_packed` (same contract)."""
    n, words = packed.shape
    out = torch.empty(d, device=packed.device, dtype=torch.float32)
    _vote_kernel[(triton.cdiv(words, _WORDS),)](packed.contiguous(), out, n, d, words,
                                                WORDS=_WORDS)
    return out


@triton.jit
def _order_stat_kernel(x_ptr, out_ptr, n, d, k_lo, k_hi, stride, N_PAD: tl.constexpr,
                       BLOCK: tl.constexpr):
    """Per column, the mean of the order statistics k_lo..k_hi (inclusive)."""
    pid = tl.program_id(0)
    cols = pid * BLOCK + tl.arange(0, BLOCK)
    cmask = cols < d
    rows = tl.arange(0, N_PAD)
    tile = tl.load(x_ptr + rows[:, None] * stride + cols[None, :],
                   mask=(rows[:, None] < n) & cmask[None, :], other=0.0)
    valid = rows[:, None] < n
    tile_nan = tile != tile
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for i in range(0, n):
        xi = tl.load(x_ptr + i * stride + cols, mask=cmask, other=0.0)
        xi_nan = xi != xi
        # torch.sort's order: NaN above everything; ties broken by the row index (stable)
        less = (tile < xi[None, :]) | (xi_nan[None, :] & ~tile_nan)
        equal = (tile == xi[None, :]) | (tile_nan & xi_nan[None, :])
        before = less | (equal & (rows[:, None] < i))
        rank = tl.sum((before & valid).to(tl.int32), axis=0)
        keep = (rank >= k_lo) & (rank <= k_hi)
        acc += tl.where(keep, xi.to(tl.float32), 0.0)
    tl.store(out_ptr + cols, acc / (k_hi - k_lo + 1), mask=cmask)


def order_statistic_reduce(x: torch.Tensor, k_lo: int, k_hi: int) -> torch.Tensor:
    """Per column of x (n, d), the mean of its order statistics k_lo..k_hi (n <= 64)."""
    n, d = x.shape
    if n > 64:
        raise ValueError(f"n={n}: the order-statistic kernel handles at most 64 rows")
    x = x.contiguous()
    out = torch.empty(d, device=x.device, dtype=torch.float32)
    n_pad = max(2, triton.next_power_of_2(n))
    block = 256 if n_pad <= 32 else 128
    _order_stat_kernel[(triton.cdiv(d, block),)](x, out, n, d, k_lo, k_hi, x.stride(0),
                                                 N_PAD=n_pad, BLOCK=block)
    return out.to(x.dtype)
