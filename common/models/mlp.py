r"""Multi-layer perceptrons, optionally with a normalisation layer in every hidden layer.

**Normalisation placement** (Francazi, Pinto, Lucchi, Baity-Jesi, "Where you place the norm
matters", arXiv:2505.11312, AISTATS 2026). ``MLP(..., norm=placement)`` builds each hidden layer
in the order :data:`PLACEMENTS` gives, as data:

========== =====================================
placement  one hidden layer
========== =====================================
none       Linear -> activation
bn_before  Linear -> BatchNorm1d -> activation
bn_after   Linear -> activation -> BatchNorm1d
ln_before  Linear -> LayerNorm -> activation
ln_after   Linear -> activation -> LayerNorm
========== =====================================

"before" and "after" are relative to the *activation* inside a hidden layer, as in the official
code's ``MLP(norm_config=...)`` (``RunsCode/MLP_Experiments/MLP_Runs.py``), not the transformer
residual-stream Pre-LN / Post-LN. BatchNorm normalises each unit over the batch (the data axis),
LayerNorm each sample over the units (the feature axis); both keep PyTorch's affine parameters
(weight 1, bias 0 at initialisation) and default ``eps``. The read-out layer is never normalised.

BatchNorm in train mode uses the statistics of the batch it is given; in eval mode it uses its
running statistics, which are mean 0 and variance 1 in a fresh network, so a fresh BN network in
eval mode computes the same function as the network without BN. Measurements of the initial
guessing bias therefore need train mode: :func:`batch_statistics` forces it for a block of code
and restores the modes and running statistics afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["MLP", "PLACEMENTS", "batch_statistics"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "identity": nn.Identity}

#: Layer order of one hidden layer for each normalisation placement (module docstring).
PLACEMENTS: dict[str, tuple[str, ...]] = {
    "none": ("linear", "act"),
    "bn_before": ("linear", "bn", "act"),
    "bn_after": ("linear", "act", "bn"),
    "ln_before": ("linear", "ln", "act"),
    "ln_after": ("linear", "act", "ln"),
}

_NORMS = {"bn": nn.BatchNorm1d, "ln": nn.LayerNorm}


class MLP(nn.Sequential):
    """``in_dim -> hidden[0] -> ... -> out_dim`` with an activation after each hidden layer.

    ``MLP(784, (100, 100), 10)`` is the NGN-M paper's MNIST model (2 hidden layers of 100).
    Layers use PyTorch's default initialisation (Kaiming-uniform with a=sqrt(5)); re-initialise
    with :func:`~common.models.init.init_gaussian_` (``sigma_w2=2``: Kaiming-normal).
    ``activation`` is a name or a zero-argument factory of a module
    (``functools.partial(nn.LeakyReLU, 0.1)``). ``norm`` is a key of :data:`PLACEMENTS`: where a
    BatchNorm or LayerNorm layer sits in every hidden layer (``"none"``: no normalisation, the
    layer indices of earlier versions).
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, *,
                 activation: str | Callable[[], nn.Module] = "relu", bias: bool = True,
                 norm: str = "none"):
        if not callable(activation) and activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: allowed are {sorted(_ACTIVATIONS)} "
                             "or a zero-argument module factory")
        if norm not in PLACEMENTS:
            raise ValueError(f"norm={norm!r}: allowed are {list(PLACEMENTS)}")
        make = activation if callable(activation) else _ACTIVATIONS[activation]
        dims = [in_dim, *hidden, out_dim]
        if any((not isinstance(d, int)) or d < 1 for d in dims):
            raise ValueError(f"layer widths must be positive integers, got {dims}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            if i == len(dims) - 2:
                layers.append(nn.Linear(a, b, bias=bias))
                break
            for kind in PLACEMENTS[norm]:
                if kind == "linear":
                    layers.append(nn.Linear(a, b, bias=bias))
                elif kind == "act":
                    layers.append(make())
                else:
                    layers.append(_NORMS[kind](b))
        super().__init__(*layers)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


@contextmanager
def batch_statistics(model: nn.Module) -> Iterator[nn.Module]:
    """Run every BatchNorm layer of ``model`` in train mode (batch statistics) inside the block.

    The initial guessing bias of a BN network is measured with the batch statistics of the
    evaluated inputs (the official code keeps BN in train mode when it evaluates); in eval mode a
    fresh BN layer is the identity. On exit every BN layer gets back its mode and its running
    statistics (``running_mean``, ``running_var``, ``num_batches_tracked``), so a measurement
    leaves the model as it found it. Other layers are not touched.
    """
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            buffers = {k: b.detach().clone() for k, b in m.named_buffers(recurse=False)}
            saved.append((m, m.training, buffers))
            m.train(True)
    try:
        yield model
    finally:
        for m, mode, buffers in saved:
            m.train(mode)
            with torch.no_grad():
                for k, b in buffers.items():
                    getattr(m, k).copy_(b)
