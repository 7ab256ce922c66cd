r"""Initialisation by the mean-field variances :math:`(\sigma_w^2, \sigma_b^2)`.

Every weight is drawn :math:`W_{ij} \sim \mathcal N(0, \sigma_w^2/\text{fan\_in})` and every bias
:math:`b_i \sim \mathcal N(0, \sigma_b^2)` (Poole et al. 2016, arXiv:1606.05340; Schoenholz et al.
2017, arXiv:1611.01232). Special cases: Kaiming-normal (He et al. 2015) is
``sigma_w2=2, sigma_b2=0``; LeCun-normal is ``sigma_w2=1``. ``fan_in`` is the input features of
a linear layer and ``in_channels / groups * prod(kernel_size)`` of a convolution; for a stacked
weight of shape ``(..., fan_out, fan_in)`` (a batch of networks) it is the last axis.

:func:`eoc_relative` turns the official code's relative scale ``Vw`` into a variance: its
initialiser multiplies the standard deviation by the square root of ``calculate_gain``, which is
2 for ReLU and the tanh edge of chaos :math:`\sigma_w^2(\sigma_b^2)` for tanh, so ``Vw = 1`` means
the EOC [code: ``src/models.py``, ``src/utils.py`` of ``abassi98/igb_and_trainability``].
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["gaussian_", "init_gaussian_", "eoc_relative"]


def _check(sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    for name, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name}={v!r}: a finite non-negative number")
    return float(sigma_w2), float(sigma_b2)


@torch.no_grad()
def gaussian_(weight: torch.Tensor, bias: torch.Tensor | None = None, *, sigma_w2: float,
              sigma_b2: float = 0.0, fan_in: int | None = None,
              generator: torch.Generator | None = None) -> None:
    """Fill ``weight`` with N(0, sigma_w2 / fan_in) and ``bias`` with N(0, sigma_b2) in place.

    ``fan_in`` defaults to ``weight.shape[-1]`` (linear layers and stacked networks).
    """
    sigma_w2, sigma_b2 = _check(sigma_w2, sigma_b2)
    fan_in = weight.shape[-1] if fan_in is None else fan_in
    if fan_in < 1:
        raise ValueError(f"fan_in={fan_in}: a positive integer")
    weight.normal_(0.0, math.sqrt(sigma_w2 / fan_in), generator=generator)
    if bias is not None:
        if sigma_b2 == 0:
            bias.zero_()
        else:
            bias.normal_(0.0, math.sqrt(sigma_b2), generator=generator)


def init_gaussian_(module: nn.Module, sigma_w2: float, sigma_b2: float = 0.0, *,
                   generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise every ``nn.Linear`` and ``nn.ConvNd`` of ``module`` (in ``modules()``
    order, so a fixed generator gives a fixed network) and return the module."""
    _check(sigma_w2, sigma_b2)
    found = False
    for m in module.modules():
        if isinstance(m, nn.Linear):
            fan_in = m.in_features
        elif isinstance(m, nn.modules.conv._ConvNd):
            fan_in = m.in_channels // m.groups * math.prod(m.kernel_size)
        else:
            continue
        found = True
        gaussian_(m.weight, m.bias, sigma_w2=sigma_w2, sigma_b2=sigma_b2, fan_in=fan_in,
                  generator=generator)
    if not found:
        raise ValueError(f"{type(module).__name__} has no Linear or Conv layer to initialise")
    return module


def eoc_relative(vw: float, activation: str, sigma_b2: float) -> float:
    """:math:`\\sigma_w^2` = ``vw`` x the edge of chaos of ``activation`` at ``sigma_b2`` (the
    official code's ``Vw``: 0.8, 1, 1.25, 2.5 give 1.59, 1.99, 2.48, 4.97 for tanh at 0.1)."""
    from common.models.meanfield import eoc

    if not isinstance(vw, (int, float)) or not math.isfinite(vw) or vw <= 0:
        raise ValueError(f"vw={vw!r}: a positive number (1 = the edge of chaos)")
    return float(vw) * eoc(activation, sigma_b2)
