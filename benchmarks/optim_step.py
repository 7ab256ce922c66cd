"""Cost of one optimizer update (gradients already computed), relative to torch's AdamW.

The NGN-M paper (Table 4) reports NGN-MDv1's update at about 2.5x fused AdamW's on a GPU and a
1-3 % overhead on a whole iteration. Here: CPU, the ``torch.optim`` adapters of ``common.optim``
against ``torch.optim.SGD`` (momentum, foreach) and ``torch.optim.AdamW`` (foreach), in one run,
on two parameter sets: the paper's MNIST MLP (89,610 parameters in 6 tensors) and a 4-layer,
width-256 GPT (3.2 M parameters in 51 tensors).

The NGN-family adapters run their ``foreach`` fast path by default (one ``torch._foreach_*``
call per operation over all tensors, buffers updated in place); the rows marked "(functional)"
force the pure functional update (``foreach=False``) for comparison. ``SGDM (foreach)`` is
``torch.optim.SGD`` with ``foreach=True`` (torch's default on a CPU is its per-tensor loop).
"""

from __future__ import annotations

import time

import torch
from torch.utils import benchmark

from common.models import GPT, MLP, GPTConfig
from common.optim import make_torch

METHODS = ("AdamW", "SGDM", "SGDM (foreach)", "NGN", "NGN (functional)", "NGN-M",
           "NGN-M (functional)", "NGN-MDv1", "NGN-MDv1 (functional)")


def _models(quick: bool):
    yield "MLP 784-100-100-10", MLP(784, (100, 100), 10)
    if not quick:
        yield "GPT 4x256", GPT(GPTConfig(vocab_size=65, context=64, n_layer=4, n_head=4,
                                         d_model=256))


def _make(name, params):
    if name == "AdamW":
        return torch.optim.AdamW(params, lr=1e-3, foreach=True)
    if name == "SGDM (foreach)":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, dampening=0.9, foreach=True)
    if name.endswith(" (functional)"):
        opt = make_torch(name.removesuffix(" (functional)"), params, 1e-3)
        for group in opt.param_groups:
            group["foreach"] = False
        return opt
    return make_torch(name, params, 1e-3)


def run(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rows = []
    loss = torch.tensor(1.0)

    def closure():  # the NGN family reads the loss value from the closure
        return loss

    for label, model in _models(quick):
        params = [p for p in model.parameters()]
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3
        times = {}
        for method in METHODS:
            opt = _make(method, params)
            needs_closure = method.startswith("NGN")
            stmt = "opt.step(closure)" if needs_closure else "opt.step()"
            # CPU time of this thread (torch runs on one thread here): other jobs on a shared
            # machine preempt the thread but do not add to its CPU time, as they add to wall time
            timer = benchmark.Timer(stmt=stmt, globals={"opt": opt, "closure": closure},
                                    timer=time.thread_time)
            times[method] = timer.blocked_autorange(min_run_time=0.3 if quick else 1.0).median
        for method in METHODS:
            rows.append({"model": label, "parameters": sum(p.numel() for p in params),
                         "method": method, "seconds": times[method],
                         "ratio_to_adamw": times[method] / times["AdamW"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | method | CPU time per update | ratio to AdamW (foreach) |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} ({r['parameters']:,} params) | {r['method']} | "
                     f"{r['seconds'] * 1e6:.0f} µs | {r['ratio_to_adamw']:.2f} |")
    return "\n".join(lines)
