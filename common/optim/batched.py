r"""A whole step-size grid of one optimizer as one batched computation.

:func:`batched_sweep` advances K independent copies of the iterate in one tensor of shape
``(K, dim)``: the functional updates of :mod:`common.optim` accept ``batch_dims=1`` and a
step-size tensor of shape ``(K,)``. Every copy sees the same mini-batches (common random
numbers), so differences between step sizes are not sampling noise. A copy whose loss exceeds
``threshold`` (or is not finite) is frozen and flagged as diverged
(:data:`common.metrics.DIVERGENCE_THRESHOLD`, the NGN-M paper's App. E rule); with
``stop_at_target`` a copy is frozen once it reaches ``target`` (App. E's stopping rule).
The NGN-M reproduction (arXiv 2508.15071, Fig. 1 and App. E/H) runs its toy problems with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from common.metrics.stability import DIVERGENCE_THRESHOLD
from common.optim._tree import apply_updates
from common.optim.registry import get

__all__ = ["BatchedSweep", "batched_sweep"]


@dataclass
class BatchedSweep:
    """One method over K step sizes run as one batched computation (:func:`batched_sweep`).

    Per step size: final loss, first iteration below ``target`` (or -1), and a trajectory."""

    method: str
    steps: np.ndarray          # (K,) swept step sizes (lr or c)
    final_loss: np.ndarray     # (K,) inf where the run diverged
    hit_iteration: np.ndarray  # (K,) first k with f(x_k) <= target, -1 if never
    diverged: np.ndarray       # (K,) bool
    record_at: np.ndarray      # (R,) iterations at which the trajectory is recorded
    trajectory: np.ndarray     # (R, K) loss (inf after divergence)
    step_size: np.ndarray      # (R, K) effective step gamma_k (NGN family) or lr
    tail_mean: np.ndarray      # (K,) mean full loss over the last ``tail`` iterations (inf if
                               #      the run diverged)


def batched_sweep(objective, method: str, steps, x0, num_steps: int, *, sampler=None,
              target: float = 0.0, stop_at_target: bool = False, num_records: int = 200,
              step_schedule=None, threshold: float = DIVERGENCE_THRESHOLD,
              tail: int = 1, hyper: dict | None = None) -> BatchedSweep:
    """Run ``method`` from ``x0`` for every step size in ``steps`` at once.

    Args:
        objective: has ``value_and_grad(x[, idx])`` batched over leading dims (common.models).
        method: a name in :data:`common.optim.OPTIMIZERS` with a functional update.
        steps: the swept step sizes (``lr`` or ``c``).
        x0: starting point, shape ``(dim,)``.
        num_steps: iterations.
        sampler: ``sampler(k) -> idx`` of the mini-batch at iteration k (None: full batch).
        target: loss level whose first hitting time is recorded.
        stop_at_target: freeze a copy once ``f <= target`` (as App. E's stopping rule).
        step_schedule: ``schedule(k) -> factor`` multiplying the step size at iteration k.
        threshold: a copy whose loss exceeds this, or is not finite, is frozen as diverged.
        tail: number of final iterations whose full loss is averaged into ``tail_mean`` (the
            last iterate of a stochastic method is noisy; its tail average is not).
        hyper: settings that override the registry entry's fixed ones (e.g. ``{"beta": 0.5}``
            for NGN-M with another momentum); a name the update does not take raises.
    """
    if not 1 <= tail <= num_steps:
        raise ValueError(f"tail={tail}: must be in [1, num_steps={num_steps}]")
    spec = get(method)
    dtype = torch.float64
    steps_t = torch.as_tensor(np.asarray(steps, dtype=np.float64), dtype=dtype)
    K = steps_t.shape[0]
    x = torch.as_tensor(np.asarray(x0, dtype=np.float64), dtype=dtype).expand(K, -1).clone()
    state = spec.init((x,))
    alive = torch.ones(K, dtype=torch.bool)
    running = torch.ones(K, dtype=torch.bool)
    final = torch.full((K,), float("nan"), dtype=dtype)
    hit = torch.full((K,), -1, dtype=torch.long)
    record_at = np.unique(np.geomspace(1, num_steps, num_records).astype(int)) - 1
    rec_pos = {int(k): i for i, k in enumerate(record_at)}
    traj = np.full((len(record_at), K), np.inf)
    gam = np.full((len(record_at), K), np.nan)
    tail_sum = torch.zeros(K, dtype=dtype)
    for k in range(num_steps):
        idx = sampler(k) if sampler is not None else None
        f, g = objective.value_and_grad(x) if idx is None else objective.value_and_grad(x, idx)
        f_full = f if idx is None else objective.value_and_grad(x)[0]
        bad = ~torch.isfinite(f_full) | (f_full > threshold)
        alive &= ~bad
        newly_hit = (hit < 0) & alive & (f_full <= target)
        hit[newly_hit] = k
        if stop_at_target:
            running &= ~newly_hit & alive
        else:
            running &= alive
        if k in rec_pos:
            traj[rec_pos[k]] = torch.where(alive, f_full, torch.inf).numpy()
        if k >= num_steps - tail + 1:  # iterates x_{K-tail+1..K-1}; x_K is added after the loop
            tail_sum += torch.where(alive, f_full, 0.0)
        if not running.any():
            break
        step = steps_t * (step_schedule(k) if step_schedule is not None else 1.0)
        updates, new_state, info = spec.functional_update(
            (g,), state, f.clamp_min(0.0), (x,), step, batch_dims=1, **(hyper or {}))
        (x_new,) = apply_updates((x,), updates)
        keep = running.unsqueeze(-1)
        x = torch.where(keep, x_new, x)
        state = type(new_state)(*[
            tuple(torch.where(keep, a, b) for a, b in zip(new, old))
            if isinstance(new, tuple) else new
            for new, old in zip(new_state, state)])
        if k in rec_pos:
            gam[rec_pos[k]] = torch.broadcast_to(torch.as_tensor(info["step_size"]),
                                                 (K,)).numpy()
    f_end = objective.value_and_grad(x)[0]
    final = torch.where(alive & torch.isfinite(f_end) & (f_end <= threshold), f_end, torch.inf)
    tail_mean = torch.where(torch.isfinite(final), (tail_sum + f_end) / tail, torch.inf)
    return BatchedSweep(method, np.asarray(steps, dtype=np.float64), final.numpy(), hit.numpy(),
                       (~alive).numpy() | ~np.isfinite(final.numpy()), record_at, traj, gam,
                       tail_mean.numpy())
