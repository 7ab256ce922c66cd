r"""Deep linear networks (plain and residual) with Kaiming-normal initialisation.

:class:`DeepLinear` is :math:`f(x) = W_L \cdots W_1 x` (no biases), the model whose Gauss-Newton
matrix has the closed forms of :mod:`common.metrics.curvature`.
:class:`ResidualLinear` is the square residual network :math:`f(x) = \prod_l (I + \beta W_l)\,x`
(layer ``l`` maps :math:`h \mapsto h + \beta W_l h`); it is the linear network with effective
weights :math:`I + \beta W_l` (:meth:`ResidualLinear.effective_weights`), and since
:math:`\partial f/\partial W_l = \beta\,\partial f/\partial (I + \beta W_l)` for every layer, its
Gauss-Newton matrix is :math:`\beta^2` times the plain one at the effective weights: the same
condition number.

Initialisation: i.i.d. :math:`N(0, \text{gain}/\text{fan\_in})` from an explicit generator
(:func:`common.models.init.init_gaussian_` with ``sigma_w2 = gain``)
(``gain = 2``: Kaiming normal for ReLU, He et al. 2015, arXiv 1502.01852; ``gain = 1``: the
variance-preserving :math:`N(0, 1/m)` of the residual branches in Zhao, Singh and Lucchi,
arXiv 2411.02139). For linear networks only the *relative* layer scales matter: multiplying every
layer by one constant leaves the Gauss-Newton condition number unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from common.models.init import init_gaussian_

__all__ = ["DeepLinear", "ResidualLinear"]


def _gain(gain) -> float:
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0:
        raise ValueError(f"gain={gain!r}: a positive variance factor")
    return float(gain)


def _dims(name: str, values) -> list[int]:
    vals = list(values)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in vals):
        raise ValueError(f"{name} must be positive integers, got {vals}")
    return vals


class DeepLinear(nn.Sequential):
    """``d -> widths[0] -> ... -> k`` linear layers without biases (``len(widths) + 1`` layers),
    drawn :math:`N(0, gain/fan\\_in)` from ``generator``."""

    def __init__(self, d: int, widths: Sequence[int], k: int, *, gain: float = 2.0,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        dims = _dims("d, widths and k", [d, *widths, k])
        super().__init__(*[nn.Linear(a, b, bias=False, dtype=dtype)
                           for a, b in zip(dims[:-1], dims[1:])])
        init_gaussian_(self, sigma_w2=_gain(gain), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))

    def weights(self) -> list[torch.Tensor]:
        """``[W_1, ..., W_L]`` (detached)."""
        return [layer.weight.detach() for layer in self]


class ResidualLinear(nn.Module):
    """``depth`` square residual layers :math:`h \\mapsto h + \\beta W_l h` of width ``dim``,
    :math:`W_l \\sim N(0, gain/dim)`; ``beta`` defaults to :math:`1/\\sqrt{depth}`."""

    def __init__(self, dim: int, depth: int, *, beta: float | None = None, gain: float = 1.0,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        _dims("dim and depth", [dim, depth])
        self.beta = 1.0 / math.sqrt(depth) if beta is None else float(beta)
        if not self.beta > 0:
            raise ValueError(f"beta={beta!r}: a positive residual-branch scale")
        self.layers = nn.ModuleList(nn.Linear(dim, dim, bias=False, dtype=dtype)
                                    for _ in range(depth))
        init_gaussian_(self, sigma_w2=_gain(gain), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.layers:
            h = h + self.beta * layer(h)
        return h

    def effective_weights(self) -> list[torch.Tensor]:
        """``[I + beta W_1, ..., I + beta W_L]``: the equivalent plain linear network."""
        eye = torch.eye(self.layers[0].weight.shape[0], dtype=self.layers[0].weight.dtype,
                        device=self.layers[0].weight.device)
        return [eye + self.beta * layer.weight.detach() for layer in self.layers]
