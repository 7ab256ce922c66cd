"""The VI steps: NumPy references over several steps, the registry's conformance contract,
fixed points against a Laplace-free reference optimum, and the properties the paper relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import optimize

from common.vi import (
    STEPS,
    Diverged,
    GaussianPotential,
    GLMPotential,
    GLMQuadrature,
    SqrtGaussian,
    from_covariance,
    gaussian_kl,
    get_step,
    run_vi,
)
from common.vi.bw import BWState
from common.vi.srvn import SRVNState
from common.vi.vn import VNState


def _gaussian_target(d=3, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    return GaussianPotential(B @ B.T + np.eye(d), rng.standard_normal(d), offset=0.3)


def _logistic(n=40, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d - 1)), np.ones((n, 1))])
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-X @ rng.standard_normal(d))), 1.0, -1.0)
    return GLMPotential(X, y, "logistic", prior_precision=1.0)


# ---- NumPy references, written from the update rules in the notes (section 3) ---------------

def _np_tril_half(A):
    return np.tril(A, -1) + 0.5 * np.diag(np.diag(A))


def _ref_srvn(m, C, g, H, rho):
    return m - rho * C @ C.T @ g, C - rho * C @ _np_tril_half(C.T @ H @ C - np.eye(len(m)))


def _ref_vn(m, S, g, H, rho):
    S1 = (1 - rho) * S + rho * H
    return m - rho * np.linalg.solve(S1, g), S1


def _ref_gd(m, C, g, H, h):
    return m - h * g, C - h * (np.tril(H @ C) - np.diag(1 / np.diag(C)))


def _ref_bw(m, S, g, H, h):
    A = np.eye(len(m)) - h * (H - np.linalg.inv(S))
    return m - h * g, A @ S @ A


_REFERENCES = {
    "SR-VN": (_ref_srvn, "chol"), "VN": (_ref_vn, "prec"), "GD": (_ref_gd, "chol"),
    "BW-GD": (_ref_bw, "cov"),
}


@pytest.mark.parametrize("name", sorted(_REFERENCES))
def test_update_matches_numpy_reference_over_several_steps(name):
    P = _logistic()
    est = GLMQuadrature(P)
    spec = get_step(name)
    ref, coords = _REFERENCES[name]
    q0 = P.bohning_init()
    state = spec.init(q0)
    m, C = q0.mean.numpy(), q0.chol.numpy()
    M = {"chol": C, "prec": np.linalg.inv(C @ C.T), "cov": C @ C.T}[coords]
    lr = 0.3 if name in ("SR-VN", "VN") else 0.02   # stable steps: H has eigenvalues up to ~15
    for _ in range(5):
        q = spec.gaussian(state)
        ex = est(q)
        state = spec.update(state, ex, lr)
        m, M = ref(m, M, ex.grad.numpy(), ex.hess.numpy(), lr)
        np.testing.assert_allclose(state[0].numpy(), m, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(state[1].numpy(), M, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(STEPS))
def test_conformance_pure_round_trip_and_fixed_point(name):
    """Every registered step: init/gaussian round-trip, no mutation of its inputs, and the exact
    posterior of a Gaussian target is a fixed point."""
    spec = STEPS[name]
    G = _gaussian_target()
    q_star = G.optimum()
    state = spec.init(q_star)
    q = spec.gaussian(state)
    torch.testing.assert_close(q.chol @ q.chol.T, q_star.chol @ q_star.chol.T)
    before = [t.clone() for t in state]
    ex = G.expectations(q)
    new = spec.update(state, ex, 0.5)
    assert all(torch.equal(a, b) for a, b in zip(state, before))
    q1 = spec.gaussian(new)
    # the fixed point moves by round-off only (KL of two equal Gaussians computed in float64
    # carries ~d ulps of log-determinants)
    assert float(gaussian_kl(q1, q_star)) < 1e-14
    assert float((q1.mean - q_star.mean).abs().max()) < 1e-12


@pytest.mark.parametrize("name", list(STEPS))
def test_conformance_converges_on_a_gaussian_target(name):
    G = _gaussian_target()
    lam_max = float(torch.linalg.eigvalsh(G.A).max())
    q0 = SqrtGaussian(torch.zeros(3, dtype=torch.float64),
                      torch.eye(3, dtype=torch.float64) / math.sqrt(lam_max))
    lr = 0.5 if name in ("SR-VN", "VN") else 0.5 / lam_max
    run = run_vi(name, G, q0, lr, 3000, stop_below=G.min_negative_elbo() + 1e-10)
    assert not run.diverged and run.iterations_to(G.min_negative_elbo() + 1e-10) > 0


@pytest.mark.parametrize("name,state,match", [
    ("SR-VN", SRVNState(torch.zeros(2, dtype=torch.float64), torch.diag(
        torch.tensor([1.0, -1.0], dtype=torch.float64))), "diagonal entry of C"),
    ("GD", SRVNState(torch.zeros(2, dtype=torch.float64), torch.full((2, 2), math.nan,
                                                                     dtype=torch.float64)),
     "not finite"),
    ("VN", VNState(torch.zeros(2, dtype=torch.float64), -torch.eye(2, dtype=torch.float64)),
     "positive definite"),
    ("BW-GD", BWState(torch.zeros(2, dtype=torch.float64), torch.diag(
        torch.tensor([1.0, 0.0], dtype=torch.float64))), "positive definite"),
])
def test_guards_raise_diverged(name, state, match):
    with pytest.raises(Diverged, match=match):
        STEPS[name].gaussian(state)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="method='SR-NGD'"):
        get_step("SR-NGD")


# ---- properties --------------------------------------------------------------------------------

def test_vn_at_step_one_is_exact_on_a_gaussian_target():
    G = _gaussian_target(d=4, seed=3)
    q0 = from_covariance(np.ones(4), np.eye(4))
    run = run_vi("VN", G, q0, 1.0, 1)
    assert run.objective[0] - G.min_negative_elbo() > 1.0
    assert run.objective[1] - G.min_negative_elbo() < 1e-12


def test_srvn_contracts_by_one_minus_rho_squared_and_tril_does_not_at_one():
    G = _gaussian_target(d=4, seed=4)
    F_star = G.min_negative_elbo()
    lam_max = float(torch.linalg.eigvalsh(G.A).max())
    q0 = SqrtGaussian(torch.zeros(4, dtype=torch.float64),
                      torch.eye(4, dtype=torch.float64) / math.sqrt(lam_max))
    for rho in (0.3, 0.5):
        gap = run_vi("SR-VN", G, q0, rho, 300).objective - F_star
        sel = (gap[:-1] > 1e-9) & (gap[:-1] < 1e-3)
        assert np.median(gap[1:][sel] / gap[:-1][sel]) == pytest.approx((1 - rho) ** 2, abs=0.02)
    fast = run_vi("SR-VN", G, q0, 1.0, 15).objective - F_star
    slow = run_vi("SR-VN (tril)", G, q0, 1.0, 15).objective - F_star
    assert fast[-1] < 1e-10 and slow[-1] > 1e-6


def test_srvn_and_vn_agree_to_second_order_in_the_step():
    """Both discretise one flow: after t = 1 the gap between them shrinks linearly in rho
    (O(rho^2) per step, 1/rho steps)."""
    G = _gaussian_target(d=3, seed=5)
    q0 = from_covariance(np.zeros(3), np.eye(3) * 0.05)
    devs = []
    for rho in (0.02, 0.01):
        T = int(round(1 / rho))
        a = run_vi("SR-VN", G, q0, rho, T).objective
        b = run_vi("VN", G, q0, rho, T).objective
        devs.append(np.abs(a - b).max())
    assert devs[1] / devs[0] == pytest.approx(0.5, abs=0.1)


def _reference_optimum(P: GLMPotential):
    """Minimise the negative ELBO directly with SciPy's BFGS over (m, log diag L, strict lower L).

    The objective is a NumPy Gauss-Hermite sum (100 nodes; predictor scales here are < 1.5, where
    the rule is exact to round-off) and its gradient is the exact derivative of that sum through
    ``s_i = ||L^T x_i||`` (not Price's theorem): independent of common.vi and of any Laplace
    approximation.
    """
    X, y, lam = P.X.numpy(), P.y.numpy(), P.prior_precision
    d = X.shape[1]
    z, w = np.polynomial.hermite_e.hermegauss(100)
    w = w / w.sum()
    il = np.tril_indices(d, -1)

    def unpack(p):
        L = np.zeros((d, d))
        L[il] = p[2 * d:]
        L[np.diag_indices(d)] = np.exp(p[d:2 * d])
        return p[:d], L

    def F_and_grad(p):
        m, L = unpack(p)
        XL = X @ L
        mu, s = X @ m, np.sqrt((XL ** 2).sum(1))
        a = mu[:, None] + s[:, None] * z
        ell = np.logaddexp(0, -y[:, None] * a)
        d1 = -y[:, None] / (1 + np.exp(y[:, None] * a))
        F = (ell @ w).sum() + 0.5 * lam * (m @ m + (L * L).sum()) - np.log(np.diag(L)).sum()
        gm = X.T @ (d1 @ w) + lam * m
        t = (d1 * z) @ w / s                                  # d/ds_i of the quadrature sum
        gL = (X.T * t) @ XL + lam * L - np.diag(1 / np.diag(L))
        return F, np.concatenate([gm, np.diag(gL) * np.diag(L), gL[il]])

    p0 = np.concatenate([np.zeros(d), np.full(d, -1.0), np.zeros(len(il[0]))])
    res = optimize.minimize(F_and_grad, p0, jac=True, method="BFGS",
                            options={"gtol": 1e-10, "maxiter": 2000})
    m, L = unpack(res.x)
    return m, L @ L.T, res


def test_fixed_points_match_a_laplace_free_reference_optimum():
    P = _logistic(n=40, d=3)
    m_ref, S_ref, res = _reference_optimum(P)
    assert np.linalg.norm(res.jac) < 1e-8
    est = GLMQuadrature(P)
    # H has eigenvalues in [1, ~15]: h = 0.1 contracts GD and BW-GD by <= 0.9 per step
    for name, lr, steps in (("SR-VN", 1.0, 60), ("VN", 1.0, 60), ("GD", 0.1, 300),
                            ("BW-GD", 0.1, 300)):
        run = run_vi(name, est, P.bohning_init(), lr, steps)
        q = run.final
        S = (q.chol @ q.chol.T).numpy()
        # both sides converge to ~1e-10 in the parameters; 1e-7 leaves the BFGS stopping slack
        np.testing.assert_allclose(q.mean.numpy(), m_ref, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(S, S_ref, atol=1e-7, err_msg=name)
    # and the SR-VN fixed point satisfies the optimality conditions to round-off
    q = run_vi("SR-VN", est, P.bohning_init(), 1.0, 60).final
    ex = est(q)
    assert float(ex.grad.norm()) < 1e-12
    delta = q.chol.T @ ex.hess @ q.chol - torch.eye(3, dtype=torch.float64)
    assert float(delta.norm()) < 1e-12
