"""Byzantine robustness: aggregators and attacks as pure functions over (n_clients, d) tensors.

Aggregators (``agg(x, *, f, ...) -> (d,)``): :func:`mean`, :func:`coordinate_median`,
:func:`trimmed_mean`, :func:`krum`, :func:`multi_krum`, :func:`geometric_median`,
:func:`centered_clipping`; pre-aggregation steps :func:`nnm` and :func:`bucketing`, chained with
:func:`compose` (``nnm_median`` is NNM then the median); :func:`layerwise` applies any of them per
parameter block. Attacks (``attack(honest, own, *, generator) -> (f, d)``): :class:`IPM`,
:class:`ALIE`, :class:`SignFlip`, :class:`GaussianAttack`, :class:`Mimic`; the data attack
:func:`flip_labels`.

A client vector with a NaN or infinite coordinate is an attack: every aggregator leaves up to
``f`` such rows out and runs on the others with ``f`` reduced (one rule for all of them,
``common.robust._checks.byzantine_rows``); with more than ``f``, the aggregate is NaN.
"""

from common.robust.attacks import (
    ALIE,
    ATTACKS,
    IPM,
    GaussianAttack,
    Mimic,
    SignFlip,
    alie_z,
    flip_labels,
)
from common.robust.centered_clipping import centered_clipping
from common.robust.geometric_median import geometric_median
from common.robust.krum import krum, multi_krum, pairwise_sq_distances
from common.robust.layerwise import block_sizes, layerwise
from common.robust.mean import mean
from common.robust.median import coordinate_median
from common.robust.metrics import (
    ROBUSTNESS_COEFFICIENTS,
    robustness_coefficient,
    robustness_ratio,
)
from common.robust.preaggregation import bucketing, compose, nnm
from common.robust.registry import AGGREGATORS, get_aggregator, nnm_median
from common.robust.trimmed_mean import trimmed_mean

__all__ = [
    "ALIE", "ATTACKS", "IPM", "GaussianAttack", "Mimic", "SignFlip", "alie_z", "flip_labels",
    "centered_clipping", "geometric_median", "krum", "multi_krum", "pairwise_sq_distances",
    "block_sizes", "layerwise", "mean", "coordinate_median", "robustness_ratio",
    "robustness_coefficient", "ROBUSTNESS_COEFFICIENTS", "bucketing", "compose", "nnm",
    "AGGREGATORS", "get_aggregator", "nnm_median", "trimmed_mean",
]
