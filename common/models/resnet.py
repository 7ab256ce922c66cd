"""ResNet-20 for 32 x 32 images (He, Zhang, Ren, Sun, "Deep Residual Learning for Image
Recognition", arXiv 1512.03385, section 4.2).

Three stages of ``n`` basic blocks (two 3 x 3 convolutions with BatchNorm and ReLU) at 16, 32 and
64 channels, stride 2 at the start of stages 2 and 3, global average pooling and a linear
classifier: ``6 n + 2`` weighted layers (``n = 3``: ResNet-20, 0.27 M parameters). Shortcuts
that change the shape use option A of the paper (stride-2 subsampling and zero-padded channels,
no parameters).

:class:`ResNet18` is the ImageNet ResNet-18 of the same paper (Table 1: four stages of two basic
blocks at 64, 128, 256 and 512 channels; projection shortcuts, option B) in its common CIFAR
form: a 3 x 3 stride-1 stem and no max-pooling, as in the softmax-rank paper's CIFAR experiments
(arXiv 2506.01562; the exact variant is not stated there [unverified]). With ``width=64`` and 10
classes it has 11,173,962 parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CifarResNet", "resnet20", "ResNet18"]


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pad = c_out - c_in
        self.stride = stride

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The CIFAR ResNet with ``blocks`` basic blocks per stage (``6 blocks + 2`` layers)."""

    def __init__(self, blocks: int = 3, num_classes: int = 10, in_channels: int = 3,
                 width: int = 16):
        super().__init__()
        for name, v in (("blocks", blocks), ("num_classes", num_classes),
                        ("in_channels", in_channels), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: a positive integer")
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers, c = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                layers.append(_Block(c, c_out, 2 if (stage > 0 and b == 0) else 1))
                c = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


def resnet20(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """ResNet-20 (3 blocks per stage)."""
    return CifarResNet(3, num_classes, in_channels)


class _ProjBlock(nn.Module):
    """Basic block with a 1 x 1 convolution + BatchNorm shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32 x 32 images (module docstring): stem, 4 stages x 2 blocks at
    ``width * (1, 2, 4, 8)`` channels (stride 2 from stage 2 on), global average pooling and a
    linear classifier ``fc`` (the penultimate features are its input)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 64):
        super().__init__()
        for name, v in (("num_classes", num_classes), ("in_channels", in_channels),
                        ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: a positive integer")
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers, c = [], width
        for stage in range(4):
            c_out = width * 2**stage
            for b in range(2):
                layers.append(_ProjBlock(c, c_out, 2 if (stage > 0 and b == 0) else 1))
                c = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))
