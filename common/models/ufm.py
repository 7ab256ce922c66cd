r"""The simplex equiangular tight frame (ETF) and the unconstrained features model (UFM).

**Simplex ETF** (Papyan, Han & Donoho, arXiv 2008.08186): ``K`` unit vectors with pairwise
cosine ``-1/(K-1)``, the geometry class means and classifier rows reach at neural collapse.
:func:`etf` is the Gram target the NC2 metrics compare with,

.. math::  M^\star = \frac{I_K - J_K / K}{\sqrt{K-1}}, \qquad \|M^\star\|_F = 1,

(``J = 1 1^T``; Zhao, Cheng, Masarczyk & Lucchi, arXiv 2602.16642, App. B), and
:func:`simplex_etf` a ``p x K`` frame whose columns are such vectors, ``U sqrt(K/(K-1))
(I - J/K)`` for a ``p x K`` matrix ``U`` with orthonormal columns (``p >= K``), optionally
rotated at random.

**Unconstrained features model** (Mixon, Parshall & Pi, arXiv 2011.11619; Fang et al. 2021): the
penultimate features are free parameters. :class:`UFM` holds features ``H`` (``N x p``, one row per
sample, ``N = K n`` balanced) and the linear classifier ``W`` (``nn.Linear(p, K)``), trained with
cross-entropy and weight decay on both, ``L = CE(W H) + (lambda/2)(||W||^2 + ||H||^2)`` (the
decay comes from the optimizer, coupled or decoupled). ``forward(idx)`` gives the logits of the
samples ``idx`` (all of them by default); ``labels`` are ``0, 1, ..., K-1, 0, 1, ...``. The fixed
``H = M*`` of arXiv 2602.16642's SignGD theorems (Thms 3.3-3.4) is ``UFM.from_features(etf(K))``
with ``H`` frozen (``requires_grad_(False)``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["etf", "simplex_etf", "UFM"]


def etf(num_classes: int) -> np.ndarray:
    """``M* = (I_K - J_K/K) / sqrt(K-1)`` (``K x K``, unit Frobenius norm), ``K >= 2``."""
    K = int(num_classes)
    if K < 2:
        raise ValueError(f"num_classes={num_classes}: a simplex ETF needs at least 2 classes")
    return (np.eye(K) - np.full((K, K), 1.0 / K)) / math.sqrt(K - 1)


def simplex_etf(num_classes: int, dim: int, *, seed: int | None = None) -> np.ndarray:
    """A ``dim x K`` simplex ETF: unit-norm columns with pairwise cosine ``-1/(K-1)``, summing
    to 0. ``seed=None`` embeds it in the first ``K`` coordinates; a seed rotates it by a
    Haar-random orthonormal ``U`` (``dim >= K``)."""
    K = int(num_classes)
    if dim < K:
        raise ValueError(f"dim={dim}: must be >= num_classes={K}")
    frame = etf(K) * math.sqrt(K)  # columns of sqrt(K/(K-1)) (I - J/K): unit norm
    if seed is None:
        U = np.eye(dim, K)
    else:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, K)))
        U = q * np.sign(np.diag(r))
    return U @ frame


class UFM(nn.Module):
    """Unconstrained features: trainable features ``H`` (``N x p``) and classifier ``W``.

    ``UFM(K, p, n)`` draws ``H`` with i.i.d. ``N(0, init_scale^2)`` entries (``N = K n``) and
    the classifier with PyTorch's default ``nn.Linear`` initialisation; ``bias=False`` by default
    (NC0 is defined on ``W`` only). The generator ``seed`` makes both reproducible.
    """

    def __init__(self, num_classes: int, dim: int, samples_per_class: int, *,
                 bias: bool = False, init_scale: float = 1.0, seed: int = 0,
                 dtype: torch.dtype | None = None):
        super().__init__()
        for name, v in (("num_classes", num_classes), ("dim", dim),
                        ("samples_per_class", samples_per_class)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: must be a positive integer")
        if num_classes < 2:
            raise ValueError(f"num_classes={num_classes}: at least 2")
        if not init_scale > 0:
            raise ValueError(f"init_scale={init_scale}: must be > 0")
        gen = torch.Generator().manual_seed(seed)
        dtype = dtype or torch.get_default_dtype()
        n = num_classes * samples_per_class
        self.H = nn.Parameter(init_scale * torch.randn(n, dim, generator=gen, dtype=dtype))
        self.classifier = nn.Linear(dim, num_classes, bias=bias, dtype=dtype)
        bound = 1.0 / math.sqrt(dim)  # nn.Linear's default init, drawn from our generator
        with torch.no_grad():
            self.classifier.weight.uniform_(-bound, bound, generator=gen)
            if bias:
                self.classifier.bias.uniform_(-bound, bound, generator=gen)
        self.register_buffer("labels", torch.arange(n) % num_classes)

    @classmethod
    def from_features(cls, H, *, bias: bool = False, dtype: torch.dtype = torch.float64):
        """A UFM with the given features (``N x p``, row ``i`` of class ``i mod K`` with
        ``K = N`` here: one sample per class) and ``W = 0``, as in arXiv 2602.16642's theorems."""
        H = torch.as_tensor(np.asarray(H), dtype=dtype)
        K, p = H.shape
        model = cls(K, p, 1, bias=bias, dtype=dtype)
        with torch.no_grad():
            model.H.copy_(H)
            model.classifier.weight.zero_()
            if bias:
                model.classifier.bias.zero_()
        return model

    @property
    def W(self) -> torch.Tensor:
        return self.classifier.weight

    def forward(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.H if idx is None else self.H[idx])
