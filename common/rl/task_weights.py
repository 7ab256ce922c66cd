"""MT-GRPO's task weights: the improvement-aware update (IWU) and strict worst-task reweighting.

The weights ``z = softmax(xi)`` over K tasks solve, one step at a time, the inner problem of the
robust objective (Ramesh et al., MT-GRPO, arXiv 2602.05547, eqs. 4-7)::

    max_theta min_{z in simplex} sum_k z_k J_k(theta) + eps Omega(z),   Omega(z) = 1/2 ||z - 1/K||_1

**Strict worst-task update** (eps = 0, eqs. 6-7): a descent step on ``sum_k z_k J_k`` through the
softmax, ``xi <- xi - beta g`` with ``g_k = z_k (J_k - sum_j z_j J_j)``. Weight flows to the task
with the lowest accuracy and, since nothing stops it, collapses there (the paper's Fig. 2).

**Improvement-aware update** (Subroutine 1): with ``I_k`` the improvement of task k's GRPO
objective over the last policy step (eq. 8) and ``lambda >= 0``::

    s_k = I_k + lambda J_k,    g_k = z_k (s_k - sum_j z_j s_j),    xi <- xi - beta g

so a task that is low *and* not improving gains weight, while a low task that improves quickly
does not (large lambda: strict worst-task; small lambda: balanced improvement). ``g`` is the
gradient of ``sum_k z_k s_k`` with respect to ``xi`` (checked against autograd in the tests).

**Documented choices** (the paper vs the official code, notes pitfalls 1-4, 13):

- Optimiser of the logits: the paper says AdamW (LR 0.025, weight decay 1e-5 / 1e-4); the code
  uses ``torch.optim.Adam(weight_decay=...)``, i.e. *coupled* L2 (the decay enters the gradient
  before Adam's normalisation). :func:`logit_adam_update` does either (``decoupled``); the
  default follows the code. Coupled L2 on plain gradient descent is the paper's regularised
  Subroutine 2, ``xi <- xi - beta (g + eta xi)``.
- ``I_k`` is clipped to ``[-improvement_clip, improvement_clip]`` (the code's
  ``delta_threshold``; the paper's "clipped to {0.1, 0.2}"); how ``I_k`` and ``J_k`` are measured
  (per minibatch, summed over a task's sequences; ``J_k`` an EMA of batch accuracy) is the
  trainer's business (:mod:`common.rl.trainer`), not this module's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["TaskWeightState", "softmax", "weight_gradient", "improvement_scores",
           "task_weights_init", "logit_adam_update", "iwu_step", "strict_step", "omega"]


class TaskWeightState(NamedTuple):
    """Logits ``xi`` of the task weights and the Adam moments of the logit optimiser."""

    logits: np.ndarray
    m: np.ndarray
    v: np.ndarray
    step: int

    @property
    def z(self) -> np.ndarray:
        return softmax(self.logits)


def softmax(x) -> np.ndarray:
    """Numerically stable softmax of a vector (float64)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def omega(z) -> float:
    """The regulariser ``Omega(z) = 1/2 ||z - 1/K||_1`` (eq. 5; the min-flow value of eq. 22)."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * float(np.abs(z - 1.0 / z.size).sum())


def weight_gradient(z, scores) -> np.ndarray:
    """``g_k = z_k (s_k - sum_j z_j s_j)``: the gradient of ``sum_k z_k s_k`` w.r.t. the logits."""
    z = np.asarray(z, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if z.shape != s.shape or z.ndim != 1:
        raise ValueError(f"z {z.shape} and scores {s.shape} must be vectors of one length")
    return z * (s - z @ s)


def improvement_scores(improvement, accuracy, lam: float, *, improvement_clip=None
                       ) -> np.ndarray:
    """``s_k = clip(I_k) + lambda J_k`` (Subroutine 1)."""
    if lam < 0:
        raise ValueError(f"lam={lam}: must be >= 0")
    imp = np.asarray(improvement, dtype=np.float64)
    if improvement_clip is not None:
        if not improvement_clip > 0:
            raise ValueError(f"improvement_clip={improvement_clip}: must be > 0 or None")
        imp = np.clip(imp, -improvement_clip, improvement_clip)
    return imp + lam * np.asarray(accuracy, dtype=np.float64)


def task_weights_init(num_tasks: int, logits=None) -> TaskWeightState:
    """Uniform weights (zero logits, the paper's ``z_0``) unless ``logits`` are given."""
    if num_tasks < 1:
        raise ValueError(f"num_tasks={num_tasks}: must be >= 1")
    xi = np.zeros(num_tasks) if logits is None else np.array(logits, dtype=np.float64)
    if xi.shape != (num_tasks,):
        raise ValueError(f"logits: shape ({num_tasks},) expected, got {xi.shape}")
    return TaskWeightState(xi, np.zeros(num_tasks), np.zeros(num_tasks), 0)


def logit_adam_update(state: TaskWeightState, grad, *, lr: float,
                      betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                      weight_decay: float = 0.0, decoupled: bool = False) -> TaskWeightState:
    """One Adam step on the logits (a new state; the input is not modified).

    Coupled (``torch.optim.Adam(weight_decay=wd)``, the official code): ``g <- g + wd xi`` before
    the moments. Decoupled (``torch.optim.AdamW``, the paper's text): ``xi <- xi (1 - lr wd)``
    before the Adam step. Equal to torch's optimisers step for step (tested).
    """
    if not lr > 0:
        raise ValueError(f"lr={lr}: must be > 0")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0")
    b1, b2 = betas
    xi = state.logits
    g = np.asarray(grad, dtype=np.float64)
    if decoupled:
        xi = xi * (1.0 - lr * weight_decay)
    else:
        g = g + weight_decay * state.logits
    t = state.step + 1
    m = b1 * state.m + (1 - b1) * g
    v = b2 * state.v + (1 - b2) * g * g
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return TaskWeightState(xi - lr * m_hat / (np.sqrt(v_hat) + eps), m, v, t)


def iwu_step(state: TaskWeightState, improvement, accuracy, *, lam: float, lr: float,
             weight_decay: float = 0.0, improvement_clip: float | None = None,
             decoupled: bool = False, betas: tuple[float, float] = (0.9, 0.999)
             ) -> tuple[TaskWeightState, dict]:
    """One improvement-aware update of the task weights; returns ``(state, info)``.

    ``improvement``: ``I_k`` (positive = task k's GRPO objective improved); ``accuracy``:
    ``J_k``. ``info`` holds the scores ``s``, the gradient ``g`` and the new weights ``z``.
    """
    z = state.z
    s = improvement_scores(improvement, accuracy, lam, improvement_clip=improvement_clip)
    g = weight_gradient(z, s)
    new = logit_adam_update(state, g, lr=lr, weight_decay=weight_decay, decoupled=decoupled,
                            betas=betas)
    return new, {"scores": s, "grad": g, "z": new.z}


def strict_step(state: TaskWeightState, accuracy, *, lr: float, weight_decay: float = 0.0,
                decoupled: bool = False) -> tuple[TaskWeightState, dict]:
    """The strict worst-task update (eqs. 6-7): :func:`iwu_step` with ``I = 0``, ``lambda = 1``."""
    acc = np.asarray(accuracy, dtype=np.float64)
    return iwu_step(state, np.zeros_like(acc), acc, lam=1.0, lr=lr, weight_decay=weight_decay,
                    decoupled=decoupled)
