"""common.metrics.curvature: Jacobians against torch.autograd loops, the Gauss-Newton closed
forms of deep linear networks against torch.func, the rank rule, the Weyl bound (validity as a
property over random networks, equality in its exact cases), and the Lanczos path against the
dense one.

Tolerances: float64 throughout. Two computations of the same matrix product agree to a few
hundred units of round-off (1e-12 relative); eigenvalues computed two ways agree to 1e-10
relative for condition numbers below 1e4 (eigenvalue error ~ 1e-16 lambda_max / lambda);
Lanczos Ritz values are asked for tol=1e-10 relative and compared at 1e-8.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from common.metrics import curvature as cv
from common.models import DeepLinear, ResidualLinear

DT = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny float64 products run fastest on one thread (and do not oversubscribe the cores
    that pytest-xdist's workers share)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _reference_batch_jacobian(model, X):
    """Independent reference: torch.autograd.functional.jacobian of the batch function, one
    parameter tensor at a time (no torch.func)."""
    names = [n for n, _ in model.named_parameters()]
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    blocks = []
    for name in names:
        def f(w, name=name):
            p = dict(base, **{name: w})
            return torch.func.functional_call(model, p, (X,)).reshape(-1)
        jac = torch.autograd.functional.jacobian(f, base[name])
        blocks.append(jac.reshape(-1, base[name].numel()))
    return torch.cat(blocks, 1)


def _whiten_exact(X):
    """Rows of X mapped so that X^T X / n = I exactly (no centring)."""
    n = X.shape[0]
    lam, U = torch.linalg.eigh(X.T @ X / n)
    return X @ (U * lam.rsqrt()) @ U.T


# ---- Jacobians ------------------------------------------------------------------------------

def test_per_sample_and_batch_jacobians_match_autograd():
    g = _gen(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(DT)
    X = torch.randn(9, 5, generator=g, dtype=DT)
    ref = _reference_batch_jacobian(model, X)
    torch.testing.assert_close(cv.per_sample_jacobian(model, X), ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(cv.per_sample_jacobian(model, X, chunk_size=4), ref,
                               rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(cv.batch_jacobian(model, X), ref, rtol=1e-12, atol=1e-14)
    assert ref.shape == (9 * 3, cv.num_params(model))


def test_batchnorm_needs_the_batch_function_and_is_not_mutated():
    g = _gen(1)
    model = nn.Sequential(nn.Linear(4, 6, bias=False), nn.BatchNorm1d(6),
                          nn.Linear(6, 2, bias=False)).to(DT).train()
    X = torch.randn(12, 4, generator=g, dtype=DT)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(cv.BatchCouplingError, match="batch_jacobian"):
        cv.per_sample_jacobian(model, X)
    J = cv.batch_jacobian(model, X)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics untouched
    assert model[1].track_running_stats
    with torch.no_grad():  # the reference runs the model in train mode: restore its buffers
        ref = _reference_batch_jacobian(model, X)
    torch.testing.assert_close(J, ref, rtol=1e-12, atol=1e-13)
    # the output of sample 0 depends on the other samples' inputs: per-sample J would be wrong
    model.eval()
    J_eval = cv.per_sample_jacobian(model, X)
    assert (J - J_eval).abs().max() > 1e-3


def test_jacobian_bad_inputs():
    with pytest.raises(ValueError, match="X must be"):
        cv.per_sample_jacobian(nn.Linear(2, 1), torch.zeros(3))
    with pytest.raises(TypeError, match="nn.Module"):
        cv.batch_jacobian(lambda x: x, torch.zeros(3, 2))


# ---- linear networks: closed forms -------------------------------------------------------------

@pytest.mark.parametrize("widths", [(8, 8), (3,), (), (5, 2, 7)])
def test_linear_closed_forms_equal_torch_func(widths):
    d, k, n = 6, 3, 50
    net = DeepLinear(d, widths, k, generator=_gen(2), dtype=DT)
    X = torch.randn(n, d, generator=_gen(3), dtype=DT)
    J = cv.per_sample_jacobian(net, X)
    torch.testing.assert_close(cv.linear_gn_jacobian(net.weights(), X), J, rtol=1e-12, atol=1e-13)
    G = cv.gauss_newton_matrix(J, n)
    Gc = cv.linear_gn_matrix(net.weights(), X)
    assert float((G - Gc).norm() / G.norm()) < 1e-12
    ev = cv.gn_eigenvalues(J, n)
    rank = cv.linear_gn_rank(d, widths, k)
    assert cv.numerical_rank(ev, 1e-10) == rank
    kron = cv.linear_gn_eigenvalues(net.weights(), X)
    sv = cv.linear_gn_singular_values(net.weights(), X)
    np.testing.assert_allclose(kron[:rank], ev[:rank], rtol=1e-9)
    np.testing.assert_allclose(sv[:rank] ** 2, ev[:rank], rtol=1e-9)
    kappa = cv.pseudo_condition_number(ev, rank=rank)
    assert cv.pseudo_condition_number(sv ** 2, rank=rank) == pytest.approx(kappa, rel=1e-9)


def test_gn_eigenvalues_from_either_gram_and_from_svd():
    g = _gen(4)
    for rows, cols in ((12, 40), (40, 12)):
        J = torch.randn(rows, cols, generator=g, dtype=DT)
        full = np.sort(np.linalg.eigvalsh((J.T @ J / 4).numpy()))[::-1][:min(rows, cols)]
        np.testing.assert_allclose(cv.gn_eigenvalues(J, 4), full, rtol=1e-10)
        np.testing.assert_allclose(cv.gn_singular_values(J, 4) ** 2, full, rtol=1e-10)
    with pytest.raises(ValueError, match="n=7"):
        cv.gn_eigenvalues(J, 7)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 6), k=st.integers(1, 4), depth=st.integers(1, 4),
       width=st.integers(1, 7), seed=st.integers(0, 10_000))
def test_rank_formula_and_weyl_bound_hold(d, k, depth, width, seed):
    """Property: over random shapes and draws, rank(G_O) = r(d + k - r) and
    kappa <= bound <= loose bound (the bound is a theorem: any violation is a bug)."""
    widths = (width,) * (depth - 1)
    net = DeepLinear(d, widths, k, generator=_gen(seed), dtype=DT)
    X = torch.randn(3 * d + 5, d, generator=_gen(seed + 1), dtype=DT)
    ev = cv.gn_eigenvalues(cv.per_sample_jacobian(net, X), X.shape[0])
    rank = cv.linear_gn_rank(d, widths, k)
    assert cv.numerical_rank(ev, 1e-9) == rank
    kappa = cv.pseudo_condition_number(ev, rank=rank)
    b = cv.weyl_bound(net.weights(), X)
    assert kappa <= b.bound * (1 + 1e-9)
    assert b.bound <= b.loose * (1 + 1e-12)  # a convex combination is at most its maximum
    if np.isfinite(b.bound):
        assert b.weights.sum() == pytest.approx(1.0)


def test_bound_is_exact_for_one_layer_and_two_layers_on_whitened_data():
    g = _gen(5)
    d, k = 7, 3
    X = torch.randn(40, d, generator=g, dtype=DT) @ torch.randn(d, d, generator=g, dtype=DT)
    net = DeepLinear(d, (), k, generator=g, dtype=DT)
    ev = cv.linear_gn_eigenvalues(net.weights(), X)
    kappa = cv.pseudo_condition_number(ev, rank=d * k)
    assert kappa == pytest.approx(cv.covariance_condition(X), rel=1e-8)
    assert cv.weyl_bound(net.weights(), X).bound == pytest.approx(kappa, rel=1e-8)
    Xw = _whiten_exact(X)
    for m in (5, 11):  # m >= k: the Kronecker sum is nonsingular (m < min(d, k) makes it singular)
        net2 = DeepLinear(d, (m,), k, generator=g, dtype=DT)
        r = cv.linear_gn_rank(d, (m,), k)
        kappa2 = cv.pseudo_condition_number(cv.linear_gn_eigenvalues(net2.weights(), Xw), rank=r)
        assert kappa2 == pytest.approx(cv.weyl_bound(net2.weights(), Xw).bound, rel=1e-8)


def test_condition_number_is_invariant_to_a_common_rescaling_of_the_layers():
    net = DeepLinear(5, (6, 6), 3, generator=_gen(6), dtype=DT)
    X = torch.randn(30, 5, generator=_gen(7), dtype=DT)
    r = cv.linear_gn_rank(5, (6, 6), 3)
    k1 = cv.pseudo_condition_number(cv.linear_gn_eigenvalues(net.weights(), X), rank=r)
    k2 = cv.pseudo_condition_number(cv.linear_gn_eigenvalues([3.7 * w for w in net.weights()], X),
                                    rank=r)
    assert k2 == pytest.approx(k1, rel=1e-9)


def test_residual_network_gn_is_the_plain_gn_at_the_effective_weights():
    d, L, n = 5, 3, 40
    res = ResidualLinear(d, L, generator=_gen(8), dtype=DT)
    X = torch.randn(n, d, generator=_gen(9), dtype=DT)
    G = cv.gauss_newton_matrix(cv.per_sample_jacobian(res, X), n)
    Gc = cv.linear_gn_matrix(res.effective_weights(), X) * res.beta ** 2
    assert float((G - Gc).norm() / G.norm()) < 1e-12


def test_singular_value_path_resolves_deep_square_products():
    """A plain 8-layer square network: the eigenvalue path floors near 1e-16 lambda_max, the
    singular-value path keeps going; where both resolve they agree."""
    d, L = 8, 8
    net = DeepLinear(d, (d,) * (L - 1), d, gain=1.0, generator=_gen(10), dtype=DT)
    X = _whiten_exact(torch.randn(64, d, generator=_gen(11), dtype=DT))
    sv = cv.linear_gn_singular_values(net.weights(), X)
    ev = cv.linear_gn_eigenvalues(net.weights(), X)
    r = d * d
    big = sv[:r] ** 2 > 1e-8 * sv[0] ** 2
    np.testing.assert_allclose(sv[:r][big] ** 2, ev[:r][big], rtol=1e-6)
    assert np.all(sv[:r] > 0) and math.isfinite(cv.pseudo_condition_number(sv ** 2, rank=r))


def test_marchenko_pastur_estimate_matches_the_notes_and_approaches_the_exact_value():
    # the notes' numbers (d = 64, k = 10): 10.8, 3.91, 2.02 at m = 128, 512, 2048
    for m, est in ((128, 10.8), (512, 3.91), (2048, 2.02)):
        assert cv.marchenko_pastur_kappa(64, m, 10) == pytest.approx(est, abs=0.01)
    X = _whiten_exact(torch.randn(400, 64, generator=_gen(12), dtype=DT))
    net = DeepLinear(64, (2048,), 10, generator=_gen(13), dtype=DT)
    exact = cv.weyl_bound(net.weights(), X).bound  # exact for L = 2 on whitened data
    assert exact == pytest.approx(cv.marchenko_pastur_kappa(64, 2048, 10), rel=0.1)
    assert cv.marchenko_pastur_kappa(64, 32, 100) == math.inf  # both lower edges at 0


# ---- rank rule ----------------------------------------------------------------------------------

def test_pseudo_condition_number_rank_rules():
    ev = np.array([1e-20, 4.0, 2.0, 0.5, -1e-18])
    assert cv.pseudo_condition_number(ev, rank=3) == 8.0
    assert cv.pseudo_condition_number(ev, rtol=1e-10) == 8.0
    assert cv.pseudo_condition_number(ev, rank=4) == 4.0 / 1e-20
    assert cv.pseudo_condition_number(ev, rank=5) == math.inf
    assert cv.numerical_rank(torch.tensor(ev), 1e-10) == 3
    table = cv.rank_sensitivity(ev, [1e-10, 0.2, 0.6])
    np.testing.assert_array_equal(table, [[3, 8.0], [2, 2.0], [1, 1.0]])
    with pytest.raises(ValueError, match="exactly one rank rule"):
        cv.pseudo_condition_number(ev)
    with pytest.raises(ValueError, match="exactly one rank rule"):
        cv.pseudo_condition_number(ev, rank=2, rtol=1e-3)
    with pytest.raises(ValueError, match="rank=0"):
        cv.pseudo_condition_number(ev, rank=0)
    with pytest.raises(ValueError, match="rtol"):
        cv.pseudo_condition_number(ev, rtol=1.5)
    with pytest.raises(ValueError, match="non-finite"):
        cv.pseudo_condition_number([1.0, np.nan], rank=1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=12), st.floats(1e-3, 1e3))
def test_condition_number_is_scale_free_and_at_least_one(values, scale):
    ev = np.array(values)
    k = cv.pseudo_condition_number(ev, rank=len(ev))
    assert k >= 1.0
    assert cv.pseudo_condition_number(scale * ev, rank=len(ev)) == pytest.approx(k, rel=1e-12)
    assert cv.pseudo_condition_number(ev, rtol=1e-13) == pytest.approx(k, rel=1e-12)


# ---- Lanczos ------------------------------------------------------------------------------------

def _small_mlp(seed=14, width=48, n=20, d=6, k=3, bn=False):
    g = _gen(seed)
    layers = [nn.Linear(d, width), nn.Tanh(), nn.Linear(width, k)]
    if bn:
        layers.insert(1, nn.BatchNorm1d(width))
    model = nn.Sequential(*layers).to(DT).train()
    for p in model.parameters():
        with torch.no_grad():
            p.normal_(0, 1 / math.sqrt(p.shape[-1]), generator=g)
    return model, _whiten_exact(torch.randn(n, d, generator=g, dtype=DT))


@pytest.mark.parametrize("bn", [False, True])
def test_gn_vector_products_equal_the_dense_products(bn):
    model, X = _small_mlp(bn=bn)
    J = cv.batch_jacobian(model, X)
    ops = cv.gn_operators(model, X)
    assert (ops.p, ops.nk) == (J.shape[1], J.shape[0])
    g = _gen(15)
    v, u = torch.randn(ops.p, generator=g, dtype=DT), torch.randn(ops.nk, generator=g, dtype=DT)
    n = X.shape[0]
    torch.testing.assert_close(ops.gn(v), J.T @ (J @ v) / n, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(ops.gram(u), J @ (J.T @ u) / n, rtol=1e-12, atol=1e-13)
    if not bn:
        chunked = cv.gn_operators(model, X, chunk_size=7)
        torch.testing.assert_close(chunked.gram(u), ops.gram(u), rtol=1e-12, atol=1e-13)
    else:
        with pytest.raises(cv.BatchCouplingError, match="chunk_size"):
            cv.gn_operators(model, X, chunk_size=7)


def test_masked_operators_drop_the_masked_columns():
    model, X = _small_mlp()
    masks = {"0.weight": (torch.rand(model[0].weight.shape, generator=_gen(16)) > 0.5).to(DT)}
    J = cv.per_sample_jacobian(model, X)
    keep = torch.cat([masks.get(name, torch.ones_like(p)).reshape(-1)
                      for name, p in model.named_parameters()])
    Jm = J * keep
    ops = cv.gn_operators(model, X, param_mask=masks)
    u = torch.randn(ops.nk, generator=_gen(17), dtype=DT)
    torch.testing.assert_close(ops.gram(u), Jm @ (Jm.T @ u) / X.shape[0], rtol=1e-12, atol=1e-13)
    with pytest.raises(KeyError, match="nope"):
        cv.gn_operators(model, X, param_mask={"nope": torch.ones(1)})


def test_lanczos_matches_the_dense_spectrum():
    model, X = _small_mlp()
    n = X.shape[0]
    ev = cv.gn_eigenvalues(cv.per_sample_jacobian(model, X), n)
    ops = cv.gn_operators(model, X)
    top = cv.lanczos_eigenvalues(ops.gn, ops.p, num=3)
    np.testing.assert_allclose(top, ev[:3], rtol=1e-8)
    lk = cv.lanczos_condition_number(ops, num_smallest=2, ncv=ops.nk - 1)
    dense = cv.pseudo_condition_number(ev, rtol=cv.DEFAULT_RTOL)
    assert cv.numerical_rank(ev) == ops.nk  # a full-rank Gram: smallest nonzero = smallest
    assert lk.kappa == pytest.approx(dense, rel=1e-8)
    assert lk.below_cut == 0


def test_lanczos_rank_rule_and_errors():
    """A deep linear net with n > d: the Gram (nk x nk) has nullity nk - r(d + k - r). Asking
    for one smallest eigenvalue returns a zero, which the rank rule refuses; asking for more than
    the nullity finds the smallest nonzero one."""
    d, k, n = 3, 2, 10
    net = DeepLinear(d, (4,), k, generator=_gen(18), dtype=DT)
    X = torch.randn(n, d, generator=_gen(19), dtype=DT)
    ops = cv.gn_operators(net, X)
    rank = cv.linear_gn_rank(d, (4,), k)
    nullity = ops.nk - rank
    with pytest.raises(ValueError, match="raise num_smallest"):
        cv.lanczos_condition_number(ops, num_smallest=1, rtol=1e-8, ncv=ops.nk - 1)
    lk = cv.lanczos_condition_number(ops, num_smallest=nullity + 1, rtol=1e-8, ncv=ops.nk - 1)
    exact = cv.pseudo_condition_number(cv.linear_gn_eigenvalues(net.weights(), X), rank=rank)
    assert lk.kappa == pytest.approx(exact, rel=1e-7) and lk.below_cut >= 1
    with pytest.raises(ValueError, match="which"):
        cv.lanczos_eigenvalues(ops.gram, ops.nk, which="LM")
    with pytest.raises(ValueError, match="num"):
        cv.lanczos_eigenvalues(ops.gram, ops.nk, num=ops.nk)
