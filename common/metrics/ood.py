r"""Out-of-distribution detection: the NECO score and the AUROC of a detection score.

- :func:`neco_score` (Ammar, Belkhir, Popescu, Manzanera & Franchi, "NECO: NEural Collapse Based
  Out-of-distribution detection", ICLR 2024, arXiv 2310.06823): the fraction of a feature
  vector's norm that lies in the top-``k`` principal subspace of the in-distribution (ID)
  training features,

  .. math::  \mathrm{NECO}(h) = \frac{\lVert P_k (h - c) \rVert}{\lVert h - c \rVert},

  with ``P_k`` the orthogonal projection onto the top ``k`` principal directions of the ID
  features (:func:`common.metrics.representation.pca_basis`) and ``c`` the centre those were
  fitted with (the ID mean, or 0 with ``center=False``). Under neural collapse ID features lie
  near the span of the class means, so ID samples score close to 1 and OOD samples lower.
  Where we depart from the paper: NECO standardises the features and, for some architectures,
  multiplies the score by the maximum logit; we use the plain ratio (the paper's main form).
- :func:`auroc`: the area under the ROC curve of a score that should be larger on positives
  (ID) than on negatives (OOD), i.e. the Mann-Whitney probability
  ``P(s_pos > s_neg) + P(s_pos = s_neg) / 2``, computed from mid-ranks.
"""

from __future__ import annotations

import numpy as np

from common.metrics.representation import PCABasis

__all__ = ["neco_score", "auroc"]


def neco_score(H, basis: PCABasis, k: int) -> np.ndarray:
    """NECO score of every row of ``H`` (``N x p``) for the top ``k`` directions of ``basis``
    (``1 <= k <= basis.rank``); a row equal to the centre scores 0."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= basis.rank:
        raise ValueError(f"k={k!r}: an integer in 1..{basis.rank} (the basis' rank)")
    coords = basis.coordinates(H)
    total = np.linalg.norm(basis.centred(H), axis=1)
    top = np.linalg.norm(coords[:, :k], axis=1)
    return np.divide(top, total, out=np.zeros_like(top), where=total > 0)


def auroc(pos, neg) -> float:
    """AUROC of a score larger on ``pos`` than on ``neg`` (ties count one half): 1 separates
    perfectly, 0.5 is chance, below 0.5 the score points the wrong way."""
    pos = np.asarray(pos, dtype=np.float64).reshape(-1)
    neg = np.asarray(neg, dtype=np.float64).reshape(-1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"pos ({pos.size}) and neg ({neg.size}) must both be non-empty")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise ValueError("pos and neg must be finite")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_s = scores[order]
    # mid-ranks: tied scores share the mean of their positions (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], scores.size]
    mid = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mid, ends - starts)
    u = ranks[:pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))
