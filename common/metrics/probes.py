r"""Linear probes of frozen features: a closed-form ridge probe and an L-BFGS logistic probe.

A probe reads a representation ``H`` (``N x p``, rows are samples) with labels in ``0..K-1``
and fits a linear classifier on it; its test accuracy measures how linearly decodable the labels
are (the layerwise protocol of Masarczyk et al., "The tunnel effect", arXiv 2305.19753, and of
Alain & Bengio, arXiv 1610.01644). Both probes standardise the features with the training
mean and standard deviation (``standardize=True``; a constant column keeps scale 1).

- :func:`ridge_probe`: least squares on one-hot targets with an L2 penalty, in closed form

  .. math::  W = (Z^\top Z + N\lambda I)^{-1} Z^\top (Y - \mathbf 1 \bar y^\top),
             \qquad b = \bar y,

  with ``Z`` the standardised, centred features and ``Y`` the one-hot labels (``N x K``).
- :func:`logistic_probe`: multinomial logistic regression, the mean cross-entropy plus
  ``(lambda / 2) ||W||_F^2`` (intercept not penalised), minimised in float64 by
  ``torch.optim.LBFGS`` with a strong-Wolfe line search; strictly convex for ``lambda > 0``, so
  the minimiser is unique and the stationarity condition
  ``Z^T (P - Y) / N + lambda W = 0`` (``P`` the softmax probabilities) is its test oracle.

Both return a :class:`LinearProbe` (``logits``, ``predict``, ``accuracy`` on new features).
Inputs may be NumPy arrays or torch tensors; everything is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearProbe", "ridge_probe", "logistic_probe"]


def _features(name: str, H) -> np.ndarray:
    if hasattr(H, "detach"):
        H = H.detach().cpu().double().numpy()
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] < 1:
        raise ValueError(f"{name} has shape {H.shape}: expected (N, p) with N >= 1")
    if not np.all(np.isfinite(H)):
        raise ValueError(f"{name} has non-finite entries")
    return H


def _targets(y, n: int, num_classes: int | None) -> tuple[np.ndarray, int]:
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or (n and y.min() < 0):
        raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}: expected ({n},) "
                         "non-negative integers")
    K = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if K < 2 or y.max() >= K:
        raise ValueError(f"num_classes={num_classes}: at least 2 and above every label")
    return y.astype(np.int64), K


def _check_reg(reg: float) -> float:
    if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not (reg > 0 and
                                                                          np.isfinite(reg)):
        raise ValueError(f"reg={reg!r}: a finite L2 penalty > 0")
    return float(reg)


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear classifier ``logits = ((H - mean) / scale) W + b``.

    Attributes:
        W: weights, ``p x K``.
        b: intercept, ``K``.
        mean: feature means used to standardise, ``p``.
        scale: feature standard deviations used to standardise, ``p``.
    """

    W: np.ndarray
    b: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, H) -> np.ndarray:
        """The probe's logits on features ``H`` (``N x p``)."""
        H = _features("H", H)
        if H.shape[1] != len(self.mean):
            raise ValueError(f"H has {H.shape[1]} features; the probe was fitted on "
                             f"{len(self.mean)}")
        return ((H - self.mean) / self.scale) @ self.W + self.b

    def predict(self, H) -> np.ndarray:
        """``argmax`` of :meth:`logits` (ties: the first maximum)."""
        return self.logits(H).argmax(axis=1)

    def accuracy(self, H, y) -> float:
        """Fraction of rows of ``H`` whose prediction equals ``y``."""
        pred = self.predict(H)
        y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape}: expected {pred.shape}")
        return float(np.mean(pred == y))


def _standardize(H: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = H.mean(axis=0)
    scale = H.std(axis=0) if standardize else np.ones(H.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return (H - mean) / scale, mean, scale


def ridge_probe(H, y, *, reg: float = 1e-3, num_classes: int | None = None,
                standardize: bool = True) -> LinearProbe:
    """Closed-form ridge regression on one-hot targets (module docstring); ``reg`` is the
    per-sample penalty ``lambda`` (the system solved is ``Z^T Z + N lambda I``)."""
    H = _features("H", H)
    y, K = _targets(y, len(H), num_classes)
    reg = _check_reg(reg)
    Z, mean, scale = _standardize(H, standardize)
    Y = np.eye(K)[y]
    ybar = Y.mean(axis=0)
    G = Z.T @ Z + len(Z) * reg * np.eye(Z.shape[1])
    W = np.linalg.solve(G, Z.T @ (Y - ybar))
    return LinearProbe(W=W, b=ybar, mean=mean, scale=scale)


def logistic_probe(H, y, *, reg: float = 1e-4, num_classes: int | None = None,
                   standardize: bool = True, max_iter: int = 200,
                   tol: float = 1e-9) -> LinearProbe:
    """Multinomial logistic regression with an L2 penalty ``reg`` on ``W`` (module docstring),
    fitted by L-BFGS in float64 from zero (``max_iter`` iterations at most; ``tol`` is the
    gradient tolerance of ``torch.optim.LBFGS``)."""
    import torch

    H = _features("H", H)
    y, K = _targets(y, len(H), num_classes)
    reg = _check_reg(reg)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter={max_iter!r}: a positive integer")
    Z, mean, scale = _standardize(H, standardize)
    Zt, yt = torch.as_tensor(Z), torch.as_tensor(y)
    W = torch.zeros(Z.shape[1], K, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol,
                            tolerance_change=1e-14, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.cross_entropy(Zt @ W + b, yt)
                + 0.5 * reg * (W * W).sum())
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return LinearProbe(W=W.detach().numpy().copy(), b=b.detach().numpy().copy(), mean=mean,
                       scale=scale)
