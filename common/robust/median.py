r"""Coordinate-wise median (CM).

For each coordinate j, the median of ``x_{1j}, ..., x_{nj}``. With ``f < n/2`` Byzantine rows the
output lies, coordinate by coordinate, inside the range of the honest values (Yin et al. 2018,
"Byzantine-robust distributed learning: towards optimal statistical rates", arXiv 1803.01498).

**Even n.** Two conventions differ by half the gap between the two middle values:
``even="lower"`` takes the lower middle value, as ``torch.median`` does and as the authors' code of
Byz-Clip21-SGD2M (arXiv 2603.23472) does; ``even="mean"`` averages the two middle values, as
``numpy.median`` does. The default is ``"lower"`` to match the Byz-Clip21-SGD2M code.

**NaN and inf.** A row with a non-finite coordinate is one of the ``f`` Byzantine rows and is left
out before the median is taken (the rule shared by every aggregator, ``common.robust._checks``).
Computed by :func:`common.kernels.coordinate_median`: a
Triton kernel on CUDA tensors, a comparator network on a CPU (compiled by XLA when JAX is
installed, :mod:`common.kernels.network_xla`; torch operations over column tiles otherwise,
:mod:`common.kernels.network`), ``torch.kthvalue`` for narrow inputs; the same values.
"""

from __future__ import annotations

import torch

from common import kernels
from common.robust._checks import byzantine_rows

__all__ = ["coordinate_median"]


@byzantine_rows(lambda n: (n - 1) // 2, "f < n/2")
def coordinate_median(x: torch.Tensor, *, f: int = 0, even: str = "lower") -> torch.Tensor:
    """Coordinate-wise median of the rows of ``x`` (n, d); ``f`` validates f < n/2 and counts
    non-finite rows as Byzantine (left out, ``common.robust._checks``)."""
    if even not in ("lower", "mean"):
        raise ValueError(f"even={even!r}: allowed values are 'lower' and 'mean'")
    return kernels.coordinate_median(x, even)
