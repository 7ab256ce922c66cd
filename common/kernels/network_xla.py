r"""The order-statistic networks of :mod:`common.kernels.network` compiled by XLA (JAX) on a CPU.

The torch network (:mod:`common.kernels.network`) issues each comparator as two torch vector
operations over a column tile: at n = 25 the median's 202 operations cost about 0.25 ms each over
10^6 columns, dispatch and a pass over the tile each. Here the same comparators (Batcher's odd-even
merge network, :func:`common.kernels.network.network`) are written as ``jnp.minimum`` /
``jnp.maximum`` on the n rows inside one ``jax.jit`` function: XLA fuses the whole network and
the statistic into one loop over the columns, which keeps a column's n values in registers and
reads the input once (the comparators whose outputs the statistic does not need are removed by
XLA's dead-code elimination, as :func:`common.kernels.network.schedule` prunes them by hand).
One compilation per (n, d, statistic), cached by JAX (about 0.1 s at n = 25, d = 10^6, plus
about 1 s for JAX's start-up on the first call of a process). XLA may spread the loop over its own
threads (``torch.set_num_threads`` does not apply); the benchmark counts their CPU time.

**Zero copy in.** The (n, d) input reaches JAX without a copy: ``jax.device_put`` of the
tensor's NumPy view aliases its memory on a CPU (checked by ``tests/robust/test_network.py``).
DLPack (``jax.dlpack.from_dlpack``) would alias it too, but XLA then drops the torch tensor from a
worker thread after the computation, which must take the GIL, and at interpreter exit that
aborts the process (``terminate called without an active exception``; seen in about half the
runs of a script that ends right after a call); JAX releases a NumPy array on a Python thread.
The (d,) result is read through ``torch.from_dlpack`` and copied once into a torch tensor (d
numbers, 1/n of the input), so that no torch tensor holds an XLA buffer. The timings in
``benchmarks/aggregators.py`` include both conversions.

**Same results as the references** (:mod:`common.kernels.reference`):

- the median (``even="lower"``, or ``"mean"``: the two middle wires added and halved, as the
  reference does) is a value of the column, bit for bit the reference's (a network only permutes
  values; of equal values -0.0 and +0.0 compare equal, and which of them a tie returns is the only
  freedom: ``jnp.minimum`` returns -0.0 for the pair);
- the trimmed mean sums the n - 2f middle wires in the order of torch's reduction over the
  clients (``aten/src/ATen/native/cpu/SumKernel.cpp``, ``multi_row_sum``: rows added one by one
  into an accumulator that starts at zero, in blocks of 16 rows (``2^max(4, ceil(log2 m) / 4)``
  for m rows) flushed into up to three higher-level accumulators, which are added at the end); torch
  then divides the sum by n - 2f (XLA's CPU code multiplies by the rounded reciprocal, which rounds
  differently), as ``torch.sort(x, 0).values[f:n - f].mean(0)`` does (its accumulator starts at
  +0.0, so a sum of -0.0 is +0.0 there, and here too) for the columns of its
  vectorised loop. torch sums the last ``d mod 16`` columns (its scalar tail) in another order; the
  last ``64 + d mod 64`` columns are therefore recomputed by the reference on that block, whose
  vectorised part and scalar tail are those of the full width. The tests check the result bit for
  bit against the reference.
- non-finite values: ``jnp.minimum`` and ``jnp.maximum`` propagate NaN, so a NaN input makes its
  column's statistic NaN (every needed output wire depends on every input); those columns, and
  any whose trimmed sum is ``inf - inf``, are recomputed from ``torch.sort``, which orders NaN
  above +inf (the rule of :mod:`common.kernels.network`); for the trimmed mean, the middle values
  of those columns are added in the same order as the others.

Only dtypes that XLA keeps are taken: float32, and float64 when JAX's 64-bit mode is on (it is off
by default, and then JAX would silently compute float64 input in float32; it is never switched on
here). Everything else, tensors off the CPU, and environments without JAX take the torch network.
"""

from __future__ import annotations

import functools
import importlib.util
import math

import torch

from common.kernels import network as _network
from common.kernels import reference

__all__ = ["available", "supports", "coordinate_median", "trimmed_mean", "torch_sum_order"]


def available() -> bool:
    """Whether JAX is importable (the ``sde`` extra)."""
    return importlib.util.find_spec("jax") is not None


def supports(x: torch.Tensor) -> bool:
    """Whether ``x`` can go through XLA unchanged: a CPU tensor of a dtype that JAX keeps."""
    if x.device.type != "cpu" or x.ndim != 2:
        return False
    if x.dtype == torch.float32:
        return True
    if x.dtype == torch.float64:
        import jax

        return bool(jax.config.jax_enable_x64)
    return False


