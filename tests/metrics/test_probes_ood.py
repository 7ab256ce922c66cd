"""common.metrics.probes, .ood and the PCA / softmax-bound parts of .representation against
independent NumPy references, closed forms and known low-rank constructions."""

import numpy as np
import pytest

from common.metrics import (
    auroc,
    logistic_probe,
    neco_score,
    pca_basis,
    ridge_probe,
    singular_value_rank,
    softmax_tail_bound,
)


def _blobs(n=300, p=6, K=3, seed=0, sep=3.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    means = rng.standard_normal((K, p)) * sep
    return means[y] + rng.standard_normal((n, p)), y


def test_ridge_matches_augmented_least_squares():
    H, y = _blobs()
    reg = 0.05
    probe = ridge_probe(H, y, reg=reg)
    Z = (H - H.mean(0)) / H.std(0)
    Y = np.eye(3)[y]
    # independent reference: ridge as ordinary least squares on the stacked system
    A = np.vstack([Z, np.sqrt(len(Z) * reg) * np.eye(Z.shape[1])])
    B = np.vstack([Y - Y.mean(0), np.zeros((Z.shape[1], 3))])
    W_ref = np.linalg.lstsq(A, B, rcond=None)[0]
    # both are exact solves of a well-conditioned 6 x 6 system: agreement to rounding
    np.testing.assert_allclose(probe.W, W_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(probe.logits(H), Z @ W_ref + Y.mean(0), atol=1e-10)
    assert probe.accuracy(H, y) > 0.9


def test_logistic_probe_is_stationary():
    H, y = _blobs(seed=1, sep=1.0)
    reg = 1e-2
    probe = logistic_probe(H, y, reg=reg)
    Z = (H - probe.mean) / probe.scale
    L = Z @ probe.W + probe.b
    P = np.exp(L - L.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    R = (P - np.eye(3)[y]) / len(y)
    # the unique minimiser of a strictly convex objective: gradient zero up to L-BFGS's
    # tolerance (1e-9 on the max-norm of the gradient; 1e-7 allows the line search's last step)
    assert np.abs(Z.T @ R + reg * probe.W).max() < 1e-7
    assert np.abs(R.sum(0)).max() < 1e-7
    assert probe.accuracy(H, y) > 0.7


def test_probes_separate_separable_data_and_refuse_bad_input():
    H, y = _blobs(sep=20.0)
    assert ridge_probe(H, y).accuracy(H, y) == 1.0
    assert logistic_probe(H, y).accuracy(H, y) == 1.0
    with pytest.raises(ValueError, match="reg"):
        ridge_probe(H, y, reg=0.0)
    with pytest.raises(ValueError, match="y has shape"):
        ridge_probe(H, y[:-1])
    with pytest.raises(ValueError, match="features"):
        ridge_probe(H, y).logits(H[:, :3])


def test_pca_truncation_recovers_low_rank_and_eckart_young():
    rng = np.random.default_rng(0)
    r = 3
    H = rng.standard_normal((80, r)) @ rng.standard_normal((r, 10)) + rng.standard_normal(10)
    basis = pca_basis(H)
    assert basis.rank == r  # the known construction: centred rank 3
    np.testing.assert_allclose(basis.truncate(H, r), H, atol=1e-10)
    G = rng.standard_normal((60, 8))
    b = pca_basis(G)
    s = np.linalg.svd(G - G.mean(0), compute_uv=False)
    for k in range(0, 9):
        err = np.linalg.norm(G - b.truncate(G, k)) ** 2
        np.testing.assert_allclose(err, (s[k:] ** 2).sum(), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="r="):
        b.truncate(G, 9)


def test_neco_score_extremes_and_hand_value():
    H = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 2.0, 0], [0, -2.0, 0]])
    basis = pca_basis(H, center=False)
    assert basis.rank == 2
    X = np.array([[0, 0, 3.0], [3.0, 0, 0], [1.0, 0, 1.0]])
    s = neco_score(X, basis, 2)
    np.testing.assert_allclose(s, [0.0, 1.0, 1 / np.sqrt(2)], atol=1e-12)
    # k = 1 keeps only the largest direction (e_2): ||(0, 0)|| / ... for the third row
    np.testing.assert_allclose(neco_score(X, basis, 1), [0.0, 0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="k="):
        neco_score(X, basis, 3)


def test_auroc_matches_pairwise_count():
    rng = np.random.default_rng(3)
    pos = rng.integers(0, 6, 40).astype(float)  # many ties
    neg = rng.integers(0, 5, 30).astype(float)
    ref = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert auroc(pos, neg) == pytest.approx(ref, abs=1e-12)
    assert auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert auroc([0.0], [1.0]) == 0.0
    assert auroc([1.0], [1.0]) == 0.5


@pytest.mark.parametrize("scale", [1e-3, 0.1, 1.0, 10.0, 100.0])
def test_softmax_tail_bound_chain_holds(scale):
    rng = np.random.default_rng(int(scale * 1000) % 97)
    Z = scale * rng.standard_normal((200, 12))
    for T in (1.0, 10.0):
        b = softmax_tail_bound(Z, T)
        assert b["tail"] <= b["column_dispersion"] * (1 + 1e-9) + 1e-15
        assert b["column_dispersion"] <= b["logits_bound"] * (1 + 1e-9) + 1e-15
        # temperature is a rescaling of the logits
        assert softmax_tail_bound(Z / T, 1.0) == pytest.approx(b, rel=1e-9, abs=1e-15)
    # the tail against a direct SVD of the softmax matrix
    S = np.exp(Z - Z.max(1, keepdims=True))
    S /= S.sum(1, keepdims=True)
    s = np.linalg.svd(S, compute_uv=False)
    assert softmax_tail_bound(Z)["tail"] == pytest.approx((s[1:] ** 2).sum(), rel=1e-9, abs=1e-18)


def test_small_logits_give_numerically_rank_one_softmax():
    Z = 1e-4 * np.random.default_rng(0).standard_normal((100, 10))
    S = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    assert singular_value_rank(S, 1e-3) == 1
    assert softmax_tail_bound(Z)["logits_bound"] < 1e-5
