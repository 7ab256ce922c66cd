"""papers/sqrt-ngvi/lib.py: the Fig. 1 problem, the geometry grid (including its paper-scale code
path: Monte Carlo with mini-batches, a quadrature monitor, device "auto", a sweep), the reference
optimum and the analysis helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from common import paths
from common.experiment import ConfigError, sweep
from common.project import paper_module
from common.vi import run_vi

lib = paper_module("sqrt-ngvi")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_linreg_target_is_the_regression_posterior_and_vn_solves_it_in_one_step():
    cfg = lib.Fig1Config()
    G = lib.linreg_target(cfg, 3)
    q0 = lib.isotropic_start(G)
    assert float(torch.linalg.eigvalsh(q0.chol.T @ G.A @ q0.chol).max()) == pytest.approx(1.0)
    run = run_vi("VN", G, q0, 1.0, 1)
    assert run.objective[1] - G.min_negative_elbo() < 1e-10
    dev, a, b = lib.equal_time_deviation(G, q0, 0.1, 1.0)
    assert 0 < dev < 1 and len(a) == len(b) == 11


def test_grid_runs_and_best_of():
    cfg = lib.Fig1Config()
    G = lib.linreg_target(cfg, 2)
    grid = lib.grid_runs("GD", [2e-4, 4e-4, 1.0], G, lib.isotropic_start(G), 5000, tol=1e-6)
    assert grid["diverged"].tolist() == [False, False, True]
    i, lr, its = lib.best_of(grid)
    assert (i, lr) == (1, 4e-4) and 0 < its < grid["iterations"][0]


def test_reference_optimum_is_a_shared_fixed_point():
    ref = lib.reference_optimum("wine_0_vs_rest", 1.0)
    fp = lib.fixed_point_agreement(ref)
    assert fp["grad_norm"] < 1e-10 and fp["delta_norm"] < 1e-10
    assert fp["mean_gap"] < 1e-9 and fp["cov_gap"] < 1e-9


def test_paper_scale_path_runs_on_a_few_steps(tmp_path):
    """Monte Carlo steps on mini-batches, an exact monitor every few steps, device 'auto' (the CPU
    here), through the sweep runner: the code path of SCALE=paper at tiny size."""
    common = dict(task="wine_0_vs_rest", estimator="mc", num_samples=2, batch_size=32,
                  eval_every=5, patience=0, max_iter=10, tol=1.0, device="auto")
    trials = [lib.GridRun(method=m, lr=lr, seed=s, **common)
              for m, lr in (("SR-VN", 0.1), ("GD", 0.01)) for s in (0, 1)]
    result = sweep(lib.run_grid_point, trials, store_dir=tmp_path, executor="debug")
    df = result.raise_for_failures().to_frame()
    assert len(df) == 4
    assert all(r == [0, 5, 10] for r in df["gap_at"])
    assert np.all(np.isfinite(df["final_gap"]))
    # different seeds draw different samples
    sr = df[df["method"] == "SR-VN"]["final_gap"].to_numpy()
    assert sr[0] != sr[1]


def test_best_steps_and_strong_convexity_ratio():
    df = pd.DataFrame({
        "seed": [0] * 4, "task": ["t"] * 4, "init": ["bohning"] * 4,
        "method": ["GD", "GD", "GD", "SR-VN"], "lr": [0.1, 0.2, 0.4, 1.0],
        "iterations": [30, 20, -1, 5], "wall_time_s": [1.0, 1.0, 1.0, 1.0],
        "time_per_iteration_s": [0.01] * 4, "final_gap": [1e-8, 2e-8, 3.0, 1e-8],
        "mean_distance": [1e-4, 1e-4, 1.0, 1e-5]})
    best = lib.best_steps(df)
    assert best.set_index("method").loc["GD", "lr"] == 0.2
    its, lr = lib.method_iterations(best, "t", "GD")
    assert its.tolist() == [20.0] and lr == 0.2
    ratio = lib.strong_convexity_ratio(df, 1.0)
    assert ratio == pytest.approx(1e-4 / math.sqrt(2e-8))


def test_configs_validate_and_paper_params_are_valid():
    with pytest.raises(ConfigError, match="estimator"):
        lib.GeometryConfig(estimator="exact")
    with pytest.raises(ConfigError, match="deterministic"):
        lib.GeometryConfig(seeds=(0, 1))
    with pytest.raises(ConfigError, match="device"):
        lib.GeometryConfig(device="tpu")
    with pytest.raises(ConfigError, match="scale_min"):
        lib.Fig1Config(scale_min=5.0)
    params = yaml.safe_load((paths.paper_dir("sqrt-ngvi") / "params" / "paper.yaml").read_text())
    # notebook-only parameters (the sweep's resume, the noise-floor cell) are not config fields
    fields = set(lib.GeometryConfig.__dataclass_fields__)
    lib.GeometryConfig(**{k: v for k, v in params["02_logreg_geometries"].items() if k in fields})
    lib.FlowConfig(**params["03_flows"])
    lib.Fig1Config(**params["01_fig1_bayes_linreg"])
