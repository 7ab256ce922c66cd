r"""Representation metrics: neural collapse (NC0-NC4) and rank measures of feature matrices.

**Notation** (Papyan, Han & Donoho, arXiv 2008.08186; Zhao, Cheng, Masarczyk & Lucchi,
arXiv 2602.16642, App. B). Training features ``h_n`` in ``R^p`` (rows of ``H``, network in eval
mode) with labels in ``0..K-1``; the last layer ``W`` in ``R^{K x p}`` (rows ``w_k``, torch's
``nn.Linear(p, K).weight``). Class means ``mu_k``, global mean ``mu_G = (1/K) sum_k mu_k`` (the
mean of the class means, equal to the feature mean for balanced classes), centred means
``mu_k - mu_G`` as the columns of ``M`` in ``R^{p x K}``,

.. math::  \Sigma_B = \tfrac{1}{K} M M^\top, \qquad
           \Sigma_W = \tfrac{1}{N} \textstyle\sum_n (h_n - \mu_{y_n})(h_n - \mu_{y_n})^\top ,

and the simplex-ETF Gram target ``M* = (I_K - J_K/K) / sqrt(K - 1)`` (``||M*||_F = 1``;
:func:`common.models.etf`). The metrics (all vanish at collapse, except NC4 which tends to 1):

- ``NC0`` (2602.16642, eq. 12 and Thms 3.1-3.4): the row sum of the last layer, ``||W^T 1_K||``.
  The paper normalises it three ways; ``normalization`` picks one (:data:`NC0_NORMALIZATIONS`):
  ``"none"`` ``||W^T 1||``; ``"alpha"`` ``(1/K) ||W^T 1||^2`` (the theorems' alpha_t);
  ``"eq12"`` ``(1/p) ||W^T 1||`` (App. B, eq. 12); ``"frobenius"`` ``(1/p) ||W^T 1|| / ||W||_F``
  (App. D.4.4). NC0 is defined on ``W`` only, never on the bias.
- ``NC1``: ``(1/K) Tr(Sigma_W Sigma_B^+)`` (Moore-Penrose pseudo-inverse), within-class
  variability relative to the between-class spread.
- ``NC2``: ``|| M^T M / ||M^T M||_F - M* ||_F`` (Kothapalli's form); ``NC2n`` (equinorm)
  ``std_k ||mu_k - mu_G|| / mean_k ||mu_k - mu_G||``; ``NC2a`` (equiangularity)
  ``mean_{k != k'} |cos(mu_k - mu_G, mu_k' - mu_G) + 1/(K-1)|``; ``NC2W``
  ``|| W W^T / ||W W^T||_F - M* ||_F`` (the classifier's own geometry; it vanishes only if
  ``W^T 1 = 0`` too); ``NC2M`` ``|| W M / ||W M||_F - M* ||_F``.
- ``NC3`` (self-duality): ``|| W / ||W||_F - M^T / ||M||_F ||_F``.
- ``NC4``: the fraction of (test) features on which the classifier ``argmax_k <w_k, h> + b_k``
  agrees with the nearest class mean ``argmin_k ||h - mu_k||``; tends to 1.

**Where we depart from the paper.** The printed prefactors of NC2 (``1/K^2``) and NC3
(``1/(K p)``) cannot have produced the reported magnitudes (NC3 = 0.35 at p = 512 would be
impossible with ``1/(K p)``), so the functions return the un-prefixed quantities;
``printed_prefactor=True`` multiplies them in. The paper reports values relative to
initialisation (:func:`relative_to_init`), which no constant prefactor changes; but NC0's
``"alpha"`` is *squared*, so its ratios are the squares of the other normalisations' ratios:
compare runs under one normalisation only. The paper prints NC2a as ``avg(cos + 1/(K-1))``
without the absolute value; for centred means with equal norms that average is identically 0
(``sum_k mu_k - mu_G = 0``), so we take Papyan et al.'s absolute value [reconstructed].

**Rank measures** of a matrix ``A`` (``N x p``, rows are samples) with singular values
``s_1 >= s_2 >= ...`` (Roy & Vetterli 2007 for the entropy effective rank; the conventions of
Masarczyk et al., arXiv 2305.19753, for the numerical rank at a relative threshold):

- ``singular_value_rank(A, rtol)``: ``#{i : s_i > rtol * s_1}`` (report several ``rtol``;
  :func:`common.metrics.conditioning.numerical_rank` applied to the singular values);
- ``effective_rank(A)``: ``exp(-sum_i q_i log q_i)`` with ``q_i = s_i / sum_j s_j``;
- ``stable_rank(A)``: ``||A||_F^2 / s_1^2``;
- ``participation_ratio(A)``: ``(sum_i s_i^2)^2 / sum_i s_i^4`` (of the covariance spectrum);
- ``class_mean_rank(H, y, rtol)``: the numerical rank of ``M`` (at most ``K - 1``).

**PCA truncation** (:func:`pca_basis`, :class:`PCABasis`): the top principal directions ``V_r``
of training features (the right singular vectors of the centred matrix); ``truncate(H, r)``
returns ``mu + (H - mu) V_r V_r^T``, the best rank-``r`` affine approximation of the training
features in Frobenius norm (Eckart-Young), used to compress a representation to ``r`` numbers.

**Softmax spectrum and column similarity** (:func:`softmax_tail_bound`), our reconstruction of
Prop. 3.1 of Masarczyk et al., arXiv 2506.01562 (the statement was not read in the paper; see the
softmax-rank chapter). For the softmax matrix ``S = softmax(Z / T)`` (``N x C``, rows sum to 1)
with columns ``s_j`` and column mean ``s_bar``,

.. math::  \sum_{i \ge 2} \sigma_i(S)^2 \;\le\; \sum_j \lVert s_j - \bar s \rVert^2
           = \frac{1}{2C} \sum_{j,k} \lVert s_j - s_k \rVert^2
           \;\le\; \lVert (Z - Z J_C / C) / T \rVert_F^2 ,

the first inequality because ``s_bar 1^T`` has rank one (Eckart-Young), the second because
``|softmax(x)_j - softmax(x)_k| <= |x_j - x_k|`` (mean-value theorem on ``exp``); ``J_C`` is the
all-ones matrix, so the right side is the row-centred effective logits norm. Similar columns,
and a fortiori a small effective logits norm, force the softmax matrix to be close to rank one.

``center=True`` subtracts the column means of ``A`` first (a feature covariance rather than a
second-moment matrix). A zero matrix has every rank measure 0.

Penultimate features come from :func:`penultimate_features`: a forward hook on the classifier
layer (by default the model's last ``nn.Linear``) records its input, in eval mode and without
gradients. Inputs may be NumPy arrays or torch tensors; everything is computed in float64 NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from common.metrics.conditioning import numerical_rank

__all__ = ["NC0_NORMALIZATIONS", "class_means", "nc0", "nc1", "nc2", "nc2_equinorm",
           "nc2_equiangular", "nc2w", "nc2m", "nc3", "nc4", "nc_metrics", "relative_to_init",
           "singular_value_rank", "effective_rank", "stable_rank", "participation_ratio",
           "class_mean_rank", "last_linear", "penultimate_features", "PCABasis", "pca_basis",
           "softmax_tail_bound"]

#: NC0 from ``s = ||W^T 1_K||``, ``K`` classes, ``p`` features and ``||W||_F`` (App. B, D.4.4).
NC0_NORMALIZATIONS = {
    "none": lambda s, K, p, fro: s,
    "alpha": lambda s, K, p, fro: s * s / K,
    "eq12": lambda s, K, p, fro: s / p,
    "frobenius": lambda s, K, p, fro: s / (p * fro) if fro > 0 else 0.0,
}


def _array(name: str, A, ndim: int) -> np.ndarray:
    if hasattr(A, "detach"):
        A = A.detach().cpu().double().numpy()
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != ndim:
        raise ValueError(f"{name} has shape {A.shape}: expected a {ndim}-d array")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} has non-finite entries")
    return A


def _labels(y, n: int, num_classes: int | None) -> tuple[np.ndarray, int]:
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}: expected ({n},) integers")
    K = int(y.max()) + 1 if num_classes is None else int(num_classes)
    counts = np.bincount(y, minlength=K) if y.size and y.min() >= 0 else None
    if counts is None or len(counts) != K or np.any(counts == 0):
        raise ValueError(f"y must hold every class 0..{K - 1} (num_classes={num_classes}) and "
                         "no other label")
    return y, K


def class_means(H, y, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class means ``mu_k`` (``K x p``) and ``mu_G = (1/K) sum_k mu_k`` of features ``H`` (N x p).

    Every class must occur (``num_classes`` defaults to ``max(y) + 1``).
    """
    H = _array("H", H, 2)
    y, K = _labels(y, len(H), num_classes)
    means = np.zeros((K, H.shape[1]))
    np.add.at(means, y, H)
    means /= np.bincount(y, minlength=K)[:, None]
    return means, means.mean(axis=0)


