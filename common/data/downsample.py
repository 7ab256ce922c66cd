"""Average-pool downsampling of images to a smaller square size.

``H x W`` images become ``size x size`` by averaging pixel windows. When ``size`` divides the
image size the windows are the non-overlapping ``(H/size) x (W/size)`` blocks (a plain average
pool); otherwise they are PyTorch's adaptive windows ``[floor(i H / size), ceil((i + 1) H /
size))``, which overlap by a pixel where ``H/size`` is not an integer (28 -> 8 for MNIST: windows
of 4 rows starting at 0, 3, 7, 10, 14, 17, 21, 24). Small inputs make Gauss-Newton matrices and
covariances small enough for a CPU, and merge MNIST's constant border pixels into informative
ones (the covariance of raw 28 x 28 MNIST is singular).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: importing common.data stays light
    import torch

__all__ = ["avg_pool_downsample"]


def avg_pool_downsample(images, size: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Images ``(N, H, W)`` or ``(N, C, H, W)`` (NumPy or torch, any numeric dtype) averaged to
    ``(N, size, size)`` or ``(N, C, size, size)``, as a ``dtype`` tensor (default float64; values
    not rescaled)."""
    import torch
    import torch.nn.functional as F

    dtype = torch.float64 if dtype is None else dtype
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images))
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or not 1 <= size <= min(h, w):
        raise ValueError(f"size={size!r}: an integer in [1, {min(h, w)}] (the image is {h} x {w})")
    x4 = x.to(dtype).reshape(-1, 1 if x.ndim == 3 else x.shape[1], h, w)
    if h % size == 0 and w % size == 0:
        out = F.avg_pool2d(x4, (h // size, w // size))
    else:
        out = F.adaptive_avg_pool2d(x4, size)
    return out.reshape(*x.shape[:-2], size, size)
