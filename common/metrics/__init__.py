"""Metrics shared by several papers."""

from common.metrics.stability import DIVERGENCE_THRESHOLD, diverged, lr_sensitivity

__all__ = ["DIVERGENCE_THRESHOLD", "diverged", "lr_sensitivity"]
