"""Optimizers: one module per method, each a pure functional update plus a thin torch adapter.

- :mod:`common.optim.ngn`     NGN, NGN-M (and the rejected "version 2" ordering)
- :mod:`common.optim.ngn_md`  NGN-MD v1/v2 (diagonal preconditioning + momentum), NGN-D
- :mod:`common.optim.sgdm`    SGD, and SGD with momentum as torch computes it (EMA, heavy ball);
                              SGDW (decoupled weight decay)
- :mod:`common.optim.signsgd` SignSGD and Signum (coupled weight decay), SignSGDW and SignumW
                              (decoupled)
- :mod:`common.optim.adam`    Adam (coupled L2 weight decay), AdamW (decoupled), and AdamCD with a
                              coupled part c and a decoupled part d
- :mod:`common.optim.weight_decay` the two ways weight decay enters an update, as pure pieces
- :mod:`common.optim.schedules` step-size schedules as data (constant, step decay at thirds,
                              warmup-stable-decay with a 28 % warm-down)
- :mod:`common.optim.scion`   Scion and ScionLight (stochastic conditional gradient with LMOs)
- :mod:`common.optim.lmo`     the layer-wise norms and their LMOs (Spectral, Sign, ColNorm, ...)
- :mod:`common.optim.newton_schulz` Newton-Schulz orthogonalisation and the exact polar factor
- :mod:`common.optim.muon`    Muon (as torch.optim.Muon, float32 Newton-Schulz by default)
- :mod:`common.optim.scaling` batch-size scaling rules (BST, square root, fixed) and their bound
- :mod:`common.optim.rmsprop` RMSprop as torch computes it (no momentum, no centring)
- :mod:`common.optim.batched` a whole step-size grid of one optimizer as one batched run
- :mod:`common.optim.registry` the explicit registry used by sweeps and conformance tests

A method that also has an SDE model keeps the same name in both registries: the torch update here
(``OPTIMIZERS["AdamW"]``) and the JAX discrete optimizer with its SDE in :mod:`common.sde`
(``SDES["AdamW"]``); ``tests/optim/test_twins.py`` runs each pair side by side.
"""

from common.optim._tree import apply_updates, tree_sq_norm
from common.optim.adam import (
    Adam,
    AdamCD,
    AdamState,
    AdamW,
    adam_cd_update,
    adam_init,
    adam_update,
    adamw_update,
)
from common.optim.adapter import FunctionalOptimizer
from common.optim.lmo import (
    LMOS,
    Auto,
    BiasRMS,
    ColNorm,
    RowNorm,
    Sign,
    Spectral,
    SpectralConv,
    get_lmo,
)
from common.optim.muon import Muon, MuonState, muon_init, muon_update
from common.optim.newton_schulz import NS5_COEFFICIENTS, newton_schulz, polar_svd
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
from common.optim.rmsprop import RMSprop, RMSpropState, rmsprop_init, rmsprop_update
from common.optim.scaling import RULES, ScalingRule, restart_stages, transfer
from common.optim.schedules import (
    SCHEDULES,
    WSD_DECAY_FRACTION,
    Constant,
    StepDecay,
    WarmupStableDecay,
    make_schedule,
    step_decay_thirds,
)
from common.optim.scion import (
    Scion,
    ScionLight,
    ScionState,
    scion_dual_norm,
    scion_init,
    scion_update,
)
from common.optim.sgdm import (
    BUFFER_INITS,
    FORMS,
    SGDW,
    SGDMState,
    SGDState,
    sgd_init,
    sgd_update,
    sgdm_init,
    sgdm_torch,
    sgdm_update,
    sgdw_update,
)
from common.optim.signsgd import (
    SignSGD,
    SignSGDState,
    SignSGDW,
    Signum,
    SignumState,
    SignumW,
    signsgd_init,
    signsgd_update,
    signsgdw_update,
    signum_init,
    signum_update,
    signumw_update,
)
from common.optim.weight_decay import coupled_grads, decoupled_updates

__all__ = [
    "apply_updates", "tree_sq_norm", "FunctionalOptimizer", "NGN", "NGNM", "NGNMState",
    "NGNState", "ngn_init", "ngn_m_init", "ngn_m_update", "ngn_m_v2_init", "ngn_m_v2_update",
    "ngn_step_size", "ngn_update", "NGNMD", "NGNMDState", "ngn_d_update", "ngn_md_init",
    "ngn_md_update", "OPTIMIZERS", "OptimizerSpec", "get", "make_torch", "RMSprop", "RMSpropState",
    "rmsprop_init", "rmsprop_update", "BUFFER_INITS", "FORMS", "SGDMState",
    "sgdm_init", "sgdm_torch", "sgdm_update", "SGDState", "sgd_init", "sgd_update", "Adam",
    "AdamState", "AdamW", "adam_init", "adam_update", "adamw_update", "SignSGD", "SignSGDState",
    "Signum", "SignumState", "signsgd_init", "signsgd_update", "signum_init", "signum_update",
    "LMOS", "Auto", "BiasRMS", "ColNorm", "RowNorm", "Sign", "Spectral", "SpectralConv", "get_lmo",
    "Muon", "MuonState", "muon_init", "muon_update", "NS5_COEFFICIENTS", "newton_schulz",
    "polar_svd", "RULES", "ScalingRule", "restart_stages", "transfer", "WSD_DECAY_FRACTION",
    "WarmupStableDecay", "Scion", "ScionLight", "ScionState", "scion_dual_norm",
    "scion_init", "scion_update",
    "AdamCD", "adam_cd_update", "SGDW", "sgdw_update", "SignSGDW", "SignumW", "signsgdw_update",
    "signumw_update", "coupled_grads", "decoupled_updates", "SCHEDULES", "Constant", "StepDecay",
    "make_schedule", "step_decay_thirds",
]
