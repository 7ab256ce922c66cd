"""Each aggregator of ``common.robust`` at n = 25 clients and d = 10^6 coordinates (float32).

Reported: time per call and the effective input bandwidth ``n d 4 bytes / time``, against the
mean (one pass over the data: the memory-bound reference) measured in the same run.
"""

from __future__ import annotations

import torch
from torch.utils import benchmark

from common.robust import AGGREGATORS

N, D, F = 25, 1_000_000, 5


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
    d = 100_000 if quick else D
    x = torch.randn(N, d, generator=torch.Generator().manual_seed(0))
    rows, times = [], {}
    for name, agg in AGGREGATORS.items():
        kwargs = {"f": F, "m": N - F - 2} if name == "multi_krum" else {"f": F}
        times[name] = benchmark.Timer("agg(x, **kw)", globals={"agg": agg, "x": x, "kw": kwargs}
                                      ).blocked_autorange(min_run_time=0.2 if quick else 1.0).median
    for name, t in times.items():
        rows.append({"aggregator": name, "n": N, "d": d, "f": F, "seconds": t,
                     "gb_per_s": N * d * 4 / t / 1e9, "ratio_to_mean": t / times["mean"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| aggregator | time (n=25, d=1e6, f=5) | effective GB/s | time / mean's |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['aggregator']} | {r['seconds'] * 1e3:.1f} ms | {r['gb_per_s']:.2f} | "
                     f"{r['ratio_to_mean']:.1f} |")
    return "\n".join(lines)
