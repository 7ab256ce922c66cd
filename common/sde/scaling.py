r"""Scaling rules and noise-scaling laws of the SDE papers, written as data.

A :class:`ScalingRule` says how hyperparameters change when one of them is scaled by kappa (for
batch-size rules: B -> kappa B, hence Sigma -> Sigma / kappa) so that the SDE's stationary level
(and, where stated, its time scale) is unchanged. ``exponents`` maps a hyperparameter to the power
of kappa it is multiplied by; a key ``"1-beta1"`` scales 1 - beta1. ``num_steps`` is the number of
steps that covers the same SDE time (the rules are "sample-matched": kappa x fewer steps for
kappa x larger batches). The rules hold only in the noise-dominated phase (adaptive-sde notes,
pitfall 4): compare stationary windows, not transients.

:data:`NOISE_SCALING` records how each SDE's stationary level and convergence rate scale with the
noise level sigma (level ~ sigma^a, rate ~ sigma^b) on quadratics, as the papers' abstracts state
them (SGD "rate sigma-independent, loss quadratic in sigma"; SignSGD "rate ~ 1/sigma, loss linear").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ScalingRule", "SCALING_RULES", "NOISE_SCALING", "dsignsgd_level_factor",
           "dsignsgd_steps_factor"]


@dataclass(frozen=True)
class ScalingRule:
    """new[name] = old[name] * kappa**p for (name, p) in ``exponents`` (``"1-x"`` scales 1 - x).

    Attributes:
        name: registry key. ``exponents``: the rule. ``kappa``: what kappa stands for.
        reference: arXiv id. ``tag``: [paper] / [derived] / [unverified] (from the notes).
    """

    name: str
    exponents: Mapping[str, float]
    kappa: str
    reference: str
    tag: str
    notes: str = ""

    def apply(self, kappa: float, **hyper) -> dict:
        """The scaled hyperparameters; names not in the rule pass through unchanged.

        >>> SCALING_RULES["signsgd-sqrt"].apply(4.0, lr=0.01, batch_size=8, num_steps=1000)
        {'lr': 0.02, 'batch_size': 32.0, 'num_steps': 250.0}
        """
        if not (kappa > 0 and math.isfinite(kappa)):
            raise ValueError(f"kappa={kappa!r}: must be in (0, inf)")
        out = dict(hyper)
        for key, p in self.exponents.items():
            name = key[2:] if key.startswith("1-") else key
            if name not in hyper:
                continue
            if key.startswith("1-"):
                new = 1.0 - (1.0 - hyper[name]) * kappa**p
                if not 0.0 <= new < 1.0:
                    raise ValueError(f"kappa={kappa}: scales 1 - {name} out of (0, 1] "
                                     f"({name}={hyper[name]} -> {new:.4g})")
                out[name] = new
            else:
                out[name] = hyper[name] * kappa**p
        return out


_SQRT = {"batch_size": 1.0, "lr": 0.5, "num_steps": -1.0}
SCALING_RULES: dict[str, ScalingRule] = {r.name: r for r in (
    ScalingRule("sgd-linear", {"batch_size": 1.0, "lr": 1.0, "num_steps": -1.0}, "batch factor",
                "arXiv 1511.06251", "[derived]",
                "keeps eta Sigma / B and the SDE time: the linear rule of SGD"),
    ScalingRule("signsgd-sqrt", dict(_SQRT), "batch factor", "arXiv 2411.15958", "[derived]",
                "SignSGD in phase 3: level ~ eta sigma, so eta -> sqrt(kappa) eta; the linear "
                "rule doubles the level at kappa = 4 (notes pilot)"),
    ScalingRule("rmspropw-sqrt", {**_SQRT, "1-beta": 1.0, "eps": -0.5, "weight_decay": 0.5},
                "batch factor", "arXiv 2411.15958 (Lemma 3.13, unverified)", "[derived]",
                "Malladi's square-root rule plus theta -> sqrt(kappa) theta (keeps theta sigma)"),
    ScalingRule("adamw-sqrt", {**_SQRT, "1-beta1": 1.0, "1-beta2": 1.0, "eps": -0.5,
                               "weight_decay": 0.5},
                "batch factor", "arXiv 2411.15958 (Lemma 3.13, unverified); arXiv 2205.10287",
                "[derived]", "Malladi's rule plus theta -> sqrt(kappa) theta (pilot: within 4 %)"),
    ScalingRule("dsignsgd-sqrt", dict(_SQRT), "batch factor", "arXiv 2502.17009", "[derived]",
                "level ~ eta / (N sqrt(B)); see dsignsgd_level_factor for (eta, B, N) jointly"),
    ScalingRule("dcsgd-batch", {"batch_size": 1.0}, "1 + omega", "arXiv 2502.17009",
                "[derived]", "DCSGD with B (1 + omega) has DSGD's level (pilot within 1 %)"),
    ScalingRule("dcsgd-clients", {"num_clients": 1.0}, "1 + omega", "arXiv 2502.17009",
                "[derived]", "DCSGD with N (1 + omega) agents has DSGD's level"),
    ScalingRule("dcsgd-lr", {"lr": -1.0, "num_steps": 1.0}, "1 + omega", "arXiv 2502.17009",
                "[derived]", "eta / (1 + omega) with (1 + omega) x more steps"),
)}


@dataclass(frozen=True)
class NoiseScaling:
    """Stationary level ~ sigma**level and convergence rate ~ sigma**rate on quadratics."""

    level: float
    rate: float
    reference: str
    tag: str
    notes: str = field(default="")


NOISE_SCALING: dict[str, NoiseScaling] = {
    "SGD": NoiseScaling(2.0, 0.0, "arXiv 2411.15958", "[paper abstract]"),
    "SignSGD": NoiseScaling(1.0, -1.0, "arXiv 2411.15958", "[paper abstract]"),
    "RMSpropW": NoiseScaling(1.0, -1.0, "arXiv 2411.15958", "[derived]",
                             "theta = 0; with theta > 0 the level is bounded as sigma grows"),
    "AdamW": NoiseScaling(1.0, -1.0, "arXiv 2411.15958", "[derived]",
                          "theta = 0; with theta > 0 the level is bounded as sigma grows"),
    "DCSGD": NoiseScaling(2.0, 0.0, "arXiv 2502.17009", "[paper abstract; form derived]"),
    "DSignSGD": NoiseScaling(1.0, -1.0, "arXiv 2502.17009", "[paper abstract; form derived]"),
    "DP-SGD": NoiseScaling(2.0, 0.0, "arXiv 2603.03226", "[secondary]",
                           "sigma = sigma_DP ~ 1/eps: level ~ eps^-2, rate eps-independent"),
    "DP-SignSGD": NoiseScaling(1.0, -1.0, "arXiv 2603.03226", "[secondary]",
                               "sigma = sigma_DP ~ 1/eps: level ~ 1/eps, rate ~ eps"),
}


def dsignsgd_level_factor(a: float, b: float, n: float) -> float:
    """DSignSGD's stationary level after (eta, B, N) -> (a eta, b B, n N): a / (n sqrt(b)).

    The level eta sqrt(pi/2) tr(Sigma^{1/2}) / (4N) with Sigma ~ 1/B [derived]; it is kept iff
    n = a / sqrt(b).
    """
    for name, v in (("a", a), ("b", b), ("n", n)):
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name}={v!r}: must be in (0, inf)")
    return a / (n * math.sqrt(b))


def dsignsgd_steps_factor(a: float, b: float) -> float:
    """Factor on the steps DSignSGD needs after (eta, B) -> (a eta, b B): 1 / (a sqrt(b)).

    Its per-step contraction is ~ eta sqrt(B) / sigma (phase 3) [derived].
    """
    for name, v in (("a", a), ("b", b)):
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name}={v!r}: must be in (0, inf)")
    return 1.0 / (a * math.sqrt(b))
