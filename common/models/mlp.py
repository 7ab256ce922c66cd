"""Multi-layer perceptrons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["MLP"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "identity": nn.Identity}


class MLP(nn.Sequential):
    """``in_dim -> hidden[0] -> ... -> out_dim`` with an activation after each hidden layer.

    ``MLP(784, (100, 100), 10)`` is the NGN-M paper's MNIST model (2 hidden layers of 100).
    Layers use PyTorch's default initialisation (Kaiming-uniform with a=sqrt(5)).
    ``activation`` is a name or a zero-argument factory of a module
    (``functools.partial(nn.LeakyReLU, 0.1)``).
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, *,
                 activation: str | Callable[[], nn.Module] = "relu", bias: bool = True):
        if not callable(activation) and activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: allowed are {sorted(_ACTIVATIONS)} "
                             "or a zero-argument module factory")
        make = activation if callable(activation) else _ACTIVATIONS[activation]
        dims = [in_dim, *hidden, out_dim]
        if any((not isinstance(d, int)) or d < 1 for d in dims):
            raise ValueError(f"layer widths must be positive integers, got {dims}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b, bias=bias))
            if i < len(dims) - 2:
                layers.append(make())
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))
