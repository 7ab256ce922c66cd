"""Zero-advantage ("zero-gradient") filters: which prompt groups carry a learning signal.

A group of G rollouts whose rewards are all equal has advantage 0 for every rollout
(:func:`common.rl.advantages.group_advantages`) and contributes no gradient to the GRPO loss.
DAPO's dynamic sampling (arXiv 2503.14476) and MT-GRPO's ratio-preserving sampler
(arXiv 2602.05547, Algorithm 2) drop such groups and draw more prompts. MT-GRPO uses two
definitions (notes, pitfall 9):

- ``strict`` (Exp 1): keep a group only if at least one rollout is *correct* (reward
  ``>= correct``) and not all are; so a group of format-only rewards (all 0.1, or 0.1 and 0
  mixed) is dropped although its advantages are not all zero.
- ``lenient`` (Exp 2): drop only groups whose rewards are all equal.
- ``none``: keep every group (the GRPO baseline).

Each filter maps rewards ``(num_groups, G)`` to a boolean keep-mask ``(num_groups,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["FILTERS", "strict_filter", "lenient_filter", "no_filter", "get_filter",
           "filter_rates"]


def _check(rewards) -> torch.Tensor:
    rewards = torch.as_tensor(rewards)
    if rewards.ndim != 2 or rewards.shape[1] < 1:
        raise ValueError(f"rewards: shape (num_groups, G) expected, got {tuple(rewards.shape)}")
    return rewards


def strict_filter(rewards, *, correct: float = 1.0) -> torch.Tensor:
    """Keep groups with at least one correct rollout (reward >= ``correct``) and not all correct."""
    solved = _check(rewards) >= correct
    return solved.any(dim=1) & ~solved.all(dim=1)


def lenient_filter(rewards, *, correct: float = 1.0) -> torch.Tensor:
    """Keep groups whose rewards are not all equal (``correct`` is unused)."""
    rewards = _check(rewards)
    return (rewards != rewards[:, :1]).any(dim=1)


def no_filter(rewards, *, correct: float = 1.0) -> torch.Tensor:
    """Keep every group."""
    return torch.ones(_check(rewards).shape[0], dtype=torch.bool)


#: The filters by name: ``FILTERS[name](rewards, correct=1.0) -> keep mask``.
FILTERS: dict[str, Callable[..., torch.Tensor]] = {
    "strict": strict_filter,
    "lenient": lenient_filter,
    "none": no_filter,
}


def get_filter(name: str) -> Callable[..., torch.Tensor]:
    """The filter called ``name`` (a clear error otherwise)."""
    try:
        return FILTERS[name]
    except KeyError:
        raise ValueError(f"filter={name!r}: allowed are {sorted(FILTERS)}") from None


def filter_rates(task_ids, keep, num_tasks: int) -> torch.Tensor:
    """Fraction of groups dropped per task, ``(num_tasks,)`` (NaN for a task with no group)."""
    task_ids = torch.as_tensor(task_ids, dtype=torch.long)
    keep = torch.as_tensor(keep, dtype=torch.bool)
    drawn = torch.bincount(task_ids, minlength=num_tasks).double()
    dropped = torch.bincount(task_ids[~keep], minlength=num_tasks).double()
    return torch.where(drawn > 0, dropped / drawn.clamp_min(1), torch.nan)
