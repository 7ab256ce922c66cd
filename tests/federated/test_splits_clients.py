from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from common.federated import (
    ClientData,
    client_gradients,
    client_gradients_loop,
    dirichlet_split,
    equalize,
    flat_params,
    half_iid_half_class,
    iid_split,
    set_flat_params,
    sorted_split,
    unflatten,
)
from common.models import MLP, MnistCNN

LABELS = np.repeat(np.arange(10), 100)[np.random.default_rng(0).permutation(1000)]
LOSS = nn.CrossEntropyLoss(reduction="none")


def _disjoint(shards):
    allidx = np.concatenate(shards)
    return len(np.unique(allidx)) == len(allidx)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 50), st.integers(0, 100))
def test_iid_and_sorted_splits_are_disjoint_equal_shards(n, seed):
    for shards in (iid_split(LABELS, n, seed=seed), sorted_split(LABELS, n)):
        assert len(shards) == n and _disjoint(shards)
        assert {len(s) for s in shards} == {1000 // n}


def test_sorted_split_is_label_sorted():
    shards = sorted_split(LABELS, 10)
    assert all(len(np.unique(LABELS[s])) == 1 for s in shards)


def test_dirichlet_skew_grows_as_alpha_shrinks():
    def mean_classes(alpha):
        shards = dirichlet_split(LABELS, 10, alpha=alpha, seed=1)
        assert _disjoint(shards) and sum(map(len, shards)) == 1000
        return np.mean([len(np.unique(LABELS[s])) for s in shards])

    assert mean_classes(0.05) < mean_classes(1.0) < mean_classes(100.0)
    assert mean_classes(100.0) == 10
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_split(LABELS, 10, alpha=0.0)


def test_half_iid_half_class():
    shards = half_iid_half_class(LABELS, 20, seed=0)
    assert len(shards) == 20 and _disjoint(shards) and len({len(s) for s in shards}) == 1
    # in the class half, client c (< 10) receives only class c, and client c + 10 too
    first_half = set(np.random.default_rng(0).permutation(1000)[:500].tolist())
    for c in range(20):
        class_part = [i for i in shards[c] if i not in first_half]
        assert set(LABELS[class_part].tolist()) <= {c % 10}


def test_split_validation():
    with pytest.raises(ValueError, match="num_clients=0"):
        iid_split(LABELS, 0)
    with pytest.raises(ValueError, match="holds no example"):
        equalize([np.arange(3), np.array([], dtype=int)])


def test_client_data_sampling():
    X = torch.arange(5 * 20, dtype=torch.float32).reshape(5, 20, 1)
    y = torch.zeros(5, 20, dtype=torch.long)
    data = ClientData(X, y)
    Xb, yb = data.sample(8, torch.Generator().manual_seed(0))
    assert Xb.shape == (5, 8, 1) and yb.shape == (5, 8)
    for i in range(5):  # each client samples its own shard, without replacement
        vals = Xb[i, :, 0]
        assert len(torch.unique(vals)) == 8
        assert bool(((vals >= 20 * i) & (vals < 20 * i + 20)).all())
    Xc, _ = data.sample(8, torch.Generator().manual_seed(1))
    assert not torch.equal(Xb, Xc)
    with pytest.raises(ValueError, match="batch_size=21"):
        data.sample(21)
    shards = iid_split(np.zeros(100), 4)
    cd = ClientData.from_split(torch.randn(100, 3), torch.zeros(100, dtype=torch.long), shards)
    assert cd.X.shape == (4, 25, 3)


@pytest.mark.parametrize("method", ["grouped", "vmap", "loop", "auto"])
@pytest.mark.parametrize("make", [lambda: MLP(784, (16,), 10, activation="tanh").double(),
                                  lambda: MnistCNN().double()], ids=["mlp", "cnn"])
def test_vectorised_client_gradients_equal_the_loop(method, make):
    torch.manual_seed(0)
    model = make()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(4, 3, 1, 28, 28, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (4, 3), generator=g)
    want, want_loss = client_gradients_loop(model, LOSS, X, y)
    got, got_loss = client_gradients(model, LOSS, X, y, method=method)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_loss, want_loss)


def test_client_gradients_at_given_points():
    torch.manual_seed(0)
    model = MLP(10, (5,), 3).double()
    X, y = torch.randn(3, 4, 10, dtype=torch.float64), torch.randint(0, 3, (3, 4))
    theta = flat_params(model)
    points = theta + 0.1 * torch.randn(3, theta.numel(), dtype=torch.float64)
    got, _ = client_gradients(model, LOSS, X, y, params=points)  # one point per client (vmap)
    for i in range(3):
        twin = MLP(10, (5,), 3).double()
        set_flat_params(twin, points[i])
        want, _ = client_gradients_loop(twin, LOSS, X[i:i + 1], y[i:i + 1])
        torch.testing.assert_close(got[i], want[0], rtol=1e-10, atol=1e-12)
    shared, _ = client_gradients(model, LOSS, X, y, params=points[0], method="grouped")
    twin = MLP(10, (5,), 3).double()
    set_flat_params(twin, points[0])
    torch.testing.assert_close(shared, client_gradients_loop(twin, LOSS, X, y)[0])
    with pytest.raises(ValueError, match="one evaluation point"):
        client_gradients(model, LOSS, X, y, params=points, method="grouped")
    d = unflatten(points, model)
    assert d["0.weight"].shape == (3, 5, 10)
