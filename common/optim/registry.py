"""The registry of optimizers: one line per method, explicit (no import-time discovery).

Each entry pairs the pure functional update with a ``torch.optim`` factory, names the
hyperparameter that a step-size sweep varies (``lr`` or ``c``), and cites the method. The
conformance tests in ``tests/optim`` run over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch

from common.optim.adam import AdamCD, AdamW, adam_cd_update, adam_init, adam_update, adamw_update
from common.optim.muon import Muon, muon_init, muon_update
from common.optim.ngn import (
    NGN,
    NGNM,
    ngn_init,
    ngn_m_init,
    ngn_m_update,
    ngn_m_v2_init,
    ngn_m_v2_update,
    ngn_update,
)
from common.optim.ngn_md import NGNMD, ngn_d_update, ngn_md_init, ngn_md_update
from common.optim.rmsprop import RMSprop, rmsprop_init, rmsprop_update
from common.optim.scion import Scion, scion_init, scion_update
from common.optim.sgdm import (
    SGDW,
    sgd_init,
    sgd_update,
    sgdm_init,
    sgdm_torch,
    sgdm_update,
    sgdw_update,
)
from common.optim.signsgd import (
    SignSGD,
    SignSGDW,
    Signum,
    SignumW,
    signsgd_init,
    signsgd_update,
    signsgdw_update,
    signum_init,
    signum_update,
    signumw_update,
)

__all__ = ["OptimizerSpec", "OPTIMIZERS", "get", "make_torch"]


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer: its functional pair, its torch factory and what a sweep varies.

    Attributes:
        name: the label used in tables and figures.
        init: the functional pair's ``init(params) -> state``.
        update: its ``update(grads, state, loss, **{step_key: value})``.
        torch_factory: ``factory(params, step) -> torch.optim.Optimizer``.
        step_key: the swept step-size hyperparameter (``"lr"`` or ``"c"``).
        needs_loss: ``update`` and ``step`` need the loss value (``step(closure)``).
        reference: arXiv id or URL; ``notes`` what departs from the paper or from torch.
    """

    name: str
    init: Callable
    update: Callable
    torch_factory: Callable | None
    step_key: str
    needs_loss: bool
    reference: str
    notes: str = ""
    fixed: dict = field(default_factory=dict)

    def functional_update(self, grads, state, loss, params, step, **kw):
        """Call ``update`` with the step hyperparameter and the entry's fixed settings."""
        kw = {**self.fixed, **kw, self.step_key: step}
        if self.needs_loss:
            return self.update(grads, state, loss, **kw)
        return self.update(grads, state, params, **kw)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "SGD": OptimizerSpec(
        "SGD", sgd_init, sgd_update, lambda params, lr: torch.optim.SGD(params, lr=lr), "lr",
        False, "torch.optim.SGD", "no momentum; twin of common.sde 'SGD'"),
    "SGDM": OptimizerSpec(
        "SGDM", sgdm_init, sgdm_update,
        lambda params, lr: sgdm_torch(params, lr=lr, momentum=0.9, form="ema"),
        "lr", False, "torch.optim.SGD",
        "EMA form: momentum 0.9, dampening 0.9 (b = 0.9 b + 0.1 g; torch starts b = g)",
        {"momentum": 0.9, "dampening": 0.9}),
    "SGDM (heavy ball)": OptimizerSpec(
        "SGDM (heavy ball)", sgdm_init, sgdm_update,
        lambda params, lr: sgdm_torch(params, lr=lr, momentum=0.9, form="heavy_ball"),
        "lr", False, "torch.optim.SGD", "momentum 0.9, dampening 0 (b = 0.9 b + g)",
        {"momentum": 0.9, "dampening": 0.0}),
    "SGDM (EMA, zero init)": OptimizerSpec(
        "SGDM (EMA, zero init)", sgdm_init, sgdm_update, None, "lr", False,
        "torch.optim.SGD's recursion from a zero buffer",
        "EMA form b = 0.9 b + 0.1 g started at b = 0 (torch starts at b = g); functional only",
        {"momentum": 0.9, "dampening": 0.9, "buffer_init": "zero"}),
    "Adam": OptimizerSpec(
        "Adam", adam_init, adam_update, lambda params, lr: torch.optim.Adam(params, lr=lr), "lr",
        False, "arXiv 1412.6980 (Algorithm 1)",
        "betas (0.9, 0.999), eps 1e-8; functional common.optim.adam, torch.optim.Adam adapter "
        "(equal up to rounding, tests/optim/test_adam_sign.py)"),
    "AdamW": OptimizerSpec(
        "AdamW", adam_init, adamw_update, lambda params, lr: AdamW(params, lr=lr), "lr", False,
        "arXiv 1711.05101", "decoupled weight decay 0.01 (torch.optim.AdamW's default); twin "
        "of common.sde 'AdamW'", {"weight_decay": 0.01}),
    "SGDW": OptimizerSpec(
        "SGDW", sgdm_init, sgdw_update,
        lambda params, lr: SGDW(params, lr=lr, momentum=0.9, weight_decay=0.01), "lr", False,
        "arXiv 1711.05101; arXiv 2602.16642 (Thm 3.1)",
        "heavy-ball momentum 0.9 (dampening 0) on the plain gradient; decoupled weight decay "
        "0.01 scaled by lr: x <- (1 - lr wd) x - lr b; torch has no SGDW",
        {"momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01}),
    "AdamCD": OptimizerSpec(
        "AdamCD", adam_init, adam_cd_update,
        lambda params, lr: AdamCD(params, lr=lr, coupled_weight_decay=2.5e-4,
                                  decoupled_weight_decay=2.5e-4), "lr", False,
        "arXiv 2602.16642 (Section 3.4, Fig. 8)",
        "Adam with a coupled part c (in the moments) and a decoupled part d (lr d x) of weight "
        "decay; here c = d = 2.5e-4 (Fig. 8's total 5e-4, half coupled); c = 0 is AdamW, "
        "d = 0 is Adam", {"coupled_weight_decay": 2.5e-4, "decoupled_weight_decay": 2.5e-4}),
    "RMSprop": OptimizerSpec(
        "RMSprop", rmsprop_init, rmsprop_update, lambda params, lr: RMSprop(params, lr=lr), "lr",
        False, "Tieleman & Hinton 2012 (lecture 6.5); torch.optim.RMSprop",
        "alpha 0.99, eps 1e-8 outside the root, no momentum, no centring, no bias correction"),
    "SignSGD": OptimizerSpec(
        "SignSGD", signsgd_init, signsgd_update, lambda params, lr: SignSGD(params, lr=lr), "lr",
        False, "arXiv 1802.04434 (Algorithm 1)", "sign(0) = 0; twin of common.sde 'SignSGD'"),
    "Signum": OptimizerSpec(
        "Signum", signum_init, signum_update, lambda params, lr: Signum(params, lr=lr, beta=0.9),
        "lr", False, "arXiv 1802.04434 (Algorithm 3)",
        "beta 0.9, m = beta m + (1 - beta) g; its weight_decay (0 here) is coupled",
        {"beta": 0.9}),
    "SignSGDW": OptimizerSpec(
        "SignSGDW", signsgd_init, signsgdw_update,
        lambda params, lr: SignSGDW(params, lr=lr, weight_decay=0.01), "lr", False,
        "arXiv 2602.16642 (Thm 3.3, SignGD with decoupled weight decay)",
        "x <- x - lr (sign(g) + wd x), wd 0.01; sign(0) = 0", {"weight_decay": 0.01}),
    "SignumW": OptimizerSpec(
        "SignumW", signum_init, signumw_update,
        lambda params, lr: SignumW(params, lr=lr, beta=0.9, weight_decay=0.01), "lr", False,
        "arXiv 2602.16642 (Table 1, SignumW)",
        "beta 0.9; x <- x - lr (sign(m) + wd x), decoupled wd 0.01; m on the plain gradient",
        {"beta": 0.9, "weight_decay": 0.01}),
    "NGN": OptimizerSpec(
        "NGN", ngn_init, ngn_update, lambda params, c: NGN(params, c=c), "c", True,
        "arXiv 2407.04358"),
    "NGN-M": OptimizerSpec(
        "NGN-M", ngn_m_init, ngn_m_update, lambda params, c: NGNM(params, c=c, beta=0.9), "c",
        True, "arXiv 2508.15071 (Algorithm 1)", "beta 0.9", {"beta": 0.9}),
    "NGN-M v2": OptimizerSpec(
        "NGN-M v2", ngn_m_v2_init, ngn_m_v2_update, None, "c", True,
        "arXiv 2508.15071 (section 3.1, rejected ordering)",
        "average first, then the NGN step on the average [form unverified]; functional only",
        {"beta": 0.9}),
    "NGN-MDv1": OptimizerSpec(
        "NGN-MDv1", ngn_md_init, partial(ngn_md_update, version="v1"),
        lambda params, c: NGNMD(params, c=c, version="v1"), "c", True,
        "arXiv 2508.15071 (Algorithm 2)", "betas (0.9, 0.999), eps 1e-8"),
    "NGN-MDv2": OptimizerSpec(
        "NGN-MDv2", ngn_md_init, partial(ngn_md_update, version="v2"),
        lambda params, c: NGNMD(params, c=c, version="v2"), "c", True,
        "arXiv 2508.15071 (Algorithm 2, lines 8-9)", "per-coordinate step [reconstructed]"),
    "Scion": OptimizerSpec(
        "Scion", scion_init, scion_update,
        lambda params, lr: Scion(params, lr=lr, momentum=0.1), "lr", False,
        "arXiv 2502.07529 (Algorithm 1, constrained); arXiv 2603.21191 (Algorithm 1)",
        "lr = beta (step), scale = eta = 1 (radius), momentum = alpha = 0.1 (= usual 0.9), "
        "norm 'Auto' (Spectral for matrices, BiasRMS for vectors); NS5 in float32",
        {"momentum": 0.1}),
    "Scion (unconstrained)": OptimizerSpec(
        "Scion (unconstrained)", scion_init, scion_update,
        lambda params, lr: Scion(params, lr=lr, momentum=0.1, unconstrained=True), "lr", False,
        "arXiv 2502.07529 (Algorithm 1, unconstrained)",
        "as 'Scion' without the (1 - beta) shrinkage", {"momentum": 0.1, "unconstrained": True}),
    "Muon": OptimizerSpec(
        "Muon", muon_init, muon_update, lambda params, lr: Muon(params, lr=lr), "lr", False,
        "https://kellerjordan.github.io/posts/muon/ (torch.optim.Muon)",
        "momentum 0.95 (Nesterov), weight decay 0.1, NS5 in float32 (torch: bfloat16); "
        "non-matrix tensors read as (shape[0], -1) matrices (torch raises)"),
    "NGN-D": OptimizerSpec(
        "NGN-D", ngn_md_init, ngn_d_update,
        lambda params, c: NGNMD(params, c=c, beta1=0.0, version="v2"), "c", True,
        "arXiv 2508.15071 (Algorithm 3)",
        "NGN-MD v2 with beta1 = 0 (per-coordinate step [reconstructed]); beta2 0.999, eps 1e-8"),
}


def get(name: str) -> OptimizerSpec:
    """The registered :class:`OptimizerSpec` named ``name``; ``ValueError`` lists the names."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer {name!r} is not registered; choose from {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def make_torch(name: str, params, step: float) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer for a registered method with step size ``step``."""
    spec = get(name)
    if spec.torch_factory is None:
        raise ValueError(f"{name} has no torch.optim adapter; use its functional update")
    return spec.torch_factory(params, step)
