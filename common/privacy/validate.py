"""Modules whose per-sample gradients are undefined: the validator of the per-sample code paths.

A layer that mixes the samples of a batch (BatchNorm in training mode computes statistics over the
batch) makes each sample's loss depend on the others, so "the gradient of sample i's loss" is not
a per-sample quantity and clipping it bounds nothing. As Opacus's ``ModuleValidator`` does, such
models are rejected with an error that names the module and the fix (GroupNorm, or LayerNorm).
"""

from __future__ import annotations

from torch import nn

__all__ = ["UnsupportedModuleError", "check_no_batch_coupling"]

_COUPLING = (nn.modules.batchnorm._BatchNorm, nn.SyncBatchNorm)


class UnsupportedModuleError(ValueError):
    """The model holds a layer that couples the samples of a batch."""


def check_no_batch_coupling(model: nn.Module) -> None:
    """Raise :class:`UnsupportedModuleError` if any submodule mixes samples across the batch."""
    bad = []
    for name, module in model.named_modules():
        if isinstance(module, _COUPLING):
            bad.append((name or "<root>", type(module).__name__))
        elif isinstance(module, nn.modules.instancenorm._InstanceNorm) and \
                module.track_running_stats:
            bad.append((name or "<root>", type(module).__name__ + "(track_running_stats=True)"))
    if bad:
        listing = ", ".join(f"'{n}' ({t})" for n, t in bad)
        raise UnsupportedModuleError(
            f"module(s) {listing} couple the samples of a batch (their statistics mix samples), "
            "so per-sample gradients are undefined and DP clipping would not bound each "
            "sample's influence. Replace BatchNorm with GroupNorm (or LayerNorm), as Opacus's "
            "ModuleValidator.fix does.")
