"""Convolutional networks."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MnistCNN"]


class MnistCNN(nn.Sequential):
    """The MNIST CNN of the Byz-Clip21-SGD2M code (PyTorch's MNIST example without dropout).

    Conv(1->32, 3x3) -> ReLU -> Conv(32->64, 3x3) -> ReLU -> MaxPool(2) -> flatten (9216) ->
    FC(9216->128) -> ReLU -> FC(128->10); 1,199,882 parameters; inputs 1 x 28 x 28 (the code feeds
    pixels scaled to [0, 1], without standardisation). No batch-coupled layers, so per-sample
    gradients are defined.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            x = x.reshape(-1, 1, 28, 28)
        return super().forward(x)
