"""The aggregators, by name (explicit; no import-time discovery).

Every entry is a pure function ``agg(x, *, f, **kwargs) -> (d,)`` over an (n_clients, d) tensor.
The conformance tests in ``tests/robust`` run over this registry.
"""

from __future__ import annotations

from common.robust.centered_clipping import centered_clipping
from common.robust.geometric_median import geometric_median
from common.robust.krum import krum, multi_krum
from common.robust.mean import mean
from common.robust.median import coordinate_median
from common.robust.preaggregation import compose, nnm
from common.robust.trimmed_mean import trimmed_mean

__all__ = ["AGGREGATORS", "get_aggregator", "nnm_median"]

#: NNM followed by the coordinate-wise median: Byz-Clip21-SGD2M's aggregator (arXiv 2603.23472).
nnm_median = compose(nnm, coordinate_median)

AGGREGATORS = {
    "mean": mean,
    "median": coordinate_median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,
    "geometric_median": geometric_median,
    "centered_clipping": centered_clipping,
    "nnm_median": nnm_median,
}


def get_aggregator(name: str):
    """The aggregator registered as ``name``; ``ValueError`` lists the names."""
    if name not in AGGREGATORS:
        raise ValueError(f"aggregator {name!r} is unknown; choose from {sorted(AGGREGATORS)}")
    return AGGREGATORS[name]
