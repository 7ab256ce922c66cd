"""One DP-SGD step (per-sample clip + noise + update) against the same non-private step and Opacus.

Batch 256 of MNIST-shaped inputs, SGD update, one thread, for two models: the MLP 784-100-100-10
and the MNIST CNN of the Byz-Clip21-SGD2M code (Conv 1-32 3x3, Conv 32-64 3x3, max-pool, FC
9216-128, FC 128-10; 1.2 M parameters). Rows:

- ``non-private``: forward, backward, ``optimizer.step()`` (the reference of every ratio);
- ``ours (book-keeping)``: :class:`common.privacy.DPGradient` with ``method="bookkeeping"``;
- ``ours (torch.func)``: the same with materialised per-sample gradients (the general path);
- ``opacus hooks`` / ``opacus ghost``: Opacus's ``GradSampleModule`` with per-sample hooks, and
  its fast gradient clipping (``grad_sample_mode="ghost"``), both with ``clipping="flat"``.

The machine may be shared: times are CPU times of this process (``time.process_time``, one torch
thread), which exclude the time spent waiting for a core; the variants of a model are interleaved
(one step of each per repetition, so a change of load hits them alike), each time is the median
over the repetitions, and the 1-minute load average before and after is recorded.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

import torch
from torch import nn

from common.models import MLP, MnistCNN
from common.privacy import DPGradient

BATCH = 256


def _data(quick: bool):
    g = torch.Generator().manual_seed(0)
    n = 64 if quick else BATCH
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _interleaved(steps: dict, reps: int) -> dict:
    """Median CPU time per call of each step, the steps called in turn ``reps`` times."""
    for fn in steps.values():  # warm-up (allocations, the book-keeping layer map)
        fn()
    times = {name: [] for name in steps}
    for _ in range(reps):
        for name, fn in steps.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _ours(model, X, y, method):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    dp = DPGradient(model, nn.CrossEntropyLoss(reduction="none"), max_norm=1.0,
                    noise_multiplier=1.0, method=method)
    gen = torch.Generator().manual_seed(0)

    def step():
        dp(X, y, generator=gen)
        opt.step()

    return step


def _plain(model, X, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(X), y).backward()
        opt.step()

    return step


def _opacus(model, X, y, mode):
    from opacus import PrivacyEngine

    warnings.filterwarnings("ignore")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y),
                                         batch_size=len(X))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    out = PrivacyEngine().make_private(module=model, optimizer=opt, data_loader=loader,
                                       criterion=nn.CrossEntropyLoss(), noise_multiplier=1.0,
                                       max_grad_norm=1.0, poisson_sampling=False,
                                       grad_sample_mode=mode)
    if mode == "ghost":
        pmodel, popt, criterion, _ = out
    else:
        pmodel, popt, _ = out
        criterion = nn.CrossEntropyLoss()

    def step():
        popt.zero_grad(set_to_none=True)
        criterion(pmodel(X), y).backward()
        popt.step()

    return step


def run(quick: bool = False, reps: int | None = None) -> list[dict]:
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    X, y = _data(quick)
    rows = []
    models = {"MLP 784-100-100-10": lambda: MLP(784, (100, 100), 10),
              "MNIST CNN (1.2 M)": MnistCNN}
    for label, make in models.items():
        if quick and "CNN" in label:
            continue
        torch.manual_seed(0)
        variants = {
            "non-private": lambda m: _plain(m, X, y),
            "ours (book-keeping)": lambda m: _ours(m, X, y, "bookkeeping"),
            "ours (torch.func)": lambda m: _ours(m, X, y, "functorch"),
            "opacus hooks": lambda m: _opacus(m, X, y, "hooks"),
            "opacus ghost": lambda m: _opacus(m, X, y, "ghost"),
        }
        n_reps = reps or int(os.environ.get("BENCH_REPS", 5 if quick else (7 if "CNN" in label
                                                                           else 51)))
        times = _interleaved({name: build(make()) for name, build in variants.items()}, n_reps)
        for name, t in times.items():
            rows.append({"model": label, "variant": name, "batch": len(X), "seconds": t,
                         "ratio_to_non_private": t / times["non-private"], "reps": n_reps})
    load_after = os.getloadavg()[0]
    for r in rows:
        r["load_before"], r["load_after"] = load_before, load_after
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"load average (1 min) {rows[0]['load_before']:.1f} before, "
             f"{rows[0]['load_after']:.1f} after; CPU time, median of interleaved steps", "",
             "| model | step | time per step | ratio to non-private |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['variant']} | {r['seconds'] * 1e3:.1f} ms | "
                     f"{r['ratio_to_non_private']:.2f} |")
    return "\n".join(lines)
