"""One entry point per kernel: the Triton kernel for CUDA tensors, the torch reference otherwise.

Backend selection (``backend()``): ``REPRO_KERNELS=torch`` forces the references;
``REPRO_KERNELS=triton`` forces the Triton kernels (on CPU tensors this needs Triton's interpreter,
``TRITON_INTERPRET=1``, which is how the tests run them); unset, CUDA tensors use Triton when it is
installed and everything else the reference. The kernels compute in float32; float64 inputs always
take the reference. On a CPU the order statistics (:func:`coordinate_median`, :func:`trimmed_mean`)
of at most :data:`common.kernels.network.MAX_N` rows and at least ``NETWORK_MIN_D`` columns run as a
comparator network (``network_backend()``): compiled by XLA into one loop over the columns
(:mod:`common.kernels.network_xla`) when JAX is importable and the dtype is one XLA keeps
(float32; float64 only in JAX's 64-bit mode), otherwise as torch vector operations over column
tiles (:mod:`common.kernels.network`). Both return the reference's values (the XLA network and
the torch network's median bit for bit, the torch network's trimmed mean to the rounding of its
sum) at a fraction of the cost. ``REPRO_KERNELS=xla`` requires the XLA network where it applies
(an error without JAX), ``REPRO_KERNELS=torch-network`` selects the torch network, and
``REPRO_KERNELS=torch`` still forces the references; the other kernels take the reference under
these values.
"""

from __future__ import annotations

import importlib.util
import os

import torch

from common.kernels import network, network_xla, reference

__all__ = ["backend", "network_backend", "clipped_sum", "pack_signs", "unpack_signs",
           "majority_vote_packed", "coordinate_median", "trimmed_mean"]


#: Below this many columns the per-column selection of the reference costs less than the
#: network's fixed cost (about 200 vector operations for n = 25).
NETWORK_MIN_D = 4096


#: the values of ``REPRO_KERNELS`` (empty: automatic choice)
CHOICES = ("", "torch", "triton", "xla", "torch-network")


def _choice() -> str:
    choice = os.environ.get("REPRO_KERNELS", "").lower()
    if choice not in CHOICES:
        raise ValueError(f"REPRO_KERNELS={choice!r}: allowed values are "
                         + ", ".join(repr(c) for c in CHOICES[1:]))
    return choice


def network_backend(x: torch.Tensor) -> str | None:
    """``"xla"``, ``"torch-network"``, or None (not a network): which comparator network
    computes the order statistics of the CPU tensor ``x`` (n, d)."""
    choice = _choice()
    if (choice in ("torch", "triton") or x.device.type != "cpu" or x.ndim != 2
            or x.shape[0] > network.MAX_N or x.shape[1] < NETWORK_MIN_D):
        return None
    if choice == "torch-network":
        return choice
    if choice == "xla" and not network_xla.available():
        raise RuntimeError("REPRO_KERNELS=xla but jax is not installed "
                           "(pip install -c constraints.txt -e '.[sde]')")
    return "xla" if network_xla.available() and network_xla.supports(x) else "torch-network"


def _network_module(x: torch.Tensor):
    which = network_backend(x)
    return None if which is None else network_xla if which == "xla" else network


def _triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def backend(x: torch.Tensor) -> str:
    """``"triton"`` or ``"torch"``: which implementation handles ``x``."""
    choice = _choice()
    if choice in ("torch", "xla", "torch-network") or x.dtype == torch.float64:
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
    impl = _network_module(x)
    if impl is not None:
        return impl.coordinate_median(x, even)
    if backend(x) == "torch" or n > 64:
        return reference.coordinate_median(x, even)
    from common.kernels.triton_kernels import order_statistic_reduce

    lo = (n - 1) // 2
    hi = n // 2 if (even == "mean" and n % 2 == 0) else lo
    return order_statistic_reduce(x, lo, hi)


def trimmed_mean(x: torch.Tensor, f: int) -> torch.Tensor:
    """Per-column mean of the order statistics f .. n - f - 1 of x (n, d)."""
    n = x.shape[0]
    impl = _network_module(x) if f > 0 else None
    if impl is not None:
        return impl.trimmed_mean(x, f)
    if backend(x) == "torch" or n > 64 or f == 0:
        return reference.trimmed_mean(x, f)
    from common.kernels.triton_kernels import order_statistic_reduce

    return order_statistic_reduce(x, f, n - f - 1)
