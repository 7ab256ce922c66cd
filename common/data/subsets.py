"""Balanced subsets: the same number of examples from every class, seeded.

Neural-collapse metrics assume balanced classes (class means weigh equally; Papyan, Han &
Donoho, arXiv 2008.08186), so reduced-scale runs train on a balanced subset of a dataset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_subset"]


def balanced_subset(labels, per_class: int, *, seed: int, num_classes: int | None = None
                    ) -> np.ndarray:
    """Indices of ``per_class`` examples of each class ``0..K-1``, drawn without replacement.

    Returned sorted by class, then by a seeded random order within the class (shuffle before
    mini-batching). ``num_classes`` defaults to ``max(labels) + 1``; a class with fewer than
    ``per_class`` examples is an error naming it.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels has shape {labels.shape} and dtype {labels.dtype}: "
                         "expected 1-D integers")
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or \
            per_class < 1:
        raise ValueError(f"per_class={per_class!r}: must be a positive integer")
    K = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(K):
        idx = np.flatnonzero(labels == k)
        if len(idx) < per_class:
            raise ValueError(f"class {k} has {len(idx)} examples, fewer than "
                             f"per_class={per_class}")
        out.append(rng.choice(idx, per_class, replace=False))
    return np.concatenate(out)