def _centred(H, y, num_classes):
    means, mu_g = class_means(H, y, num_classes)
    return means, means - mu_g  # rows: mu_k, and mu_k - mu_G (= M^T)


def _etf_distance(G: np.ndarray) -> float:
    K = G.shape[0]
    target = (np.eye(K) - 1.0 / K) / math.sqrt(K - 1)
    norm = np.linalg.norm(G)
    if norm == 0:
        return float(np.linalg.norm(target))
    return float(np.linalg.norm(G / norm - target))


def nc0(W, *, normalization: str) -> float:
    """NC0 of a last layer ``W`` (``K x p``): ``||W^T 1_K||`` under one of
    :data:`NC0_NORMALIZATIONS` (``"none"``, ``"alpha"``, ``"eq12"``, ``"frobenius"``);
    arXiv 2602.16642, eq. 12 and Thms 3.1-3.4."""
    if normalization not in NC0_NORMALIZATIONS:
        raise ValueError(f"normalization={normalization!r}: allowed are "
                         f"{sorted(NC0_NORMALIZATIONS)}")
    W = _array("W", W, 2)
    K, p = W.shape
    return float(NC0_NORMALIZATIONS[normalization](float(np.linalg.norm(W.sum(axis=0))), K, p,
                                                   float(np.linalg.norm(W))))


