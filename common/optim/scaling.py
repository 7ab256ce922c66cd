r"""Batch-size scaling rules as data: the BST rule (Islamov et al., arXiv 2603.21191), baselines.

**Corollary 4.1 (the error bound; constants and logarithms dropped).** With ``K = T/(BS)`` steps of
constrained Scion on ``T`` tokens, batches of ``B`` sequences of length ``S``, and the noise model
``sigma^2 = sigma_*^2/(BS)``, the best tuned error is

.. math::  \varepsilon(BS, T) = \max\Big\{\tfrac{L\,BS}{\mu^2 T},\;
           \big(\tfrac{L \rho^2 \sigma_*^2}{\mu^4 T}\big)^{1/3},\;
           \tfrac{\rho\sigma_*}{\mu\,(T^2 BS)^{1/6}}\Big\}

(the iteration-starved, batch-independent and noise-dominated terms, in this order)
(:data:`BST_TERMS`, each term ``coefficient(L, mu, rho sigma_*) * (BS)^a * T^b``). Its three
regimes meet at

- the noise boundary ``BS = (mu rho sigma_* / L)^2`` (below it larger batches help), and
- the **critical batch (eq. 4)** ``BS* = (T mu rho sigma_* / L)^(2/3)``: the largest batch that
  costs no accuracy; above it the error grows like ``BS/T``.

At ``BS*`` the step is ``beta* ~ 1/K = BS*/T`` (eq. 5) and the momentum ``alpha`` does not change
(eq. 6): at a fixed model ``BS ~ T^(2/3)`` and ``beta ~ T^(-1/3)``.

**Transfer (eqs. 7-8).** From a tuned ``(B0 S0, beta0)`` at budget ``T0`` to budget ``T1`` (and a
model whose constants change by the ratios ``mu1/mu0``, ``rho1/rho0``, ``L1/L0``)

.. math::  B_1 S_1 = B_0 S_0 \Big[\tfrac{T_1}{T_0}
           \tfrac{\mu_1 \rho_1 / L_1}{\mu_0 \rho_0 / L_0}\Big]^{2/3},
           \qquad \beta_1 = \beta_0 \Big[\sqrt{\tfrac{T_0}{T_1}} \tfrac{\mu_1 \rho_1 / L_1}
           {\mu_0 \rho_0 / L_0}\Big]^{2/3} = \beta_0 \tfrac{B_1 S_1}{B_0 S_0} \tfrac{T_0}{T_1},

radii and momentum unchanged (:func:`transfer`). At a fixed model these are power laws in
``T1/T0`` (:data:`RULES`): BST ``(2/3, -1/3)``, the square-root baseline of App. C.1
``(1/2, -1/2)``, and "keep the small configuration" (the paper's muP baseline) ``(0, 0)``.
Example (Table 3): 124M -> 1B with ``T1/T0 = 10.8/1.3`` and the constants of §6.4 gives
``BS x 4.46`` (the paper prints 4.37; the quoted constants give 4.46) and ``beta x 0.537``.

**Restarting (§5.3).** Train on ``T0`` tokens with ``(B0, beta0)``; once the final budget ``T1``
is known, continue with the rule's ``(B1, beta1)`` computed for ``T1`` (:func:`restart_stages`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BSTTerm", "BST_TERMS", "bst_error", "bst_regime", "critical_batch",
           "noise_batch", "ScalingRule", "RULES", "transfer", "restart_stages", "round_pow2",
           "fit_bst_error"]


@dataclass(frozen=True)
class BSTTerm:
    """One term ``coefficient(L, mu, rho_sigma) * (BS)^batch * T^tokens`` of Corollary 4.1."""

    regime: str
    batch: float
    tokens: float
    coefficient: Callable[[float, float, float], float]

    def __call__(self, bs, T, L, mu, rho_sigma):
        bs, T = np.asarray(bs, float), np.asarray(T, float)
        return self.coefficient(L, mu, rho_sigma) * bs**self.batch * T**self.tokens


#: Corollary 4.1 of arXiv 2603.21191, one line per regime (rho_sigma = rho * sigma_*).
BST_TERMS = (
    BSTTerm("iteration-starved", 1.0, -1.0, lambda L, mu, rs: L / mu**2),
    BSTTerm("batch-independent", 0.0, -1.0 / 3.0, lambda L, mu, rs: (L * rs**2 / mu**4) ** (1 / 3)),
    BSTTerm("noise-dominated", -1.0 / 6.0, -1.0 / 3.0, lambda L, mu, rs: rs / mu),
)


def _check_constants(L, mu, rho_sigma) -> None:
    for name, v in (("L", L), ("mu", mu), ("rho_sigma", rho_sigma)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name}={v}: must be a finite number > 0")


def bst_error(bs, T, L: float, mu: float, rho_sigma: float):
    """The bound ``max`` over :data:`BST_TERMS` at tokens-per-step ``bs`` and budget ``T``."""
    _check_constants(L, mu, rho_sigma)
    return np.max(np.stack([np.broadcast_to(t(bs, T, L, mu, rho_sigma),
                                            np.broadcast_shapes(np.shape(bs), np.shape(T)))
                            for t in BST_TERMS]), axis=0)


def bst_regime(bs: float, T: float, L: float, mu: float, rho_sigma: float) -> str:
    """Name of the term that attains the maximum (the regime ``bs`` lies in)."""
    _check_constants(L, mu, rho_sigma)
    values = [float(t(bs, T, L, mu, rho_sigma)) for t in BST_TERMS]
    return BST_TERMS[int(np.argmax(values))].regime


def critical_batch(T, L: float, mu: float, rho_sigma: float):
    """Eq. 4: ``BS* = (T mu rho sigma_* / L)^(2/3)`` (tokens per step)."""
    _check_constants(L, mu, rho_sigma)
    return (np.asarray(T, float) * mu * rho_sigma / L) ** (2.0 / 3.0)


def noise_batch(L: float, mu: float, rho_sigma: float) -> float:
    """``(mu rho sigma_* / L)^2``: below it the noise-dominated term is the largest."""
    _check_constants(L, mu, rho_sigma)
    return (mu * rho_sigma / L) ** 2


@dataclass(frozen=True)
class ScalingRule:
    """``B1 = B0 (T1/T0)^batch``, ``beta1 = beta0 (T1/T0)^step`` at a fixed model."""

    name: str
    batch: float
    step: float
    reference: str

    def apply(self, batch_size: float, lr: float, T0: float, T1: float) -> tuple[float, float]:
        """``(B1, beta1)`` (unrounded) for budget ``T1`` from ``(B0, beta0)`` tuned at ``T0``."""
        if not (T0 > 0 and T1 > 0):
            raise ValueError(f"T0={T0}, T1={T1}: token budgets must be > 0")
        if not (batch_size > 0 and lr > 0):
            raise ValueError(f"batch_size={batch_size}, lr={lr}: must be > 0")
        r = T1 / T0
        return batch_size * r**self.batch, lr * r**self.step


#: name -> rule, one line per rule.
RULES = {
    "BST": ScalingRule("BST", 2.0 / 3.0, -1.0 / 3.0, "arXiv 2603.21191, eqs. 4-6"),
    "sqrt": ScalingRule("sqrt", 0.5, -0.5, "arXiv 2603.21191, App. C.1 (square-root baseline)"),
    "fixed": ScalingRule("fixed", 0.0, 0.0, "arXiv 2603.21191, Fig. 3 (keep B0 and beta0: muP)"),
}


def transfer(bs0: float, lr0: float, T0: float, T1: float, *, mu_ratio: float = 1.0,
             rho_ratio: float = 1.0, L_ratio: float = 1.0) -> tuple[float, float]:
    """Eqs. 7-8: ``(B1 S1, beta1)`` from ``(B0 S0, beta0)`` at ``T0`` for ``T1`` tokens, with the
    constants' ratios ``mu1/mu0``, ``rho1/rho0``, ``L1/L0`` (1: the same model)."""
    for name, v in (("bs0", bs0), ("lr0", lr0), ("T0", T0), ("T1", T1), ("mu_ratio", mu_ratio),
                    ("rho_ratio", rho_ratio), ("L_ratio", L_ratio)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name}={v}: must be a finite number > 0")
    q = mu_ratio * rho_ratio / L_ratio
    return bs0 * ((T1 / T0) * q) ** (2 / 3), lr0 * (math.sqrt(T0 / T1) * q) ** (2 / 3)


