"""Multi-task accuracy summaries: worst-task accuracy, average accuracy and Delta-m%.

For per-task accuracies ``acc[k]``, k = 1..K (MT-GRPO, arXiv 2602.05547, §6; Delta-m% from
Maninis et al. 2019, arXiv 1904.08918, as used in multi-task learning)::

    worst   = min_k acc[k]
    average = (1/K) sum_k acc[k]
    Delta-m% = (1/K) sum_k (acc_m[k] - acc_b[k]) / acc_b[k] * 100

with ``b`` the reference method (DAPO in the paper). All accept a leading batch dimension
(seeds, steps): the task axis is the last one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["worst_task_accuracy", "average_accuracy", "delta_m_percent"]


def _acc(acc, name: str = "acc") -> np.ndarray:
    a = np.asarray(acc, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"{name}: per-task accuracies along the last axis expected, "
                         f"got shape {a.shape}")
    return a


def worst_task_accuracy(acc) -> np.ndarray | float:
    """``min_k acc[..., k]``."""
    out = _acc(acc).min(axis=-1)
    return float(out) if out.ndim == 0 else out


def average_accuracy(acc) -> np.ndarray | float:
    """``mean_k acc[..., k]``."""
    out = _acc(acc).mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def delta_m_percent(acc, reference) -> np.ndarray | float:
    """Mean relative change per task against ``reference``, in percent (> 0: better)."""
    a, b = _acc(acc), _acc(reference, "reference")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"acc has {a.shape[-1]} tasks, reference {b.shape[-1]}")
    if (b <= 0).any():
        raise ValueError("reference: every task's accuracy must be > 0 (Delta-m% divides by it)")
    out = ((a - b) / b).mean(axis=-1) * 100.0
    return float(out) if out.ndim == 0 else out
