"""The LMOs of common.optim.lmo: the defining identities, NumPy references, Newton-Schulz vs SVD.

For every norm and radius r: ``<G, lmo_r(G)> = -r ||G||_*`` and ``||lmo_r(G)|| = r`` (exact norms:
the spectral LMO with ``method="svd"``; float64, so rtol 1e-10 is rounding). The dual norms are
checked against NumPy formulas written independently here, and the LMO against the maximiser of
``<G, D>`` over random feasible points (nothing on the ball does better).

Newton-Schulz: its output has the polar factor's singular vectors (so ``U^T NS5(G) V`` is
diagonal) and singular values in [0.6, 1.25] for matrices with a bounded condition number (the
quintic map sends [1.3e-3, 1] (relative to the Frobenius norm) there in five steps; large square
Gaussian matrices keep a few tiny singular values, so the bound is tested where it holds).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.optim import LMOS, Auto, BiasRMS, ColNorm, RowNorm, Sign, Spectral, get_lmo
from common.optim.newton_schulz import newton_schulz, polar_svd

MATRIX_NORMS = {
    "Spectral": Spectral(method="svd"),
    "Spectral(max)": Spectral(max=True, method="svd"),
    "Spectral(unnormalized)": Spectral(normalized=False, method="svd"),
    "Sign": Sign(),
    "Sign(unnormalized)": Sign(normalized=False),
    "ColNorm": ColNorm(),
    "ColNorm(normalized, transpose)": ColNorm(normalized=True, transpose=True),
    "RowNorm": RowNorm(),
    "RowNorm(unnormalized, transpose)": RowNorm(normalized=False, transpose=True),
}


def _np_dual(name: str, G: np.ndarray) -> float:
    """Dual norms written from their definitions (independent of common.optim.lmo)."""
    d_out, d_in = G.shape
    if name.startswith("Spectral"):
        s = np.sqrt(d_out / d_in) if "unnormalized" not in name else np.sqrt(d_out)
        s = max(1.0, s) if "max" in name else s
        return s * np.linalg.svd(G, compute_uv=False).sum()
    if name.startswith("Sign"):
        return np.abs(G).sum() / (d_in if "unnormalized" not in name else 1)
    if name.startswith("ColNorm"):
        M = G.T if "transpose" in name else G
        c = 1 / np.sqrt(M.shape[0]) * (M.shape[1] if "normalized" in name else 1)
        return np.linalg.norm(M, axis=0).sum() / c
    if name.startswith("RowNorm"):
        M = G.T if "transpose" in name else G
        c = np.sqrt(M.shape[1]) if "unnormalized" not in name else 1.0
        return np.linalg.norm(M, axis=1).sum() / c
    raise KeyError(name)


shapes = st.tuples(st.integers(1, 9), st.integers(1, 9))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), radius=st.floats(0.01, 100.0),
       name=st.sampled_from(sorted(MATRIX_NORMS)))
def test_lmo_identities(shape, seed, radius, name):
    norm = MATRIX_NORMS[name]
    G = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    D = norm.lmo(G, radius)
    dual = float(norm.dual_norm(G))
    np.testing.assert_allclose(float((G * D).sum()), -radius * dual, rtol=1e-10)
    np.testing.assert_allclose(float(norm.norm(D)), radius, rtol=1e-10)
    np.testing.assert_allclose(dual, _np_dual(name, G.numpy()), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(MATRIX_NORMS))
def test_lmo_beats_random_feasible_points(name):
    """No point of the ball has a smaller inner product than the LMO (2000 random points)."""
    norm = MATRIX_NORMS[name]
    gen = torch.Generator().manual_seed(1)
    G = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    best = float((G * norm.lmo(G, 2.0)).sum())
    for _ in range(2000):
        D = torch.randn(5, 7, generator=gen, dtype=torch.float64)
        D = 2.0 * D / norm.norm(D)
        assert float((G * D).sum()) >= best - 1e-12


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**31 - 1), radius=st.floats(0.01, 100.0))
def test_bias_rms(n, seed, radius):
    g = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    d = BiasRMS().lmo(g, radius)
    rms = np.sqrt(np.mean(g.numpy() ** 2))
    np.testing.assert_allclose(d.numpy(), -radius * g.numpy() / rms, rtol=1e-12)
    np.testing.assert_allclose(float(BiasRMS().norm(d)), radius, rtol=1e-12)
    np.testing.assert_allclose(float((g * d).sum()), -radius * float(BiasRMS().dual_norm(g)),
                               rtol=1e-12)


def test_reference_formulas():
    """The LMOs against the reference code's formulas (positive orientation, negated here)."""
    G = torch.randn(6, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    torch.testing.assert_close(Spectral(method="svd").lmo(G), -(6 / 4) ** 0.5 * U @ Vh)
    torch.testing.assert_close(Spectral(max=True, method="svd").lmo(G.T), -1.0 * (U @ Vh).T)
    torch.testing.assert_close(Sign().lmo(G), -torch.sign(G) / 4)
    rms = torch.sqrt((G**2).sum(0, keepdim=True)) / 6**0.5
    torch.testing.assert_close(ColNorm().lmo(G), -G / rms)
    rows = torch.sqrt((G**2).sum(-1, keepdim=True)) * 4**0.5
    torch.testing.assert_close(RowNorm().lmo(G), -G / rows)


def test_zero_gradient_gives_zero_direction():
    for norm in (ColNorm(), RowNorm(), BiasRMS(), Sign()):
        Z = torch.zeros(3) if isinstance(norm, BiasRMS) else torch.zeros(3, 4)
        assert torch.equal(norm.lmo(Z), torch.zeros_like(Z))
    G = torch.randn(3, 4)
    G[:, 1] = 0
    assert torch.equal(ColNorm().lmo(G)[:, 1], torch.zeros(3))


def test_batch_dims_equal_separate_calls():
    gen = torch.Generator().manual_seed(0)
    radius = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    for norm in (*MATRIX_NORMS.values(), Spectral()):
        G = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
        D = norm.lmo(G, radius, batch_dims=1)
        for i in range(3):
            torch.testing.assert_close(D[i], norm.lmo(G[i], float(radius[i])), rtol=1e-12,
                                       atol=1e-12)
            torch.testing.assert_close(norm.dual_norm(G, 1)[i], norm.dual_norm(G[i]))


@pytest.mark.parametrize("name", sorted(LMOS))
def test_init_is_on_the_unit_sphere(name):
    norm = LMOS[name]
    shape = {"SpectralConv": (6, 3, 3, 3), "BiasRMS": (5,)}.get(name, (6, 4))
    W = norm.init(shape, torch.Generator().manual_seed(0), torch.float64)
    assert W.shape == shape
    if name == "BiasRMS":
        assert torch.equal(W, torch.zeros(5, dtype=torch.float64))  # the reference's zero init
    else:
        np.testing.assert_allclose(float(norm.norm(W)), 1.0, rtol=1e-12)


def test_auto_picks_by_dimension():
    auto = Auto(method="svd")
    G = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(auto.lmo(G), Spectral(method="svd").lmo(G))
    g = torch.randn(4, dtype=torch.float64)
    torch.testing.assert_close(auto.lmo(g), BiasRMS().lmo(g))
    with pytest.raises(ValueError, match="5-D"):
        auto.lmo(torch.randn(1, 1, 1, 1, 1))


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="norm='Spectal'"):
        get_lmo("Spectal")
    with pytest.raises(ValueError, match="radius"):
        Sign().lmo(torch.randn(2, 2), 0.0)
    with pytest.raises(ValueError, match="Sign applies to 1 or 2-D"):
        Sign().lmo(torch.randn(2, 2, 2))
    with pytest.raises(ValueError, match="method"):
        Spectral(method="qr")


