"""common.data.whitening (ZCA) against an independent SciPy inverse square root, and
common.data.downsample against block means written with NumPy reshapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg

from common.data import avg_pool_downsample, zca_apply, zca_fit, zca_whiten


def _data(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)


def test_zca_matches_scipy_inverse_square_root_and_whitens_exactly():
    X = _data()
    zca = zca_fit(X, eps=0.0)
    C = np.cov(X.T, bias=True)
    ref = np.real(linalg.inv(linalg.sqrtm(C)))
    # both are C^{-1/2} in float64 (condition number of C ~ 1e2): 1e-9 is round-off
    np.testing.assert_allclose(zca.matrix.numpy(), ref, rtol=1e-9, atol=1e-10)
    Xw = zca_apply(zca, X).numpy()
    np.testing.assert_allclose(Xw.T @ Xw / len(Xw), np.eye(6), atol=1e-10)
    np.testing.assert_allclose(Xw.mean(0), 0, atol=1e-12)
    assert torch.equal(zca.matrix, zca.matrix.T)


def test_zca_eps_shrinks_small_directions_and_uncentred_variant():
    X = _data(seed=1)
    eps = 0.5
    Xw = zca_whiten(X, eps).numpy()
    lam = np.linalg.eigvalsh(np.cov(X.T, bias=True))
    np.testing.assert_allclose(np.linalg.eigvalsh(Xw.T @ Xw / len(Xw)), lam / (lam + eps),
                               rtol=1e-10)
    Xu = zca_whiten(X, 0.0, center=False).numpy()
    np.testing.assert_allclose(Xu.T @ Xu / len(Xu), np.eye(6), atol=1e-10)


def test_zca_errors():
    X = _data(n=50)
    X[:, 2] = 3.0  # a constant feature: singular covariance
    with pytest.raises(ValueError, match="singular"):
        zca_fit(X, eps=0.0)
    assert torch.isfinite(zca_whiten(X, eps=1e-3)).all()
    with pytest.raises(ValueError, match="eps"):
        zca_fit(X, eps=-1.0)
    with pytest.raises(ValueError, match="2-D"):
        zca_fit(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="features"):
        zca_apply(zca_fit(_data()), np.zeros((4, 5)))


def test_downsample_divisible_is_the_block_mean():
    rng = np.random.default_rng(2)
    imgs = rng.integers(0, 256, size=(5, 3, 12, 12)).astype(np.uint8)
    out = avg_pool_downsample(imgs, 4)
    ref = imgs.astype(float).reshape(5, 3, 4, 3, 4, 3).mean(axis=(3, 5))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-14)
    assert out.dtype == torch.float64
    assert avg_pool_downsample(imgs[:, 0], 6).shape == (5, 6, 6)


def test_downsample_28_to_8_uses_adaptive_windows():
    rng = np.random.default_rng(3)
    imgs = rng.random((2, 28, 28))
    out = avg_pool_downsample(imgs, 8).numpy()
    starts = [int(np.floor(i * 28 / 8)) for i in range(8)]
    ends = [int(np.ceil((i + 1) * 28 / 8)) for i in range(8)]
    ref = np.array([[[imgs[b, starts[i]:ends[i], starts[j]:ends[j]].mean() for j in range(8)]
                     for i in range(8)] for b in range(2)])
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    with pytest.raises(ValueError, match="size=30"):
        avg_pool_downsample(imgs, 30)
    with pytest.raises(ValueError, match="images must be"):
        avg_pool_downsample(imgs[0], 4)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 1000))
def test_downsample_preserves_the_image_mean(factor, size, seed):
    imgs = np.random.default_rng(seed).random((2, size * factor, size * factor))
    out = avg_pool_downsample(imgs, size).numpy()
    np.testing.assert_allclose(out.mean(axis=(1, 2)), imgs.mean(axis=(1, 2)), rtol=1e-12)
