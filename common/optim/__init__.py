"""Optimizers: one module per method, each a pure functional update plus a thin torch adapter.

- :mod:`common.optim.ngn`     NGN, NGN-M (and the rejected "version 2" ordering)
- :mod:`common.optim.ngn_md`  NGN-MD v1/v2 (diagonal preconditioning + momentum), NGN-D
- :mod:`common.optim.sgdm`    SGD with momentum as torch computes it (EMA and heavy-ball forms)
- :mod:`common.optim.registry` the explicit registry used by sweeps and conformance tests
"""

from common.optim._tree import apply_updates, tree_sq_norm
from common.optim.adapter import FunctionalOptimizer
from common.optim.ngn import (
    NGN,
    NGNM,
    NGNMState,
    NGNState,
    ngn_init,
    ngn_m_init,
    ngn_m_update,
    ngn_m_v2_init,
    ngn_m_v2_update,
    ngn_step_size,
    ngn_update,
)
from common.optim.ngn_md import NGNMD, NGNMDState, ngn_d_update, ngn_md_init, ngn_md_update
from common.optim.registry import OPTIMIZERS, OptimizerSpec, get, make_torch
from common.optim.sgdm import FORMS, SGDMState, sgdm_init, sgdm_torch, sgdm_update

__all__ = [
    "apply_updates", "tree_sq_norm", "FunctionalOptimizer", "NGN", "NGNM", "NGNMState",
    "NGNState", "ngn_init", "ngn_m_init", "ngn_m_update", "ngn_m_v2_init", "ngn_m_v2_update",
    "ngn_step_size", "ngn_update", "NGNMD", "NGNMDState", "ngn_d_update", "ngn_md_init",
    "ngn_md_update", "OPTIMIZERS", "OptimizerSpec", "get", "make_torch", "FORMS", "SGDMState",
    "sgdm_init", "sgdm_torch", "sgdm_update",
]
