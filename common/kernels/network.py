r"""Order statistics across clients on a CPU by a comparator network over column tiles.

The references (:mod:`common.kernels.reference`) select along the client dimension column by
column (``torch.kthvalue``, ``torch.sort`` with ``dim=0``): for n = 25 clients that is one small
selection per coordinate, about 0.4 microseconds each, and 45-65 times the cost of the mean at
d = 10^6 (benchmarks/README.md, ``aggregators``). Here the n rows of a column tile
``x[:, s:s+T]`` are the n wires of a sorting network, and each comparator is two vectorised torch
operations over T contiguous values (``torch.minimum`` to the lower wire, ``torch.maximum`` to the
upper one). The tile is small enough to stay in cache between comparators. When JAX is
installed, :mod:`common.kernels.network_xla` runs the same network compiled by XLA (one fused loop
instead of one torch operation per comparator, 3-4 times faster); this module is the fallback
(``REPRO_KERNELS=torch-network`` selects it).

**The network.** Batcher's odd-even merge sort for the next power of two above n, with the
comparators that touch a padding wire removed (padding is +inf at the top wires, so those
comparators are no-ops); it sorts any n (Knuth, TAOCP vol. 3, 5.3.4, Algorithm M). It is then
pruned backwards to the output wires that the statistic needs (the median's one or two wires, the
trimmed mean's middle ``n - 2f``): a comparator whose outputs are both unneeded is dropped, and one
with a single needed output computes only that one. For n = 25 the median takes 202 vector
operations per tile and the trimmed mean with f = 5 takes 254.

**Same results as the references.** A network permutes values without arithmetic, so its sorted
wires hold exactly ``torch.sort``'s values; equal values are interchangeable (the only
difference a tie could make is the sign of a zero: -0.0 and +0.0 compare equal in both). The
trimmed mean sums the sorted middle wires with the same torch reduction as the reference
(``mean`` over dim 0 of an (n - 2f, T) block, in sorted order), and the even-n median averages the
two middle values as the reference does: the median agrees bit for bit, the trimmed mean to the
rounding of its (n - 2f)-term sum (torch's reduction order depends on a column's position in its
vector loop, which a tile boundary can shift; the tests bound it by (n - 2f) ulp of the largest
``|x|``). ``torch.minimum`` and ``torch.maximum`` return a NaN operand instead of ordering NaN above
+inf, so a NaN input reaches the statistic of its column (every needed output wire depends on
every input wire), finite inputs never produce a NaN, and the columns whose result is NaN are
recomputed by the reference, which orders NaN above +inf. (The aggregators of
:mod:`common.robust` remove non-finite rows before they get here; the rule for a NaN that reaches
the kernel stays the reference's.)
"""

from __future__ import annotations

import functools

import torch

from common.kernels import reference

__all__ = ["coordinate_median", "trimmed_mean", "network", "schedule", "TILE", "MAX_N"]

#: Columns per tile: 25 rows x 16384 float32 = 1.6 MB of input, the work buffers stay in L2/L3;
#: at this width the per-operation dispatch cost of torch (a few microseconds) is amortised.
TILE = 16384
#: Largest n handled by the network (Batcher's network for 64 wires has 543 comparators);
#: beyond, the reference's per-column selection is used.
MAX_N = 64


