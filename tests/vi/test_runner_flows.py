"""The runner (iterations to tolerance, divergence, grids) and the continuous-time flows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from common.vi import (
    FLOWS,
    GaussianPotential,
    GLMPotential,
    GLMQuadrature,
    SqrtGaussian,
    first_below,
    integrate_flow,
    run_vi,
    step_grid,
)


def test_first_below_and_stay():
    v = [5.0, 0.5, 2.0, 0.4, 0.1]
    assert first_below(v, 1.0) == 1
    assert first_below(v, 1.0, stay=True) == 3
    assert first_below(v, 1.0, at=[0, 10, 20, 30, 40], stay=True) == 30
    assert first_below([5.0, 0.5, 2.0], 1.0, stay=True) == -1
    assert first_below([math.nan, 0.5], 1.0) == 1
    assert first_below([3.0], 1.0) == -1


def _target():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((3, 3))
    return GaussianPotential(B @ B.T + np.eye(3), rng.standard_normal(3))


def _q0(G):
    lam = float(torch.linalg.eigvalsh(G.A).max())
    return SqrtGaussian(torch.zeros(3, dtype=torch.float64),
                        torch.eye(3, dtype=torch.float64) / math.sqrt(lam))


def test_run_stops_and_counts():
    G = _target()
    F_star = G.min_negative_elbo()
    run = run_vi("SR-VN", G, _q0(G), 0.5, 500, stop_below=F_star + 1e-10)
    assert not run.diverged
    assert run.objective[-1] - F_star <= 1e-10 and run.num_iterations == len(run.objective) - 1
    k = run.iterations_to(F_star + 1e-6)
    assert 0 < k < run.num_iterations
    assert np.all(run.objective[k:] - F_star <= 1e-6) and run.objective[k - 1] - F_star > 1e-6
    assert run.wall_time_s >= 0


def test_divergence_is_detected_and_reported():
    G = _target()
    lam = float(torch.linalg.eigvalsh(G.A).max())
    run = run_vi("GD", G, _q0(G), 10.0 / lam, 200)
    assert run.diverged and run.reason
    assert run.iterations_to(G.min_negative_elbo() + 1.0) == -1
    assert run.final_objective == math.inf


def test_step_grid_best_breaks_ties_towards_the_smaller_step():
    G = _target()
    F_star = G.min_negative_elbo()
    grid = step_grid("VN", [0.5, 1.0, 1.0 + 1e-12], G, _q0(G), 50, stop_below=F_star + 1e-12)
    its = grid.iterations_to(F_star + 1e-10)
    assert its[1] == its[2] == 1
    assert grid.best(F_star + 1e-10)[:2] == (1, 1.0)
    none = step_grid("GD", [100.0], G, _q0(G), 5)
    assert none.best(F_star)[0] == -1 and none.diverged.all()


def test_bad_arguments_are_named():
    G = _target()
    with pytest.raises(ValueError, match="lr="):
        run_vi("SR-VN", G, _q0(G), -1.0, 5)
    with pytest.raises(ValueError, match="num_steps="):
        run_vi("SR-VN", G, _q0(G), 0.1, -1)
    with pytest.raises(ValueError, match="needs a monitor"):
        run_vi("SR-VN", G, _q0(G), 0.1, 5, eval_every=2)
    with pytest.raises(ValueError, match="lrs"):
        step_grid("SR-VN", [], G, _q0(G), 5)
    with pytest.raises(ValueError, match="flow='Fisher'"):
        integrate_flow("Fisher", G, _q0(G), 1.0)


def _logistic():
    rng = np.random.default_rng(3)
    X = np.hstack([rng.standard_normal((30, 2)), np.ones((30, 1))])
    y = np.where(rng.random(30) < 0.5, 1.0, -1.0)
    return GLMPotential(X, y, "logistic")


def test_flows_decrease_the_objective_and_sr_equals_vn_in_moment_space():
    P = _logistic()
    est = GLMQuadrature(P)
    q0 = P.bohning_init()
    paths = {name: integrate_flow(name, est, q0, 2.0, num_points=21) for name in FLOWS}
    for name, path in paths.items():
        assert path.success, name
        # a gradient flow: F never increases (solver tolerance 1e-10 relative)
        assert np.all(np.diff(path.objective) <= 1e-9), name
    sr, vn = paths["SR"].states[-1], paths["VN"].states[-1]
    # the same flow in (m, Sigma), integrated in different coordinates: agree to solver accuracy
    torch.testing.assert_close(sr.mean, vn.mean, rtol=0, atol=1e-8)
    torch.testing.assert_close(sr.chol @ sr.chol.T, vn.chol @ vn.chol.T, rtol=0, atol=1e-8)


def test_small_srvn_steps_follow_the_sr_flow():
    P = _logistic()
    est = GLMQuadrature(P)
    q0 = P.bohning_init()
    flow = integrate_flow("SR", est, q0, 0.5, t_eval=[0.0, 0.5]).states[-1]
    errs = []
    for rho in (0.05, 0.025):
        q = run_vi("SR-VN", est, q0, rho, int(round(0.5 / rho))).final
        errs.append(float((q.mean - flow.mean).abs().max() + (q.chol - flow.chol).abs().max()))
    # forward Euler: first order in the step
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.1)


def test_patience_stops_a_run_that_no_longer_improves():
    from common.vi import Expectations

    d = 2
    eye = torch.eye(d, dtype=torch.float64)
    q0 = SqrtGaussian(torch.zeros(d, dtype=torch.float64), eye)

    def frozen(q):  # the optimum of V = ||theta||^2 / 2 at q0 = N(0, I): nothing moves
        return Expectations(torch.tensor(1.0, dtype=torch.float64), q.mean * 0, eye)

    run = run_vi("SR-VN", frozen, q0, 0.5, 5000, patience=50, stop_below=-1e9)
    assert run.extra["stalled"] and not run.diverged and run.num_iterations == 50
    assert run.iterations_to(-1e9) == -1
    with pytest.raises(ValueError, match="patience"):
        run_vi("SR-VN", frozen, q0, 0.1, 5, patience=0)
