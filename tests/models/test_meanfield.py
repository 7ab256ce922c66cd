"""Mean-field maps against independent references: closed forms (ReLU's arc-cosine kernel,
erf's arcsine kernel), SciPy's adaptive quadrature, Monte Carlo on wide random networks, and the
official code's ReLU drift recursion; known values (EOCs); properties of the fixed points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.optimize import brentq

from common.models import MLPEnsemble, arccos_kernel, pooled
from common.models import meanfield as mf
from common.models.activations import get

PHI = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731


def _quad_q_map(q, sw2, sb2, f=math.tanh):
    val, _ = integrate.quad(lambda z: PHI(z) * f(math.sqrt(q) * z) ** 2, -np.inf, np.inf,
                            epsabs=1e-13, epsrel=1e-13)
    return sw2 * val + sb2


def _quad_pair(q, c, f=math.tanh):
    s = math.sqrt(1 - c * c)
    val, _ = integrate.dblquad(
        lambda z2, z1: PHI(z1) * PHI(z2) * f(math.sqrt(q) * z1)
        * f(math.sqrt(q) * (c * z1 + s * z2)), -12, 12, -12, 12, epsabs=1e-12, epsrel=1e-12)
    return val


# ---- quadrature and closed forms -----------------------------------------------------------

def test_gauss_hermite_integrates_gaussian_moments():
    x, w = mf.gauss_hermite(20)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert w @ x**2 == pytest.approx(1.0, abs=1e-13)
    assert w @ x**4 == pytest.approx(3.0, abs=1e-12)
    assert w @ x**3 == pytest.approx(0.0, abs=1e-13)


@pytest.mark.parametrize("q", [0.05, 0.8, 3.0])
def test_tanh_maps_match_adaptive_quadrature(q):
    # scipy.quad is an independent adaptive rule; 201 Gauss-Hermite nodes are good to ~1e-9
    # for tanh at q <= 3 (the poles at ±iπ/(2√q) limit the convergence)
    assert mf.q_map(q, 2.0, 0.1, "tanh") == pytest.approx(_quad_q_map(q, 2.0, 0.1), abs=1e-9)
    for c in (0.0, 0.4, 0.95):
        assert mf.pair_map(q, q, c, 2.0, 0.1, "tanh") == pytest.approx(
            2.0 * _quad_pair(q, c) + 0.1, abs=2e-9)
    # sech^4 has fourth-order poles: 201 nodes give 3e-8 at q = 3 (301 nodes: 1e-10)
    dtanh2 = lambda z: (1 - math.tanh(math.sqrt(q) * z) ** 2) ** 2  # noqa: E731
    ref, _ = integrate.quad(lambda z: PHI(z) * dtanh2(z), -np.inf, np.inf, epsabs=1e-13)
    assert mf.chi1("tanh", 1.7, 0.1, q=q) == pytest.approx(1.7 * ref, abs=1e-7)


@pytest.mark.parametrize("qa,qb,c", [(0.3, 0.3, 0.0), (1.0, 2.5, 0.6), (4.0, 0.7, -0.3),
                                     (2.0, 2.0, 0.999)])
def test_erf_pair_moment_matches_the_arcsine_kernel(qa, qb, c):
    # Williams (1997): E[erf(u_a) erf(u_b)] = (2/π) arcsin(2 q_ab / sqrt((1+2qa)(1+2qb)))
    qab = c * math.sqrt(qa * qb)
    exact = 2 / math.pi * math.asin(2 * qab / math.sqrt((1 + 2 * qa) * (1 + 2 * qb)))
    assert mf.pair_expect(get("erf").fn, qa, qb, c, 1, 201) == pytest.approx(exact, abs=1e-10)


def test_erf_edge_of_chaos_from_its_closed_forms():
    # closed forms: q' = σw² (2/π) arcsin(2q/(1+2q)) + σb², χ1 = σw² 4/(π sqrt(1+4q)); at the
    # EOC σw² = π sqrt(1+4q)/4, so q* solves q = sqrt(1+4q)/2 arcsin(2q/(1+2q)) + σb²
    sb2 = 0.05
    q = brentq(lambda q: math.sqrt(1 + 4 * q) / 2 * math.asin(2 * q / (1 + 2 * q)) + sb2 - q,
               1e-6, 50.0, xtol=1e-15)
    assert mf.eoc("erf", sb2) == pytest.approx(math.pi * math.sqrt(1 + 4 * q) / 4, rel=1e-10)
    assert mf.q_star("erf", 1.3, sb2) == pytest.approx(
        brentq(lambda q: 1.3 * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + sb2 - q,
               1e-9, 10.0, xtol=1e-15), rel=1e-10)


def test_relu_closed_forms_and_known_values():
    assert mf.eoc("relu", 0.0) == 2.0 and mf.eoc("relu", 0.1) == 2.0
    assert mf.chi1("relu", 1.5, 0.1) == pytest.approx(0.75, abs=1e-15)
    assert mf.q_star("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-14)
    assert mf.q_star("relu", 2.5, 0.1) == math.inf
    # from orthogonal inputs (c = 0) one ReLU layer gives c = 1/π at sigma_b = 0
    assert mf.c_map(0.0, 1.0, 2.0, 0.0, "relu") == pytest.approx(1 / math.pi, abs=1e-15)
    assert mf.c_star("relu", 2.5, 0.1) == 1.0 and mf.c_star("relu", 1.5, 0.1) == 1.0
    assert arccos_kernel(1.0, 0) == 1.0 and arccos_kernel(-1.0, 0) == 0.0
    with pytest.raises(ValueError, match="degree"):
        arccos_kernel(0.5, 2)


@pytest.mark.parametrize("c", [-0.5, 0.0, 0.5, 0.9])
def test_arc_cosine_kernels_match_adaptive_quadrature(c):
    # integrate over the region where both units are active (z1 > 0 and c z1 + s z2 > 0),
    # which has no kink inside
    s = math.sqrt(1 - c * c)
    ref, _ = integrate.dblquad(lambda z2, z1: PHI(z1) * PHI(z2) * z1 * (c * z1 + s * z2),
                               0, 12, lambda z1: -c * z1 / s, 12, epsabs=1e-12)
    assert 0.5 * arccos_kernel(c, 1) == pytest.approx(ref, abs=1e-10)
    ref0, _ = integrate.dblquad(lambda z2, z1: PHI(z1) * PHI(z2), 0, 12,
                                lambda z1: -c * z1 / s, 12, epsabs=1e-12)
    assert 0.5 * arccos_kernel(c, 0) == pytest.approx(ref0, abs=1e-10)


def test_tanh_edge_of_chaos_known_values():
    assert mf.eoc("tanh", 0.0) == pytest.approx(1.0, abs=1e-12)  # q* = 0, χ1 = σw² φ'(0)²
    # Schoenholz et al. (2017) / the paper's training figure: 1.986 at σb² = 0.1, and the legend
    # 0.8, 1, 1.25, 2.5 x EOC = 1.59, 1.99, 2.48, 4.97
    e = mf.eoc("tanh", 0.1)
    assert e == pytest.approx(1.986, abs=5e-4)
    assert [round(r * e, 2) for r in (0.8, 1.0, 1.25, 2.5)] == [1.59, 1.99, 2.48, 4.97]
    assert mf.chi1("tanh", e, 0.1) == pytest.approx(1.0, abs=1e-11)


def test_pooling_identities():
    # average pooling of an odd φ halves σw²'s effect: EOC doubles exactly
    for sb2 in (0.0, 0.05, 0.2):
        assert mf.eoc("tanh+meanpool", sb2) == pytest.approx(2 * mf.eoc("tanh", sb2), rel=1e-9)
    # max pooling of an odd φ: max(u1,u2) and -min(u1,u2) have one law, so E[f(max)] = E[f(u)]
    # for even f: the q-map and χ1 (hence the EOC) are those of φ alone, while E[max] > 0 adds
    # a constant to q_ab and raises c*
    assert mf.eoc("tanh+maxpool", 0.1) == pytest.approx(mf.eoc("tanh", 0.1), rel=1e-10)
    e = mf.eoc("tanh", 0.1)
    assert mf.c_star("tanh+maxpool", 2.5 * e, 0.1) > mf.c_star("tanh", 2.5 * e, 0.1) + 0.3
    # the 4-D quadrature of the pooled covariance map reproduces the single-node map
    assert mf.c_star("tanh+meanpool", 5 * e, 0.1) == pytest.approx(
        mf.c_star("tanh", 2.5 * e, 0.1), abs=1e-3)
    with pytest.raises(ValueError, match="pool="):
        pooled("tanh", "min")


@pytest.mark.parametrize("name", ["tanh", "erf", "tanh+meanpool", "tanh+maxpool"])
def test_chi1_is_the_slope_of_the_c_map_at_one(name):
    # Price's theorem: d/dc E[g(u_a) g(u_b)] at c = 1 is q E||grad g||^2; a one-sided difference
    # of the c-map at c = 1 - h (error O(h)) checks the grad_sq of every activation
    sw2, sb2, h = 2.5, 0.1, 1e-4
    q = mf.q_star(name, sw2, sb2)
    nodes = 61 if "pool" in name else None
    slope = (1 - mf.c_map(1 - h, q, sw2, sb2, name, nodes=nodes)) / h
    assert slope == pytest.approx(mf.chi1(name, sw2, sb2, q=q), rel=5e-3)


# ---- fixed points, phases, recursions --------------------------------------------------------

def test_fixed_points_at_the_papers_settings():
    e = mf.eoc("tanh", 0.1)
    rows = {r: (mf.q_star("tanh", r * e, 0.1), mf.c_star("tanh", r * e, 0.1))
            for r in (0.8, 1.25, 2.5)}
    # the notes' table (σb² = 0.1): q* = 0.568, 1.137, 3.037; c* = 1, 0.673, 0.196
    assert rows[0.8] == (pytest.approx(0.568, abs=1e-3), 1.0)
    assert rows[1.25][0] == pytest.approx(1.137, abs=1e-3)
    assert rows[1.25][1] == pytest.approx(0.673, abs=1e-3)
    assert rows[2.5][1] == pytest.approx(0.196, abs=1e-3)
    assert mf.c_star("tanh", e, 0.1) == 1.0
    assert mf.drift_ratio_star("tanh", 1.25 * e, 0.1) == pytest.approx(2.056, abs=2e-3)
    names = [mf.phase("tanh", r * e, 0.1).name for r in (0.8, 1.0, 1.25, 2.5)]
    assert names == ["ordered deep prejudice", "edge of chaos", "prejudice", "neutrality"]
    assert mf.phase("relu", 2.5, 0.1).name == "chaotic deep prejudice"


def test_neutrality_line():
    # the notes' pilot: 2.378, 2.925, 3.761 at 0.05, 0.1, 0.2; at σb² = 0 it is the EOC
    assert mf.neutrality("tanh", 0.0) == pytest.approx(1.0, abs=1e-9)
    for sb2, ref in ((0.05, 2.378), (0.1, 2.925), (0.2, 3.761)):
        n = mf.neutrality("tanh", sb2)
        assert n == pytest.approx(ref, abs=2e-3)
        assert mf.c_star("tanh", n, sb2) == pytest.approx(0.5, abs=1e-9)


def test_phase_boundaries():
    tanh = mf.phase_boundaries("tanh", [0.0, 0.1])
    assert tanh["eoc"][1] == pytest.approx(mf.eoc("tanh", 0.1))
    assert tanh["neutrality"][1] == pytest.approx(mf.neutrality("tanh", 0.1))
    relu = mf.phase_boundaries("relu", [0.0, 0.1])
    np.testing.assert_array_equal(relu["eoc"], [2.0, 2.0])
    assert np.all(np.isnan(relu["neutrality"]))  # ReLU's chaotic side never reaches c* = 1/2


@settings(max_examples=25, deadline=None)
@given(sw2=st.floats(0.3, 6.0), sb2=st.floats(0.005, 0.3))
def test_c_star_is_the_stable_fixed_point(sw2, sb2):
    q = mf.q_star("tanh", sw2, sb2)
    assert mf.q_map(q, sw2, sb2, "tanh") == pytest.approx(q, abs=1e-11)
    c = mf.c_star("tanh", sw2, sb2)
    chi = mf.chi1("tanh", sw2, sb2)
    assert 0.0 <= c <= 1.0
    assert (c == 1.0) == (chi <= 1.0 + 1e-10)
    if c < 1.0:
        assert mf.c_map(c, q, sw2, sb2, "tanh") == pytest.approx(c, abs=1e-10)
        # stable: the map's slope at c* is below 1 (convexity, slope chi1 > 1 at c = 1)
        h = 1e-5
        slope = (mf.c_map(min(c + h, 1.0), q, sw2, sb2, "tanh")
                 - mf.c_map(c - h, q, sw2, sb2, "tanh")) / (min(c + h, 1.0) - c + h)
        assert slope < 1.0


@settings(max_examples=15, deadline=None)
@given(sw2=st.floats(0.3, 6.0), sb2=st.floats(0.0, 0.3),
       c=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_c_map_is_increasing_and_convex_on_the_unit_interval(sw2, sb2, c):
    a, b, d = sorted(c)
    q = max(mf.q_star("tanh", sw2, sb2), 1e-3)
    f = lambda x: mf.c_map(x, q, sw2, sb2, "tanh")  # noqa: E731
    assert f(a) <= f(b) + 1e-12 <= f(d) + 2e-12
    if d - a > 1e-3:
        t = (b - a) / (d - a)
        assert f(b) <= (1 - t) * f(a) + t * f(d) + 1e-10


def test_propagation_converges_to_the_fixed_points():
    e = mf.eoc("tanh", 0.1)
    p = mf.propagate("tanh", 2.5 * e, 0.1, 200)  # c converges at the rate ~0.8 per layer
    assert p.q[-1] == pytest.approx(mf.q_star("tanh", 2.5 * e, 0.1), rel=1e-9)
    assert p.c[-1] == pytest.approx(mf.c_star("tanh", 2.5 * e, 0.1), abs=1e-9)
    assert p.gamma[-1] == pytest.approx(p.c[-1] / (1 - p.c[-1]), rel=1e-12)
    first = mf.propagate("tanh", 1.7, 0.2, 1, q_in=0.5, c_in=0.3)
    assert (first.q[0], first.qab[0]) == (pytest.approx(1.7 * 0.5 + 0.2),
                                         pytest.approx(1.7 * 0.15 + 0.2))


@pytest.mark.parametrize("sw2,sb2", [(2.0, 0.0), (1.5, 0.1), (2.6, 0.05), (1.9, 0.2)])
def test_official_relu_drift_recursion_is_the_arc_cosine_map(sw2, sb2):
    # Theorem 3.1's bookkeeping: sigma_mu^2 = q_ab and sigma_y^2 = q_aa - q_ab, so the code's
    # (V, Vtilde) recursion in gamma and the c-map in c = gamma/(1+gamma) are the same recursion
    V, Vt = mf.relu_drift_recursion(sw2, sb2, 200)
    p = mf.propagate("relu", sw2, sb2, 200)
    assert np.all(np.isfinite(V)) and np.all(V > 0)
    np.testing.assert_allclose(Vt, p.qab, rtol=1e-11)
    np.testing.assert_allclose(V + Vt, p.q, rtol=1e-11)
    gam = Vt / V
    np.testing.assert_allclose(gam / (1 + gam), p.c, rtol=1e-11)
    # where propagate still resolves 1 - c (> 1e-6, relative round-off < 1e-10), they agree on it
    ok = 1 - p.c > 1e-6
    np.testing.assert_allclose((V / (V + Vt))[ok], (1 - p.c)[ok], rtol=1e-7)
    V_n, Vt_n = mf.relu_drift_recursion(sw2, sb2, 3, num_data=100)
    assert Vt_n[0] == pytest.approx(sb2 + sw2 / 100)
    V_q, Vt_q = mf.relu_drift_recursion(sw2, sb2, 50, q_in=0.3)
    p_q = mf.propagate("relu", sw2, sb2, 50, q_in=0.3)
    np.testing.assert_allclose(V_q + Vt_q, p_q.q, rtol=1e-11)


def test_relu_approach_to_deep_prejudice():
    # σb = 0: 1 - c decays as a power law (asymptotically 9π²/(2 l²)); ordered σw² < 2 with
    # σb > 0: exponentially at the rate σw²/2 (from the fixed point q* = σb²/(1 - σw²/2))
    p = mf.propagate("relu", 2.0, 0.0, 2000)
    l = np.arange(1, 2001)
    assert (1 - p.c[-1]) * l[-1] ** 2 == pytest.approx(9 * math.pi**2 / 2, rel=0.05)
    q0 = 0.1 / (1 - 0.75)
    po = mf.propagate("relu", 1.5, 0.1, 61, q_in=(q0 - 0.1) / 1.5)
    ratio = (1 - po.c[40:60]) / (1 - po.c[39:59])
    np.testing.assert_allclose(ratio, 0.75, rtol=1e-3)


# ---- Monte Carlo on wide random networks -----------------------------------------------------

@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 4.965, 0.1), ("tanh", 1.589, 0.1),
                                          ("relu", 2.0, 0.0), ("tanh+maxpool", 3.0, 0.1)])
def test_maps_match_wide_random_networks(name, sw2, sb2):
    """Layer-wise q and c of width-512 networks (8 members, 128 inputs) against the maps.

    Tolerance: each member gives one estimate per layer; the 8 members are independent, so
    their mean must lie within 4 standard errors of the map, plus 1 % (q) or 0.01 (c) for the
    O(1/width) finite-width bias. (ReLU's q is a product of per-layer chi-square factors: its
    member-to-member spread is ~20 % at depth 6, tanh's ~1 %.)
    """
    g = torch.Generator().manual_seed(1)
    depth, width, N, K = 6, 512, 128, 8
    X = torch.randn(N, width, generator=g)
    X = X / X.norm(dim=1, keepdim=True) * math.sqrt(width)  # q_in = 1 exactly
    net = MLPEnsemble(K, width, width, depth, 2, activation=name)
    net.reset_parameters(sw2, sb2, generator=g)
    qs, cs = [], []

    def observe(l, y):  # per member: mean square and mean cosine over disjoint input pairs
        qs.append((y * y).mean((1, 2)).double().numpy())
        a, b = y[:, 0::2], y[:, 1::2]
        cos = (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)).sqrt()
        cs.append(cos.mean(-1).double().numpy())

    with torch.no_grad():
        net(X, observe=observe)
    qs, cs = np.array(qs), np.array(cs)  # (depth, K)
    c_in = float((X[0::2] * X[1::2]).sum(-1).mean() / width)
    theory = mf.propagate(name, sw2, sb2, depth, c_in=c_in)
    se = lambda v: v.std(-1, ddof=1) / math.sqrt(K)  # noqa: E731
    assert np.all(np.abs(qs.mean(-1) - theory.q) <= 4 * se(qs) + 0.01 * theory.q)
    assert np.all(np.abs(cs.mean(-1) - theory.c) <= 4 * se(cs) + 0.01)


# ---- bad input ---------------------------------------------------------------------------------

def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="sigma_w2=-1"):
        mf.q_map(1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_b2=nan"):
        mf.eoc("tanh", float("nan"))
    with pytest.raises(ValueError, match="c=1.5"):
        mf.c_map(1.5, 1.0, 2.0, 0.1)
    with pytest.raises(ValueError, match="depth=0"):
        mf.propagate("tanh", 2.0, 0.1, 0)
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        mf.q_map(1.0, 2.0, 0.1, "sigmoid")
    with pytest.raises(ValueError, match="q=inf"):
        mf.c_map(0.5, math.inf, 2.0, 0.1, "tanh")
    with pytest.raises(ValueError, match="nodes=1"):
        mf.gauss_hermite(1)
