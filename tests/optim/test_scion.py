"""Scion, ScionLight and Muon against direct recursions; Newton-Schulz against a NumPy loop.

Reference tests (independent implementations written here):

- ``newton_schulz`` in float64 against the quintic iteration written in NumPy: the same
  arithmetic in another library, so the tolerance is float64 rounding over five steps
  (rtol 1e-10, about 1e5 ulp of headroom for the different summation orders).
- ``scion_update`` against Algorithm 1 of arXiv 2603.21191 written in NumPy (EMA momentum, exact
  polar factor from ``numpy.linalg.svd``, sign and RMS LMOs from their closed forms), constrained
  and unconstrained, over several steps: float64, rtol 1e-9 (an SVD's polar factor is accurate to
  ~1e-13 for the well-separated singular values of Gaussian matrices; eight steps compound it).
- ``Muon`` against ``torch.optim.Muon``: with ``ns_dtype=torch.bfloat16`` the same bfloat16
  iteration, equal to bfloat16 rounding of the update; in float32 (our default) within the error
  of torch's bfloat16 iteration.

Invariants: the constrained iterates stay in the norm ball, a step moves at most ``2 beta eta``,
the update ignores the gradient's scale, ScionLight equals Scion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.optim import (
    NS5_COEFFICIENTS,
    BiasRMS,
    Muon,
    Scion,
    ScionLight,
    Sign,
    Spectral,
    WarmupStableDecay,
    newton_schulz,
    scion_dual_norm,
    scion_init,
    scion_update,
)
from common.optim.scaling import (
    RULES,
    bst_error,
    bst_regime,
    critical_batch,
    fit_bst_error,
    restart_stages,
    transfer,
)

# ---- independent NumPy references ---------------------------------------------------------------


def np_newton_schulz(G: np.ndarray, steps: int = 5, eps: float = 1e-7) -> np.ndarray:
    a, b, c = NS5_COEFFICIENTS
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / (np.linalg.norm(X) + eps)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


def np_lmo(kind: str, G: np.ndarray) -> np.ndarray:
    """The unit-ball LMO (the minimiser) from its closed form."""
    if kind == "spectral":
        U, _, Vt = np.linalg.svd(G, full_matrices=False)
        return -np.sqrt(G.shape[0] / G.shape[1]) * U @ Vt
    if kind == "sign":
        return -np.sign(G) / G.shape[-1]
    if kind == "rms":
        return -np.sqrt(G.size) * G / np.linalg.norm(G)
    raise KeyError(kind)


def np_scion(x0, grads, beta, alpha, kinds, radii, constrained=True):
    """Algorithm 1: m <- (1-a) m + a g;  x <- (1-b) x + b r lmo(m)  (or x + b r lmo(m))."""
    xs = [x.copy() for x in x0]
    ms = [np.zeros_like(x) for x in x0]
    for g_step in grads:
        for i, g in enumerate(g_step):
            ms[i] = (1 - alpha) * ms[i] + alpha * g
            d = radii[i] * np_lmo(kinds[i], ms[i])
            xs[i] = ((1 - beta) * xs[i] if constrained else xs[i]) + beta * d
    return xs


SHAPES = [(6, 4), (3, 7), (5,)]
TORCH_NORMS = (Spectral(method="svd"), Sign(), BiasRMS())
NP_KINDS = ("spectral", "sign", "rms")
RADII = (2.0, 5.0, 0.5)


def _data(seed, steps=8):
    rng = np.random.default_rng(seed)
    x0 = [rng.standard_normal(s) * 0.1 for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return x0, grads


# ---- Newton-Schulz ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (8, 8), (1, 4)])
def test_newton_schulz_equals_the_numpy_iteration(shape):
    G = np.random.default_rng(sum(shape)).standard_normal(shape)
    ours = newton_schulz(torch.from_numpy(G)).numpy()
    np.testing.assert_allclose(ours, np_newton_schulz(G), rtol=1e-10, atol=1e-12)


# ---- Scion --------------------------------------------------------------------------------------


@pytest.mark.parametrize("constrained", [True, False])
@pytest.mark.parametrize("alpha", [1.0, 0.1])
def test_scion_equals_the_numpy_recursion(constrained, alpha):
    x0, grads = _data(0)
    beta = 0.05
    expected = np_scion(x0, grads, beta, alpha, NP_KINDS, RADII, constrained)
    params = tuple(torch.from_numpy(x) for x in x0)
    state = scion_init(params)
    for g_step in grads:
        updates, state, _ = scion_update(
            tuple(torch.from_numpy(g) for g in g_step), state, params, lr=beta, momentum=alpha,
            norm=TORCH_NORMS, scale=RADII, unconstrained=not constrained)
        params = tuple(p + u for p, u in zip(params, updates))
    for ours, ref in zip(params, expected):
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-9, atol=1e-12)


def test_torch_adapter_with_groups_equals_the_functional_update():
    x0, grads = _data(1, steps=5)
    params = [torch.nn.Parameter(torch.from_numpy(x.copy())) for x in x0]
    opt = Scion([{"params": [p], "norm": n, "scale": r}
                 for p, n, r in zip(params, TORCH_NORMS, RADII)], lr=0.1, momentum=0.3)
    expected = np_scion(x0, grads, 0.1, 0.3, NP_KINDS, RADII)
    for g_step in grads:
        for p, g in zip(params, g_step):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    for p, ref in zip(params, expected):
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-9, atol=1e-12)
    dual = float(opt.dual_norm())
    np.testing.assert_allclose(dual, float(scion_dual_norm(
        tuple(p.grad for p in params), TORCH_NORMS, RADII)), rtol=1e-12)


def test_scion_light_equals_scion():
    """ScionLight keeps m_k / alpha in p.grad; the LMO ignores the factor, so the iterates agree
    to rounding (float64, rtol 1e-9 as above)."""
    x0, grads = _data(2, steps=6)
    light = [torch.nn.Parameter(torch.from_numpy(x.copy())) for x in x0]
    opt = ScionLight([{"params": [p], "norm": n, "scale": r}
                      for p, n, r in zip(light, TORCH_NORMS, RADII)], lr=0.1, momentum=0.2)
    for g_step in grads:
        for p, g in zip(light, g_step):  # backward() accumulates into the carried p.grad
            g = torch.from_numpy(g.copy())
            p.grad = g if p.grad is None else p.grad + g
        opt.step()
    expected = np_scion(x0, grads, 0.1, 0.2, NP_KINDS, RADII)
    for p, ref in zip(light, expected):
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), beta=st.floats(0.01, 1.0), alpha=st.floats(0.01, 1.0),
       gscale=st.floats(1e-3, 1e3))
def test_constrained_iterates_stay_in_the_ball(seed, beta, alpha, gscale):
    """||x_0|| <= eta implies ||x_k|| <= eta; ||x_{k+1} - x_k|| <= 2 beta eta; the update does
    not depend on the gradient's scale (degree-0 homogeneity of the LMO)."""
    x0, grads = _data(seed, steps=4)
    params = tuple(r * n.init(x.shape, torch.Generator().manual_seed(seed), torch.float64)
                   for x, n, r in zip(x0, TORCH_NORMS, RADII))
    params = params[:2] + (torch.full((5,), 0.2, dtype=torch.float64),)
    state = scion_init(params)
    for g_step in grads:
        g = tuple(torch.from_numpy(v) for v in g_step)
        kw = dict(lr=beta, momentum=alpha, norm=TORCH_NORMS, scale=RADII)
        updates, new_state, _ = scion_update(g, state, params, **kw)
        scaled, _, _ = scion_update(tuple(gscale * v for v in g), state._replace(
            momentum=tuple(gscale * m for m in state.momentum)), params, **kw)
        for u, v in zip(updates, scaled):
            torch.testing.assert_close(u, v, rtol=1e-9, atol=1e-12)
        new = tuple(p + u for p, u in zip(params, updates))
        for p, q, n, r in zip(params, new, TORCH_NORMS, RADII):
            assert float(n.norm(q)) <= r * (1 + 1e-12)
            assert float(n.norm(q - p)) <= 2 * beta * r * (1 + 1e-12)
        params, state = new, new_state


