"""Binary classification tasks for Bayesian logistic regression, labels in {-1, +1}.

Each task is named ``"<dataset>:<positive classes>-vs-<negative classes>"`` or by one of the
aliases in :data:`BINARY_TASKS`. Features are prepared the way the GLM experiments use them:

- scikit-learn's bundled sets (offline): columns standardised to mean 0 and variance 1 over the
  selected rows, constant columns dropped (e.g. digits' always-blank pixels), then an intercept
  column of ones appended;
- MNIST / Fashion-MNIST (idx files, :mod:`common.data.idx`): pixels / 255 (no standardisation:
  blank pixels stay zero and carry no information) plus an intercept, so ``d = 785``.

``binary_task("wine:0-vs-rest")`` returns ``(X, y)`` as float64 NumPy arrays.
"""

from __future__ import annotations

import re

import numpy as np

from common.data.idx import load_fashion_mnist, load_mnist
from common.data.tabular import load_sklearn

__all__ = ["BINARY_TASKS", "binary_task", "standardize_with_intercept"]

#: Aliases of the tasks the papers use (name -> canonical spec).
BINARY_TASKS = {
    "breast_cancer": "breast_cancer:1-vs-0",
    "wine_0_vs_rest": "wine:0-vs-rest",
    "digits_3_vs_8": "digits:3-vs-8",
    "mnist_3_vs_5": "mnist:3-vs-5",
    "fashion_mnist_0_vs_6": "fashion_mnist:0-vs-6",
}

_SKLEARN = ("breast_cancer", "wine", "digits", "iris")
_IDX = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
_SPEC_RE = re.compile(r"^([a-z_]+):([0-9,]+)-vs-([0-9,]+|rest)$")


def standardize_with_intercept(X: np.ndarray) -> np.ndarray:
    """Columns to mean 0 / variance 1, constant columns dropped, a column of ones appended."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(0)
    keep = sd > 1e-12 * max(1.0, float(np.abs(X).max()))
    Z = (X[:, keep] - X[:, keep].mean(0)) / sd[keep]
    return np.hstack([Z, np.ones((len(Z), 1))])


def _classes(text: str) -> tuple[int, ...]:
    return tuple(int(c) for c in text.split(","))


def binary_task(name: str, *, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a binary task, ``y`` in {-1, +1} (+1 for the positive classes).

    Args:
        name: an alias in :data:`BINARY_TASKS` or ``"<dataset>:<pos>-vs-<neg|rest>"`` with
            dataset in breast_cancer, wine, digits, iris, mnist, fashion_mnist.
        split: ``"train"`` or ``"test"`` (idx datasets only; scikit-learn sets have one split).
    """
    spec = BINARY_TASKS.get(name, name)
    match = _SPEC_RE.match(spec)
    if not match or match.group(1) not in _SKLEARN + tuple(_IDX):
        raise ValueError(f"name={name!r}: use an alias in {sorted(BINARY_TASKS)} or "
                         f"'<dataset>:<pos>-vs-<neg|rest>' with dataset in "
                         f"{sorted(_SKLEARN + tuple(_IDX))}")
    dataset, pos = match.group(1), _classes(match.group(2))
    if dataset in _IDX:
        images, labels = _IDX[dataset](split)
        X = np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0
    else:
        if split != "train":
            raise ValueError(f"split={split!r}: scikit-learn's {dataset} has a single split "
                             "('train')")
        X, labels = load_sklearn(dataset)
    labels = np.asarray(labels)
    neg = (tuple(int(c) for c in np.unique(labels) if int(c) not in pos)
           if match.group(3) == "rest" else _classes(match.group(3)))
    if set(pos) & set(neg):
        raise ValueError(f"name={name!r}: a class cannot be both positive and negative")
    rows = np.isin(labels, pos + neg)
    if not rows.any() or not np.isin(labels, pos).any() or not np.isin(labels, neg).any():
        raise ValueError(f"name={name!r}: no rows for one of the classes {pos} / {neg}")
    X, labels = X[rows], labels[rows]
    y = np.where(np.isin(labels, pos), 1.0, -1.0)
    if dataset in _IDX:
        X = np.hstack([X, np.ones((len(X), 1))])
    else:
        X = standardize_with_intercept(X)
    return X, y