@functools.cache
def network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators (i, j), i < j (min to wire i, max to wire j), of Batcher's odd-even merge sort
    for n wires, in execution order."""
    if n < 1:
        raise ValueError(f"n={n}: need at least one wire")
    t = max(0, (n - 1).bit_length())
    p2 = 1 << t
    comps = []
    p = p2 >> 1
    while p > 0:  # Knuth, TAOCP 5.3.4, Algorithm M (merge exchange)
        q, r, dd = p2 >> 1, 0, p
        while dd > 0:
            comps.extend((i, i + dd) for i in range(p2 - dd) if (i & p) == r and i + dd < n)
            dd, q, r = q - p, q >> 1, p
        p >>= 1
    return tuple(comps)


@functools.cache
def schedule(n: int, outputs: tuple[int, ...]):
    """The pruned network for the sorted wires ``outputs`` as a flat list of vector operations.

    Returns ``(ops, where, n_buffers)``: ``ops`` is a list of ``(fn, a, b, out)`` with ``fn`` 0 for
    minimum and 1 for maximum, and slots ``a``, ``b``, ``out`` (slots 0..n-1 are the input rows,
    read only; slots n.. are work buffers); ``where[k]`` is the slot that holds sorted wire
    ``outputs[k]`` at the end.
    """
    need = set(outputs)
    kept = []
    for i, j in reversed(network(n)):
        lo, hi = i in need, j in need
        if lo or hi:
            kept.append((i, j, lo, hi))
            need |= {i, j}
    kept.reverse()
    slot = list(range(n))  # wire -> slot holding its current value
    free: list[int] = []
    n_buf = 0

    def fresh() -> int:
        nonlocal n_buf
        if free:
            return free.pop()
        n_buf += 1
        return n + n_buf - 1

    def release(s: int) -> None:
        if s >= n:
            free.append(s)

    ops = []
    for i, j, lo, hi in kept:
        a, b = slot[i], slot[j]
        if lo and hi:
            out_lo = fresh()
            ops.append((0, a, b, out_lo))
            out_hi = b if b >= n else fresh()
            ops.append((1, a, b, out_hi))
            release(a)
            slot[i], slot[j] = out_lo, out_hi
        else:  # one needed output: write it over a buffer input when there is one
            out = a if a >= n else b if b >= n else fresh()
            ops.append((0 if lo else 1, a, b, out))
            for s in (a, b):
                if s != out:
                    release(s)
            if lo:
                slot[i], slot[j] = out, -1
            else:
                slot[i], slot[j] = -1, out
    return ops, tuple(slot[w] for w in outputs), n_buf


def _reduce_tiles(x: torch.Tensor, outputs: tuple[int, ...], finish, fallback,
                  tile: int) -> torch.Tensor:
    n, d = x.shape
    ops, where, n_buf = schedule(n, outputs)
    tile = min(tile, d)
    work = torch.empty(max(n_buf, 1), tile, dtype=x.dtype, device=x.device)
    out = torch.empty(d, dtype=x.dtype, device=x.device)
    fns = (torch.minimum, torch.maximum)
    for s in range(0, d, tile):
        e = min(s + tile, d)
        slots = list(x[:, s:e].unbind(0)) + list(work[:, :e - s].unbind(0))
        for fn, a, b, o in ops:
            fns[fn](slots[a], slots[b], out=slots[o])
        finish([slots[w] for w in where], out[s:e])
    # A NaN input reaches every needed output wire of its column (each output depends on every
    # input, and minimum/maximum return the NaN), and finite inputs never give NaN: so the NaN
    # columns of the output are exactly those to hand to the reference (plus any whose trimmed
    # sum was inf - inf, which the reference recomputes the same way).
    bad = torch.isnan(out)
    if bool(bad.any()):
        cols = bad.nonzero().squeeze(1)
        out[cols] = fallback(x[:, cols])
    return out


def coordinate_median(x: torch.Tensor, even: str = "lower", *, tile: int = TILE) -> torch.Tensor:
    """Per-column median of x (n, d), equal to :func:`reference.coordinate_median`."""
    n = x.shape[0]
    lo, hi = (n - 1) // 2, n // 2
    if even == "lower" or n % 2 == 1:
        def finish(w, o):
            o.copy_(w[0])
        outputs = (lo,)
    else:
        def finish(w, o):
            torch.add(w[0], w[1], out=o)
            o.div_(2)
        outputs = (lo, hi)
    return _reduce_tiles(x, outputs, finish, lambda t: reference.coordinate_median(t, even), tile)


def trimmed_mean(x: torch.Tensor, f: int, *, tile: int = TILE) -> torch.Tensor:
    """Per-column mean of the order statistics f .. n - f - 1 of x (n, d), equal to
    :func:`reference.trimmed_mean`."""
    n = x.shape[0]
    if f == 0:
        return reference.trimmed_mean(x, f)
    mid = torch.empty(n - 2 * f, min(tile, x.shape[1]), dtype=x.dtype, device=x.device)

    def finish(w, o):
        block = mid if o.shape[0] == mid.shape[1] else torch.empty(
            mid.shape[0], o.shape[0], dtype=mid.dtype, device=mid.device)
        torch.stack(w, out=block)
        torch.mean(block, dim=0, out=o)

    return _reduce_tiles(x, tuple(range(f, n - f)), finish,
                         lambda t: reference.trimmed_mean(t, f), tile)
