"""A plain supervised training loop over any registered optimizer, with the divergence rule.

:func:`train_classifier` trains a classifier with cross-entropy for a number of epochs over a
seeded data order, stepping the optimizer ``common.optim.make_torch(method, ...)`` with a closure
(the NGN family needs the mini-batch loss), and stops a run as diverged once its loss is not finite
or exceeds :data:`common.metrics.DIVERGENCE_THRESHOLD` (the NGN-M paper's rule, arXiv 2508.15071,
App. E). Optimizers that report an effective step size (``last_step_size``, the NGN family) have
it recorded at every iteration.
"""

from __future__ import annotations

import numpy as np
import torch

from common.experiment.seeding import derive_seed
from common.metrics.stability import DIVERGENCE_THRESHOLD
from common.optim.registry import make_torch

__all__ = ["train_classifier"]


def train_classifier(model, method: str, step: float, X, y, *, epochs: int, batch_size: int,
                     seed: int) -> dict:
    """Train with cross-entropy; stop early (diverged) once the loss is not finite.

    Returns the mean training loss of the last epoch, the divergence flag and, for the NGN
    family, the effective step size ``gamma_k`` of every iteration.
    """
    opt = make_torch(method, model.parameters(), step)
    gen = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    loss_fn = torch.nn.CrossEntropyLoss()
    steps, losses, n = [], [], len(X)
    for _ in range(epochs):
        losses = []
        perm = torch.randperm(n, generator=gen).to(X.device)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]

            def closure(idx=idx):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                return loss

            loss = opt.step(closure).item()
            losses.append(loss)
            if getattr(opt, "last_step_size", None) is not None:
                steps.append(opt.last_step_size)
            if not np.isfinite(loss) or loss > DIVERGENCE_THRESHOLD:
                return {"train_loss": float("inf"), "diverged": True, "step_sizes": steps}
    return {"train_loss": float(np.mean(losses)), "diverged": False, "step_sizes": steps}
