"""A classifier trained across clients, as the federated optimizers of this package see it.

The optimizers of :mod:`common.federated.clip21` work on one flat parameter vector ``x`` and a
``grad_fn(x) -> (n_clients, d)``. :class:`FederatedClassification` provides both for any
``torch.nn`` classifier and :class:`~common.federated.ClientData`, plus the initial point and an
evaluation (loss and accuracy on named held-out sets) of a flat vector.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from common.experiment.seeding import derive_seed
from common.federated.clients import ClientData, client_gradients, flat_params, set_flat_params

__all__ = ["FederatedClassification"]


class FederatedClassification:
    """``make_model()`` trained on ``data`` (n clients), evaluated on ``eval_sets``.

    Args:
        make_model: a function returning a fresh model (its initialisation is seeded by
            :meth:`x0`).
        data: the clients' shards.
        eval_sets: ``{name: (X, y)}`` evaluated by :meth:`evaluate` (e.g. validation, test).
        loss_fn: per-sample loss (default: cross-entropy, reduction "none").
    """

    def __init__(self, make_model: Callable[[], nn.Module], data: ClientData,
                 eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]], loss_fn=None):
        self.make_model = make_model
        self.model = make_model()
        self.data = data
        self.eval_sets = eval_sets
        self.loss_fn = loss_fn or nn.CrossEntropyLoss(reduction="none")
        self.dim = flat_params(self.model).numel()

    def x0(self, seed: int) -> torch.Tensor:
        """The initial parameters of a model seeded by ``seed`` (same seed, same point)."""
        torch.manual_seed(derive_seed(seed, "federated-init"))
        return flat_params(self.make_model())

    def grad_fn(self, batch_size: int, generator: torch.Generator):
        """``grad(x) -> (n, d)``: every client's gradient on a fresh mini-batch of its shard."""

        def grad(x: torch.Tensor) -> torch.Tensor:
            Xb, yb = self.data.sample(batch_size, generator)
            return client_gradients(self.model, self.loss_fn, Xb, yb, params=x)[0]

        return grad

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor) -> dict[str, float]:
        """``{"<set>_loss", "<set>_acc"}`` for every evaluation set (NaN if ``x`` diverged)."""
        if not torch.isfinite(x).all():
            return {f"{n}_{k}": float("nan") for n in self.eval_sets for k in ("loss", "acc")}
        set_flat_params(self.model, x)
        out = {}
        for name, (X, y) in self.eval_sets.items():
            logits = self.model(X)
            out[f"{name}_loss"] = float(self.loss_fn(logits, y).mean())
            out[f"{name}_acc"] = float((logits.argmax(1) == y).float().mean())
        return {k: (v if np.isfinite(v) else float("nan")) for k, v in out.items()}