def round_pow2(x: float) -> int:
    """The power of two nearest to ``x`` in log scale (the paper rounds 4.1x to 4x)."""
    if not x > 0:
        raise ValueError(f"x={x}: must be > 0")
    return 2 ** round(math.log2(x))


def restart_stages(batch_size: int, lr: float, T0: int, T1: int, rule: str = "BST", *,
                   round_batch: bool = True) -> tuple[tuple[int, int, float], ...]:
    """``((T0, B0, beta0), (T1 - T0, B1, beta1))``: restarted Scion's two stages (§5.3).

    ``B1`` is rounded to the nearest power of two when ``round_batch`` (as the paper's
    ``BS x 4``), and ``beta1`` then follows eq. 8's equivalent form
    ``beta1 = beta0 (B1/B0) (T0/T1)`` for BST (the rule's own exponent otherwise).
    """
    if rule not in RULES:
        raise ValueError(f"rule={rule!r}: allowed are {sorted(RULES)}")
    if not 0 < T0 < T1:
        raise ValueError(f"T0={T0}, T1={T1}: need 0 < T0 < T1")
    b1, lr1 = RULES[rule].apply(batch_size, lr, T0, T1)
    if round_batch:
        b1 = batch_size * round_pow2(b1 / batch_size)
        if rule == "BST":
            lr1 = lr * (b1 / batch_size) * (T0 / T1)
    return ((T0, batch_size, lr), (T1 - T0, int(round(b1)), lr1))


