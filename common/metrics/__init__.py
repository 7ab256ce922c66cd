"""Metrics shared by several papers."""

from common.metrics.multitask import average_accuracy, delta_m_percent, worst_task_accuracy
from common.metrics.stability import DIVERGENCE_THRESHOLD, diverged, lr_sensitivity
from common.metrics.stats import Interval, bootstrap_ci, mean_ci, paired_ci, paired_ratio_ci

__all__ = ["DIVERGENCE_THRESHOLD", "diverged", "lr_sensitivity", "Interval", "bootstrap_ci",
           "mean_ci", "paired_ci", "paired_ratio_ci", "worst_task_accuracy",
           "average_accuracy", "delta_m_percent"]
