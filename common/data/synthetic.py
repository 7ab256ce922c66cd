"""Synthetic data generators; each takes an explicit ``seed`` and returns NumPy arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["linear_regression", "logistic_regression", "gaussian_blobs", "spiked_psd_matrix",
           "shifted_wishart_quadratic"]


def _check_pos(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: must be a positive integer")


def linear_regression(n: int, d: int, *, noise: float = 0.1, seed: int = 0):
    """``y = X w* + noise * e`` with ``X, w*, e`` standard Gaussian. Returns ``(X, y, w_star)``."""
    _check_pos("n", n)
    _check_pos("d", d)
    if noise < 0:
        raise ValueError(f"noise={noise}: must be >= 0")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    return X, X @ w + noise * rng.standard_normal(n), w


def logistic_regression(n: int, d: int, *, seed: int = 0):
    """Labels in {0, 1} drawn from ``sigmoid(X w*)``. Returns ``(X, y, w_star)``."""
    _check_pos("n", n)
    _check_pos("d", d)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    p = 1.0 / (1.0 + np.exp(-X @ w))
    return X, (rng.random(n) < p).astype(np.int64), w


def gaussian_blobs(n: int, d: int, num_classes: int, *, separation: float = 3.0, seed: int = 0):
    """``num_classes`` isotropic Gaussian clusters with means at distance ~``separation``.

    Returns ``(X, y)`` with balanced classes (``n`` is split as evenly as possible).
    """
    _check_pos("n", n)
    _check_pos("d", d)
    _check_pos("num_classes", num_classes)
    rng = np.random.default_rng(seed)
    # iid N(0, s^2) coordinates put two means ~ s * sqrt(2 d) apart: s = separation / sqrt(2 d)
    means = rng.standard_normal((num_classes, d)) * separation / np.sqrt(2 * d)
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    X = means[y] + rng.standard_normal((n, d))
    return X, y.astype(np.int64)


def spiked_psd_matrix(d: int, eigenvalues: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """A symmetric matrix ``Q diag(eigenvalues) Q^T`` with a Haar-random orthogonal ``Q``."""
    _check_pos("d", d)
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    if eigenvalues.shape != (d,):
        raise ValueError(f"eigenvalues has shape {eigenvalues.shape}, expected ({d},)")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    return (q * eigenvalues) @ q.T


def shifted_wishart_quadratic(d: int, condition_number: float, *, seed: int = 0):
    """Least squares ``f(x) = 1/2 ||(A + r I) x - y||^2`` with ``A = B^T B / d`` (B Gaussian).

    The NGN-M paper (App. H.3) uses ``A`` in R^{400 x 400}, Gaussian ``y`` and a shift ``r`` that
    sets the conditioning; how ``A`` is drawn is not stated [unverified]. We take the Wishart
    matrix ``A = B^T B / d``, whose spectrum spans ``[~0, ~4]``, and pick ``r`` so that
    ``M = A + r I`` has the requested condition number ``lambda_max(M) / lambda_min(M)``.

    Returns ``(M, y, r)``.
    """
    _check_pos("d", d)
    if condition_number <= 1:
        raise ValueError(f"condition_number={condition_number}: must be > 1")
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    A = B.T @ B / d
    ev = np.linalg.eigvalsh(A)
    # (ev_max + r) / (ev_min + r) = kappa  =>  r = (ev_max - kappa * ev_min) / (kappa - 1)
    r = (ev[-1] - condition_number * ev[0]) / (condition_number - 1.0)
    if r <= -ev[0]:
        raise ValueError(f"condition_number={condition_number} is above that of A itself")
    return A + r * np.eye(d), rng.standard_normal(d), float(r)
