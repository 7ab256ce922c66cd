"""scikit-learn's bundled datasets (no download), prepared the way the papers use them."""

from __future__ import annotations

import numpy as np

__all__ = ["load_diabetes_standardized", "load_sklearn"]


def load_diabetes_standardized(add_intercept: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Diabetes regression (442 x 10), features and target standardised to mean 0, variance 1.

    The NGN-M paper's Fig. 1 uses linear regression on the normalised diabetes data; scikit-learn
    ships it, so no download is needed. Returns float64 ``(X, y)``.
    """
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    if add_intercept:
        X = np.hstack([X, np.ones((len(X), 1))])
    return X.astype(np.float64), y.astype(np.float64)


_LOADERS = {
    "diabetes": "load_diabetes",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
}


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of one of scikit-learn's bundled (offline) datasets, unmodified."""
    if name not in _LOADERS:
        raise ValueError(f"name={name!r}: allowed values are {sorted(_LOADERS)}")
    import sklearn.datasets

    return getattr(sklearn.datasets, _LOADERS[name])(return_X_y=True)