def test_scion_bad_input_names_the_parameter():
    p = (torch.zeros(3, 2),)
    s = scion_init(p)
    with pytest.raises(ValueError, match="momentum"):
        scion_update(p, s, p, lr=0.1, momentum=0.0)
    with pytest.raises(ValueError, match="lr"):
        scion_update(p, s, p, lr=1.5)
    with pytest.raises(ValueError, match="scale"):
        scion_update(p, s, p, lr=0.1, scale=(1.0, 2.0))
    with pytest.raises(ValueError, match="norm"):
        Scion([torch.nn.Parameter(torch.zeros(2, 2))], norm="Frobenius")


# ---- Muon vs torch.optim.Muon ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (16, 16)])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_matches_torch_muon(shape, nesterov):
    """Five steps at lr 0.02. Each step moves an entry by at most lr * sqrt(max(1, A/B)) * |O_ij|
    with |O_ij| <= ~1.2; bfloat16 has a relative rounding of 2^-8, so with torch's own precision
    the paths may differ by 5 * 0.02 * 1.3 * 1.2 * 2^-8 ~ 6e-4 (we allow that), and our float32
    iteration differs from torch's bfloat16 one by a few bfloat16 ulps per step (allowed 4x)."""
    gen = torch.Generator().manual_seed(shape[0] * 31 + shape[1])
    W0 = torch.randn(shape, generator=gen)
    ref = torch.nn.Parameter(W0.clone())
    bf = torch.nn.Parameter(W0.clone())
    f32 = torch.nn.Parameter(W0.clone())
    opts = [torch.optim.Muon([ref], lr=0.02, nesterov=nesterov),
            Muon([bf], lr=0.02, nesterov=nesterov, ns_dtype=torch.bfloat16),
            Muon([f32], lr=0.02, nesterov=nesterov)]
    for _ in range(5):
        g = torch.randn(shape, generator=gen)
        for p, o in zip((ref, bf, f32), opts):
            p.grad = g.clone()
            o.step()
    bound = 5 * 0.02 * math.sqrt(max(1.0, shape[0] / shape[1])) * 1.2 * 2.0**-8
    ref, bf, f32 = ref.detach(), bf.detach(), f32.detach()
    assert float((bf - ref).abs().max()) <= bound
    assert float((f32 - ref).abs().max()) <= 4 * bound
    assert float((ref - W0).abs().max()) > 50 * bound  # the runs moved: the check can fail


