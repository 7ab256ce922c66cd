r"""The warmup-stable-decay (WSD) step-size schedule: a multiplier ``s(k)`` of the base step size.

It follows the conventions of ``common.optim.schedules`` (a frozen callable
``schedule(k) -> float`` built for a run of ``num_steps`` steps) and lives in its own module so
that it can join that module's ``SCHEDULES`` table as ``"wsd"`` without an edit here. The step
size at step ``k`` (0-based) is ``lr * schedule(k)``. The same object serves the functional
updates (pass ``lr * schedule(k)``) and ``torch.optim`` optimizers through
``torch.optim.lr_scheduler.LambdaLR(opt, schedule)``, stepped once per optimizer step.

- :class:`WarmupStableDecay` (WSD, "trapezoidal"): a linear warm-up over ``w`` steps, constant,
  then a linear warm-down over the last ``m`` steps,

  .. math::  s(k) = \begin{cases} (k + 1)/w & k < w \\ 1 & w \le k < n - m \\
                    (n - k)/m & k \ge n - m \end{cases}

  with ``w = round(warmup_fraction n)`` and ``m = round(decay_fraction n)``. This is the schedule
  of modded-nanogpt's ``get_lr`` (Jordan et al.) that Islamov et al. (arXiv 2603.21191, App. A)
  use with no warm-up and a warm-down over the last 28 % of the steps (1450 of 5100 iterations in
  the Scion reference's 124M run): ``beta_k = gamma (n - k)/m``. The last step keeps ``1/m > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WarmupStableDecay", "WSD_DECAY_FRACTION"]

#: The warm-down fraction of the BST paper's runs (App. A of arXiv 2603.21191).
WSD_DECAY_FRACTION = 0.28


def _check_steps(num_steps) -> None:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps={num_steps!r}: must be a positive integer")


@dataclass(frozen=True)
class WarmupStableDecay:
    """Linear warm-up, constant, linear warm-down to ``1/m`` at the last step (module docstring)."""

    num_steps: int
    decay_fraction: float = WSD_DECAY_FRACTION
    warmup_fraction: float = 0.0

    def __post_init__(self):
        _check_steps(self.num_steps)
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise ValueError(f"decay_fraction={self.decay_fraction}: must be in [0, 1]")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction={self.warmup_fraction}: must be in [0, 1]")
        if self.warmup_steps + self.decay_steps > self.num_steps:
            raise ValueError(f"warmup_fraction + decay_fraction = "
                             f"{self.warmup_fraction + self.decay_fraction}: must be <= 1")

    @property
    def warmup_steps(self) -> int:
        """``w = round(warmup_fraction * num_steps)``."""
        return round(self.warmup_fraction * self.num_steps)

    @property
    def decay_steps(self) -> int:
        """``m = round(decay_fraction * num_steps)`` (the warm-down length)."""
        return round(self.decay_fraction * self.num_steps)

    def __call__(self, k: int) -> float:
        n, w, m = self.num_steps, self.warmup_steps, self.decay_steps
        if k < w:
            return (k + 1) / w
        if m > 0 and k >= n - m:
            return max(n - k, 0) / m
        return 1.0
