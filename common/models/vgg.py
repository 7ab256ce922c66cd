"""VGG9 with BatchNorm (the second network of arXiv 2602.16642's main grid).

Eight conv-BN-ReLU layers with max-pooling (the VGG11 convolution stack 64, M, 128, M, 256, 256,
M, 512, 512, M, 512, 512, M) and one linear layer 512 -> K: nine weight layers, as the
``jerett/PyTorch-CIFAR10`` VGG models with a single classifier layer, which the paper cites
[unverified: the paper names VGG9 without its configuration]. It needs 32 x 32 inputs (five
2 x 2 poolings); :func:`pad_to_32` zero-pads 28 x 28 MNIST images by 2 pixels on each side.
``classifier`` is the last ``nn.Linear`` (penultimate features p = 512 at ``width = 64``).
"""

from __future__ import annotations

import torch
from torch import nn

from common.models.resnet9 import check_classifier_shape

__all__ = ["VGG9", "pad_to_32"]


class VGG9(nn.Module):
    """VGG with eight conv-BN-ReLU layers and one linear layer; 32 x 32 inputs."""

    _CFG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 64):
        super().__init__()
        check_classifier_shape(in_channels, num_classes)
        layers: list[nn.Module] = []
        c = in_channels
        for v in self._CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                out = v * width // 64
                layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out),
                           nn.ReLU(inplace=True)]
                c = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 32 or x.shape[-2] != 32:
            raise ValueError(f"VGG9 needs 32 x 32 inputs, got {tuple(x.shape[-2:])}: "
                             "pad 28 x 28 images with pad_to_32")
        return self.classifier(self.features(x))


def pad_to_32(X: torch.Tensor) -> torch.Tensor:
    """Zero-pad ``(N, C, 28, 28)`` images to ``(N, C, 32, 32)`` (2 pixels on each side)."""
    if X.ndim != 4 or tuple(X.shape[-2:]) != (28, 28):
        raise ValueError(f"X has shape {tuple(X.shape)}: expected (N, C, 28, 28)")
    return torch.nn.functional.pad(X, (2, 2, 2, 2))