def nc1(H, y, num_classes: int | None = None, *, rtol: float = 1e-7) -> float:
    """NC1 = ``(1/K) Tr(Sigma_W Sigma_B^+)`` (Papyan et al. 2020, arXiv 2008.08186).

    Computed through the SVD of ``M`` (``Sigma_B^+ = K U S^-2 U^T`` over singular values above
    ``rtol * s_1``; ``rtol = 1e-7`` on ``s`` is 1e-14 on the eigenvalues of ``Sigma_B``, which
    drops the exact zero of the centred means and keeps every real direction). ``nan`` when
    every class mean is the same point.
    """
    H = _array("H", H, 2)
    means, Mt = _centred(H, y, num_classes)
    K = len(means)
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    U, s, _ = np.linalg.svd(Mt.T, full_matrices=False)
    if s[0] == 0:
        return math.nan  # every class mean equal: no between-class spread to compare with
    keep = s > rtol * s[0]
    proj = (H - means[y]) @ U[:, keep]                      # (N, r): within-class deviations
    within = (proj * proj).mean(axis=0)                     # u_i^T Sigma_W u_i
    # (1/K) Tr(Sigma_W Sigma_B^+) with Sigma_B^+ = U diag(K / s^2) U^T
    return float((K * within / s[keep] ** 2).sum() / K)


def nc2(H, y, num_classes: int | None = None, *, printed_prefactor: bool = False) -> float:
    """NC2 = ``|| M^T M / ||M^T M||_F - M* ||_F``: distance of the centred class means' Gram
    matrix to the simplex ETF (Kothapalli's form; ``printed_prefactor``: times ``1/K^2``)."""
    _, Mt = _centred(H, y, num_classes)
    K = len(Mt)
    return _etf_distance(Mt @ Mt.T) / (K * K if printed_prefactor else 1)


