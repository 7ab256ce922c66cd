"""Each aggregator of ``common.robust`` at n = 25 clients and d = 10^6 coordinates (float32).

Reported: time per call and the effective input bandwidth ``n d 4 bytes / time``, against the
mean (one pass over the data: the memory-bound reference) measured in the same run. Every
aggregator that uses an order statistic is timed three ways (``REPRO_KERNELS``,
:mod:`common.kernels.dispatch`): ours with the comparator network compiled by XLA (the default
when JAX is installed, :mod:`common.kernels.network_xla`), ours with the torch comparator network
over column tiles (``torch-network``, :mod:`common.kernels.network`), and the reference order
statistics (``torch``: ``torch.kthvalue`` / ``torch.sort`` along the clients, the implementation
before the networks). The XLA rows include the torch -> JAX -> torch conversions; the one-off
compilation (per shape) is timed separately in the warm-up and reported under the table.

The machine may be shared: times are CPU times of this process (``time.process_time``; one torch
thread; XLA's own threads are counted too), which exclude the time spent waiting for a core though
not the cache and memory-bandwidth contention of other jobs; the calls are interleaved (one call
of every row per repetition, so that a change of load hits all rows alike), each row's time is the
median over the repetitions, and the 1-minute load average (``os.getloadavg``) before and after is
printed with the table.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from common.robust import AGGREGATORS

N, D, F = 25, 1_000_000, 5
#: aggregators whose cost includes an order statistic (timed on the reference too)
USES_ORDER_STATISTICS = ("median", "trimmed_mean", "krum", "multi_krum", "geometric_median",
                         "centered_clipping", "nnm_median")


#: the rows of an aggregator that uses an order statistic: (label, REPRO_KERNELS value)
IMPLEMENTATIONS = (("ours (XLA network)", "xla"), ("ours (torch network)", "torch-network"),
                   ("reference", "torch"))


def _call(agg, x, kwargs, kernels: str | None) -> float:
    old = os.environ.get("REPRO_KERNELS")
    if kernels is not None:
        os.environ["REPRO_KERNELS"] = kernels
    try:
        t0 = time.process_time()
        agg(x, **kwargs)
        return time.process_time() - t0
    finally:
        if kernels is not None:
            if old is None:
                os.environ.pop("REPRO_KERNELS", None)
            else:
                os.environ["REPRO_KERNELS"] = old


def run(quick: bool = False, reps: int | None = None) -> list[dict]:
    from common.kernels import network_xla

    torch.set_num_threads(1)
    d = 100_000 if quick else D
    reps = reps or int(os.environ.get("BENCH_REPS", 3 if quick else 5))
    x = torch.randn(N, d, generator=torch.Generator().manual_seed(0))
    impls = [i for i in IMPLEMENTATIONS if i[1] != "xla" or network_xla.available()]
    cases = []
    for name, agg in AGGREGATORS.items():
        kwargs = {"f": F, "m": N - F - 2} if name == "multi_krum" else {"f": F}
        if name in USES_ORDER_STATISTICS:
            cases.extend((name, label, agg, kwargs, value) for label, value in impls)
        else:
            cases.append((name, "ours", agg, kwargs, None))
    # the pass over the data alone, without the registry mean's non-finite-row check
    cases.insert(1, ("mean (x.mean(0) alone, no non-finite check)", "ours",
                     lambda x, f: x.mean(dim=0), {"f": F}, None))
    load_before = os.getloadavg()[0]
    first = {}
    for name, impl, agg, kwargs, value in cases:  # warm-up (XLA compilation, schedules, pages)
        if value != "torch":
            first[(name, impl)] = _call(agg, x, kwargs, value)
    times = {(c[0], c[1]): [] for c in cases}
    for _ in range(reps):
        for name, impl, agg, kwargs, value in cases:
            times[(name, impl)].append(_call(agg, x, kwargs, value))
    load_after = os.getloadavg()[0]
    t_mean = statistics.median(times[("mean", "ours")])
    rows = []
    for (name, impl), ts in times.items():
        t = statistics.median(ts)
        rows.append({"aggregator": name, "implementation": impl, "n": N, "d": d, "f": F,
                     "seconds": t, "seconds_all": ts, "first_call_seconds": first.get((name, impl)),
                     "gb_per_s": N * d * 4 / t / 1e9, "ratio_to_mean": t / t_mean,
                     "load_before": load_before, "load_after": load_after})
    return rows


def table(rows: list[dict]) -> str:
    r0 = rows[0]
    lines = [f"load average (1 min) {r0['load_before']:.1f} before, {r0['load_after']:.1f} after; "
             f"median of {len(r0['seconds_all'])} interleaved calls", "",
             f"| aggregator | order statistics | time (n={r0['n']}, d={r0['d']:.0e}, f={r0['f']}) "
             "| effective GB/s | time / mean's |",
             "|---|---|---|---|---|"]
    for r in rows:
        impl = "" if r["aggregator"].startswith("mean") else r["implementation"]
        lines.append(f"| {r['aggregator']} | {impl} | {r['seconds'] * 1e3:.1f} ms | "
                     f"{r['gb_per_s']:.2f} | {r['ratio_to_mean']:.1f} |")
    compile_rows = [r for r in rows if r["implementation"].startswith("ours (XLA")
                    and r["aggregator"] in ("median", "trimmed_mean")]
    if compile_rows:
        lines += ["", "first call (XLA compilation for this shape included): " + ", ".join(
            f"{r['aggregator']} {r['first_call_seconds']:.2f} s" for r in compile_rows)]
    return "\n".join(lines)
