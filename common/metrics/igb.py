r"""Initial guessing bias (IGB): how far an untrained network's predictions favour one class.

Fix the parameters W of a network and look at a unit (or an output node) y(x) over inputs x: its
pre-activation is approximately Gaussian with a *centre* :math:`\mu = \mathbb E_x[y]` and a
*spread* :math:`\sigma_y^2 = \mathrm{Var}_x[y]`. Over random initialisations the centres
fluctuate, :math:`\mu \sim \mathcal N(0, \sigma_\mu^2)`. The **drift ratio**
:math:`\gamma = \sigma_\mu^2/\sigma_y^2` decides the bias (Francazi, Lucchi & Baity-Jesi, ICML 2024,
arXiv:2306.00809; Bassi et al., arXiv:2505.12096): neutrality :math:`\gamma < 1`, prejudice
:math:`1 < \gamma < \infty`, deep prejudice :math:`\gamma = \infty`.

Statistics on measured outputs (arrays with leading "initialisation" axes, then N inputs, then
units or classes; NumPy arrays, or torch tensors, which are reduced in their own dtype and device
before the small results come back as float64 NumPy arrays):

- :func:`class_fractions`, :func:`max_class_fraction`: :math:`f_c` = share of the N inputs whose
  arg-max is class c, and :math:`\max_c f_c`;
- :func:`drift_moments`, :func:`drift_ratio`: the **ensemble** estimate
  :math:`\hat\gamma = \overline{\mu_i^2} / \overline{\mathrm{Var}_x y_i}`, averages over units
  i and initialisations (the notes' definition: :math:`\mathbb E\mu = 0` by the symmetry of the
  weights, so :math:`\sigma_\mu^2 = \mathbb E\mu^2`); ``per_init=True`` gives one ratio per
  network. The empirical data-mean carries a finite-sample drift of order :math:`\sigma_y^2/N`;
- :func:`empirical_correlation`: the mean-field correlation :math:`c = q_{ab}/\sqrt{q_{aa}q_{bb}}`
  with :math:`q_{ab} = \tfrac1n \sum_i y_i(a) y_i(b)` (uncentred, as in the mean-field theory),
  averaged over the disjoint input pairs (0, 1), (2, 3), ... Disjoint pairs cost O(N n) instead of
  the O(N^2 n) of all pairs and are unbiased for i.i.d. inputs. Theorem 3.1 says
  :math:`c \to \gamma/(1 + \gamma)`.

Predictions of the Gaussian model [derived in the igb-meanfield notes, section 3]: the two
output nodes of a binary classifier have independent weights, so the share of class 0 is
:math:`G_0 = \Phi(\sqrt\gamma Z)`, :math:`Z \sim \mathcal N(0,1)`, with density
:func:`g0_density` (unimodal at 1/2 for :math:`\gamma < 1`, uniform at :math:`\gamma = 1`,
bimodal for :math:`\gamma > 1`), and :math:`\mathbb E\max_c f_c = \tfrac12 +
\arctan(\sqrt\gamma)/\pi` (:func:`expected_max_fraction`; C classes and finite N by
quadrature and Monte Carlo).

:func:`ensemble_outputs` evaluates many freshly initialised networks on the same inputs (the
init-ensemble runner shared with the norm-placement paper).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["class_fractions", "max_class_fraction", "drift_moments", "drift_ratio",
           "empirical_correlation", "g0_density", "max_fraction_density",
           "expected_max_fraction", "ensemble_outputs"]


def _is_torch(x) -> bool:
    return hasattr(x, "detach") and hasattr(x, "dim")


def _array(x, name: str, min_ndim: int, *, keep_torch: bool = False):
    """A float64 NumPy array, or (``keep_torch``) the torch tensor itself, detached: the
    statistics of large hidden layers are reduced in torch, on their device and dtype, and only
    the small results are converted."""
    if _is_torch(x):
        arr = x.detach() if keep_torch else x.detach().to("cpu").double().numpy()
    else:
        arr = np.asarray(x, dtype=np.float64)
    shape = tuple(arr.shape)
    if len(shape) < min_ndim:
        raise ValueError(f"{name} has shape {shape}: needs at least {min_ndim} axes "
                         "(..., N inputs, units)")
    if shape[-2] < 2:
        raise ValueError(f"{name} has shape {shape}: needs at least 2 inputs on axis -2")
    return arr


def _numpy(t) -> np.ndarray:
    return t.double().cpu().numpy() if _is_torch(t) else np.asarray(t, dtype=np.float64)


def class_fractions(logits, num_classes: int | None = None) -> np.ndarray:
    """``f[..., c]`` = share of the N inputs (axis -2) whose arg-max over axis -1 is c.

    ``logits`` has shape ``(..., N, C)``; ties go to the lowest index (``argmax``).
    """
    arr = _array(logits, "logits", 2, keep_torch=True)
    C = arr.shape[-1] if num_classes is None else num_classes
    if C < arr.shape[-1]:
        raise ValueError(f"num_classes={num_classes}: smaller than the {arr.shape[-1]} outputs")
    pred = arr.argmax(-1)
    pred = pred.cpu().numpy() if _is_torch(pred) else pred
    onehot = pred[..., None] == np.arange(C)
    return onehot.mean(-2)


def max_class_fraction(logits) -> np.ndarray:
    """``max_c f_c`` per network (shape ``logits.shape[:-2]``): 1/C is neutral, 1 is deep
    prejudice (every input assigned to one class)."""
    return class_fractions(logits).max(-1)


def drift_moments(Y) -> tuple[np.ndarray, np.ndarray]:
    """``(mean_i mu_i^2, mean_i Var_x y_i)`` per network: ``Y`` has shape ``(..., N, units)``;
    ``mu_i`` is unit i's mean over the N inputs, the variance has ``ddof=0``."""
    arr = _array(Y, "Y", 2, keep_torch=True)
    mu = arr.mean(-2)
    var = (arr - mu.unsqueeze(-2)).square().mean(-2) if _is_torch(arr) else arr.var(-2)
    return _numpy((mu * mu).mean(-1)), _numpy(var.mean(-1))


