"""GPU kernels, each with a pure-torch reference (its specification, CPU fallback and test
oracle) and one dispatch function (:mod:`common.kernels.dispatch`):

- :func:`clipped_sum`: fused per-sample clipping (row norms, clip factors, clipped sum, noise);
- :func:`pack_signs`, :func:`unpack_signs`, :func:`majority_vote_packed`: 1-bit sign compression
  and majority vote across clients;
- :func:`coordinate_median`, :func:`trimmed_mean`: order statistics across <= 64 clients without
  a full sort (on a CPU: a comparator network, :mod:`common.kernels.network_xla` compiled by XLA
  when JAX is installed, :mod:`common.kernels.network` in torch otherwise).

The privacy, federated and robust code calls these functions, so GPU tensors get the Triton
kernels without any change to the caller.
"""

from common.kernels.dispatch import (
    backend,
    clipped_sum,
    coordinate_median,
    majority_vote_packed,
    pack_signs,
    trimmed_mean,
    unpack_signs,
)

__all__ = ["backend", "clipped_sum", "coordinate_median", "majority_vote_packed", "pack_signs",
           "trimmed_mean", "unpack_signs"]