# ---- Newton-Schulz ------------------------------------------------------------------------------

def _conditioned(m, n, kappa, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, min(m, n), generator=gen, dtype=dtype))
    V, _ = torch.linalg.qr(torch.randn(n, min(m, n), generator=gen, dtype=dtype))
    s = torch.logspace(0, -np.log10(kappa), min(m, n), dtype=dtype) * 3.0
    return U @ torch.diag(s) @ V.T, U, V


@pytest.mark.parametrize("m,n", [(10, 65), (64, 64), (256, 64), (64, 256), (1, 8), (8, 1)])
def test_newton_schulz_against_the_polar_factor(m, n):
    """NS5 keeps the singular vectors and maps singular values of a matrix with condition
    number <= 100 into [0.6, 1.25] (float32: the path the optimizers use). The scalar map sends
    every start value in [1.3e-3, 1] (after the Frobenius normalisation) into [0.60, 1.21]."""
    G, U, V = _conditioned(m, n, 100.0, m * n)
    X = newton_schulz(G.float()).double()
    inner = U.T @ X @ V  # diagonal iff NS5 kept the singular vectors
    off = inner - torch.diag(torch.diagonal(inner))
    assert float(off.abs().max()) < 1e-4
    s = torch.diagonal(inner)
    assert float(s.min()) > 0.6 and float(s.max()) < 1.25, (float(s.min()), float(s.max()))
    P = polar_svd(G)
    torch.testing.assert_close(P, U @ V.T)
    # the direction is close to the polar factor's: <G, NS5(G)> vs the nuclear norm
    nuc = float(torch.linalg.svdvals(G).sum())
    assert 0.6 * nuc < float((G * X).sum()) < 1.25 * nuc


def test_newton_schulz_batches_and_precision():
    G = torch.randn(3, 7, 5, generator=torch.Generator().manual_seed(2))
    X = newton_schulz(G)
    for i in range(3):
        torch.testing.assert_close(X[i], newton_schulz(G[i]), rtol=1e-5, atol=1e-6)
    assert newton_schulz(G.double()).dtype == torch.float64
    assert newton_schulz(G, dtype=torch.bfloat16).dtype == torch.float32
    with pytest.raises(ValueError, match="matrix"):
        newton_schulz(torch.randn(4))


def test_spectral_lmo_with_newton_schulz_is_close_to_exact():
    """With NS5 the identities hold to the approximation: inner product within [0.6, 1.25] of
    -||G||_* and the norm of the direction in [0.6, 1.25]."""
    G, _, _ = _conditioned(32, 16, 100.0, 5)
    G = G.float()
    D = Spectral().lmo(G)
    ratio = float((G * D).sum()) / -float(Spectral().dual_norm(G))
    assert 0.6 < ratio < 1.25
    assert 0.6 < float(Spectral().norm(D)) < 1.25
