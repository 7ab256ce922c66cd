"""GPU kernels of ``common.kernels``: achieved bandwidth against the device-to-device copy
bandwidth measured in the same run, and speed-up against the torch reference on the same GPU.

Without a CUDA device every row reads "not measured" (Triton's interpreter on a CPU says nothing
about GPU speed). Sizes: clipping B = 256 per-sample gradients of d = 1.2 M (the MNIST CNN);
signs and votes over 25 clients of d = 10^7; order statistics over 25 clients of d = 10^7.
Bytes counted are the compulsory traffic of each operation (the kernel's own docstring).
"""

from __future__ import annotations

import datetime

import torch

from common.kernels import reference

CASES = ("clipped_sum", "pack_signs", "majority_vote", "coordinate_median", "trimmed_mean")


def _time_cuda(fn, repeats: int = 20) -> float:
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / repeats


def _cases(quick: bool):
    from common.kernels import triton_kernels as tk

    dev = "cuda"
    B, d = (64, 200_000) if quick else (256, 1_199_882)
    n, D = 25, (1_000_000 if quick else 10_000_000)
    G = torch.randn(B, d, device=dev)
    X = torch.randn(n, D, device=dev)
    packed = reference.pack_signs(X)
    k = (n - 1) // 2
    return {
        "clipped_sum": (lambda: tk.clipped_sum(G, 1.0), lambda: reference.clipped_sum(G, 1.0),
                        2 * G.numel() * 4),
        "pack_signs": (lambda: tk.pack_signs(X), lambda: reference.pack_signs(X),
                       X.numel() * 4 + packed.numel() * 4),
        "majority_vote": (lambda: tk.majority_vote_packed(packed, D),
                          lambda: reference.majority_vote_packed(packed, D),
                          packed.numel() * 4 + D * 4),
        "coordinate_median": (lambda: tk.order_statistic_reduce(X, k, k),
                              lambda: reference.coordinate_median(X), X.numel() * 4 + D * 4),
        "trimmed_mean": (lambda: tk.order_statistic_reduce(X, 5, n - 6),
                         lambda: reference.trimmed_mean(X, 5), X.numel() * 4 + D * 4),
    }


def run(quick: bool = False) -> list[dict]:
    if not torch.cuda.is_available():
        return [{"kernel": c, "device": "no CUDA device", "status": "not measured"}
                for c in CASES]
    name, date = torch.cuda.get_device_name(0), datetime.date.today().isoformat()
    big = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    copy_s = _time_cuda(lambda: big.clone())
    copy_bw = 2 * big.numel() / copy_s
    rows = []
    for case, (kernel, ref, nbytes) in _cases(quick).items():
        t_k, t_r = _time_cuda(kernel), _time_cuda(ref)
        rows.append({"kernel": case, "device": f"{name} ({date})", "status": "measured",
                     "seconds": t_k, "gb_per_s": nbytes / t_k / 1e9,
                     "fraction_of_copy": nbytes / t_k / copy_bw, "speedup_vs_torch": t_r / t_k,
                     "copy_gb_per_s": copy_bw / 1e9})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| kernel | device | GB/s | fraction of copy bandwidth | speed-up vs torch |",
             "|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "measured":
            lines.append(f"| {r['kernel']} | {r['device']} | not measured | not measured | "
                         "not measured |")
        else:
            lines.append(f"| {r['kernel']} | {r['device']} | {r['gb_per_s']:.0f} | "
                         f"{r['fraction_of_copy']:.2f} | {r['speedup_vs_torch']:.1f} |")
    return "\n".join(lines)
