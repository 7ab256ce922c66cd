r"""Clients: stacked data shards and per-client gradients in one vectorised call.

:class:`ClientData` holds every client's shard as one tensor ``X`` of shape
``(num_clients, samples_per_client, ...)`` (equal shard sizes; see
:func:`common.federated.splits.equalize`) and draws each client's mini-batch independently.

:func:`client_gradients` computes all clients' mini-batch gradients at once,

.. math::  G_{i} = \nabla_\theta \frac{1}{b}\sum_{j=1}^{b} \ell(f_\theta(x_{ij}), y_{ij}),
           \quad i = 1..n,

in one call. Implementations, chosen by ``method``:

- ``"grouped"`` (every client evaluated at the same parameters; a model of Linear and Conv2d
  layers): the clients' batches are concatenated, one forward and one backward pass give every
  layer's inputs and output gradients, and each client's weight gradient is one slice of a
  batched matrix product, or of a grouped convolution
  (:meth:`common.privacy.BookKeeping.group_means`);
- ``"vmap"``: ``torch.func.vmap`` over the client dimension of ``functional_call`` (any model,
  shared or per-client parameters);
- ``"loop"``: :func:`client_gradients_loop`, one backward pass per client.

``"auto"`` picks "grouped" for models of Linear layers (a whole round 2x faster than the loop for
the cpu-scale MNIST MLP 784-64-10, 1.3x at 784-256-10, on a 2-core CPU: ``benchmarks/README.md``),
"loop" for convolutional models on a CPU
(there the per-client batches already keep the convolution kernels busy, and vectorising only
adds memory traffic), and "vmap" otherwise. ``loss_fn`` always returns per-sample losses
(reduction "none"); a client's loss is their mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

__all__ = ["ClientData", "client_gradients", "client_gradients_loop", "flat_params",
           "set_flat_params", "unflatten"]


@dataclass
class ClientData:
    """Stacked client shards: ``X`` (n, m, ...) and ``y`` (n, m)."""

    X: torch.Tensor
    y: torch.Tensor

    def __post_init__(self):
        if self.X.ndim < 2 or self.y.ndim != 2 or self.X.shape[:2] != self.y.shape:
            raise ValueError(f"X must be (n_clients, m, ...) and y (n_clients, m); got "
                             f"{tuple(self.X.shape)} and {tuple(self.y.shape)}")

    @classmethod
    def from_split(cls, X: torch.Tensor, y: torch.Tensor, shards) -> ClientData:
        """Stack ``X[shard]`` for every shard (all shards must have the same length)."""
        sizes = {len(s) for s in shards}
        if len(sizes) != 1:
            raise ValueError(f"shards have different sizes {sorted(sizes)}; pass them through "
                             "common.federated.splits.equalize first")
        idx = torch.as_tensor(torch.stack([torch.as_tensor(s) for s in shards]), dtype=torch.long)
        return cls(X[idx], y[idx])

    @property
    def num_clients(self) -> int:
        return self.X.shape[0]

    @property
    def samples_per_client(self) -> int:
        return self.X.shape[1]

    def sample(self, batch_size: int, generator: torch.Generator | None = None):
        """Each client's mini-batch of ``batch_size`` examples, drawn without replacement from
        its own shard, independently across clients: ``(X (n, b, ...), y (n, b))``."""
        n, m = self.y.shape
        if not 1 <= batch_size <= m:
            raise ValueError(f"batch_size={batch_size}: must be in [1, {m}] (the shard size)")
        scores = torch.rand(n, m, generator=generator, device="cpu")
        idx = scores.topk(batch_size, dim=1).indices.to(self.X.device)
        rows = torch.arange(n, device=self.X.device)[:, None]
        return self.X[rows, idx], self.y[rows, idx]


def flat_params(model: nn.Module) -> torch.Tensor:
    """All trainable parameters as one flat vector (named_parameters order)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def unflatten(vec: torch.Tensor, model: nn.Module) -> dict[str, torch.Tensor]:
    """Split a flat vector (or a batch of them, (..., d)) into ``{name: tensor}`` like the model."""
    out, start = {}, 0
    lead = vec.shape[:-1]
    for name, p in model.named_parameters():
        if p.requires_grad:
            out[name] = vec[..., start:start + p.numel()].reshape(*lead, *p.shape)
            start += p.numel()
    if start != vec.shape[-1]:
        raise ValueError(f"vector has {vec.shape[-1]} entries, the model {start} parameters")
    return out


