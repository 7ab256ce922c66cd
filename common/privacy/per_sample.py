r"""Per-sample gradients with ``torch.func`` (the general path and the test reference).

For a batch ``(X, y)`` and a loss ``loss_fn(output, target) -> (B,)`` of per-sample losses,
:func:`per_sample_grads` returns ``{name: (B, *param.shape)}`` with

.. math::  g_b = \nabla_\theta\, \ell(f_\theta(x_b), y_b),

computed as ``vmap(grad(loss of one sample))`` over the batch with ``functional_call`` (the
approach of the PyTorch per-sample-gradient tutorial and Opacus's functorch mode). It works for
any module without batch-coupled layers (:func:`~common.privacy.validate.check_no_batch_coupling`).
It materialises all B gradients: memory ``B x (number of parameters)``; ``chunk_size`` bounds it.
:mod:`common.privacy.bookkeeping` avoids the materialisation for linear and convolution layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from common.privacy.validate import check_no_batch_coupling

__all__ = ["per_sample_grads", "flatten_per_sample", "per_sample_norms", "check_per_sample_loss"]


def check_per_sample_loss(losses: torch.Tensor, batch_size: int) -> None:
    """``ValueError`` unless ``losses`` holds one loss per sample (shape ``(batch_size,)``)."""
    if losses.shape != (batch_size,):
        raise ValueError(f"loss_fn must return one loss per sample, shape ({batch_size},); got "
                         f"{tuple(losses.shape)} (use reduction='none')")


def per_sample_grads(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                     chunk_size: int | None = None, randomness: str = "error",
                     params: dict | None = None) -> dict[str, torch.Tensor]:
    """``{name: (B, *shape)}`` per-sample gradients of every trainable parameter.

    Args:
        model: any module without batch-coupled layers (its parameters are not modified).
        loss_fn: ``loss_fn(output, target)`` returning per-sample losses (reduction="none").
        X, y: the batch; the first dimension is the sample dimension.
        chunk_size: samples per vectorised chunk (None: all at once).
        randomness: ``vmap``'s randomness mode ("error", "different", "same"), for dropout.
        params: parameters to differentiate at (default: the model's trainable parameters).
    """
    check_no_batch_coupling(model)
    if params is None:
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, x, t):
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        losses = loss_fn(out, t.unsqueeze(0))
        return losses.reshape(()) if losses.numel() == 1 else losses.sum()

    return vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size,
                randomness=randomness)(params, X, y)


def flatten_per_sample(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate per-sample gradients into a (B, d) matrix (parameter order of the dict)."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)


def per_sample_norms(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of each sample's gradient over all parameters: (B,)."""
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(dim=1) for g in grads.values())
    return sq.sqrt()
