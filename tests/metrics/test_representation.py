"""Neural-collapse and rank metrics (common.metrics.representation): exact zeros on a collapsed
simplex-ETF configuration, invariances (scaling, rotation, translation), agreement with direct
NumPy computations of the definitions, the forward hook, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.metrics import (
    NC0_NORMALIZATIONS,
    class_mean_rank,
    class_means,
    effective_rank,
    nc0,
    nc1,
    nc2,
    nc2_equiangular,
    nc2_equinorm,
    nc2m,
    nc2w,
    nc3,
    nc4,
    nc_metrics,
    participation_ratio,
    penultimate_features,
    relative_to_init,
    singular_value_rank,
    stable_rank,
)
from common.models import MLP, simplex_etf

K, P, N_PER = 5, 12, 7


def _collapsed(seed=0, scale=3.0, w_scale=0.7):
    """Features exactly at their class means, which form a rotated simplex ETF around an
    offset mu_G; the classifier is self-dual (W = w_scale * M^T)."""
    frame = simplex_etf(K, P, seed=seed)                  # P x K, columns: centred means
    offset = np.random.default_rng(seed + 1).standard_normal(P)
    y = np.arange(K * N_PER) % K
    H = scale * frame.T[y] + offset
    W = w_scale * frame.T
    return H, y, W


def _generic(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(K * N_PER) % K
    H = rng.standard_normal((K, P))[y] * 2 + rng.standard_normal((K * N_PER, P))
    W = rng.standard_normal((K, P))
    return H, y, W


# rounding of float64 sums and norms over ~50 x 12 entries of size ~3: ~1e-15; 1e-12 is margin
ZERO = 1e-12


def test_exact_zeros_at_collapse():
    H, y, W = _collapsed()
    for norm in NC0_NORMALIZATIONS:
        assert nc0(W, normalization=norm) < ZERO
    assert nc1(H, y) == pytest.approx(0.0, abs=1e-20)  # Sigma_W is exactly 0
    for value in (nc2(H, y), nc2_equinorm(H, y), nc2_equiangular(H, y), nc2w(W), nc2m(W, H, y),
                  nc3(W, H, y)):
        assert value < ZERO
    assert nc4(W, H, class_means(H, y)[0]) == 1.0
    assert class_mean_rank(H, y, 1e-6) == K - 1


def test_metrics_are_positive_away_from_collapse():
    """Negative control: a generic configuration is far from every zero."""
    H, y, W = _generic()
    m = nc_metrics(H, y, W, normalization="eq12", H_test=H)
    assert all(m[k] > 1e-3 for k in ("NC0", "NC1", "NC2", "NC2n", "NC2a", "NC2W", "NC2M", "NC3"))
    assert 0 <= m["NC4"] <= 1


def test_nc2w_sees_a_nonzero_row_sum():
    """Prop. 2.1 of arXiv 2602.16642 in reverse: an ETF classifier shifted by a common row
    (W^T 1 != 0) keeps NC3-like alignment of its centred rows but NC2W > 0 and NC0 > 0."""
    H, y, W = _collapsed()
    Ws = W + 0.3 * np.ones((K, 1)) * np.random.default_rng(3).standard_normal(P)
    assert nc0(Ws, normalization="none") > 0.1 and nc2w(Ws) > 0.01


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.floats(0.1, 10.0), b=st.floats(0.1, 10.0))
def test_invariances(seed, a, b):
    """Scaling H by a, W by b, rotating both by the same orthogonal Q and translating H leave
    NC1-NC3 unchanged; NC0 scales as b (eq12, none), b^2 (alpha), 1 (frobenius)."""
    H, y, W = _generic(seed)
    q, _ = np.linalg.qr(np.random.default_rng(seed + 7).standard_normal((P, P)))
    shift = np.random.default_rng(seed + 8).standard_normal(P)
    H2, W2 = a * H @ q + shift, b * W @ q
    for f in (nc1, nc2, nc2_equinorm, nc2_equiangular):
        assert f(H2, y) == pytest.approx(f(H, y), rel=1e-9)
    assert nc2m(W2, H2, y) == pytest.approx(nc2m(W, H, y), rel=1e-9)
    assert nc3(W2, H2, y) == pytest.approx(nc3(W, H, y), rel=1e-9)
    assert nc2w(W2) == pytest.approx(nc2w(W), rel=1e-9)
    for norm, power in (("none", 1), ("eq12", 1), ("alpha", 2), ("frobenius", 0)):
        assert nc0(W2, normalization=norm) == pytest.approx(
            b**power * nc0(W, normalization=norm), rel=1e-9)
    for f in (effective_rank, stable_rank, participation_ratio):
        assert f(a * H @ q) == pytest.approx(f(H), rel=1e-9)


# ---- direct NumPy computations of the definitions -------------------------------------------

def _direct(H, y, W):
    """The App. B definitions written out with loops and np.linalg.pinv."""
    mu = np.stack([H[y == k].mean(0) for k in range(K)])
    mu_g = mu.mean(0)
    M = (mu - mu_g).T                                       # p x K
    sigma_b = sum(np.outer(M[:, k], M[:, k]) for k in range(K)) / K
    sigma_w = sum(np.outer(h - mu[c], h - mu[c]) for h, c in zip(H, y)) / len(H)
    etf = (np.eye(K) - np.ones((K, K)) / K) / np.sqrt(K - 1)
    G = M.T @ M
    norms = np.linalg.norm(M, axis=0)
    cos = [M[:, i] @ M[:, j] / (norms[i] * norms[j]) for i in range(K) for j in range(K) if i != j]
    return {
        "NC0": np.linalg.norm(W.T @ np.ones(K)) / P,
        "NC1": np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / K,
        "NC2": np.linalg.norm(G / np.linalg.norm(G) - etf),
        "NC2n": np.std(norms) / np.mean(norms),
        "NC2a": np.mean(np.abs(np.array(cos) + 1 / (K - 1))),
        "NC2W": np.linalg.norm(W @ W.T / np.linalg.norm(W @ W.T) - etf),
        "NC2M": np.linalg.norm(W @ M / np.linalg.norm(W @ M) - etf),
        "NC3": np.linalg.norm(W / np.linalg.norm(W) - M.T / np.linalg.norm(M)),
        "NC4": np.mean([np.argmax(W @ h) == np.argmin(np.linalg.norm(mu - h, axis=1))
                        for h in H]),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_direct_numpy(seed):
    """Same numbers as the definitions computed directly; rtol 1e-9 covers the pinv/SVD route
    of NC1 (condition of Sigma_B ~1e2 here, float64) with a wide margin."""
    H, y, W = _generic(seed)
    ours = nc_metrics(H, y, W, normalization="eq12", H_test=H)
    ref = _direct(H, y, W)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], rel=1e-9), k


def test_printed_prefactors_and_alpha():
    H, y, W = _generic()
    assert nc2(H, y, printed_prefactor=True) == pytest.approx(nc2(H, y) / K**2)
    assert nc3(W, H, y, printed_prefactor=True) == pytest.approx(nc3(W, H, y) / (K * P))
    s = np.linalg.norm(W.sum(0))
    assert nc0(W, normalization="alpha") == pytest.approx(s * s / K)
    assert nc0(W, normalization="frobenius") == pytest.approx(s / P / np.linalg.norm(W))


def test_torch_inputs_and_bias():
    H, y, W = _generic()
    b = np.random.default_rng(0).standard_normal(K)
    m = nc_metrics(torch.tensor(H, dtype=torch.float32), torch.tensor(y), torch.tensor(W),
                   normalization="none", b=b, H_test=H)
    ref = nc_metrics(H, y, W, normalization="none", b=b, H_test=H)
    for k in ref:
        assert m[k] == pytest.approx(ref[k], rel=1e-5), k  # float32 features


# ---- rank measures --------------------------------------------------------------------------

def test_rank_measures_against_numpy():
    rng = np.random.default_rng(0)
    s = np.array([10.0, 5.0, 1.0, 0.05, 1e-4])
    U, _ = np.linalg.qr(rng.standard_normal((40, 5)))
    V, _ = np.linalg.qr(rng.standard_normal((8, 5)))
    A = U @ np.diag(s) @ V.T
    for rtol, r in ((1e-6, 5), (1e-3, 4), (1e-2, 3), (0.2, 2)):
        assert singular_value_rank(A, rtol) == r
        assert singular_value_rank(A, rtol) == np.linalg.matrix_rank(A, tol=rtol * s[0])
    q = s / s.sum()
    assert effective_rank(A) == pytest.approx(np.exp(-(q * np.log(q)).sum()), rel=1e-10)
    assert stable_rank(A) == pytest.approx(
        np.linalg.norm(A, "fro") ** 2 / np.linalg.norm(A, 2) ** 2, rel=1e-10)
    lam = s**2
    assert participation_ratio(A, center=False) == pytest.approx(
        lam.sum() ** 2 / (lam**2).sum(), rel=1e-10)
    Ac = A - A.mean(0)
    assert effective_rank(A, center=True) == pytest.approx(effective_rank(Ac), rel=1e-12)


def test_rank_extremes():
    """Rank one: every measure 1; identity: every measure n; zero matrix: 0."""
    u = np.arange(1.0, 7.0)[:, None] * np.arange(1.0, 4.0)[None]
    for f in (effective_rank, stable_rank):
        assert f(u) == pytest.approx(1.0)
    assert singular_value_rank(u, 1e-8) == 1
    eye = np.eye(4)
    assert effective_rank(eye) == pytest.approx(4.0)
    assert stable_rank(eye) == pytest.approx(4.0)
    assert participation_ratio(eye, center=False) == pytest.approx(4.0)
    z = np.zeros((3, 3))
    assert (singular_value_rank(z, 0.1), effective_rank(z), stable_rank(z)) == (0, 0.0, 0.0)


def test_class_mean_rank_counts_collapsed_directions():
    """Two classes sharing a mean leave K - 2 independent centred directions."""
    H, y, _ = _generic()
    H = H.copy()
    H[y == 1] += H[y == 0].mean(0) - H[y == 1].mean(0)
    assert class_mean_rank(H, y, 1e-8) == K - 2
    assert class_mean_rank(_generic()[0], y, 1e-8) == K - 1


# ---- helpers, hook, errors ------------------------------------------------------------------

def test_relative_to_init():
    assert relative_to_init({"NC0": 2.0, "NC1": 0.0}, {"NC0": 4.0, "NC1": 1.0, "x": 3}) == {
        "NC0": 0.5, "NC1": 0.0}
    assert math.isnan(relative_to_init({"a": 1.0}, {"a": 0.0})["a"])
    with pytest.raises(ValueError, match="init has no value"):
        relative_to_init({"NC3": 1.0}, {})


def test_penultimate_features_hook():
    torch.manual_seed(0)
    model = MLP(6, (9, 4), 3)
    model.train()
    X = torch.randn(25, 6)
    feats, out = penultimate_features(model, X, batch_size=7)
    with torch.no_grad():
        torch.testing.assert_close(feats, torch.nn.Sequential(*list(model)[:-1])(X))
        torch.testing.assert_close(out, model(X))
    assert feats.shape == (25, 4) and model.training
    assert not model[-1]._forward_hooks  # the hook is removed


def test_penultimate_features_restores_eval_and_needs_a_linear():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2)).eval()
    penultimate_features(model, torch.randn(4, 3))
    assert not model.training
    with pytest.raises(ValueError, match="no nn.Linear"):
        penultimate_features(torch.nn.Sequential(torch.nn.ReLU()), torch.randn(2, 3))


@pytest.mark.parametrize("call,match", [
    (lambda H, y, W: nc0(W, normalization="K"), "normalization"),
    (lambda H, y, W: nc1(H, y[:-1]), "y has shape"),
    (lambda H, y, W: nc2(H, np.where(y == 2, 0, y)), "every class"),
    (lambda H, y, W: nc2(H, y, num_classes=3), "every class"),
    (lambda H, y, W: nc1(np.full_like(H, np.nan), y), "non-finite"),
    (lambda H, y, W: singular_value_rank(H, 0.0), "rtol"),
    (lambda H, y, W: nc4(W, H[:, :3], H[:K]), "shapes"),
])
def test_errors_name_the_parameter(call, match):
    H, y, W = _generic()
    with pytest.raises(ValueError, match=match):
        call(H, y, W)