# ---- the WSD schedule ---------------------------------------------------------------------------


def test_wsd_matches_modded_nanogpt_get_lr():
    """modded-nanogpt's trapezoid with no warm-up: 1 until n - m, then (n - k)/m; 1450 of 5100
    iterations is the reference's warm-down (28.4 %, the paper's '28 %')."""
    n, m = 5100, 1450
    sched = WarmupStableDecay(n, decay_fraction=m / n)
    for k in (0, 1000, n - m - 1, n - m, n - m + 1, n - 1):
        expected = 1.0 if k < n - m else (n - k) / m
        assert sched(k) == pytest.approx(expected, rel=1e-15)
    assert WarmupStableDecay(n).decay_steps == round(0.28 * n)
    warm = WarmupStableDecay(10, decay_fraction=0.2, warmup_fraction=0.3)
    assert [warm(k) for k in range(10)] == pytest.approx(
        [1 / 3, 2 / 3, 1, 1, 1, 1, 1, 1, 1, 0.5])
    with pytest.raises(ValueError, match="decay_fraction"):
        WarmupStableDecay(10, decay_fraction=1.5)
    with pytest.raises(ValueError, match="num_steps"):
        WarmupStableDecay(0)


# ---- the BST scaling rule -----------------------------------------------------------------------