def drift_ratio(Y, *, per_init: bool = False):
    """The drift ratio :math:`\\hat\\gamma = \\sigma_\\mu^2 / \\sigma_y^2` of ``Y`` with shape
    ``(inits, N, units)`` (or ``(N, units)`` for one network).

    Default: the ensemble estimate, both moments averaged over units and initialisations before
    the ratio (a float). ``per_init=True``: one ratio per network (shape ``(inits,)``), whose
    median is lower than the ensemble ratio when few units contribute (with two output nodes
    :math:`\\mu^2` is chi-squared with 2 degrees of freedom).
    """
    m2, v = drift_moments(Y)
    if per_init:
        return m2 / v
    return float(np.mean(m2) / np.mean(v))


def empirical_correlation(Y) -> np.ndarray:
    """Mean cosine :math:`q_{ab}/\\sqrt{q_{aa} q_{bb}}` over the disjoint input pairs
    (0, 1), (2, 3), ... of ``Y`` with shape ``(..., N, units)``; returns shape ``Y.shape[:-2]``.
    """
    arr = _array(Y, "Y", 2, keep_torch=True)
    n = arr.shape[-2] // 2 * 2
    a, b = arr[..., 0:n:2, :], arr[..., 1:n:2, :]
    cos = (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)) ** 0.5
    return _numpy(cos.mean(-1))


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if math.isnan(gamma) or gamma < 0:
        raise ValueError(f"gamma={gamma!r}: a drift ratio in [0, inf]")
    return gamma


def g0_density(g, gamma: float) -> np.ndarray:
    """Density of :math:`G_0 = \\Phi(\\sqrt\\gamma Z)` on (0, 1):
    :math:`p(g) = \\gamma^{-1/2}\\exp[(1 - 1/\\gamma)\\,\\Phi^{-1}(g)^2/2]` [derived]."""
    from scipy.special import ndtri

    gamma = _check_gamma(gamma)
    if gamma == 0 or math.isinf(gamma):
        raise ValueError(f"gamma={gamma}: the density exists for 0 < gamma < inf (a point mass "
                         "at 1/2 for gamma = 0, at 0 and 1 for gamma = inf)")
    g = np.asarray(g, dtype=np.float64)
    if np.any((g <= 0) | (g >= 1)):
        raise ValueError("g must lie in the open interval (0, 1)")
    t = ndtri(g)
    return np.exp(0.5 * (1.0 - 1.0 / gamma) * t * t) / math.sqrt(gamma)


