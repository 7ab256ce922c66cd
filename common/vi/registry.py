"""The registry of variational-inference steps: one line per method, explicit.

Every entry is a pure triple ``init(q0) -> state``, ``update(state, expectations, lr) -> state``
and ``gaussian(state) -> SqrtGaussian`` (which applies the method's stability guard and raises
:class:`~common.vi.Diverged`), the geometry it descends in, and its reference. The runner
(:mod:`common.vi.runner`) and the conformance tests (``tests/vi/test_registry.py``) work over
every entry; a method is chosen by name, never by a flag inside a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from common.vi.bw import bw_gaussian, bw_init, bw_update
from common.vi.gd import gd_gaussian, gd_init, gd_update
from common.vi.srvn import srvn_gaussian, srvn_init, srvn_update
from common.vi.vn import vn_gaussian, vn_init, vn_update

__all__ = ["VIStep", "STEPS", "get_step"]


@dataclass(frozen=True)
class VIStep:
    """One VI method: its pure functions, the geometry and the reference.

    Attributes:
        name: label in tables and figures.
        init: ``init(q0) -> state`` (see the module docstring).
        update: ``update(state, expectations, lr) -> state``.
        gaussian: ``gaussian(state) -> SqrtGaussian``, the iterate as a distribution.
        geometry: the metric the step descends in.
        reference: arXiv id of the method; ``notes``: departures and caveats.
    """

    name: str
    init: Callable
    update: Callable
    gaussian: Callable
    geometry: str
    reference: str
    notes: str = ""


STEPS: dict[str, VIStep] = {
    "SR-VN": VIStep("SR-VN", srvn_init, srvn_update, srvn_gaussian,
                    "Fisher (natural gradient), square-root coordinates",
                    "arXiv 2507.07853 (Algorithm 1)",
                    "gamma = 1; tril½ of Eq. (10) [secondary]"),
    "SR-VN (tril)": VIStep("SR-VN (tril)", srvn_init, partial(srvn_update, tril_map=torch.tril),
                           srvn_gaussian, "ablation: full diagonal instead of tril½",
                           "arXiv 2507.07853 (ablation)",
                           "not a method of the paper: the negative control of tril½"),
    "VN": VIStep("VN", vn_init, vn_update, vn_gaussian,
                 "Fisher (natural gradient), natural parameters",
                 "arXiv 2107.04562 (Bayesian learning rule)"),
    "GD": VIStep("GD", gd_init, gd_update, gd_gaussian, "Euclidean, in (m, C)",
                 "arXiv 1401.0118 (black-box VI)",
                 "exact / reparameterised gradients, not the score function"),
    "BW-GD": VIStep("BW-GD", bw_init, bw_update, bw_gaussian, "Bures-Wasserstein",
                    "arXiv 2205.15902"),
}


def get_step(name: str | VIStep) -> VIStep:
    """The :class:`VIStep` called ``name`` (an entry passes through)."""
    if isinstance(name, VIStep):
        return name
    if name not in STEPS:
        raise ValueError(f"method={name!r}: allowed are {list(STEPS)}")
    return STEPS[name]