def nc2_equinorm(H, y, num_classes: int | None = None) -> float:
    """NC2n = ``std_k ||mu_k - mu_G|| / mean_k ||mu_k - mu_G||`` (population std): 0 when the
    centred class means have equal norms (Papyan et al. 2020, Fig. 2)."""
    _, Mt = _centred(H, y, num_classes)
    norms = np.linalg.norm(Mt, axis=1)
    return float(norms.std() / norms.mean()) if norms.mean() > 0 else 0.0


def nc2_equiangular(H, y, num_classes: int | None = None) -> float:
    """NC2a = ``mean_{k != k'} |cos(mu_k - mu_G, mu_k' - mu_G) + 1/(K-1)|``: 0 when the centred
    class means are maximally and equally separated (the absolute value is Papyan et al.'s;
    the paper's printed form without it is identically 0 for equal norms)."""
    _, Mt = _centred(H, y, num_classes)
    K = len(Mt)
    norms = np.linalg.norm(Mt, axis=1)
    if np.any(norms == 0):
        return math.nan
    cos = (Mt @ Mt.T) / np.outer(norms, norms)
    off = ~np.eye(K, dtype=bool)
    return float(np.abs(cos[off] + 1.0 / (K - 1)).mean())


def nc2w(W, *, printed_prefactor: bool = False) -> float:
    """NC2W = ``|| W W^T / ||W W^T||_F - M* ||_F``: the classifier rows' distance to a simplex
    ETF (arXiv 2602.16642, App. B); it vanishes only if ``W^T 1 = 0`` (so NC2W -> 0 forces
    NC0 -> 0)."""
    W = _array("W", W, 2)
    K = W.shape[0]
    return _etf_distance(W @ W.T) / (K * K if printed_prefactor else 1)


def nc2m(W, H, y, *, printed_prefactor: bool = False) -> float:
    """NC2M = ``|| W M / ||W M||_F - M* ||_F`` with ``M`` the centred class means (``p x K``)
    (arXiv 2602.16642, App. B)."""
    W = _array("W", W, 2)
    _, Mt = _centred(H, y, W.shape[0])
    K = W.shape[0]
    return _etf_distance(W @ Mt.T) / (K * K if printed_prefactor else 1)


def nc3(W, H, y, *, printed_prefactor: bool = False) -> float:
    """NC3 = ``|| W / ||W||_F - M^T / ||M||_F ||_F``: self-duality of the classifier and the
    centred class means (Papyan et al. 2020; ``printed_prefactor``: times ``1/(K p)``)."""
    W = _array("W", W, 2)
    _, Mt = _centred(H, y, W.shape[0])
    nw, nm = np.linalg.norm(W), np.linalg.norm(Mt)
    if nw == 0 or nm == 0:
        return math.nan
    K, p = W.shape
    return float(np.linalg.norm(W / nw - Mt / nm)) / (K * p if printed_prefactor else 1)


def nc4(W, H_test, means, b=None) -> float:
    """NC4 = fraction of features ``h`` (rows of ``H_test``) on which ``argmax_k <w_k, h> + b_k``
    equals the nearest class mean ``argmin_k ||h - mu_k||`` (``means``: ``K x p``, from the
    training features); tends to 1 at collapse (arXiv 2602.16642, App. B)."""
    W = _array("W", W, 2)
    H_test = _array("H_test", H_test, 2)
    means = _array("means", means, 2)
    if means.shape != W.shape or H_test.shape[1] != W.shape[1]:
        raise ValueError(f"shapes W {W.shape}, H_test {H_test.shape}, means {means.shape}: "
                         "W and means are K x p, H_test is N x p")
    logits = H_test @ W.T + (0.0 if b is None else _array("b", b, 1))
    sq = (H_test**2).sum(1)[:, None] - 2 * H_test @ means.T + (means**2).sum(1)[None, :]
    return float(np.mean(logits.argmax(1) == sq.argmin(1)))


