"""Each aggregator of ``common.robust`` at n = 25 clients and d = 10^6 coordinates (float32).

Reported: time per call and the effective input bandwidth ``n d 4 bytes / time``, against the
mean (one pass over the data: the memory-bound reference) measured in the same run, and for every
aggregator that uses an order statistic, the same aggregator on the reference order statistics
(``REPRO_KERNELS=torch``: ``torch.kthvalue`` / ``torch.sort`` along the clients, the
implementation before the CPU comparator network of ``common.kernels.network``).

The machine may be shared: times are CPU times of this process (``time.process_time``; one torch
thread), which exclude the time spent waiting for a core though not the cache and memory-bandwidth
contention of other jobs; the calls are interleaved (one call of every row per repetition, so
that a change of load hits all rows alike), each row's time is the median over the repetitions,
and the 1-minute load average (``os.getloadavg``) before and after is recorded with the rows.
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


def _call(agg, x, kwargs, reference: bool) -> float:
    old = os.environ.get("REPRO_KERNELS")
    if reference:
        os.environ["REPRO_KERNELS"] = "torch"
    try:
        t0 = time.process_time()
        agg(x, **kwargs)
        return time.process_time() - t0
    finally:
        if reference:
            if old is None:
                os.environ.pop("REPRO_KERNELS", None)
            else:
                os.environ["REPRO_KERNELS"] = old


def run(quick: bool = False, reps: int | None = None) -> list[dict]:
    torch.set_num_threads(1)
    d = 100_000 if quick else D
    reps = reps or int(os.environ.get("BENCH_REPS", 3 if quick else 5))
    x = torch.randn(N, d, generator=torch.Generator().manual_seed(0))
    cases = []
    for name, agg in AGGREGATORS.items():
        kwargs = {"f": F, "m": N - F - 2} if name == "multi_krum" else {"f": F}
        cases.append((name, "ours", agg, kwargs, False))
        if name in USES_ORDER_STATISTICS:
            cases.append((name, "reference order statistics", agg, kwargs, True))
    # the pass over the data alone, without the registry mean's non-finite-row check
    cases.insert(1, ("mean (x.mean(0) alone, no non-finite check)", "ours",
                     lambda x, f: x.mean(dim=0), {"f": F}, False))
    load_before = os.getloadavg()[0]
    for _, _, agg, kwargs, ref in cases:  # warm-up (the networks' schedules, allocations)
        if not ref:
            _call(agg, x, kwargs, ref)
    times = {(c[0], c[1]): [] for c in cases}
    for _ in range(reps):
        for name, impl, agg, kwargs, ref in cases:
            times[(name, impl)].append(_call(agg, x, kwargs, ref))
    load_after = os.getloadavg()[0]
    t_mean = statistics.median(times[("mean", "ours")])
    rows = []
    for (name, impl), ts in times.items():
        t = statistics.median(ts)
        rows.append({"aggregator": name, "implementation": impl, "n": N, "d": d, "f": F,
                     "seconds": t, "seconds_all": ts, "gb_per_s": N * d * 4 / t / 1e9,
                     "ratio_to_mean": t / t_mean, "load_before": load_before,
                     "load_after": load_after})
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
    return "\n".join(lines)