def fit_bst_error(bs, T, error) -> dict[str, float]:
    """Fit ``error ~ max(c1 BS/T, c2 T^(-1/3), c3 (T^2 BS)^(-1/6))`` in log space.

    The coefficients are free (the bound hides constants and logarithms); returned with the
    implied critical batch where the first two terms meet, ``BS* = c2 T^(2/3) / c1``, at the
    largest ``T`` given, and the root-mean-square residual in log space. A report-only
    diagnostic: the fit shows whether losses follow the bound's shape, not L, mu, rho sigma.
    """
    from scipy.optimize import least_squares

    bs, T, err = (np.asarray(v, float).ravel() for v in (bs, T, error))
    if not (bs.shape == T.shape == err.shape) or bs.size < 4:
        raise ValueError("bs, T and error need the same length (>= 4 points)")
    if np.any(err <= 0) or np.any(~np.isfinite(err)):
        raise ValueError("error must be finite and > 0 (an excess over the optimum)")

    def model(logc):
        c = np.exp(logc)
        return np.max(np.stack([c[0] * bs / T, c[1] * T ** (-1 / 3),
                                c[2] * (T**2 * bs) ** (-1 / 6)]), axis=0)

    x0 = np.log([np.median(err * T / bs), np.median(err * T ** (1 / 3)),
                 np.median(err * (T**2 * bs) ** (1 / 6))])
    res = least_squares(lambda lc: np.log(model(lc)) - np.log(err), x0, loss="soft_l1")
    c1, c2, c3 = np.exp(res.x)
    return {"c1": float(c1), "c2": float(c2), "c3": float(c3),
            "critical_batch": float(c2 * T.max() ** (2 / 3) / c1),
            "rms_log_residual": float(np.sqrt(np.mean(res.fun**2)))}
