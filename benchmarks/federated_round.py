"""A federated round with 20 clients: every client's mini-batch gradient at the server model,
vectorised (one call) against the per-client loop of backward passes, in the same run.

Batch 32 per client, MNIST-shaped inputs, one thread. Models: the cpu-scale MLP of the Clip21
notebooks (784-64-10, tanh), the paper-scale MLP (784-256-10, tanh) and the MNIST CNN. The round
also clips every client's message and averages them, as Clip21-type methods do, so the ratio is
that of a whole round, not of the gradient call alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import benchmark

from common.federated import client_gradients
from common.models import MLP, MnistCNN
from common.privacy import clip_rows

CLIENTS, BATCH = 20, 32


def _round(model, X, y, method):
    loss_fn = nn.CrossEntropyLoss(reduction="none")

    def step():
        grads, _ = client_gradients(model, loss_fn, X, y, method=method)
        return clip_rows(grads, 1.0).mean(dim=0)

    return step


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(CLIENTS, BATCH, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (CLIENTS, BATCH), generator=g)
    models = {"MLP 784-64-10 (cpu scale)": lambda: MLP(784, (64,), 10, activation="tanh"),
              "MLP 784-256-10 (paper scale)": lambda: MLP(784, (256,), 10, activation="tanh"),
              "MNIST CNN (paper scale)": MnistCNN}
    rows = []
    for label, make in models.items():
        if quick and "CNN" in label:
            continue
        torch.manual_seed(0)
        model = make()
        times = {m: benchmark.Timer("f()", globals={"f": _round(model, X, y, m)})
                 .blocked_autorange(min_run_time=0.2 if quick else 1.5).median
                 for m in ("loop", "grouped", "vmap")}
        for m, t in times.items():
            rows.append({"model": label, "method": m, "clients": CLIENTS, "batch": BATCH,
                         "seconds": t, "speedup_vs_loop": times["loop"] / t})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | client gradients | time per round | speed-up vs loop |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['method']} | {r['seconds'] * 1e3:.1f} ms | "
                     f"{r['speedup_vs_loop']:.2f} |")
    return "\n".join(lines)
