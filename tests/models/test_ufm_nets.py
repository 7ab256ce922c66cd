"""The simplex ETF, the unconstrained features model, ResNet9 and VGG9 (shapes, geometry,
determinism, the penultimate-feature contract)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.metrics import penultimate_features
from common.models import UFM, VGG9, ResNet9, etf, pad_to_32, simplex_etf


@pytest.mark.parametrize("K", [2, 3, 10])
def test_etf_target(K):
    M = etf(K)
    assert np.linalg.norm(M) == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(M.sum(0), 0.0, atol=1e-15)
    eig = np.linalg.eigvalsh(M)
    np.testing.assert_allclose(np.sort(eig), [0.0] + [1 / np.sqrt(K - 1)] * (K - 1), atol=1e-14)


@pytest.mark.parametrize("seed", [None, 0, 5])
def test_simplex_etf_frame(seed):
    K, p = 6, 9
    F = simplex_etf(K, p, seed=seed)
    assert F.shape == (p, K)
    G = F.T @ F
    np.testing.assert_allclose(np.diag(G), 1.0, rtol=1e-13)
    np.testing.assert_allclose(G[~np.eye(K, dtype=bool)], -1 / (K - 1), atol=1e-14)
    np.testing.assert_allclose(F.sum(1), 0.0, atol=1e-14)


def test_etf_errors():
    with pytest.raises(ValueError, match="num_classes"):
        etf(1)
    with pytest.raises(ValueError, match="dim"):
        simplex_etf(5, 4)
    with pytest.raises(ValueError, match="samples_per_class"):
        UFM(3, 4, 0)


def test_ufm():
    a, b = UFM(4, 8, 5, seed=1), UFM(4, 8, 5, seed=1)
    assert torch.equal(a.H, b.H) and torch.equal(a.W, b.W)
    assert a().shape == (20, 4) and a(torch.tensor([0, 3])).shape == (2, 4)
    assert a.labels.tolist()[:6] == [0, 1, 2, 3, 0, 1]
    assert a.classifier.bias is None
    feats, _ = penultimate_features(a, torch.arange(20), batch_size=20)
    torch.testing.assert_close(feats, a.H.detach())


def test_ufm_from_features():
    m = UFM.from_features(etf(5))
    assert m.H.dtype == torch.float64 and torch.count_nonzero(m.W) == 0
    np.testing.assert_allclose(m.H.detach().numpy(), etf(5))


@pytest.mark.parametrize("cls,pad", [(ResNet9, False), (VGG9, True)])
def test_paper_networks(cls, pad):
    torch.manual_seed(0)
    model = cls(in_channels=1, num_classes=10, width=8)
    X = torch.randn(3, 1, 28, 28)
    X = pad_to_32(X) if pad else X
    feats, out = penultimate_features(model, X)
    assert out.shape == (3, 10) and feats.shape == (3, 64)
    assert model.classifier is [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_vgg9_needs_32_pixels():
    with pytest.raises(ValueError, match="32 x 32"):
        VGG9(1, 10, width=8)(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="expected"):
        pad_to_32(torch.randn(2, 1, 32, 32))