def max_fraction_density(m, gamma: float) -> np.ndarray:
    """Density of :math:`\\max(G_0, 1 - G_0)` on (1/2, 1): ``2 * g0_density(m)`` (p is
    symmetric about 1/2)."""
    m = np.asarray(m, dtype=np.float64)
    if np.any((m <= 0.5) | (m >= 1)):
        raise ValueError("m must lie in the open interval (1/2, 1)")
    return 2.0 * g0_density(m, gamma)


def _class_shares(mu: np.ndarray, gamma: float, nodes: int = 31) -> np.ndarray:
    """``f_c(mu) = P_xi(argmax_j sqrt(gamma) mu_j + xi_j = c)`` for rows ``mu`` (draws, C):
    ``E_t[prod_{j != c} Phi(sqrt(gamma)(mu_c - mu_j) + t)]``, t ~ N(0, 1), by Gauss-Hermite."""
    from numpy.polynomial.hermite_e import hermegauss
    from scipy.special import ndtr

    x, w = hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    s = math.sqrt(gamma) * mu
    diff = s[:, :, None] - s[:, None, :]                       # (draws, c, j)
    cdf = ndtr(diff[..., None] + x)                             # (draws, c, j, nodes)
    C = mu.shape[1]
    eye = np.eye(C, dtype=bool)[None, :, :, None]
    prod = np.where(eye, 1.0, cdf).prod(axis=2)                 # (draws, c, nodes)
    f = prod @ w
    return f / f.sum(-1, keepdims=True)


def expected_max_fraction(gamma: float, num_classes: int = 2, *, num_data: int | None = None,
                          num_draws: int = 4000, seed: int = 0) -> float:
    """:math:`\\mathbb E\\max_c f_c` predicted for a drift ratio ``gamma``.

    ``num_classes = 2`` with infinite data (``num_data=None``): the closed form
    :math:`\\tfrac12 + \\arctan(\\sqrt\\gamma)/\\pi` (E[Φ(a|Z|)] = 1/2 + arctan(a)/π). Otherwise
    Monte Carlo over ``num_draws`` centre vectors :math:`\\mu \\sim \\mathcal N(0, I_C)`, the
    class shares by quadrature, and, for finite ``num_data``, multinomial counts of N inputs
    (the max-fraction's spread over draws is ~0.15, so the default 4,000 draws give a standard
    error ~2e-3). Values for C = 2: 0.5 at gamma = 0, 0.75 at gamma = 1, 1 at gamma = inf.
    """
    gamma = _check_gamma(gamma)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes={num_classes!r}: an integer >= 2")
    if num_data is not None and (not isinstance(num_data, int) or num_data < 1):
        raise ValueError(f"num_data={num_data!r}: a positive integer or None")
    if num_classes == 2 and num_data is None:
        return 1.0 if math.isinf(gamma) else 0.5 + math.atan(math.sqrt(gamma)) / math.pi
    rng = np.random.default_rng(seed)
    if math.isinf(gamma):
        return 1.0
    mu = rng.standard_normal((num_draws, num_classes))
    f = _class_shares(mu, gamma)
    if num_data is None:
        return float(f.max(-1).mean())
    counts = rng.multinomial(num_data, f)
    return float((counts.max(-1) / num_data).mean())


def ensemble_outputs(build: Callable, X, num_inits: int, *, seed: int = 0):
    """Outputs of ``num_inits`` freshly initialised networks on the same inputs ``X``.

    ``build(generator)`` returns a torch module initialised from the ``torch.Generator`` it is
    given (seeded with ``seed + k`` for network k, so network k does not depend on how many
    others are evaluated). The module is used in the mode ``build`` leaves it in: a network with
    batch normalisation must stay in train mode (batch statistics) when IGB is measured, since
    fresh running statistics make BN the identity in eval mode. Returns a tensor
    ``(num_inits, N, outputs)`` computed without gradients.
    """
    import torch

    if not isinstance(num_inits, int) or num_inits < 1:
        raise ValueError(f"num_inits={num_inits!r}: a positive integer")
    outs = []
    with torch.no_grad():
        for k in range(num_inits):
            gen = torch.Generator(device="cpu").manual_seed(int(seed) + k)
            model = build(gen)
            outs.append(model(X))
    return torch.stack(outs)