def set_flat_params(model: nn.Module, vec: torch.Tensor) -> None:
    """Copy a flat vector into the model's trainable parameters (in place)."""
    with torch.no_grad():
        for name, value in unflatten(vec, model).items():
            model.get_parameter(name).copy_(value)


def client_gradients(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                     params: torch.Tensor | None = None, flat: bool = True,
                     method: str = "auto"):
    """Every client's mini-batch gradient in one vectorised call.

    Args:
        model: the model; its parameters give the point of evaluation unless ``params`` is set.
        loss_fn: per-sample losses ``loss_fn(output, target) -> (b,)`` (reduction "none"); a
            client's loss is their mean.
        X, y: stacked client batches (n, b, ...) and (n, b).
        params: evaluation point(s): a flat (d,) vector shared by all clients, or (n, d) with one
            point per client; default the model's current parameters.
        flat: return gradients as an (n, d) matrix (else ``{name: (n, *shape)}``).
        method: "grouped", "vmap", "loop" or "auto" (see the module docstring).

    Returns ``(grads, losses)``; ``losses`` is (n,).
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y disagree on the number of clients: {X.shape[0]} vs "
                         f"{y.shape[0]}")
    if method not in ("auto", "grouped", "vmap", "loop"):
        raise ValueError(f"method={method!r}: allowed values are 'auto', 'grouped', 'vmap', "
                         "'loop'")
    per_client = params is not None and params.ndim == 2
    if method == "auto":
        method = _auto_method(model, X, per_client)
    if method in ("grouped", "loop") and per_client:
        raise ValueError(f"method={method!r} needs one evaluation point for all clients")
    if method == "loop":
        if params is not None:
            model = _model_at(model, params)
        grads, losses = client_gradients_loop(model, loss_fn, X, y)
        return (grads if flat else unflatten(grads, model)), losses
    if method == "grouped":
        return _grouped(model, loss_fn, X, y, params, flat)
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    if params is None:
        p, in_dim = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}, None
    elif params.ndim == 1:
        p, in_dim = unflatten(params, model), None
    elif params.ndim == 2 and params.shape[0] == X.shape[0]:
        p, in_dim = unflatten(params, model), 0
    else:
        raise ValueError(f"params must be (d,) or (n_clients={X.shape[0]}, d); got "
                         f"{tuple(params.shape)}")

    def client_loss(pp, xb, yb):
        return loss_fn(functional_call(model, (pp, buffers), (xb,)), yb).mean()

    grads, losses = vmap(grad_and_value(client_loss), in_dims=(in_dim, 0, 0))(p, X, y)
    if flat:
        grads = torch.cat([g.reshape(X.shape[0], -1) for g in grads.values()], dim=1)
    return grads, losses


def _auto_method(model: nn.Module, X: torch.Tensor, per_client: bool) -> str:
    from common.privacy.bookkeeping import BookKeeping

    if per_client:
        return "vmap"
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    if has_conv and X.device.type == "cpu":
        return "loop"
    return "grouped" if BookKeeping.supports(model) else "vmap"


def _model_at(model: nn.Module, params: torch.Tensor) -> nn.Module:
    """A copy of ``model`` holding the flat parameters ``params``."""
    import copy

    model = copy.deepcopy(model)
    set_flat_params(model, params)
    return model


def _grouped(model, loss_fn, X, y, params, flat):
    from common.privacy.bookkeeping import BookKeeping

    n, b = y.shape
    if params is not None:
        model = _model_at(model, params)
    grads, losses = BookKeeping(model).group_means(loss_fn, X.reshape(n * b, *X.shape[2:]),
                                                   y.reshape(n * b), n)
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    grads = {k: grads[k] for k in names}
    if flat:
        grads = torch.cat([grads[k].reshape(n, -1) for k in names], dim=1)
    return grads, losses


def client_gradients_loop(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor):
    """Reference: one backward pass per client at the model's parameters -> ((n, d), (n,))."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads, losses = [], []
    for xb, yb in zip(X, y):
        loss = loss_fn(model(xb), yb).mean()
        g = torch.autograd.grad(loss, params)
        grads.append(torch.cat([t.reshape(-1) for t in g]))
        losses.append(loss.detach())
    return torch.stack(grads), torch.stack(losses)
