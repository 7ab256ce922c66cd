r"""Test objectives with closed-form values and gradients, batched over independent problems.

Every objective maps ``x`` of shape ``(..., dim)`` to ``(f, grad)`` of shapes ``(...)`` and
``(..., dim)``: the leading dimensions index independent problems (one per step size of a sweep),
so a whole sweep advances in one set of tensor operations. Gradients are analytic; the tests check
them against ``torch.autograd``.

- :class:`Rosenbrock`   ``(a - x)^2 + b (y - x^2)^2`` (NGN-M paper, Fig. 1 and App. H.2)
- :class:`Quartic`      ``x^2 (1 + x^2) = x^2 + x^4`` (App. E, Fig. E.1; Remark E.6)
- :class:`LeastSquares` ``1/(2|S|) sum_{i in S} (a_i^T x - b_i)^2`` with mini-batches ``S``
- :class:`Quadratic`    ``1/2 ||M x - y||^2`` (App. H.3 with ``M = A + rI``)

Training losses on a network's logits:

- :func:`temperature_cross_entropy`, :class:`TemperatureCrossEntropy` the cross-entropy of the
  tempered softmax, ``CE(z / T, y) = logsumexp(z / T) - z_y / T`` (Masarczyk et al., arXiv
  2506.01562, eq. 1); ``T = 1`` is ``torch.nn.functional.cross_entropy``. A larger ``T`` lowers
  the effective logits norm ``||z / T||`` and scales the gradient with respect to ``z`` by
  ``1 / T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Rosenbrock", "Quartic", "LeastSquares", "Quadratic", "temperature_cross_entropy",
           "TemperatureCrossEntropy"]


@dataclass(frozen=True)
class Rosenbrock:
    """``f(x, y) = (a - x)^2 + b (y - x^2)^2``; minimum 0 at ``(a, a^2)``."""

    a: float = 1.0
    b: float = 100.0
    dim: int = 2
    minimum: float = 0.0

    def value_and_grad(self, x: torch.Tensor):
        u, v = x[..., 0], x[..., 1]
        r = v - u * u
        f = (self.a - u) ** 2 + self.b * r * r
        gu = -2.0 * (self.a - u) - 4.0 * self.b * u * r
        gv = 2.0 * self.b * r
        return f, torch.stack([gu, gv], dim=-1)


@dataclass(frozen=True)
class Quartic:
    """``f(x) = x^2 (1 + x^2)`` in one dimension; minimum 0 at 0, not globally L-smooth."""

    dim: int = 1
    minimum: float = 0.0

    def value_and_grad(self, x: torch.Tensor):
        s = x[..., 0]
        f = s * s * (1.0 + s * s)
        return f, (2.0 * s + 4.0 * s**3).unsqueeze(-1)


class LeastSquares:
    """Mean squared error ``f_S(x) = 1/(2|S|) sum_{i in S} (a_i^T x - b_i)^2``.

    ``value_and_grad(x, idx)`` evaluates the mini-batch ``S = idx`` (all rows when ``idx`` is
    None). ``idx`` of shape ``(m,)`` is one mini-batch shared by every problem in ``x``; of shape
    ``x.shape[:-1] + (m,)`` it gives each problem its own mini-batch (independent seeds in one
    batched run). ``minimum`` is the full-data optimum ``f*`` from ``numpy.linalg.lstsq``.
    """

    def __init__(self, A: np.ndarray, b: np.ndarray, dtype=torch.float64):
        A = np.asarray(A, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if A.ndim != 2 or b.shape != (A.shape[0],):
            raise ValueError(f"A must be (n, d) and b (n,); got {A.shape} and {b.shape}")
        self.A = torch.as_tensor(A, dtype=dtype)
        self.b = torch.as_tensor(b, dtype=dtype)
        self.n, self.dim = A.shape
        w, *_ = np.linalg.lstsq(A, b, rcond=None)
        self.solution = torch.as_tensor(w, dtype=dtype)
        self.minimum = float(0.5 * np.mean((A @ w - b) ** 2))

    def value_and_grad(self, x: torch.Tensor, idx=None):
        if idx is not None:
            idx = torch.as_tensor(idx)
        if idx is not None and idx.ndim > 1:  # one mini-batch per problem
            A, b = self.A[idx], self.b[idx]  # (..., m, d), (..., m)
            r = (A @ x.unsqueeze(-1)).squeeze(-1) - b
            return 0.5 * (r * r).mean(-1), (r.unsqueeze(-2) @ A).squeeze(-2) / A.shape[-2]
        A = self.A if idx is None else self.A[idx]
        b = self.b if idx is None else self.b[idx]
        r = x @ A.T - b  # (..., m)
        return 0.5 * (r * r).mean(-1), r @ A / A.shape[0]


class Quadratic:
    """``f(x) = 1/2 ||M x - y||^2`` (full batch); ``minimum`` is 0 when ``M`` is invertible."""

    def __init__(self, M: np.ndarray, y: np.ndarray, dtype=torch.float64):
        self.M = torch.as_tensor(np.asarray(M), dtype=dtype)
        self.y = torch.as_tensor(np.asarray(y), dtype=dtype)
        self.dim = self.M.shape[1]
        w, *_ = np.linalg.lstsq(np.asarray(M), np.asarray(y), rcond=None)
        self.minimum = float(0.5 * np.sum((np.asarray(M) @ w - np.asarray(y)) ** 2))

    def value_and_grad(self, x: torch.Tensor):
        r = x @ self.M.T - self.y
        return 0.5 * (r * r).sum(-1), r @ self.M


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature={temperature!r}: a finite number > 0")
    return float(temperature)


def temperature_cross_entropy(logits: torch.Tensor, y: torch.Tensor, temperature: float,
                              reduction: str = "mean") -> torch.Tensor:
    """``CE(logits / T, y)`` with ``T = temperature`` (module docstring); ``reduction`` as in
    ``torch.nn.functional.cross_entropy``."""
    T = _check_temperature(temperature)
    return torch.nn.functional.cross_entropy(logits / T, y, reduction=reduction)


class TemperatureCrossEntropy(torch.nn.Module):
    """The loss module of :func:`temperature_cross_entropy` at a fixed ``temperature``."""

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = _check_temperature(temperature)

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return temperature_cross_entropy(logits, y, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