def torch_sum_order(m: int):
    """The order in which torch's CPU reduction over the outer dimension adds m rows.

    An expression tree: an int k is row k, ``None`` a zero accumulator, a pair ``(a, b)`` the
    sum ``a + b``. Transcribes ``multi_row_sum`` of ``aten/src/ATen/native/cpu/SumKernel.cpp``
    (four levels of accumulators starting at zero, level step ``2^max(4, ceil(log2 m) / 4)``).
    """
    levels = 4
    power = max(4, (math.ceil(math.log2(m)) if m > 1 else 0) // levels)
    step, mask = 1 << power, (1 << power) - 1
    acc: list = [None] * levels
    i = 0
    while i + step <= m:
        for _ in range(step):
            acc[0] = (acc[0], i)
            i += 1
        for j in range(1, levels):
            acc[j] = (acc[j], acc[j - 1])
            acc[j - 1] = None
            if i & (mask << (j * power)):
                break
    while i < m:
        acc[0] = (acc[0], i)
        i += 1
    for j in range(1, levels):
        acc[0] = (acc[0], acc[j])
    return acc[0]


@functools.cache
def _compiled(n: int, outputs: tuple[int, ...], kind: str):
    """The jitted statistic of the sorted wires ``outputs`` of n rows: ``kind`` is ``"copy"``
    (one wire), ``"half_sum"`` ((a + b) / 2, exact as (a + b) * 0.5) or ``"sum"`` (the wires
    added in torch's order, :func:`torch_sum_order`)."""
    import jax
    import jax.numpy as jnp

    comparators = _network.network(n)
    order = torch_sum_order(len(outputs)) if kind == "sum" else None

    def statistic(a):
        w = [a[i] for i in range(n)]
        for i, j in comparators:
            w[i], w[j] = jnp.minimum(w[i], w[j]), jnp.maximum(w[i], w[j])
        if kind == "copy":
            return w[outputs[0]]
        if kind == "half_sum":
            return (w[outputs[0]] + w[outputs[1]]) / 2
        zero = jnp.zeros_like(w[0])

        def tree(node):
            if node is None:
                return zero
            if isinstance(node, tuple):
                return tree(node[0]) + tree(node[1])
            return w[outputs[node]]

        return tree(order)  # divided by torch: XLA's CPU division by m is not correctly rounded

    return jax.jit(statistic)


def _run(x: torch.Tensor, outputs: tuple[int, ...], kind: str, fallback) -> torch.Tensor:
    import jax

    x = x.detach().contiguous()
    # zero copy: on a CPU, device_put of an aligned NumPy array aliases its memory; JAX releases
    # the array on a Python thread (jax.dlpack.from_dlpack would release the torch tensor from
    # an XLA worker thread, which takes the GIL and aborts the process at interpreter exit)
    result = _compiled(x.shape[0], outputs, kind)(jax.device_put(x.numpy())).block_until_ready()
    # the (d,) result is copied into torch's memory (d numbers against the n d read): a torch
    # tensor that aliased an XLA buffer could outlive JAX's CPU client at interpreter exit
    out = torch.empty(x.shape[1], dtype=x.dtype)
    out.copy_(torch.from_dlpack(result))
    del result
    if kind == "sum":
        # torch's accumulator starts at +0.0, so its sum is never -0.0; XLA folds the 0 + w away
        # (a sum of -0.0 stays -0.0): + 0.0 maps -0.0 to +0.0 and leaves every other value as is
        out.add_(0.0).div_(len(outputs))
    bad = torch.isnan(out)
    if bool(bad.any()):
        cols = bad.nonzero().squeeze(1)
        out[cols] = fallback(x[:, cols])
    return out


def coordinate_median(x: torch.Tensor, even: str = "lower") -> torch.Tensor:
    """Per-column median of x (n, d), equal to :func:`reference.coordinate_median`."""
    n = x.shape[0]
    lo, hi = (n - 1) // 2, n // 2
    if even == "lower" or n % 2 == 1:
        outputs, kind = (lo,), "copy"
    else:
        outputs, kind = (lo, hi), "half_sum"
    return _run(x, outputs, kind, lambda t: reference.coordinate_median(t, even))


def trimmed_mean(x: torch.Tensor, f: int) -> torch.Tensor:
    """Per-column mean of the order statistics f .. n - f - 1 of x (n, d), equal to
    :func:`reference.trimmed_mean`."""
    n, d = x.shape
    if f == 0:
        return reference.trimmed_mean(x, f)
    out = _run(x, tuple(range(f, n - f)), "sum", lambda t: _trimmed_mean_in_torch_order(t, f))
    tail = min(d, 64 + d % 64)  # torch's scalar tail, in a block of the same width mod 64
    out[d - tail:] = reference.trimmed_mean(x[:, d - tail:], f)
    return out


def _trimmed_mean_in_torch_order(t: torch.Tensor, f: int) -> torch.Tensor:
    """The reference's trimmed mean of the columns ``t`` (n, k) gathered from x, with the middle
    values added in the order torch uses for the columns of its vectorised loop
    (:func:`torch_sum_order`): ``reference.trimmed_mean`` on the gathered block would put some of
    them in its scalar tail, which adds in another order."""
    middle = torch.sort(t, dim=0).values[f:t.shape[0] - f]

    def add(node):
        if node is None:
            return torch.zeros(t.shape[1], dtype=t.dtype, device=t.device)
        if isinstance(node, tuple):
            return add(node[0]) + add(node[1])
        return middle[node]

    return add(torch_sum_order(middle.shape[0])) / middle.shape[0]