def nc_metrics(H, y, W, *, normalization: str, b=None, H_test=None) -> dict[str, float]:
    """Every NC metric of one snapshot: ``{"NC0", "NC1", "NC2", "NC2n", "NC2a", "NC2W", "NC2M",
    "NC3"}`` plus ``"NC4"`` when ``H_test`` is given (NC0 under ``normalization``)."""
    W = _array("W", W, 2)
    K = W.shape[0]
    out = {"NC0": nc0(W, normalization=normalization), "NC1": nc1(H, y, K), "NC2": nc2(H, y, K),
           "NC2n": nc2_equinorm(H, y, K), "NC2a": nc2_equiangular(H, y, K), "NC2W": nc2w(W),
           "NC2M": nc2m(W, H, y), "NC3": nc3(W, H, y)}
    if H_test is not None:
        out["NC4"] = nc4(W, H_test, class_means(H, y, K)[0], b)
    return out


def relative_to_init(values: Mapping[str, float], init: Mapping[str, float]) -> dict[str, float]:
    """``values[k] / init[k]`` for every key of ``values`` (the paper's "% change from init" is
    ``100 (ratio - 1)``); ``nan`` where the initial value is 0."""
    missing = sorted(set(values) - set(init))
    if missing:
        raise ValueError(f"init has no value for {missing}")
    return {k: (float(v) / float(init[k]) if init[k] != 0 else math.nan)
            for k, v in values.items()}


# ---- rank measures ------------------------------------------------------------------------

def _spectrum(A, center: bool) -> np.ndarray:
    A = _array("A", A, 2)
    if center:
        A = A - A.mean(axis=0)
    return np.linalg.svd(A, compute_uv=False)


def singular_value_rank(A, rtol: float, *, center: bool = False) -> int:
    """The number of singular values of ``A`` above ``rtol * s_1`` (``0 < rtol < 1``; report
    several: 1e-3, 1e-2, 1e-1 in the softmax-rank notes). The count is
    :func:`common.metrics.conditioning.numerical_rank` of the singular values (for eigenvalues of
    ``A^T A`` use that function directly: its threshold applies to ``s_i^2``); 0 for a zero
    matrix."""
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol={rtol!r}: a relative threshold in (0, 1)")
    s = _spectrum(A, center)
    return numerical_rank(s, rtol) if s.size and s[0] > 0 else 0


def effective_rank(A, *, center: bool = False) -> float:
    """Entropy effective rank ``exp(-sum_i q_i log q_i)``, ``q_i = s_i / sum_j s_j`` (Roy &
    Vetterli, EUSIPCO 2007); between 1 and ``rank(A)``."""
    s = _spectrum(A, center)
    total = s.sum()
    if total == 0:
        return 0.0
    q = s[s > 0] / total
    return float(np.exp(-(q * np.log(q)).sum()))


def stable_rank(A, *, center: bool = False) -> float:
    """Stable rank ``||A||_F^2 / ||A||_2^2 = sum_i s_i^2 / s_1^2`` (Rudelson & Vershynin 2007)."""
    s = _spectrum(A, center)
    return float((s**2).sum() / s[0] ** 2) if s.size and s[0] > 0 else 0.0


def participation_ratio(A, *, center: bool = True) -> float:
    """Participation ratio ``(sum_i lambda_i)^2 / sum_i lambda_i^2`` of the eigenvalues
    ``lambda_i = s_i^2`` of ``A^T A`` (the feature covariance when ``center=True``)."""
    lam = _spectrum(A, center) ** 2
    return float(lam.sum() ** 2 / (lam**2).sum()) if lam.size and lam[0] > 0 else 0.0


def class_mean_rank(H, y, rtol: float, num_classes: int | None = None) -> int:
    """Numerical rank (:func:`singular_value_rank` at ``rtol``) of the centred class-mean matrix
    ``M`` (``p x K``), at most ``K - 1``; ``K - 1`` at neural collapse."""
    _, Mt = _centred(H, y, num_classes)
    return singular_value_rank(Mt, rtol)


# ---- PCA truncation ---------------------------------------------------------------------

