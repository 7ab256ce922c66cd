"""The registry of optimizer/SDE pairs: one line per method, explicit (no import-time discovery).

Each entry pairs a discrete optimizer with the SDE that models it. Both classes take the same
arguments, ``(objective, noise, lr, **hyper)``, so :meth:`SDEPair.make` builds the two from one
set of hyperparameters, run on the same objective and noise model. ``noise_kind`` says which noise
model the pair takes: ``"additive"`` (:class:`~common.sde.noise.Gaussian` or
:class:`~common.sde.noise.StudentT`) or ``"dp"`` (:class:`~common.sde.dp_noise.ClippedGaussianDP`).
The conformance tests in ``tests/sde`` run over every entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.sde.adamw import AdamW, AdamWMalladiSDE, AdamWSDE
from common.sde.distributed import DCSGD, DCSGDSDE, DSignSGD, DSignSGDSDE
from common.sde.dp import DPSGDSDE, DPSignSGDSDE
from common.sde.rmsprop import RMSpropW, RMSpropWSDE
from common.sde.sgd import SGD, SGDSDE
from common.sde.signsgd import SignSGD, SignSGDSDE

__all__ = ["SDEPair", "SDES", "get", "make"]


@dataclass(frozen=True)
class SDEPair:
    """One method: its discrete optimizer, its SDE, and where the SDE comes from.

    Attributes:
        name: label used in tables and figures.
        optimizer: the discrete optimizer's class.
        sde: the SDE's class (the same constructor arguments).
        noise_kind: ``"additive"`` or ``"dp"`` (module docstring).
        reference: arXiv id of the paper the SDE is from.
        tag: confidence of the SDE's form, from the notes ([derived]: reconstructed by the notes
            and checked numerically; none is read in the papers).
        notes: departures and caveats.
        hyper: default hyperparameters beyond ``lr`` (override them in :meth:`make`).
    """

    name: str
    optimizer: type
    sde: type
    noise_kind: str
    reference: str
    tag: str
    notes: str = ""
    hyper: dict = field(default_factory=dict)

    def make(self, objective, noise, lr, **hyper):
        """``(optimizer, sde)`` built with the same objective, noise model and hyperparameters."""
        kw = {**self.hyper, **hyper}
        return self.optimizer(objective, noise, lr, **kw), self.sde(objective, noise, lr, **kw)


SDES: dict[str, SDEPair] = {p.name: p for p in (
    SDEPair("SGD", SGD, SGDSDE, "additive", "arXiv 1511.06251; arXiv 2411.15958", "[derived]",
            "Li et al.'s SDE; needs finite variance"),
    SDEPair("SignSGD", SignSGD, SignSGDSDE, "additive", "arXiv 2411.15958 (Thm 3.2, Cor 3.3)",
            "[derived form; secondary statement]", "independent noise coordinates"),
    SDEPair("RMSpropW", RMSpropW, RMSpropWSDE, "additive", "arXiv 2411.15958 (Thm ~3.12)",
            "[derived form]", "V before X; eps without bias correction (PyTorch RMSprop)",
            {"beta": 0.99, "eps": 1e-8, "weight_decay": 0.0}),
    SDEPair("AdamW", AdamW, AdamWSDE, "additive", "arXiv 2411.15958 (Thm ~3.12)",
            "[derived form]", "(t, V) before (M, X); iota_i = 1 - exp(-rho_i t); stationary "
            "level ~ beta1^2 x AdamW's (the gap documented in common.sde.adamw)",
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}),
    SDEPair("AdamW (Malladi-style)", AdamW, AdamWMalladiSDE, "additive",
            "arXiv 2205.10287, in t = k eta units as in arXiv 2411.15958's comparison",
            "[derived form]", "baseline: no correction term, V tracks diag Sigma only",
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}),
    SDEPair("DCSGD", DCSGD, DCSGDSDE, "additive", "arXiv 2502.17009", "[derived]",
            "homogeneous agents; compression covariance omega diag(grad^2 + diag Sigma)",
            {"num_clients": 4}),
    SDEPair("DSignSGD", DSignSGD, DSignSGDSDE, "additive", "arXiv 2502.17009", "[derived]",
            "server mean of signs (majority vote unverified)", {"num_clients": 4}),
    SDEPair("DP-SGD", SGD, DPSGDSDE, "dp", "arXiv 2603.03226", "[derived; constants unverified]",
            "SGD on ClippedGaussianDP; phase 2 exact, phase 1 by norm concentration"),
    SDEPair("DP-SignSGD", SignSGD, DPSignSGDSDE, "dp", "arXiv 2603.03226",
            "[derived; constants unverified]",
            "SignSGD on ClippedGaussianDP; averaged noise taken Gaussian"),
)}


def get(name: str) -> SDEPair:
    """The registry entry ``name`` (ValueError listing the registered names otherwise)."""
    if name not in SDES:
        raise ValueError(f"SDE {name!r} is not registered; choose from {sorted(SDES)}")
    return SDES[name]


def make(name: str, objective, noise, lr, **hyper):
    """``(optimizer, sde)`` for a registered method (see :meth:`SDEPair.make`)."""
    return get(name).make(objective, noise, lr, **hyper)
