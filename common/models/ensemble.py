r"""A batch of K independent deep fully connected networks, evaluated as one computation.

Member k maps inputs ``x`` (dimension ``in_dim``) to ``out_dim`` outputs through ``depth`` hidden
layers of ``width`` units:

.. math::
    y^{(1)} = W^{(1)} x + b^{(1)},\quad y^{(l)} = W^{(l)} g(y^{(l-1)}) + b^{(l)}\ (l = 2..depth),
    \quad \text{out} = W^{(L+1)} g(y^{(depth)}) + b^{(L+1)},

with its own parameters stacked along a leading axis of size K, so a layer is one batched
matrix product (``torch.baddbmm``). The layer-wise pre-activations are the ones the mean-field
maps of :mod:`common.models.meanfield` describe (layer 1 is linear in the inputs, as in
:func:`~common.models.meanfield.propagate`). Every layer, the readout included, is initialised
N(0, sigma_w2 / fan_in), N(0, sigma_b2) (:meth:`MLPEnsemble.reset_parameters`).

The members share nothing, so a loss that is the sum of the members' losses trains them
independently (an element-wise optimizer such as Adam keeps per-member state). Pooled
activations (``"tanh+meanpool"``) pool adjacent unit pairs and duplicate the result.

Departure from the official code (``abassi98/igb_and_trainability``, ``src/models.py``): its MLP
applies no activation between its first two linear layers (``layers[0]`` is followed directly by
``layers[1]``), so depth 100 there has 99 activations; here every hidden layer has one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from common.models.activations import Activation, get
from common.models.init import gaussian_

__all__ = ["MLPEnsemble"]


class MLPEnsemble(nn.Module):
    """K independent MLPs with stacked parameters (module docstring).

    Args:
        num_members: K.
        in_dim, width, depth, out_dim: layer sizes; ``depth`` hidden layers of ``width``.
        activation: a name of :mod:`common.models.activations` (``"tanh"``, ``"relu"``,
            ``"tanh+meanpool"``, ...) or an :class:`Activation`.
        dtype, device: of the parameters.
    """

    def __init__(self, num_members: int, in_dim: int, width: int, depth: int, out_dim: int, *,
                 activation: str | Activation = "tanh", dtype=torch.float32, device=None):
        super().__init__()
        for name, v in (("num_members", num_members), ("in_dim", in_dim), ("width", width),
                        ("depth", depth), ("out_dim", out_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r}: a positive integer")
        self.activation = get(activation)
        if self.activation.arity == 2 and width % 2:
            raise ValueError(f"width={width}: pooled activations need an even width")
        self.num_members, self.depth = num_members, depth
        dims = [in_dim] + [width] * depth + [out_dim]
        kw = {"dtype": dtype, "device": device}
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(num_members, b, a, **kw)) for a, b in zip(dims[:-1], dims[1:]))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.empty(num_members, b, **kw)) for b in dims[1:])
        self.reset_parameters(1.0, 0.0)

    def reset_parameters(self, sigma_w2: float, sigma_b2: float = 0.0, *,
                         generator: torch.Generator | None = None) -> MLPEnsemble:
        """Draw every layer N(0, sigma_w2 / fan_in), N(0, sigma_b2), layer by layer, weights
        before biases. The draws are ``sigma * z`` with standard normals ``z`` taken from
        ``generator`` in a fixed order, so two ensembles reset from equally seeded generators
        with different sigma_w2 hold scaled copies of the same networks (paired comparisons)."""
        for W, b in zip(self.weights, self.biases):
            gaussian_(W, b, sigma_w2=sigma_w2, sigma_b2=sigma_b2, generator=generator)
        return self

    def forward(self, x: torch.Tensor, *,
                observe: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """Outputs ``(K, N, out_dim)`` for inputs ``(N, in_dim)`` (shared by every member) or
        ``(K, N, in_dim)`` (flatten images first). ``observe(l, y)`` is called with the
        pre-activations ``(K, N, width)`` of every hidden layer l = 1..depth (for statistics;
        nothing is stored)."""
        if x.dim() not in (2, 3):
            raise ValueError(f"inputs of shape {tuple(x.shape)}: need (N, in_dim) or "
                             "(K, N, in_dim)")
        h = x.unsqueeze(0).expand(self.num_members, -1, -1) if x.dim() == 2 else x
        if h.shape[0] != self.num_members:
            raise ValueError(f"inputs for {h.shape[0]} members, the ensemble has "
                             f"{self.num_members}")
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            if l > 0:
                h = self.activation.apply_torch(h)
            h = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
            if observe is not None and l < self.depth:
                observe(l + 1, h)
        return h