class PCABasis:
    """Principal directions of training features (from :func:`pca_basis`).

    Attributes:
        mean: the centre ``mu`` (``p``; zeros when fitted with ``center=False``).
        components: ``V`` (``p x rank``), orthonormal columns, by decreasing singular value.
        singular_values: the singular values of the centred training features (``rank``).
    """

    def __init__(self, mean: np.ndarray, components: np.ndarray, singular_values: np.ndarray):
        self.mean, self.components, self.singular_values = mean, components, singular_values

    @property
    def rank(self) -> int:
        """The number of directions kept."""
        return self.components.shape[1]

    def centred(self, H) -> np.ndarray:
        """``H - mu``."""
        H = _array("H", H, 2)
        if H.shape[1] != len(self.mean):
            raise ValueError(f"H has {H.shape[1]} features; the basis has {len(self.mean)}")
        return H - self.mean

    def coordinates(self, H) -> np.ndarray:
        """``(H - mu) V``: coordinates along every direction (``N x rank``)."""
        return self.centred(H) @ self.components

    def truncate(self, H, r: int) -> np.ndarray:
        """``mu + (H - mu) V_r V_r^T`` with the top ``r`` directions (``0 <= r <= rank``)."""
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r <= self.rank:
            raise ValueError(f"r={r!r}: an integer in 0..{self.rank}")
        V = self.components[:, :r]
        return self.mean + self.coordinates(H)[:, :r] @ V.T


def pca_basis(H, *, center: bool = True, rtol: float = 1e-12) -> PCABasis:
    """The principal directions of ``H`` (``N x p``) through the SVD of ``H - mu``, keeping the
    singular values above ``rtol * s_1`` (the numerically nonzero ones)."""
    H = _array("H", H, 2)
    mean = H.mean(axis=0) if center else np.zeros(H.shape[1])
    _, s, Vt = np.linalg.svd(H - mean, full_matrices=False)
    keep = s > rtol * s[0] if s.size and s[0] > 0 else np.zeros(s.shape, dtype=bool)
    return PCABasis(mean, Vt[keep].T.copy(), s[keep])


# ---- softmax spectrum ---------------------------------------------------------------------

def softmax_tail_bound(Z, temperature: float = 1.0) -> dict[str, float]:
    """The three sides of the softmax spectrum / column-similarity inequality (module
    docstring) for logits ``Z`` (``N x C``) at ``temperature``: ``{"tail"`` (``sum_{i>=2}
    s_i(S)^2``), ``"column_dispersion"`` (``sum_j ||s_j - s_bar||^2``), ``"logits_bound"``
    (``||(Z - Z J / C) / T||_F^2``)``}``; each is at most the next."""
    Z = _array("Z", Z, 2)
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float))
                                             and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature={temperature!r}: a finite number > 0")
    E = Z / temperature
    E = E - E.max(axis=1, keepdims=True)
    S = np.exp(E)
    S /= S.sum(axis=1, keepdims=True)
    s = np.linalg.svd(S, compute_uv=False)
    centred_logits = (Z - Z.mean(axis=1, keepdims=True)) / temperature
    return {"tail": float((s[1:] ** 2).sum()),
            "column_dispersion": float(((S - S.mean(axis=1, keepdims=True)) ** 2).sum()),
            "logits_bound": float((centred_logits**2).sum())}


# ---- features -----------------------------------------------------------------------------

def last_linear(model):
    """The last ``torch.nn.Linear`` among ``model.modules()`` (the classifier layer)."""
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer: pass layer=")
    return layers[-1]


def penultimate_features(model, X, *, layer=None, batch_size: int = 1024):
    """``(features, outputs)``: the input of ``layer`` (default :func:`last_linear`) and the
    model's output for every row of ``X``, recorded by a forward hook in eval mode without
    gradients (the model's training mode is restored). Both are torch tensors on ``X``'s device.
    """
    import torch

    layer = last_linear(model) if layer is None else layer
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    seen: list = []
    handle = layer.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for i in range(0, len(X), batch_size):
                outputs.append(model(X[i:i + batch_size]).detach())
    finally:
        handle.remove()
        model.train(was_training)
    if len(seen) != len(outputs):
        raise RuntimeError(f"the hooked layer ran {len(seen)} times for {len(outputs)} batches:"
                           " pass the classifier layer as layer=")
    return torch.cat(seen).flatten(1), torch.cat(outputs)
