r"""Step-size schedules as data: a multiplier ``s(k)`` of the base step size at step (or epoch) k.

A schedule is a frozen callable ``schedule(k) -> float`` built for a run of ``num_steps`` steps;
the step size at step ``k`` is ``lr * schedule(k)``. The same object serves the functional
updates (pass ``lr * schedule(k)``; :func:`common.optim.batched.batched_sweep` takes it as
``step_schedule``) and ``torch.optim`` optimizers through
``torch.optim.lr_scheduler.LambdaLR(opt, schedule)`` stepped once per unit of ``k``.

- :class:`Constant`: ``s(k) = 1``.
- :class:`StepDecay`: piecewise constant, multiplied by ``factor`` at each milestone,

  .. math::  s(k) = \text{factor}^{\,\#\{i:\; k \ge \mathrm{round}(f_i\, K)\}},

  with milestones given as fractions ``f_i`` of the run length ``K``.
  :func:`step_decay_thirds` is the schedule of Papyan, Han & Donoho (arXiv 2008.08186, the
  neural-collapse protocol): the rate divided by 10 at 1/3 and at 2/3 of training, used by
  Zhao, Cheng, Masarczyk & Lucchi (arXiv 2602.16642, App. D.1: 200 epochs, ÷10 at 1/3 and 2/3).

- :class:`WarmupStableDecay` (WSD, "trapezoidal"): a linear warm-up over ``w`` steps, constant,
  then a linear warm-down over the last ``m`` steps,

  .. math::  s(k) = \begin{cases} (k + 1)/w & k < w \\ 1 & w \le k < n - m \\
                    (n - k)/m & k \ge n - m \end{cases}

  with ``w = round(warmup_fraction n)`` and ``m = round(decay_fraction n)``. This is the schedule
  of modded-nanogpt's ``get_lr`` (Jordan et al.) that Islamov et al. (arXiv 2603.21191, App. A)
  use with no warm-up and a warm-down over the last 28 % of the steps (1450 of 5100 iterations in
  the Scion reference's 124M run): ``beta_k = gamma (n - k)/m``. The last step keeps ``1/m > 0``.

:data:`SCHEDULES` names them (``name -> factory(num_steps)``) for configs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Constant", "StepDecay", "step_decay_thirds", "WarmupStableDecay", "WSD_DECAY_FRACTION",
           "SCHEDULES", "make_schedule"]


def _check_steps(num_steps) -> None:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps={num_steps!r}: must be a positive integer")


@dataclass(frozen=True)
class Constant:
    """``s(k) = 1`` for every ``0 <= k < num_steps`` (and beyond)."""

    num_steps: int

    def __post_init__(self):
        _check_steps(self.num_steps)

    def __call__(self, k: int) -> float:
        return 1.0


@dataclass(frozen=True)
class StepDecay:
    """``s(k) = factor ** (number of milestones round(f * num_steps) <= k)``.

    ``milestones`` are increasing fractions in (0, 1) of the run; ``factor`` in (0, 1].
    """

    num_steps: int
    milestones: tuple[float, ...] = (1 / 3, 2 / 3)
    factor: float = 0.1

    def __post_init__(self):
        _check_steps(self.num_steps)
        ms = tuple(float(m) for m in self.milestones)
        if not ms or any(not 0 < m < 1 for m in ms) or any(a >= b for a, b in zip(ms, ms[1:])):
            raise ValueError(f"milestones={self.milestones}: increasing fractions in (0, 1)")
        if not 0 < self.factor <= 1:
            raise ValueError(f"factor={self.factor}: must be in (0, 1]")
        object.__setattr__(self, "milestones", ms)

    @property
    def boundaries(self) -> tuple[int, ...]:
        """The steps at which the multiplier drops: ``round(f * num_steps)``."""
        return tuple(round(m * self.num_steps) for m in self.milestones)

    def __call__(self, k: int) -> float:
        return self.factor ** sum(k >= b for b in self.boundaries)


def step_decay_thirds(num_steps: int) -> StepDecay:
    """Divide the step size by 10 at 1/3 and 2/3 of ``num_steps`` (Papyan et al. 2020)."""
    return StepDecay(num_steps, (1 / 3, 2 / 3), 0.1)


#: The warm-down fraction of the BST paper's runs (App. A of arXiv 2603.21191).
WSD_DECAY_FRACTION = 0.28


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


#: name -> ``factory(num_steps)``, one line per schedule.
SCHEDULES = {
    "constant": Constant,
    "step_thirds": step_decay_thirds,
    "wsd": WarmupStableDecay,
}


def make_schedule(name: str, num_steps: int):
    """The schedule ``name`` for a run of ``num_steps`` steps (ValueError naming the choices)."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule={name!r}: allowed are {sorted(SCHEDULES)}")
    return SCHEDULES[name](num_steps)
