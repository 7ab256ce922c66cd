"""GRPO group advantages: each rollout's reward standardised within its prompt's group.

For a prompt with G rollouts and rewards ``R_1..R_G`` (Shao et al. 2024, arXiv 2402.03300;
MT-GRPO App. B eq. 13, arXiv 2602.05547)::

    A_i = (R_i - mean_G R) / (std_G R + eps),      eps = 1e-6,

with the *unbiased* standard deviation (``torch.std``, correction 1), as the official MT-GRPO code
(verl's ``compute_grpo_outcome_advantage``) and TRL (``scale_rewards="group"``) compute it.
Every token of rollout ``i`` gets ``A_i`` (outcome supervision). A group whose rewards are all
equal gets ``A = 0`` for every rollout: it carries no gradient, which is what the zero-advantage
filters of :mod:`common.rl.filters` remove.

``scale=False`` gives the mean-centred advantage ``R_i - mean_G R`` (Dr. GRPO, arXiv
2503.20783; TRL's ``scale_rewards="none"``).
"""

from __future__ import annotations

import torch

__all__ = ["group_advantages"]


def group_advantages(rewards: torch.Tensor, *, eps: float = 1e-6, scale: bool = True
                     ) -> torch.Tensor:
    """Advantages of shape ``(num_groups, G)`` from rewards of the same shape.

    Args:
        rewards: ``(num_groups, G)``, row ``j`` the G rollouts of prompt ``j``; ``G >= 2``.
        eps: added to the group's standard deviation (verl and TRL use 1e-6 / 1e-4).
        scale: divide by the group's unbiased standard deviation (GRPO); False: only centre.

    Example:
        >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]])).round(decimals=4)
        tensor([[ 1.5000, -0.5000, -0.5000, -0.5000]])
    """
    rewards = torch.as_tensor(rewards)
    if rewards.ndim != 2:
        raise ValueError(f"rewards: shape (num_groups, G) expected, got {tuple(rewards.shape)}")
    if rewards.shape[1] < 2:
        raise ValueError(f"rewards: the group size G={rewards.shape[1]} must be >= 2 "
                         "(a standard deviation needs two rollouts)")
    if not eps >= 0:
        raise ValueError(f"eps={eps}: must be >= 0")
    if not torch.is_floating_point(rewards):
        rewards = rewards.double()
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + eps)
