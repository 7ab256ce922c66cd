"""Metrics shared by several papers, one concept per module.

- :mod:`common.metrics.stability`   divergence flags, the learning-rate sensitivity score, the
                                    near-best width of a step-size grid
- :mod:`common.metrics.trajectory`  statistics of recorded trajectories (torch or JAX runs):
                                    Monte Carlo windows, stationary levels, half-lives, tracking
                                    errors, log-log slopes, crossings, the parabolic best step size
- :mod:`common.metrics.multitask`   worst-task and average accuracy, Delta-m%
- :mod:`common.metrics.rates`       log-linear convergence-rate fits (slope, R^2, bootstrap
                                    interval) and contraction ratios of optimality gaps
- :mod:`common.metrics.representation` neural collapse (NC0 with its normalisation, NC1-NC4,
                                    relative-to-initialisation values), rank measures (the
                                    singular-value rank at a relative threshold, entropy
                                    effective rank, stable rank, participation ratio, class-mean
                                    rank), penultimate features through a forward hook
- :mod:`common.metrics.igb`         initial guessing bias: class fractions, max-class fraction,
                                    drift ratio, empirical correlation, the G0 law, the predicted
                                    max-class fraction, an init-ensemble runner
- :mod:`common.metrics.generalization` generalisation gaps (CE, 0-1) on a paired test set,
                                    statistics across random draws and their log-log slopes
- :mod:`common.metrics.stats`       confidence intervals over seeds (mean, paired difference and
                                    ratio, bootstrap) for claims
- :mod:`common.metrics.conditioning` the pseudo-condition number with an explicit rank rule
- :mod:`common.metrics.geometry`    empirical constants in a norm from logged scalars: smoothness
                                    L, the mu-KL slope (Huber), norm ratio rho, rank correlation
- :mod:`common.metrics.curvature`   Gauss-Newton matrices from Jacobians (torch.func), their
                                    nonzero spectrum, condition numbers with an explicit rank
                                    rule, deep-linear closed forms and bounds, Lanczos
- :mod:`common.metrics.probes`      linear probes of frozen features: closed-form ridge and
                                    L-BFGS logistic regression
- :mod:`common.metrics.ood`         out-of-distribution detection: the NECO score, AUROC
- :data:`METRICS` the registry of scalar metrics (name -> function), one line per metric
"""

from common.metrics.conditioning import numerical_rank, pseudo_condition_number
from common.metrics.generalization import (
    LOSSES,
    DrawStats,
    across_draws,
    gap,
    risk,
    slope_over_draws,
)
from common.metrics.geometry import kl_slope, norm_ratio, rank_correlation, smoothness_estimate
from common.metrics.igb import (
    class_fractions,
    drift_moments,
    drift_ratio,
    empirical_correlation,
    ensemble_outputs,
    expected_max_fraction,
    g0_density,
    max_class_fraction,
    max_fraction_density,
)
from common.metrics.multitask import average_accuracy, delta_m_percent, worst_task_accuracy
from common.metrics.ood import auroc, neco_score
from common.metrics.probes import LinearProbe, logistic_probe, ridge_probe
from common.metrics.rates import RateFit, contraction_ratio, log_linear_fit, loglog_fit
from common.metrics.representation import (
    NC0_NORMALIZATIONS,
    PCABasis,
    class_mean_rank,
    class_means,
    effective_rank,
    last_linear,
    nc0,
    nc1,
    nc2,
    nc2_equiangular,
    nc2_equinorm,
    nc2m,
    nc2w,
    nc3,
    nc4,
    nc_metrics,
    participation_ratio,
    pca_basis,
    penultimate_features,
    relative_to_init,
    singular_value_rank,
    softmax_tail_bound,
    stable_rank,
)
from common.metrics.stability import (
    DIVERGENCE_THRESHOLD,
    diverged,
    lr_sensitivity,
    near_best_width,
)
from common.metrics.stats import Interval, bootstrap_ci, mean_ci, paired_ci, paired_ratio_ci
from common.metrics.trajectory import (
    Paths,
    best_lr,
    crossing,
    half_life,
    loglog_slope,
    relative_error,
    stationary_level,
    window,
    window_median,
    window_table,
)

#: The scalar metrics by name: one line per metric (conformance: ``tests/metrics``).
METRICS = {
    "lr_sensitivity": lr_sensitivity,
    "near_best_width": near_best_width,
    "window": window,
    "window_median": window_median,
    "stationary_level": stationary_level,
    "half_life": half_life,
    "relative_error": relative_error,
    "loglog_slope": loglog_slope,
    "crossing": crossing,
    "best_lr": best_lr,
    "delta_m_percent": delta_m_percent,
    "pseudo_condition_number": pseudo_condition_number,
    "smoothness_estimate": smoothness_estimate,
    "norm_ratio": norm_ratio,
    "rank_correlation": rank_correlation,
    "nc0": nc0,
    "nc1": nc1,
    "nc2": nc2,
    "nc2_equinorm": nc2_equinorm,
    "nc2_equiangular": nc2_equiangular,
    "nc2w": nc2w,
    "nc2m": nc2m,
    "nc3": nc3,
    "nc4": nc4,
    "singular_value_rank": singular_value_rank,
    "effective_rank": effective_rank,
    "stable_rank": stable_rank,
    "participation_ratio": participation_ratio,
    "class_mean_rank": class_mean_rank,
    "max_class_fraction": max_class_fraction,
    "drift_ratio": drift_ratio,
    "empirical_correlation": empirical_correlation,
    "auroc": auroc,
}

__all__ = [
    "DIVERGENCE_THRESHOLD", "diverged", "lr_sensitivity", "near_best_width", "Interval",
    "bootstrap_ci", "mean_ci", "paired_ci", "paired_ratio_ci", "worst_task_accuracy",
    "average_accuracy", "delta_m_percent", "Paths", "best_lr", "crossing", "half_life",
    "loglog_slope", "relative_error", "stationary_level", "window", "window_median",
    "window_table", "METRICS", "RateFit", "contraction_ratio", "log_linear_fit",
    "pseudo_condition_number", "numerical_rank", "smoothness_estimate", "kl_slope", "norm_ratio",
    "rank_correlation",
    "NC0_NORMALIZATIONS", "class_means", "nc0", "nc1", "nc2",
    "nc2_equinorm", "nc2_equiangular", "nc2w", "nc2m", "nc3", "nc4", "nc_metrics",
    "relative_to_init", "singular_value_rank", "effective_rank", "stable_rank",
    "participation_ratio",
    "class_mean_rank", "last_linear", "penultimate_features",
    "class_fractions", "max_class_fraction", "drift_moments",
    "drift_ratio", "empirical_correlation", "g0_density", "max_fraction_density",
    "expected_max_fraction", "ensemble_outputs",
    "loglog_fit", "LOSSES", "DrawStats", "across_draws", "gap", "risk", "slope_over_draws",
    "PCABasis", "pca_basis", "softmax_tail_bound", "LinearProbe", "ridge_probe",
    "logistic_probe", "neco_score", "auroc",
]
