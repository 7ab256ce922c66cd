r"""Clipping by the global L2 norm.

``clip_tau(v) = min(1, tau / ||v||) v``, where ``||.||`` is the L2 norm of the *whole* vector
(all parameters flattened), never per layer: this is what DP-SGD (Abadi et al. 2016), Opacus'
"flat" clipping and the Clip21 family (arXiv 2502.11682, 2603.23472) use.

The clip factor is ``min(1, tau / max(||v||, tiny))``, exactly 1 for ``||v|| <= tau``. (Opacus
uses ``tau / (||v|| + 1e-6)``, which shrinks every vector slightly; we do not.)
"""

from __future__ import annotations

import torch

__all__ = ["clip_factors", "clip_rows", "clip_vector", "check_max_norm"]


def check_max_norm(max_norm: float, name: str = "max_norm") -> float:
    """``max_norm`` as a float; ``ValueError`` naming ``name`` unless finite and > 0."""
    if not (isinstance(max_norm, (int, float)) and max_norm > 0 and max_norm != float("inf")):
        raise ValueError(f"{name}={max_norm!r}: the clipping threshold must be finite and > 0")
    return float(max_norm)


def clip_factors(norms: torch.Tensor, max_norm: float) -> torch.Tensor:
    """``min(1, max_norm / norm)`` elementwise (norms of 0 give factor 1)."""
    check_max_norm(max_norm)
    tiny = torch.finfo(norms.dtype).tiny
    return torch.clamp(max_norm / norms.clamp_min(tiny), max=1.0)


def clip_rows(x: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Clip every row of ``x`` (n, d) to L2 norm at most ``max_norm``."""
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got {tuple(x.shape)}")
    norms = torch.linalg.vector_norm(x, dim=1)
    return x * clip_factors(norms, max_norm).unsqueeze(1)


def clip_vector(v: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Clip a flat vector (or any tensor, by the norm of all its entries) to ``max_norm``."""
    return v * clip_factors(torch.linalg.vector_norm(v).reshape(()), max_norm)
