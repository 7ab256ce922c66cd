"""One DP-SGD step (per-sample clip + noise + update) against the same non-private step and Opacus.

Batch 256 of MNIST-shaped inputs, SGD update, one thread, for two models: the MLP 784-100-100-10
and the MNIST CNN of the Byz-Clip21-SGD2M code (Conv 1-32 3x3, Conv 32-64 3x3, max-pool, FC
9216-128, FC 128-10; 1.2 M parameters). Rows:

- ``non-private``: forward, backward, ``optimizer.step()`` (the reference of every ratio);
- ``ours (book-keeping)``: :class:`common.privacy.DPGradient` with ``method="bookkeeping"``;
- ``ours (torch.func)``: the same with materialised per-sample gradients (the general path);
- ``opacus hooks`` / ``opacus ghost``: Opacus's ``GradSampleModule`` with per-sample hooks, and
  its fast gradient clipping (``grad_sample_mode="ghost"``), both with ``clipping="flat"``.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.utils import benchmark

from common.models import MLP, MnistCNN
from common.privacy import DPGradient

BATCH = 256


def _data(quick: bool):
    g = torch.Generator().manual_seed(0)
    n = 64 if quick else BATCH
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _time(fn, quick: bool) -> float:
    return benchmark.Timer("f()", globals={"f": fn}).blocked_autorange(
        min_run_time=0.2 if quick else 2.0).median


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


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
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
        times = {}
        for name, build in variants.items():
            times[name] = _time(build(make()), quick)
        for name, t in times.items():
            rows.append({"model": label, "variant": name, "batch": len(X), "seconds": t,
                         "ratio_to_non_private": t / times["non-private"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | step | time per step | ratio to non-private |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['variant']} | {r['seconds'] * 1e3:.1f} ms | "
                     f"{r['ratio_to_non_private']:.2f} |")
    return "\n".join(lines)
