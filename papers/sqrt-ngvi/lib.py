"""Code only the SR-VN reproduction needs: its three experiments on top of :mod:`common.vi`.

- Notebook 01 (Fig. 1): a synthetic Bayesian linear regression (a Gaussian target with closed-form
  expectations and ``F*``), runs of VN, SR-VN, GD and BW-GD, the equal-time deviation between
  SR-VN and VN, and SR-VN's contraction per step.
- Notebook 02 (geometries on Bayesian logistic regression): every (task, initialisation, method,
  step size[, seed]) run is one :class:`GridRun` config executed by
  :func:`common.experiment.sweep` (in-process at cpu scale; worker processes or SLURM at paper
  scale, resumable). Expectations are exact (quadrature) at cpu scale and Monte Carlo with
  mini-batches at paper scale, where ``F`` is monitored by quadrature every ``eval_every``
  iterations. ``F*`` comes from :func:`reference_optimum` (SR-VN at a stable step run to its fixed
  point, cross-checked with VN).
- Notebook 03: the continuous-time flows (:mod:`common.vi.flows`) and their rate fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.data import binary_task
from common.experiment import DEVICE_CHOICES, Config, ConfigError, derive_seed, param
from common.experiment import resolve_device as _resolve_device
from common.metrics import contraction_ratio
from common.vi import (
    GaussianPotential,
    GLMPotential,
    GLMQuadrature,
    MonteCarlo,
    SqrtGaussian,
    Trapezoid,
    entropy,
    get_step,
    run_vi,
)

__all__ = ["Fig1Config", "linreg_target", "isotropic_start", "grid_runs", "equal_time_deviation",
           "rate_study", "GeometryConfig", "GridRun", "load_task", "reference_optimum",
           "run_grid_point", "geometry_trials", "best_steps", "method_iterations",
           "fixed_point_agreement", "strong_convexity_ratio", "floored", "quadrature_accuracy",
           "mc_noise_floor", "FlowConfig"]

_NATURAL = ("SR-VN", "VN")


# ---------------------------------------------------------------------------------------------
# Notebook 01: Fig. 1 on Bayesian linear regression
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fig1Config(Config):
    """Settings of ``01_fig1_bayes_linreg`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="seed of the synthetic design and responses")
    n: int = param(50, ge=2, doc="observations")
    noise_var: float = param(0.25, gt=0, doc="noise variance of the regression")
    prior_precision: float = param(1.0, gt=0, doc="prior N(0, I / prior_precision)")
    scale_min: float = param(0.3, gt=0, doc="smallest column scale of the design")
    scale_max: float = param(3.0, gt=0, doc="largest column scale of the design")
    fig_dim: int = param(2, ge=2, doc="dimension of the Fig. 1(a) problem")
    rate_dim: int = param(5, ge=2, doc="dimension of the rate and deviation problem")
    tol: float = param(1e-8, gt=0, doc="F - F* tolerance for iterations-to-tolerance (Fig. 1a)")
    gd_grid: tuple[float, ...] = param((1e-4,), gt=0, doc="GD step sizes h")
    bw_grid: tuple[float, ...] = param((1e-4,), gt=0, doc="BW-GD step sizes h")
    max_iter: int = param(20_000, ge=1, doc="iteration budget of GD and BW-GD")
    srvn_rhos: tuple[float, ...] = param((0.1, 0.3, 0.5, 1.0), gt=0, le=2,
                                         doc="SR-VN steps of the rate study")
    rate_tol: float = param(1e-10, gt=0, doc="tolerance of the rate study")
    rate_band: tuple[float, ...] = param((1e-9, 1e-3), gt=0,
                                         doc="gap band over which contraction ratios are taken")
    rate_iters: int = param(400, ge=1, doc="iterations of each rate-study run")
    deviation_rhos: tuple[float, ...] = param((1e-3, 0.1, 0.5), gt=0, le=1,
                                              doc="steps of the SR-VN vs VN comparison")
    deviation_time: float = param(3.0, gt=0, doc="equal time t = rho * T of the comparison")

    def __post_init__(self):
        super().__post_init__()
        if self.scale_min > self.scale_max:
            raise ConfigError(f"scale_min={self.scale_min} exceeds scale_max={self.scale_max}")
        if len(self.rate_band) != 2 or self.rate_band[0] >= self.rate_band[1]:
            raise ConfigError(f"rate_band={self.rate_band}: (low, high) with low < high")


def linreg_target(cfg: Fig1Config, dim: int) -> GaussianPotential:
    """Bayesian linear regression with column scales log-spaced in [scale_min, scale_max].

    ``X`` standard normal times the column scales, ``y = X w + sqrt(noise_var) e`` with ``w``
    and ``e`` standard normal (seeded by ``derive_seed(seed, "linreg", dim)``).
    """
    rng = np.random.default_rng(derive_seed(cfg.seed, "linreg", dim))
    X = rng.standard_normal((cfg.n, dim)) * np.geomspace(cfg.scale_min, cfg.scale_max, dim)
    y = X @ rng.standard_normal(dim) + math.sqrt(cfg.noise_var) * rng.standard_normal(cfg.n)
    return GaussianPotential.from_linear_regression(X, y, noise_var=cfg.noise_var,
                                                    prior_precision=cfg.prior_precision)


def isotropic_start(target: GaussianPotential) -> SqrtGaussian:
    """``q_0 = N(0, lambda_max(A)^-1 I)`` (the notes' initialisation: ``C_0^T A C_0 <= I``)."""
    lam = float(torch.linalg.eigvalsh(target.A).max())
    d = target.dim
    return SqrtGaussian(torch.zeros(d, dtype=torch.float64),
                        torch.eye(d, dtype=torch.float64) / math.sqrt(lam))


def grid_runs(method: str, lrs, target, q0, num_steps: int, *, tol: float, trace=None,
              patience: int = 500) -> dict:
    """Each step size of ``lrs`` from ``q0``, stopped at ``F - F* <= tol / 100`` (or after
    ``patience`` iterations without a new lowest ``F``).

    Returns ``{"lrs", "iterations" (to tol, staying; -1 = not converged), "diverged", "runs"}``.
    """
    f_star = target.min_negative_elbo()
    runs = [run_vi(method, target, q0, float(lr), num_steps, stop_below=f_star + tol / 100,
                   trace=trace, patience=patience) for lr in lrs]
    return {"lrs": np.asarray(lrs, dtype=float),
            "iterations": np.array([r.iterations_to(f_star + tol) for r in runs]),
            "diverged": np.array([r.diverged for r in runs]), "runs": runs}


def best_of(grid: dict) -> tuple[int, float, int]:
    """``(index, lr, iterations)`` of the fastest converged step (ties: the smaller step)."""
    its = grid["iterations"]
    ok = np.flatnonzero(its >= 0)
    if ok.size == 0:
        return -1, math.nan, -1
    i = int(ok[np.argmin(its[ok])])
    return i, float(grid["lrs"][i]), int(its[i])


def equal_time_deviation(target, q0, rho: float, t_end: float) -> tuple[float, np.ndarray,
                                                                          np.ndarray]:
    """``max_t |F_SRVN(t) - F_VN(t)| / (F_0 - F*)`` over ``t = rho k <= t_end`` (both runs take
    ``round(t_end / rho)`` steps of size ``rho``); also the two objective paths."""
    steps = int(round(t_end / rho))
    a = run_vi("SR-VN", target, q0, rho, steps).objective
    b = run_vi("VN", target, q0, rho, steps).objective
    f_star = target.min_negative_elbo()
    return float(np.abs(a - b).max() / (a[0] - f_star)), a - f_star, b - f_star


def rate_study(cfg: Fig1Config, target, q0, method: str = "SR-VN") -> dict:
    """For each ``rho`` in ``srvn_rhos``: iterations to ``rate_tol``, the median contraction
    ratio over ``rate_band`` and the gap path."""
    f_star = target.min_negative_elbo()
    out = {}
    for rho in cfg.srvn_rhos:
        run = run_vi(method, target, q0, rho, cfg.rate_iters)
        gap = run.objective - f_star
        ratio, count = contraction_ratio(gap, low=cfg.rate_band[0], high=cfg.rate_band[1])
        out[rho] = {"iterations": run.iterations_to(f_star + cfg.rate_tol),
                    "ratio": ratio, "ratio_points": count, "gap": gap,
                    "diverged": run.diverged}
    return out


# ---------------------------------------------------------------------------------------------
# Notebook 02: geometries on Bayesian logistic regression
# ---------------------------------------------------------------------------------------------

_ESTIMATORS = ("quadrature", "mc")
_INITS = ("bohning", "prior")


@dataclass(frozen=True)
class GeometryConfig(Config):
    """Settings of ``02_logreg_geometries`` (defaults: cpu scale)."""

    tasks: tuple[str, ...] = param(("breast_cancer", "wine_0_vs_rest", "digits_3_vs_8"),
                                   doc="binary tasks (common.data.binary_task names)")
    prior_precision: float = param(1.0, gt=0, doc="prior N(0, I / prior_precision)")
    srvn_grid: tuple[float, ...] = param((0.5, 1.0), gt=0, doc="SR-VN steps rho")
    vn_grid: tuple[float, ...] = param((0.5, 1.0), gt=0, doc="VN steps rho")
    gd_grid: tuple[float, ...] = param((0.01, 0.02), gt=0, doc="GD steps h")
    bw_grid: tuple[float, ...] = param((0.01, 0.02), gt=0, doc="BW-GD steps h")
    prior_srvn_grid: tuple[float, ...] = param((0.01, 1.0), gt=0,
                                               doc="SR-VN steps from the prior")
    prior_vn_grid: tuple[float, ...] = param((1.0,), gt=0, doc="VN steps from the prior")
    max_iter_natural: int = param(1500, ge=1, doc="iteration budget of SR-VN and VN")
    max_iter_gd: int = param(5000, ge=1, doc="iteration budget of GD and BW-GD")
    tol: float = param(1e-6, gt=0, doc="F - F* tolerance of iterations-to-tolerance")
    estimator: str = param("quadrature", choices=_ESTIMATORS, doc="expectations of the steps")
    num_samples: int = param(8, ge=1, doc="Monte Carlo draws per step (estimator = mc)")
    batch_size: int = param(0, ge=0, doc="Monte Carlo mini-batch rows (0: full data)")
    hessian: str = param("price", choices=("price", "bonnet"), doc="Monte Carlo Hessian rule")
    seeds: tuple[int, ...] = param((0,), ge=0, doc="Monte Carlo seeds (quadrature: one)")
    eval_every: int = param(1, ge=1, doc="iterations between exact F evaluations (mc)")
    patience: int = param(200, ge=0, doc="stop after this many evaluations without a new "
                                           "lowest F (0: never)")
    device: str = param("cpu", doc="torch device: cpu, cuda or auto")

    def __post_init__(self):
        super().__post_init__()
        if self.device not in DEVICE_CHOICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"device={self.device!r}: allowed are {DEVICE_CHOICES} or cuda:N")
        if self.estimator == "quadrature" and (len(self.seeds) != 1 or self.eval_every != 1):
            raise ConfigError("estimator='quadrature' is deterministic: use one seed and "
                              "eval_every=1")


@dataclass(frozen=True)
class GridRun(Config):
    """One run of the geometry grid (the unit :func:`common.experiment.sweep` maps over)."""

    task: str = param("wine_0_vs_rest", doc="binary task")
    init: str = param("bohning", choices=_INITS, doc="initial Gaussian")
    method: str = param("SR-VN", choices=("SR-VN", "VN", "GD", "BW-GD"), doc="VI step")
    lr: float = param(1.0, gt=0, doc="step size")
    max_iter: int = param(1500, ge=1, doc="iteration budget")
    tol: float = param(1e-6, gt=0, doc="F - F* tolerance")
    prior_precision: float = param(1.0, gt=0, doc="prior precision")
    estimator: str = param("quadrature", choices=_ESTIMATORS, doc="expectations")
    num_samples: int = param(8, ge=1, doc="Monte Carlo draws")
    batch_size: int = param(0, ge=0, doc="Monte Carlo mini-batch (0: full)")
    hessian: str = param("price", choices=("price", "bonnet"), doc="Monte Carlo Hessian rule")
    seed: int = param(0, ge=0, doc="Monte Carlo stream")
    eval_every: int = param(1, ge=1, doc="iterations between exact F evaluations")
    patience: int = param(200, ge=0, doc="evaluations without a new lowest F (0: never stop)")
    device: str = param("cpu", doc="torch device")


@lru_cache(maxsize=8)
def load_task(task: str, prior_precision: float, device: str = "cpu") -> GLMPotential:
    """The logistic-regression potential of ``task`` (cached per process)."""
    X, y = binary_task(task)
    return GLMPotential(X, y, "logistic", prior_precision=prior_precision,
                        device=_resolve_device(device))


def _residuals(est, q) -> tuple[float, float]:
    ex = est(q)
    C = q.chol
    eye = torch.eye(q.dim, dtype=C.dtype, device=C.device)
    return float(ex.grad.norm()), float((C.T @ ex.hess @ C - eye).norm())


@lru_cache(maxsize=8)
def reference_optimum(task: str, prior_precision: float, device: str = "cpu",
                      rho: float = 0.5, max_iter: int = 600) -> dict:
    """The fixed point of SR-VN and of VN at step ``rho`` from the Böhning start, with exact
    (quadrature) expectations, each run to ``||g|| <= 1e-11`` and ``||C^T H C - I||_F <= 1e-11``
    (or ``max_iter``). ``F*`` is SR-VN's. Returns the two Gaussians, their residuals and
    ``F*``."""
    P = load_task(task, prior_precision, device)
    est = GLMQuadrature(P)
    out = {}
    for method in _NATURAL:
        spec = get_step(method)
        state = spec.init(P.bohning_init())
        for _ in range(max_iter):
            q = spec.gaussian(state)
            ex = est(q)
            C = q.chol
            eye = torch.eye(q.dim, dtype=C.dtype, device=C.device)
            if (float(ex.grad.norm()) <= 1e-11
                    and float((C.T @ ex.hess @ C - eye).norm()) <= 1e-11):
                break
            state = spec.update(state, ex, rho)
        q = spec.gaussian(state)
        g, delta = _residuals(est, q)
        out[method] = {"q": q, "grad_norm": g, "delta_norm": delta,
                       "F": float(est(q).value - entropy(q))}
    out["F_star"] = out["SR-VN"]["F"]
    return out


def _initial(P: GLMPotential, init: str) -> SqrtGaussian:
    return P.bohning_init() if init == "bohning" else P.prior()


def run_grid_point(run: GridRun) -> dict:
    """One (task, init, method, lr, seed) run: iterations to ``F* + tol`` (staying there; the run
    stops at ``F* + tol / 100``), divergence, the final gap, the lowest gap seen, the distance of
    the final mean to the reference optimum, ``lambda_max(C_0^T H_0 C_0)`` and wall time."""
    P = load_task(run.task, run.prior_precision, run.device)
    ref = reference_optimum(run.task, run.prior_precision, run.device)
    f_star = ref["F_star"]
    exact = GLMQuadrature(P)
    if run.estimator == "quadrature":
        est, monitor = exact, None
    else:
        est = MonteCarlo(P, run.num_samples, hessian=run.hessian,
                         batch_size=run.batch_size or None,
                         seed=derive_seed(run.seed, "mc", run.task))
        monitor = exact
    q0 = _initial(P, run.init)
    ex0 = exact(q0)
    lam0 = float(torch.linalg.eigvalsh(q0.chol.T @ ex0.hess @ q0.chol).max())
    t0 = time.perf_counter()
    res = run_vi(run.method, est, q0, run.lr, run.max_iter, stop_below=f_star + run.tol / 100,
                 monitor=monitor, eval_every=run.eval_every, patience=run.patience or None)
    wall = time.perf_counter() - t0
    its = res.iterations_to(f_star + run.tol)
    gap = res.objective - f_star
    dist = (float((res.final.mean - ref["SR-VN"]["q"].mean).norm())
            if res.final is not None else math.nan)
    return {"iterations": its, "diverged": res.diverged, "stalled": res.extra["stalled"],
            "reason": res.reason,
            "num_iterations": res.num_iterations,
            "final_gap": float(gap[-1]) if gap.size else math.nan,
            "min_gap": float(gap.min()) if gap.size else math.nan,
            "mean_distance": dist, "lambda_max0": lam0, "wall_time_s": wall,  # dist: ||m - m*||_2
            "time_per_iteration_s": wall / max(res.num_iterations, 1),
            "gap_at": res.at.tolist(), "gap": gap.tolist()}


def geometry_trials(cfg: GeometryConfig) -> list[GridRun]:
    """The grid: per task, every method over its grid from the Böhning start, and SR-VN / VN from
    the prior; Monte Carlo runs once per seed."""
    grids = {"SR-VN": cfg.srvn_grid, "VN": cfg.vn_grid, "GD": cfg.gd_grid, "BW-GD": cfg.bw_grid}
    common = dict(tol=cfg.tol, prior_precision=cfg.prior_precision, estimator=cfg.estimator,
                  num_samples=cfg.num_samples, batch_size=cfg.batch_size, hessian=cfg.hessian,
                  eval_every=cfg.eval_every, patience=cfg.patience, device=cfg.device)
    trials = []
    for seed in cfg.seeds:
        for task in cfg.tasks:
            for method, lrs in grids.items():
                budget = cfg.max_iter_natural if method in _NATURAL else cfg.max_iter_gd
                trials += [GridRun(task=task, init="bohning", method=method, lr=lr,
                                   max_iter=budget, seed=seed, **common) for lr in lrs]
            for method, lrs in (("SR-VN", cfg.prior_srvn_grid), ("VN", cfg.prior_vn_grid)):
                trials += [GridRun(task=task, init="prior", method=method, lr=lr,
                                   max_iter=cfg.max_iter_natural, seed=seed, **common)
                           for lr in lrs]
    return trials


def best_steps(df, *, init: str = "bohning"):
    """Per (seed, task, method): the fastest converged step, its iterations and wall time, and
    the grid it was chosen from (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    sub = df[df["init"] == init]
    for (seed, task, method), g in sub.groupby(["seed", "task", "method"], sort=False):
        g = g.sort_values("lr")
        ok = g[g["iterations"] >= 0]
        if ok.empty:
            rows.append({"seed": seed, "task": task, "method": method, "lr": math.nan,
                         "iterations": -1, "wall_time_s": math.nan, "grid": tuple(g["lr"])})
            continue
        best = ok.loc[ok["iterations"].idxmin()]
        rows.append({"seed": seed, "task": task, "method": method, "lr": float(best["lr"]),
                     "iterations": int(best["iterations"]),
                     "wall_time_s": float(best["wall_time_s"]),
                     "time_per_iteration_ms": 1e3 * float(best["time_per_iteration_s"]),
                     "grid": tuple(g["lr"])})
    return pd.DataFrame(rows)


def method_iterations(best, task: str, method: str) -> tuple[np.ndarray, float]:
    """Per seed (in seed order): iterations at ``method``'s best step on ``task`` (``nan`` where
    no step converged), and the best step of the first seed."""
    b = best[(best["task"] == task) & (best["method"] == method)].sort_values("seed")
    its = b["iterations"].to_numpy(dtype=float)
    return np.where(its >= 0, its, np.nan), float(b["lr"].iloc[0])


def fixed_point_agreement(ref: dict) -> dict:
    """``||m_SRVN - m_VN||_2`` and ``||Sigma_SRVN - Sigma_VN||_F / ||Sigma_SRVN||_F`` at the two
    reference fixed points, with SR-VN's residuals."""
    a, b = ref["SR-VN"]["q"], ref["VN"]["q"]
    Sa, Sb = a.chol @ a.chol.T, b.chol @ b.chol.T
    return {"grad_norm": ref["SR-VN"]["grad_norm"], "delta_norm": ref["SR-VN"]["delta_norm"],
            "mean_gap": float((a.mean - b.mean).norm()),
            "cov_gap": float((Sa - Sb).norm() / Sa.norm())}


def strong_convexity_ratio(df, prior_precision: float, f_star_scale: float = 1.0) -> float:
    """Largest ``||m - m*||_2 / sqrt(2 max(F - F*, eps) / lambda)`` over converged runs.

    ``F`` is ``lambda``-strongly convex in ``m`` after minimising over ``C`` (``F - lambda/2
    ||m||^2`` is jointly convex in ``(m, C)`` for a log-concave likelihood), so
    ``F(m, C) - F* >= lambda/2 ||m - m*||^2``: a ratio above 1 would mean the run's point is not
    the optimum the reference found. ``eps = 1e-14 * f_star_scale`` absorbs round-off in ``F``.
    """
    ok = df[df["iterations"] >= 0]
    if ok.empty:
        return math.nan
    gap = np.maximum(ok["final_gap"].to_numpy(float), 1e-14 * f_star_scale)
    return float((ok["mean_distance"].to_numpy(float)
                  / np.sqrt(2 * gap / prior_precision)).max())


def floored(x: float, floor: float) -> float:
    """``max(x, floor)``: round-off-level values differ between machines, so the claims table
    shows them floored (the label says at what)."""
    return max(float(x), floor)


def quadrature_accuracy(task: str, prior_precision: float, device: str = "cpu") -> dict:
    """Largest error of the default quadrature (and of Gauss-Hermite with 40 nodes) against a
    finer trapezoidal rule (eps 1e-24, half-width 11), at the prior, the Böhning start and the
    reference optimum, over ``E[V]``, ``g`` and ``H``; each error is relative to that quantity's
    largest entry over the three points (``g`` vanishes at the optimum, so a pointwise relative
    error would divide by zero)."""
    from common.vi import GaussHermite

    P = load_task(task, prior_precision, device)
    fine = GLMQuadrature(P, Trapezoid(eps=1e-24, half_width=11.0))
    rules = {"trapezoid": GLMQuadrature(P), "gauss-hermite-40": GLMQuadrature(P, GaussHermite(40))}
    ref = reference_optimum(task, prior_precision, device)
    points = [P.prior(), P.bohning_init(), ref["SR-VN"]["q"]]
    exact = [fine(q) for q in points]
    scale = [max(float(e[k].abs().max()) for e in exact) for k in range(3)]
    out = {}
    for rule, est in rules.items():
        out[rule] = max(float((a - b).abs().max()) / scale[k]
                        for q, e in zip(points, exact) for k, (a, b) in enumerate(zip(est(q), e)))
    _, s = rules["trapezoid"].predictor_moments(points[0])
    out["max_predictor_scale"] = float(s.max())
    return out


def mc_noise_floor(task: str, prior_precision: float, *, lr: float, num_samples: int,
                   hessian: str, num_steps: int, eval_every: int, seed: int,
                   tail: int) -> dict:
    """SR-VN with Monte Carlo expectations from the Böhning start: the median of ``F - F*``
    (exact, by quadrature) over the last ``tail`` evaluations."""
    P = load_task(task, prior_precision)
    f_star = reference_optimum(task, prior_precision)["F_star"]
    est = MonteCarlo(P, num_samples, hessian=hessian, seed=derive_seed(seed, "noise-floor"))
    run = run_vi("SR-VN", est, P.bohning_init(), lr, num_steps, monitor=GLMQuadrature(P),
                 eval_every=eval_every)
    gap = run.objective - f_star
    return {"median_tail_gap": float(np.median(gap[-tail:])), "diverged": run.diverged,
            "at": run.at, "gap": gap}


# ---------------------------------------------------------------------------------------------
# Notebook 03: flows
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowConfig(Config):
    """Settings of ``03_flows`` (defaults: cpu scale)."""

    task: str = param("wine_0_vs_rest", doc="binary task")
    prior_precision: float = param(1.0, gt=0, doc="prior precision")
    t_end: float = param(12.0, gt=0, doc="integration horizon")
    num_points: int = param(121, ge=10, doc="evaluation times in [0, t_end]")
    rtol: float = param(1e-10, gt=0, doc="solve_ivp relative tolerance")
    atol: float = param(1e-12, gt=0, doc="solve_ivp absolute tolerance")
    tail_band: tuple[float, ...] = param((1e-9, 1e-3), gt=0,
                                         doc="gap band of the log-linear tail fit")
    equivalence_time: float = param(2.0, gt=0, doc="time at which SR and VN flows are compared")

    def __post_init__(self):
        super().__post_init__()
        if len(self.tail_band) != 2 or self.tail_band[0] >= self.tail_band[1]:
            raise ConfigError(f"tail_band={self.tail_band}: (low, high) with low < high")
