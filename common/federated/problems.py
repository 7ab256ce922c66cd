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
        device: where the model, the shards, the evaluation sets and :meth:`x0` live.
    """

    def __init__(self, make_model: Callable[[], nn.Module], data: ClientData,
                 eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]], loss_fn=None,
                 device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.make_model = make_model
        self.model = make_model().to(self.device)
        self.data = ClientData(data.X.to(self.device), data.y.to(self.device))
        self.eval_sets = {k: (X.to(self.device), y.to(self.device))
                          for k, (X, y) in eval_sets.items()}
        self.loss_fn = loss_fn or nn.CrossEntropyLoss(reduction="none")
        self.dim = flat_params(self.model).numel()

    def x0(self, seed: int, label: str = "federated-init") -> torch.Tensor:
        """The initial parameters of a model seeded by ``derive_seed(seed, label)`` (same seed,
        same point; a paper keeps its own ``label`` to keep its stream)."""
        torch.manual_seed(derive_seed(seed, label))
        return flat_params(self.make_model()).to(self.device)

    def grad_fn(self, batch_size: int, generator: torch.Generator):
        """``grad(x) -> (n, d)``: every client's gradient on a fresh mini-batch of its shard."""

        def grad(x: torch.Tensor) -> torch.Tensor:
            Xb, yb = self.data.sample(batch_size, generator)
            return client_gradients(self.model, self.loss_fn, Xb, yb, params=x)[0]

        return grad

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, sets=None) -> dict[str, float]:
        """``{"<set>_loss", "<set>_acc"}`` for every evaluation set, or those named in ``sets``
        (NaN if ``x`` diverged or a value is not finite)."""
        names = tuple(self.eval_sets) if sets is None else tuple(sets)
        unknown = [n for n in names if n not in self.eval_sets]
        if unknown:
            raise ValueError(f"sets={unknown}: evaluation sets are {list(self.eval_sets)}")
        if not torch.isfinite(x).all():
            return {f"{n}_{k}": float("nan") for n in names for k in ("loss", "acc")}
        set_flat_params(self.model, x)
        out = {}
        for name in names:
            X, y = self.eval_sets[name]
            logits = self.model(X)
            out[f"{name}_loss"] = float(self.loss_fn(logits, y).mean())
            out[f"{name}_acc"] = float((logits.argmax(1) == y).float().mean())
        return {k: (v if np.isfinite(v) else float("nan")) for k, v in out.items()}
