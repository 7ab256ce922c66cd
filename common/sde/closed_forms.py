r"""Closed forms on quadratics: stationary losses and loss trajectories of the SDEs (NumPy).

All for f(x) = 1/2 x^T H x near its minimiser, with step size eta (``lr``) and noise covariance
Sigma; ``var`` is diag(Sigma) (or Sigma itself where a full matrix is allowed), ``std`` or
``scale`` its square root. The formulas are the SDE's stationary expectation of f, to leading
order in eta: a simulation with dt = eta differs by O(eta h) (the Euler-Maruyama / discrete
recursion's own stationary value; ``tests/sde`` writes those exact values out).

Confidence, from the papers' notes: **none of these formulas was read in a paper** (only the
abstracts were); each is [derived] by the notes from the SDEs (matching the abstracts' scaling
statements) and checked there against NumPy pilots, and here against simulation.

- :func:`sgd_stationary_loss`: eta tr(Sigma) / 4 (adaptive-sde notes s.3 [derived]);
- :func:`signsgd_stationary_loss`: eta sqrt(pi/2) tr(Sigma^{1/2}) / (4N), with 1/(2 p_nu(0)) in
  place of sqrt(pi/2) for Student-t (adaptive-sde and compressed-sde notes s.3 [derived]);
- :func:`dcsgd_stationary_loss`: eta (1 + omega) tr(Sigma) / (4N), or the SDE's exact value given h
  (compressed-sde notes s.3 [derived]; the exact value is our derivation);
- :func:`dp_sgd_stationary_loss`: eta sum(sigma_b^2/B + sigma_DP^2) / 4 (dp-sde notes s.3
  [derived]);
- :func:`dp_signsgd_stationary_loss`: eta sqrt(pi/2) sum(sqrt(sigma_b^2/B + sigma_DP^2)) / 4
  (dp-sde notes s.3 [derived]);
- :func:`adaptive_stationary_loss`: (eta/4) sum h sigma / (h + theta sigma) (adaptive-sde notes
  s.3 [derived]);
- :func:`adamw_stationary_loss`: the 2-D (X, M) Lyapunov equation per coordinate (adaptive-sde
  notes s.3 [derived]; with the SDE's (1 - eta rho1) coupling, see :mod:`common.sde.adamw`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

__all__ = ["sgd_stationary_loss", "signsgd_stationary_loss", "dcsgd_stationary_loss",
           "dp_sgd_stationary_loss", "dp_signsgd_stationary_loss", "adaptive_stationary_loss",
           "adamw_stationary_loss", "lyapunov_covariance", "sgd_loss_trajectory",
           "sign_slope_at_zero"]


def _pos(name, value, allow_zero=False):
    v = np.asarray(value, dtype=float)
    bad = ~(v >= 0) if allow_zero else ~(v > 0)
    if np.any(bad) or np.any(np.isinf(v)):
        raise ValueError(f"{name}={value!r}: must be in {'[' if allow_zero else '('}0, inf)")
    return v


def _count(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: must be an integer >= 1")
    return int(value)


def _trace(var) -> float:
    v = _pos("var", var, allow_zero=True) if np.ndim(var) < 2 else np.asarray(var, float)
    return float(np.trace(v)) if v.ndim == 2 else float(np.sum(v))


def sign_slope_at_zero(nu=None) -> float:
    r"""2 p(0): the slope of E[sign(z + T)] at z = 0 (sqrt(2/pi) Gaussian; 2 p_nu(0) Student-t)."""
    if nu is None:
        return math.sqrt(2.0 / math.pi)
    nu = float(_pos("nu", nu))
    return 2.0 * math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(nu * math.pi)


def sgd_stationary_loss(lr, var) -> float:
    r"""Stationary E f of the SGD SDE: eta tr(Sigma) / 4, for every positive-definite H [derived].

    Trace of the Lyapunov equation H C + C H = eta Sigma gives tr(H C) = eta tr(Sigma) / 2.
    ``var``: diag(Sigma) as a vector, or Sigma as a matrix.
    """
    return float(_pos("lr", lr)) * _trace(var) / 4.0


def signsgd_stationary_loss(lr, scale, *, nu=None, num_clients: int = 1) -> float:
    r"""Stationary E f of the (D)SignSGD SDE at small SNR [derived, phase-3 linearisation].

    eta tr(Sigma^{1/2}) / (4 N 2 p(0)): eta sqrt(pi/2) tr(Sigma^{1/2}) / (4N) for Gaussian noise
    (adaptive-sde Lemma ~3.7; compressed-sde's DSignSGD level), and with 2 p_nu(0) for Student-t
    ``scale`` (finite even for nu <= 2). ``scale``: the per-coordinate std (Gaussian) or scale (t).
    """
    scale = _pos("scale", scale)
    n = _count("num_clients", num_clients)
    return float(_pos("lr", lr)) * float(np.sum(scale)) / (4.0 * n * sign_slope_at_zero(nu))


def dcsgd_stationary_loss(lr, var, *, omega=0.0, num_clients: int = 1, h=None) -> float:
    r"""Stationary E f of the DCSGD SDE [derived].

    Without ``h``: the leading order eta (1 + omega) tr(Sigma) / (4N) (compressed-sde notes). With
    the curvatures ``h`` (diagonal quadratic): the SDE's exact value including the multiplicative
    compression noise omega (grad f)^2 (our derivation: d E X_j^2 = (-2 h_j + eta omega h_j^2 / N)
    E X_j^2 dt + eta (1 + omega) sigma_j^2 / N dt),
    sum_j eta (1 + omega) sigma_j^2 / (4 N (1 - eta omega h_j / (2N))); ``inf`` when a coordinate's
    second moment diverges (eta omega h_j >= 2N).
    """
    lr = float(_pos("lr", lr))
    omega = float(_pos("omega", omega, allow_zero=True))
    n = _count("num_clients", num_clients)
    var = _pos("var", var, allow_zero=True)
    if h is None:
        return lr * (1.0 + omega) * float(np.sum(var)) / (4.0 * n)
    h = _pos("h", h)
    denom = 1.0 - lr * omega * h / (2.0 * n)
    if np.any(denom <= 0):
        return math.inf
    return float(np.sum(lr * (1.0 + omega) * var / (4.0 * n * denom)))


def dp_sgd_stationary_loss(lr, example_var, *, batch_size: int, sigma_dp) -> float:
    r"""Phase-2 DP-SGD SDE: eta sum_j (sigma_b,j^2 / B + sigma_DP^2) / 4 [derived] (~ 1/eps^2)."""
    var = _pos("example_var", example_var, allow_zero=True)
    sigma_dp = float(_pos("sigma_dp", sigma_dp, allow_zero=True))
    s2 = var / _count("batch_size", batch_size) + sigma_dp**2
    return float(_pos("lr", lr)) * float(np.sum(s2)) / 4.0


def dp_signsgd_stationary_loss(lr, example_var, *, batch_size: int, sigma_dp) -> float:
    r"""Phase-2 DP-SignSGD SDE, small SNR: eta sqrt(pi/2) sum_j s_j / 4, s_j^2 = sigma_b,j^2/B +
    sigma_DP^2 [derived] (~ 1/eps)."""
    var = _pos("example_var", example_var, allow_zero=True)
    sigma_dp = float(_pos("sigma_dp", sigma_dp, allow_zero=True))
    s = np.sqrt(var / _count("batch_size", batch_size) + sigma_dp**2)
    return signsgd_stationary_loss(lr, s)


def adaptive_stationary_loss(lr, h, std, *, weight_decay=0.0) -> float:
    r"""RMSpropW/AdamW, noise-dominated (P ~ diag sigma): (eta/4) sum h sigma / (h + theta sigma).

    Per coordinate dX = -(h/sigma + theta) X dt + sqrt(eta) dW [derived, adaptive-sde notes]. Linear
    in sigma for theta = 0; bounded by (eta / (4 theta)) sum h as sigma -> infinity for theta > 0.
    """
    lr, h, std = float(_pos("lr", lr)), _pos("h", h), _pos("std", std)
    theta = float(_pos("weight_decay", weight_decay, allow_zero=True))
    return float(lr / 4.0 * np.sum(h * std / (h + theta * std)))


def lyapunov_covariance(A, D) -> np.ndarray:
    r"""Stationary covariance C of dY = A Y dt + B dW, D = B B^T: solves A C + C A^T + D = 0."""
    A, D = np.asarray(A, float), np.asarray(D, float)
    if np.max(np.linalg.eigvals(A).real) >= 0:
        raise ValueError("A: must be Hurwitz (every eigenvalue with negative real part)")
    return solve_continuous_lyapunov(A, -D)


def adamw_stationary_loss(lr, h, std, *, beta1=0.9, weight_decay=0.0) -> float:
    r"""AdamW SDE near the minimiser, noise-dominated (P ~ diag sigma, iota = 1) [derived].

    Per coordinate, (X, M) is linear:
    dX = -[(eta rho1 h / sigma + theta) X + (1 - eta rho1) M / sigma] dt,
    dM = rho1 (h X - M) dt + sqrt(eta) rho1 sigma dW, rho1 = (1 - beta1) / eta; E f = 1/2 sum h C_XX
    with C from :func:`lyapunov_covariance`. For beta1 = 0 this is :func:`adaptive_stationary_loss`
    up to O(eta).
    """
    lr, h, std = float(_pos("lr", lr)), _pos("h", h), _pos("std", std)
    theta = float(_pos("weight_decay", weight_decay, allow_zero=True))
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"beta1={beta1}: must be in [0, 1)")
    rho = (1.0 - beta1) / lr
    total = 0.0
    for hj, sj in zip(*np.broadcast_arrays(h, std)):
        A = np.array([[-(lr * rho * hj / sj + theta), -(1.0 - lr * rho) / sj], [rho * hj, -rho]])
        D = np.diag([0.0, lr * (rho * sj) ** 2])
        total += 0.5 * hj * lyapunov_covariance(A, D)[0, 0]
    return float(total)


def sgd_loss_trajectory(t, lr, h, x0, var) -> np.ndarray:
    r"""E f(X_t) of the SGD SDE on the diagonal quadratic (exact, Ornstein-Uhlenbeck) [derived]:
    1/2 sum_j h_j (x0_j^2 e^{-2 h_j t} + eta sigma_j^2 (1 - e^{-2 h_j t}) / (2 h_j))."""
    t = np.asarray(t, float)[..., None]
    h, var, x0 = _pos("h", h), _pos("var", var, True), np.asarray(x0, float)
    decay = np.exp(-2.0 * h * t)
    lr = float(_pos("lr", lr))
    return 0.5 * np.sum(h * (x0**2 * decay + lr * var * (1.0 - decay) / (2.0 * h)), axis=-1)
