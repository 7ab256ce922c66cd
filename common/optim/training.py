"""Plain supervised training loops: one epoch loop (:func:`train_epochs`) for any torch optimizer,
and :func:`train_classifier` for a registered optimizer with the divergence rule.

:func:`train_epochs` trains a classifier with a loss (cross-entropy by default) for a number of
epochs over a seeded data order (a fresh permutation per epoch from
``derive_seed(seed, "data-order")``; the last incomplete mini-batch is dropped), stepping the
optimizer with a closure (the NGN family needs the mini-batch loss). A step-size schedule
(:mod:`common.optim.schedules`, ``schedule(epoch) -> factor``) multiplies every group's ``lr`` at
the start of each epoch, through ``torch.optim.lr_scheduler.LambdaLR``; decoupled weight decay,
scaled by ``lr``, is scheduled with it as in PyTorch. ``on_epoch(epoch, model)`` runs after each
epoch (``epoch`` counts from 1: snapshots of metrics), ``after_step(loss)`` after each step and
stops the run when it returns True.

:func:`train_classifier` steps ``common.optim.make_torch(method, ...)`` and stops a run as diverged
once its loss is not finite or exceeds :data:`common.metrics.DIVERGENCE_THRESHOLD` (the NGN-M
paper's rule, arXiv 2508.15071, App. E). Optimizers that report an effective step size
(``last_step_size``, the NGN family) have it recorded at every iteration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from common.experiment.seeding import derive_seed
from common.metrics.stability import DIVERGENCE_THRESHOLD
from common.optim.registry import make_torch

__all__ = ["train_epochs", "train_classifier"]


def train_epochs(model, optimizer: torch.optim.Optimizer, X, y, *, epochs: int, batch_size: int,
                 seed: int, schedule: Callable[[int], float] | None = None, loss_fn=None,
                 on_epoch: Callable | None = None,
                 after_step: Callable[[float], bool] | None = None) -> dict:
    """Train ``model`` on ``(X, y)``; returns ``{"epoch_loss": [...], "stopped": bool}`` with the
    mean training loss of every completed epoch (``stopped``: ``after_step`` ended the run)."""
    if epochs < 1 or batch_size < 1 or batch_size > len(X):
        raise ValueError(f"epochs={epochs} (>= 1), batch_size={batch_size} (1..{len(X)})")
    loss_fn = torch.nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
                 if schedule is not None else None)
    gen = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    n, epoch_loss = len(X), []
    for epoch in range(epochs):
        losses = []
        perm = torch.randperm(n, generator=gen).to(X.device)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]

            def closure(idx=idx):
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                return loss

            loss = optimizer.step(closure).item()
            losses.append(loss)
            if after_step is not None and after_step(loss):
                return {"epoch_loss": epoch_loss, "stopped": True}
        epoch_loss.append(float(np.mean(losses)))
        if scheduler is not None:
            scheduler.step()
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
    return {"epoch_loss": epoch_loss, "stopped": False}


def train_classifier(model, method: str, step: float, X, y, *, epochs: int, batch_size: int,
                     seed: int) -> dict:
    """Train with cross-entropy; stop early (diverged) once the loss is not finite.

    Returns the mean training loss of the last epoch, the divergence flag and, for the NGN
    family, the effective step size ``gamma_k`` of every iteration.
    """
    opt = make_torch(method, model.parameters(), step)
    steps: list[float] = []

    def after_step(loss: float) -> bool:
        if getattr(opt, "last_step_size", None) is not None:
            steps.append(opt.last_step_size)
        return not np.isfinite(loss) or loss > DIVERGENCE_THRESHOLD

    out = train_epochs(model, opt, X, y, epochs=epochs, batch_size=batch_size, seed=seed,
                       after_step=after_step)
    if out["stopped"]:
        return {"train_loss": float("inf"), "diverged": True, "step_sizes": steps}
    return {"train_loss": out["epoch_loss"][-1], "diverged": False, "step_sizes": steps}
