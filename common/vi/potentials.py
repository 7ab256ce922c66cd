r"""Potentials ``V = -log p(D | theta) - log p(theta)`` of Bayesian GLMs and of Gaussian targets.

A target ``pi(theta) ∝ exp(-V(theta))``. For a generalised linear model with a Gaussian prior
``N(0, lambda^-1 I)`` and rows ``x_i`` of ``X``,

    V(theta) = s * sum_i l(x_i^T theta; y_i) + (lambda / 2) ||theta||^2,
    grad V   = s * X^T l'(X theta) + lambda theta,
    hess V   = s * X^T diag(l''(X theta)) X + lambda I,

where ``s`` scales the likelihood (``s = n / |B|`` for a mini-batch ``B`` of an ``n``-point data
set) and ``l`` is a scalar negative log-likelihood in the linear predictor ``a``, written as data
(:data:`LIKELIHOODS`; labels ``y`` in {-1, +1} for the binary models):

===========  ===========================  =====================  ======================
likelihood   l(a; y)                      l'(a; y)               l''(a; y)
===========  ===========================  =====================  ======================
logistic     log(1 + exp(-y a))           -y sigmoid(-y a)       sigmoid(a) sigmoid(-a)
probit       -log Phi(y a)                -y r(y a)              r(y a) (y a + r(y a))
poisson      exp(a) - y a + log y!        exp(a) - y             exp(a)
gaussian     (a - y)^2 / (2 s2) + const   (a - y) / s2           1 / s2
===========  ===========================  =====================  ======================

with ``r(z) = phi(z) / Phi(z)``. Concave log-likelihoods (all four) plus the Gaussian prior make
``V`` strongly convex, the setting of the paper's guarantees (arXiv 2507.07853, abstract).

:class:`GaussianPotential` is the quadratic ``V = ½ (theta - mu)^T A (theta - mu) + c`` (a
Bayesian linear regression posterior, Fig. 1 of the paper) with closed-form Gaussian expectations,
its normaliser ``log Z`` and its optimum ``q* = N(mu, A^-1)``, so ``F(q) - F* = KL(q || pi)`` is
exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from common.vi.expectations import Expectations
from common.vi.gaussian import DTYPE, SqrtGaussian, as_tensor, from_precision

__all__ = ["Likelihood", "Logistic", "Probit", "Poisson", "GaussianLikelihood", "LIKELIHOODS",
           "GLMPotential", "GaussianPotential"]


# ---- scalar likelihoods (a table, as data) ----------------------------------------------------

@dataclass(frozen=True)
class Likelihood:
    """A scalar negative log-likelihood ``l(a; y)`` and its first two derivatives in ``a``.

    ``curvature_bound`` is ``sup_a l''(a; y)`` (``inf`` when unbounded): ``lambda I + s *
    curvature_bound * X^T X`` dominates every Hessian of ``V`` (Böhning's bound for logistic).
    """

    name: str = ""
    curvature_bound: float = math.inf

    def check_labels(self, y: torch.Tensor) -> None:
        """Raise ``ValueError`` when ``y`` holds labels this likelihood does not accept."""

    def value(self, a, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def d1(self, a, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def d2(self, a, y):  # pragma: no cover - abstract
        raise NotImplementedError


def _check_pm1(name: str, y: torch.Tensor) -> None:
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError(f"y: the {name} likelihood takes labels in {{-1, +1}}, got values "
                         f"{sorted(set(torch.unique(y).tolist()))[:5]}")


@dataclass(frozen=True)
class Logistic(Likelihood):
    """``l = log(1 + exp(-y a))``, ``y`` in {-1, +1}."""

    name: str = "logistic"
    curvature_bound: float = 0.25

    def check_labels(self, y):
        _check_pm1(self.name, y)

    def value(self, a, y):
        return torch.nn.functional.softplus(-y * a)

    def d1(self, a, y):
        return -y * torch.sigmoid(-y * a)

    def d2(self, a, y):
        return torch.sigmoid(a) * torch.sigmoid(-a)


@dataclass(frozen=True)
class Probit(Likelihood):
    """``l = -log Phi(y a)``, ``y`` in {-1, +1}."""

    name: str = "probit"
    curvature_bound: float = 1.0

    def check_labels(self, y):
        _check_pm1(self.name, y)

    @staticmethod
    def _ratio(z):  # phi(z) / Phi(z), stable for z << 0
        return torch.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - torch.special.log_ndtr(z))

    def value(self, a, y):
        return -torch.special.log_ndtr(y * a)

    def d1(self, a, y):
        return -y * self._ratio(y * a)

    def d2(self, a, y):
        z = y * a
        r = self._ratio(z)
        return r * (z + r)


@dataclass(frozen=True)
class Poisson(Likelihood):
    """``l = exp(a) - y a + log y!`` (log link), ``y`` in {0, 1, 2, ...}."""

    name: str = "poisson"

    def check_labels(self, y):
        if not bool(((y >= 0) & (y == torch.round(y))).all()):
            raise ValueError("y: the poisson likelihood takes non-negative integer counts")

    def value(self, a, y):
        return torch.exp(a) - y * a + torch.lgamma(y + 1.0)

    def d1(self, a, y):
        return torch.exp(a) - y

    def d2(self, a, y):
        return torch.exp(a) + 0.0 * y


@dataclass(frozen=True)
class GaussianLikelihood(Likelihood):
    """``l = (a - y)^2 / (2 noise_var) + ½ log(2 pi noise_var)``."""

    name: str = "gaussian"
    noise_var: float = 1.0
    curvature_bound: float = math.nan  # set in __post_init__

    def __post_init__(self):
        if not (isinstance(self.noise_var, (int, float)) and self.noise_var > 0):
            raise ValueError(f"noise_var={self.noise_var!r}: a positive number")
        object.__setattr__(self, "curvature_bound", 1.0 / float(self.noise_var))

    def value(self, a, y):
        return (a - y) ** 2 / (2 * self.noise_var) + 0.5 * math.log(2 * math.pi * self.noise_var)

    def d1(self, a, y):
        return (a - y) / self.noise_var

    def d2(self, a, y):
        return torch.full_like(a + y, 1.0 / self.noise_var)


#: The GLM likelihoods by name (one line each).
LIKELIHOODS: dict[str, Likelihood] = {
    "logistic": Logistic(),
    "probit": Probit(),
    "poisson": Poisson(),
    "gaussian": GaussianLikelihood(),
}


# ---- GLM potentials ---------------------------------------------------------------------------

class GLMPotential:
    """``V(theta) = scale * sum_i l(x_i^T theta; y_i) + (prior_precision / 2) ||theta||^2``.

    Args:
        X: design ``(n, d)``; y: responses ``(n,)``.
        likelihood: a :class:`Likelihood` or a name in :data:`LIKELIHOODS`.
        prior_precision: ``lambda > 0`` of the prior ``N(0, lambda^-1 I)``.
        scale: multiplies the likelihood sum (``n / |B|`` for a mini-batch, see :meth:`minibatch`).
        device: where the data live (``None``: the CPU, or the device of a tensor ``X``).

    ``value``, ``grad`` and ``hess`` take ``theta`` of shape ``(..., d)``; :meth:`mean_hess`
    averages the Hessians of a batch of points in one ``X^T diag(w) X``.
    """

    def __init__(self, X, y, likelihood: Likelihood | str = "logistic", *,
                 prior_precision: float = 1.0, scale: float = 1.0, device=None):
        if isinstance(likelihood, str):
            if likelihood not in LIKELIHOODS:
                raise ValueError(f"likelihood={likelihood!r}: allowed are {sorted(LIKELIHOODS)}")
            likelihood = LIKELIHOODS[likelihood]
        if not isinstance(likelihood, Likelihood):
            raise TypeError(f"likelihood: a Likelihood or a name, got {type(likelihood).__name__}")
        self.X = as_tensor(X, "X", device=device)
        self.y = as_tensor(y, "y", device=self.X.device)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"X must be (n, d) and y (n,); got {tuple(self.X.shape)} and "
                             f"{tuple(self.y.shape)}")
        if not (torch.isfinite(self.X).all() and torch.isfinite(self.y).all()):
            raise ValueError("X and y must be finite")
        if not (isinstance(prior_precision, (int, float)) and prior_precision > 0):
            raise ValueError(f"prior_precision={prior_precision!r}: a positive number")
        if not (isinstance(scale, (int, float)) and scale > 0):
            raise ValueError(f"scale={scale!r}: a positive number")
        likelihood.check_labels(self.y)
        self.likelihood = likelihood
        self.prior_precision = float(prior_precision)
        self.scale = float(scale)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def device(self) -> torch.device:
        return self.X.device

    def minibatch(self, idx) -> GLMPotential:
        """The unbiased mini-batch potential: rows ``idx``, likelihood scaled by ``n / |idx|``."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long, device=self.device)
        if idx.ndim != 1 or idx.numel() < 1:
            raise ValueError(f"idx: a non-empty vector of row indices, got shape "
                             f"{tuple(idx.shape)}")
        out = object.__new__(GLMPotential)
        out.X, out.y = self.X[idx], self.y[idx]
        out.likelihood, out.prior_precision = self.likelihood, self.prior_precision
        out.scale = self.scale * self.n / idx.numel()
        return out

    def _theta(self, theta) -> torch.Tensor:
        t = as_tensor(theta, "theta", device=self.device)
        if t.shape[-1] != self.dim:
            raise ValueError(f"theta: last dimension must be d={self.dim}, got {tuple(t.shape)}")
        return t

    def value(self, theta) -> torch.Tensor:
        t = self._theta(theta)
        a = t @ self.X.T
        return (self.scale * self.likelihood.value(a, self.y).sum(-1)
                + 0.5 * self.prior_precision * (t * t).sum(-1))

    def grad(self, theta) -> torch.Tensor:
        t = self._theta(theta)
        a = t @ self.X.T
        return self.scale * self.likelihood.d1(a, self.y) @ self.X + self.prior_precision * t

    def hess(self, theta) -> torch.Tensor:
        t = self._theta(theta)
        w = self.likelihood.d2(t @ self.X.T, self.y)                       # (..., n)
        H = torch.einsum("...n,ni,nj->...ij", w, self.X, self.X)
        return self.scale * H + self.prior_precision * torch.eye(self.dim, dtype=DTYPE,
                                                                 device=self.device)

    def mean_hess(self, thetas) -> torch.Tensor:
        """``mean_s hess V(theta_s)`` for ``thetas`` of shape ``(S, d)``."""
        t = self._theta(thetas).reshape(-1, self.dim)
        w = self.likelihood.d2(t @ self.X.T, self.y).mean(0)
        return self.weighted_gram(w)

    def weighted_gram(self, w: torch.Tensor) -> torch.Tensor:
        """``scale * X^T diag(w) X + lambda I`` (the Hessian for per-row curvatures ``w``)."""
        return (self.scale * (self.X.T * w) @ self.X
                + self.prior_precision * torch.eye(self.dim, dtype=DTYPE, device=self.device))

    def curvature_bound(self) -> torch.Tensor:
        """``lambda I + scale * sup l'' * X^T X``, which dominates every Hessian of ``V``.

        For logistic regression this is Böhning's bound ``lambda I + X^T X / 4``; its inverse is
        the initial covariance the notes recommend (``C_0^T H_0 C_0 <= I``). Raises for a
        likelihood whose curvature is unbounded (poisson).
        """
        c = self.likelihood.curvature_bound
        if not math.isfinite(c):
            raise ValueError(f"the {self.likelihood.name} likelihood has unbounded curvature: "
                             "no global Hessian bound")
        return self.weighted_gram(torch.full((self.n,), c, dtype=DTYPE, device=self.device))

    def bohning_init(self) -> SqrtGaussian:
        """``q_0 = N(0, curvature_bound()^-1)``."""
        return from_precision(torch.zeros(self.dim, dtype=DTYPE, device=self.device),
                              self.curvature_bound())

    def prior(self) -> SqrtGaussian:
        """The prior ``N(0, lambda^-1 I)`` as a :class:`SqrtGaussian`."""
        return SqrtGaussian(torch.zeros(self.dim, dtype=DTYPE, device=self.device),
                            torch.eye(self.dim, dtype=DTYPE, device=self.device)
                            / math.sqrt(self.prior_precision))


# ---- Gaussian targets -------------------------------------------------------------------------

class GaussianPotential:
    """``V(theta) = ½ (theta - mu)^T A (theta - mu) + offset``; the target is ``N(mu, A^-1)``.

    Closed forms (for ``q = N(m, Sigma)``): ``E_q[V] = ½[(m - mu)^T A (m - mu) + tr(A Sigma)] +
    offset``, ``E_q[grad V] = A (m - mu)``, ``E_q[hess V] = A``; ``log Z = (d/2) log 2 pi -
    ½ log det A - offset``; the optimum of the negative ELBO is ``q* = N(mu, A^-1)`` with
    ``F* = -log Z``.
    """

    def __init__(self, precision, mean, offset: float = 0.0):
        self.A = as_tensor(precision, "precision")
        self.mu = as_tensor(mean, "mean", device=self.A.device)
        d = self.mu.shape[-1]
        if self.mu.ndim != 1 or self.A.shape != (d, d):
            raise ValueError(f"precision must be (d, d) and mean (d,); got "
                             f"{tuple(self.A.shape)} and {tuple(self.mu.shape)}")
        if not torch.allclose(self.A, self.A.T, rtol=1e-12, atol=1e-12 * float(self.A.abs().max())):
            raise ValueError("precision: must be symmetric")
        self.A = 0.5 * (self.A + self.A.T)
        self._L, info = torch.linalg.cholesky_ex(self.A)
        if int(info) != 0:
            raise ValueError("precision: must be positive definite")
        self.offset = float(offset)

    @classmethod
    def from_linear_regression(cls, X, y, *, noise_var: float = 1.0,
                               prior_precision: float = 1.0) -> GaussianPotential:
        """The posterior potential of ``y = X theta + N(0, noise_var)`` under ``N(0, lambda^-1 I)``,
        equal to ``GLMPotential(X, y, GaussianLikelihood(noise_var), prior_precision=lambda)``
        (the same ``V``, constants included)."""
        X, y = as_tensor(X, "X"), as_tensor(y, "y")
        if not (noise_var > 0 and prior_precision > 0):
            raise ValueError(f"noise_var={noise_var!r} and prior_precision={prior_precision!r} "
                             "must be positive")
        A = X.T @ X / noise_var + prior_precision * torch.eye(X.shape[1], dtype=DTYPE)
        mu = torch.linalg.solve(A, X.T @ y / noise_var)
        offset = (0.5 * float(y @ y) / noise_var - 0.5 * float(mu @ A @ mu)
                  + 0.5 * X.shape[0] * math.log(2 * math.pi * noise_var))
        return cls(A, mu, offset)

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @property
    def device(self) -> torch.device:
        return self.A.device

    def value(self, theta) -> torch.Tensor:
        r = as_tensor(theta, "theta", device=self.device) - self.mu
        return 0.5 * ((r @ self.A) * r).sum(-1) + self.offset

    def grad(self, theta) -> torch.Tensor:
        return (as_tensor(theta, "theta", device=self.device) - self.mu) @ self.A

    def hess(self, theta) -> torch.Tensor:
        t = as_tensor(theta, "theta", device=self.device)
        return self.A.expand(*t.shape[:-1], self.dim, self.dim).clone()

    def mean_hess(self, thetas) -> torch.Tensor:
        return self.A.clone()

    def expectations(self, q: SqrtGaussian) -> Expectations:
        """Closed-form ``(E_q[V], E_q[grad V], E_q[hess V])``."""
        r = q.mean - self.mu
        AC = self.A @ q.chol
        value = 0.5 * (r @ self.A @ r + (q.chol * AC).sum()) + self.offset
        return Expectations(value, self.A @ r, self.A.clone())

    __call__ = expectations

    def log_normalizer(self) -> float:
        """``log Z = log ∫ exp(-V)``."""
        return (0.5 * self.dim * math.log(2 * math.pi)
                - float(torch.log(torch.diagonal(self._L)).sum()) - self.offset)

    def optimum(self) -> SqrtGaussian:
        """``q* = N(mu, A^-1)``, the exact posterior."""
        return SqrtGaussian(self.mu.clone(),
                            torch.linalg.cholesky(torch.cholesky_inverse(self._L)))

    def min_negative_elbo(self) -> float:
        """``F* = -log Z``."""
        return -self.log_normalizer()
