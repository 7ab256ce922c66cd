r"""Large work buffers backed by transparent huge pages where the kernel offers them.

A fresh (n, d) float32 buffer at n = 25, d = 10^6 (100 MB) costs about 40 ms of first-touch page
faults with 4 KiB pages (25,000 faults), against about 18 ms for the same operation into a buffer
already touched (benchmarks/README.md, ``aggregators``). glibc serves such a buffer from a fresh
``mmap`` and returns it to the system when it is freed, so every call of an aggregator pays the
faults again. On Linux, where transparent huge pages are offered on request
(``/sys/kernel/mm/transparent_hugepage/enabled`` is ``madvise`` or ``always``), ``madvise(...,
MADV_HUGEPAGE)`` on the untouched buffer lets the first touch map 2 MiB pages instead (50 faults
for 100 MB); the remaining cost is zeroing the pages. Values are unaffected: only the pages behind
the buffer change. Elsewhere (another OS, no libc ``madvise``, THP off) the buffer is an ordinary
``torch.empty_like``.
"""

from __future__ import annotations

import functools
import sys

import torch

__all__ = ["work_buffer", "HUGE_PAGE", "MIN_BYTES"]

#: The huge-page size of x86-64 and arm64 Linux with 4 KiB base pages.
HUGE_PAGE = 2 << 20
#: Below this size a buffer is left alone (at most a few 4 KiB faults to save).
MIN_BYTES = 4 * HUGE_PAGE
_MADV_HUGEPAGE = 14


@functools.cache
def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).madvise
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        return fn
    except (OSError, AttributeError):  # pragma: no cover (no libc madvise)
        return None


def work_buffer(like: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like(like)`` (contiguous), on huge pages where possible (module docstring)."""
    out = torch.empty(like.shape, dtype=like.dtype, device=like.device)
    size = out.numel() * out.element_size()
    madvise = _madvise() if out.device.type == "cpu" and size >= MIN_BYTES else None
    if madvise is not None:
        start = -(-out.data_ptr() // HUGE_PAGE) * HUGE_PAGE  # the whole huge pages inside
        end = (out.data_ptr() + size) // HUGE_PAGE * HUGE_PAGE
        if end > start:
            madvise(start, end - start, _MADV_HUGEPAGE)  # a failure leaves 4 KiB pages
    return out
