"""Binary tasks for Bayesian logistic regression."""

from __future__ import annotations

import numpy as np
import pytest

from common.data.binary import BINARY_TASKS, binary_task, standardize_with_intercept


@pytest.mark.parametrize("name,n,d", [("breast_cancer", 569, 31), ("wine_0_vs_rest", 178, 14),
                                      ("digits_3_vs_8", 357, 55)])
def test_sklearn_tasks(name, n, d):
    X, y = binary_task(name)
    assert X.shape == (n, d) and y.shape == (n,)
    assert set(np.unique(y)) == {-1.0, 1.0}
    np.testing.assert_array_equal(X[:, -1], 1.0)
    np.testing.assert_allclose(X[:, :-1].mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X[:, :-1].std(0), 1.0, rtol=1e-12)


def test_class_selection_and_labels():
    from sklearn.datasets import load_wine

    _, labels = load_wine(return_X_y=True)
    _, y = binary_task("wine:0-vs-rest")
    assert (y == 1).sum() == (labels == 0).sum() and len(y) == len(labels)
    _, y2 = binary_task("wine:0-vs-2")
    assert len(y2) == ((labels == 0) | (labels == 2)).sum()


def test_standardize_drops_constant_columns():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    Z = standardize_with_intercept(X)
    assert Z.shape == (3, 3)


def test_bad_names_are_reported():
    with pytest.raises(ValueError, match="alias"):
        binary_task("cifar:0-vs-1")
    with pytest.raises(ValueError, match="both positive and negative"):
        binary_task("wine:0-vs-0")
    with pytest.raises(ValueError, match="single split"):
        binary_task("wine:0-vs-rest", split="test")
    assert set(BINARY_TASKS) >= {"breast_cancer", "mnist_3_vs_5"}


def test_mnist_pair(shared_data, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(shared_data))
    X, y = binary_task("mnist_3_vs_5", split="test")
    assert X.shape[1] == 785 and X.max() <= 1.0 and set(np.unique(y)) == {-1.0, 1.0}
