"""Magnitude pruning: masks that zero the smallest weights, layer by layer or globally.

Layerwise magnitude pruning at ratio ``r`` keeps, in every prunable layer (``Linear`` and
``Conv`` weights; biases and normalisation parameters are never pruned), the weights whose
absolute value is among the largest ``1 - r`` fraction of that layer (ties broken by index order,
so exactly ``round(r * numel)`` weights are removed). Pruning at initialisation is the setting of
Zhao, Singh and Lucchi (arXiv 2411.02139, Fig. 1), after Han et al. (arXiv 1506.02626).

Masks are ``{parameter name: 0/1 tensor}`` dicts; :func:`apply_masks` zeroes the pruned weights
in place, and a training loop keeps them at zero by masking after every step.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["prunable_names", "magnitude_masks", "apply_masks"]


def prunable_names(model: nn.Module) -> list[str]:
    """Names of the weights of every ``Linear`` and ``Conv`` layer."""
    return [f"{name}.weight" if name else "weight" for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]


def magnitude_masks(model: nn.Module, ratio: float) -> dict[str, torch.Tensor]:
    """Layerwise magnitude masks removing ``ratio`` of each prunable layer's weights."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise ValueError(f"ratio={ratio!r}: the fraction of weights to remove, in [0, 1)")
    params = dict(model.named_parameters())
    masks = {}
    for name in prunable_names(model):
        w = params[name].detach()
        n_prune = int(round(ratio * w.numel()))
        mask = torch.ones(w.numel(), dtype=w.dtype, device=w.device)
        if n_prune:
            order = torch.argsort(w.abs().reshape(-1), stable=True)
            mask[order[:n_prune]] = 0
        masks[name] = mask.view_as(w)
    return masks


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Multiply each masked parameter by its mask in place; returns the model."""
    params = dict(model.named_parameters())
    unknown = sorted(set(masks) - set(params))
    if unknown:
        raise KeyError(f"masks name parameters the model does not have: {unknown}")
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)
    return model
