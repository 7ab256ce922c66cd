"""ResNet9 with BatchNorm (the network of arXiv 2602.16642's main grid, with VGG9 of
:mod:`common.models.vgg`).

**ResNet9** (the "Myrtle" ResNet of Page, *How to train your ResNet*, 2018, used for fast
CIFAR-10 training): a conv-BN-ReLU block is ``Conv3x3(bias=False) -> BatchNorm -> ReLU``;

    prep 64 -> [block 128, max-pool 2, residual(block 128, block 128)]
    -> [block 256, max-pool 2] -> [block 512, max-pool 2, residual(block 512, block 512)]
    -> global max-pool -> flatten (p = 512) -> Linear(512, K)

``classifier`` is the last ``nn.Linear``; its input is the penultimate feature ``h`` (p = 512)
of :func:`common.metrics.penultimate_features`. ``width`` scales every channel count (64 is the
paper's network; tests use a small width).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResNet9", "conv_bn_relu"]


def conv_bn_relu(c_in: int, c_out: int, *, bias: bool = False) -> nn.Sequential:
    """``Conv3x3(padding 1) -> BatchNorm2d -> ReLU``."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(channels, channels),
                                  conv_bn_relu(channels, channels))

    def forward(self, x):
        return x + self.body(x)


def check_classifier_shape(in_channels: int, num_classes: int) -> None:
    if in_channels < 1 or num_classes < 2:
        raise ValueError(f"in_channels={in_channels} (>= 1), num_classes={num_classes} (>= 2)")


class ResNet9(nn.Module):
    """Myrtle ResNet9 with BatchNorm; any input size >= 8 x 8 (global max-pool at the end)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 64):
        super().__init__()
        check_classifier_shape(in_channels, num_classes)
        w = width
        self.features = nn.Sequential(
            conv_bn_relu(in_channels, w),
            conv_bn_relu(w, 2 * w), nn.MaxPool2d(2), _Residual(2 * w),
            conv_bn_relu(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn_relu(4 * w, 8 * w), nn.MaxPool2d(2), _Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(8 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