def test_bst_bound_regimes_meet_at_the_critical_batch():
    """At BS* the iteration-starved and batch-independent terms are equal (eq. 4), and BS*
    grows like T^(2/3); the regime names follow the ordering of the three terms."""
    L, mu, rs = 2.0, 0.5, 3.0
    for T in (1e4, 1e6, 1e8):
        bs = float(critical_batch(T, L, mu, rs))
        starved = L * bs / (mu**2 * T)
        flat = (L * rs**2 / (mu**4 * T)) ** (1 / 3)
        assert starved == pytest.approx(flat, rel=1e-12)
        assert bst_regime(4 * bs, T, L, mu, rs) == "iteration-starved"
        assert float(bst_error(bs / 4, T, L, mu, rs)) >= float(bst_error(bs, T, L, mu, rs))
    ratio = float(critical_batch(8e6, L, mu, rs) / critical_batch(1e6, L, mu, rs))
    assert ratio == pytest.approx(4.0, rel=1e-12)


def test_rules_and_transfer():
    b1, lr1 = RULES["BST"].apply(64, 1e-3, 1e6, 8e6)
    assert (b1, lr1) == pytest.approx((256.0, 5e-4))
    assert RULES["sqrt"].apply(64, 1e-3, 1e6, 4e6) == pytest.approx((128.0, 5e-4))
    assert RULES["fixed"].apply(64, 1e-3, 1e6, 4e6) == pytest.approx((64.0, 1e-3))
    bs, lr = transfer(64, 1e-3, 1e6, 8e6)
    assert (bs, lr) == pytest.approx((b1, lr1))
    assert lr == pytest.approx(1e-3 * (bs / 64) * (1e6 / 8e6))  # eq. 8's second form
    stages = restart_stages(64, 1e-3, 1_000_000, 8_000_000)
    assert stages == ((1_000_000, 64, 1e-3), (7_000_000, 256, pytest.approx(5e-4)))
    with pytest.raises(ValueError, match="rule"):
        restart_stages(64, 1e-3, 1, 2, rule="linear")
    with pytest.raises(ValueError, match="T0"):
        transfer(64, 1e-3, 0.0, 1.0)


def test_fit_recovers_the_bound_shape():
    """Exact bound values on a grid that contains all three regimes at every budget (noise
    boundary (mu rho sigma / L)^2 = 16, BS* = 252, 1170, 5429): the fit recovers BS* of the
    largest budget (rel 1e-4: the optimiser's tolerance on exact data)."""
    L, mu, rs = 1.0, 1.0, 4.0
    bs = np.tile(np.geomspace(1, 16384, 15), 3)
    T = np.repeat([1e3, 1e4, 1e5], 15)
    fit = fit_bst_error(bs, T, bst_error(bs, T, L, mu, rs))
    assert fit["rms_log_residual"] < 1e-6
    assert fit["critical_batch"] == pytest.approx(float(critical_batch(1e5, L, mu, rs)), rel=1e-4)


def test_table3_transfer_from_the_quoted_constants():
    """124M -> 1B (arXiv 2603.21191, §6.4 / Table 3): L 7.2 -> 10.6, mu 3.1 -> 2.9, rho 62.7 ->
    111.9, T 1.3B -> 10.8B. The quoted constants give BS x 4.46 (the paper prints 4.37, see the
    notes' errata) and beta x 0.537; rounded to a power of two: BS x 4, beta x 1/2."""
    bs, lr = transfer(1.0, 1.0, 1.3e9, 10.8e9, mu_ratio=2.9 / 3.1, rho_ratio=111.9 / 62.7,
                      L_ratio=10.6 / 7.2)
    assert bs == pytest.approx(4.46, abs=0.005)
    assert lr == pytest.approx(0.537, abs=0.0005)
    stages = restart_stages(256, 3.6e-4, 1_300_000_000, 10_800_000_000)
    assert stages[1][1] == 1024 and stages[1][2] == pytest.approx(3.6e-4 * 4 * 1.3 / 10.8)
