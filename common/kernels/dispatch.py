"""One entry point per kernel: the Triton kernel for CUDA tensors, the torch reference otherwise.

Backend selection (``backend()``): ``REPRO_KERNELS=torch`` forces the references;
``REPRO_KERNELS=triton`` forces the Triton kernels (on CPU tensors this needs Triton's interpreter,
``TRITON_INTERPRET=1``, which is how the tests run them); unset, CUDA tensors use Triton when it is
installed and everything else the reference. The kernels compute in float32; float64 inputs always
take the reference. On a CPU the order statistics (:func:`coordinate_median`, :func:`trimmed_mean`)
of at most :data:`common.kernels.network.MAX_N` rows and at least ``NETWORK_MIN_D`` columns run as a
comparator network over column tiles (:mod:`common.kernels.network`), which returns the
reference's values (the median bit for bit, the trimmed mean to the rounding of its sum) at
a fraction of the cost; ``REPRO_KERNELS=torch`` still forces the references.
"""

from __future__ import annotations

import importlib.util
import os

import torch

from common.kernels import network, reference

__all__ = ["backend", "clipped_sum", "pack_signs", "unpack_signs", "majority_vote_packed",
           "coordinate_median", "trimmed_mean"]


#: Below this many columns the per-column selection of the reference costs less than the
#: network's fixed cost (about 200 vector operations for n = 25).
NETWORK_MIN_D = 4096


def _use_network(x: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and os.environ.get("REPRO_KERNELS", "").lower() != "torch"
            and x.shape[0] <= network.MAX_N and x.shape[1] >= NETWORK_MIN_D)


def _triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def backend(x: torch.Tensor) -> str:
    """``"triton"`` or ``"torch"``: which implementation handles ``x``."""
    choice = os.environ.get("REPRO_KERNELS", "").lower()
    if choice not in ("", "torch", "triton"):
        raise ValueError(f"REPRO_KERNELS={choice!r}: allowed values are 'torch' and 'triton'")
    if choice == "torch" or x.dtype == torch.float64:
        return "torch"
    if choice == "triton":
        if not _triton_available():
            raise RuntimeError("REPRO_KERNELS=triton but triton is not installed "
                               "(pip install -c constraints.txt -e '.[kernels]')")
        return "triton"
    return "triton" if x.is_cuda and _triton_available() else "torch"


def _impl(x: torch.Tensor):
    if backend(x) == "triton":
        from common.kernels import triton_kernels

        return triton_kernels
    return reference


def clipped_sum(G: torch.Tensor, max_norm: float, noise: torch.Tensor | None = None):
    """``(sum_b min(1, C/||G_b||) G_b [+ noise], norms)`` of per-sample gradients G (B, d)."""
    if G.ndim != 2:
        raise ValueError(f"G must be (B, d) per-sample gradients; got {tuple(G.shape)}")
    if not max_norm > 0:
        raise ValueError(f"max_norm={max_norm}: must be > 0")
    if noise is not None and noise.shape != G.shape[1:]:
        raise ValueError(f"noise must have shape ({G.shape[1]},); got {tuple(noise.shape)}")
    return _impl(G).clipped_sum(G, max_norm, noise)


def pack_signs(x: torch.Tensor) -> torch.Tensor:
    """int32 words (..., ceil(d/32)) of the bits ``x > 0``."""
    return _impl(x).pack_signs(x)


def unpack_signs(packed: torch.Tensor, d: int) -> torch.Tensor:
    """float32 (..., d) in {-1, +1} from packed words."""
    if packed.dtype != torch.int32 or packed.shape[-1] != -(-d // 32):
        raise ValueError(f"packed must be int32 with ceil(d/32) = {-(-d // 32)} words per row")
    impl = reference if backend(packed.float()) == "torch" else _impl(packed.float())
    return impl.unpack_signs(packed, d)


def majority_vote_packed(packed: torch.Tensor, d: int) -> torch.Tensor:
    """Majority vote (d,) in {-1, 0, +1} of n packed sign vectors (n, ceil(d/32))."""
    if packed.ndim != 2 or packed.dtype != torch.int32 or packed.shape[1] != -(-d // 32):
        raise ValueError("packed must be int32 (n, ceil(d/32))")
    impl = reference if backend(packed.float()) == "torch" else _impl(packed.float())
    return impl.majority_vote_packed(packed, d)


def coordinate_median(x: torch.Tensor, even: str = "lower") -> torch.Tensor:
    """Per-column median of x (n, d) with NaN ordered above +inf (reference docstring)."""
    n = x.shape[0]
    if _use_network(x):
        return network.coordinate_median(x, even)
    if backend(x) == "torch" or n > 64:
        return reference.coordinate_median(x, even)
    from common.kernels.triton_kernels import order_statistic_reduce

    lo = (n - 1) // 2
    hi = n // 2 if (even == "mean" and n % 2 == 0) else lo
    return order_statistic_reduce(x, lo, hi)


def trimmed_mean(x: torch.Tensor, f: int) -> torch.Tensor:
    """Per-column mean of the order statistics f .. n - f - 1 of x (n, d)."""
    n = x.shape[0]
    if f > 0 and _use_network(x):
        return network.trimmed_mean(x, f)
    if backend(x) == "torch" or n > 64 or f == 0:
        return reference.trimmed_mean(x, f)
    from common.kernels.triton_kernels import order_statistic_reduce

    return order_statistic_reduce(x, f, n - f - 1)
