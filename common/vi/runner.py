r"""Run a VI step from an initial Gaussian, and over a grid of step sizes.

:func:`run_vi` iterates ``q_t -> expectations -> update`` and records the negative ELBO
``F(q_t) = E_q[V] - H[q_t]`` at every iteration (or, with a noisy estimator, every
``eval_every`` iterations through a deterministic ``monitor`` estimator). A run *diverges* when a
step's guard fires (:class:`~common.vi.Diverged`), ``F`` stops being finite, or
``F`` exceeds ``F_0 + max_increase * max(1, |F_0|)``. With ``stop_below`` it stops at the first
iterate that gets there.

**Iterations to a tolerance** (:meth:`VIRun.iterations_to`) count a run as there at the first
iteration *after which it stays* at or below ``F* + tol`` until the run ends, and only if the run
ends there (it stopped at ``stop_below`` or ran out of budget below the threshold). A step that
passes through the tolerance band and leaves it again (a locally unstable fixed point, as SR-VN
and VN at ``rho = 1`` on digits 3 vs 8) does not count as converged. Stop the run a little below
the threshold (``stop_below = F* + tol / 100``) so that "stays" is observed.

:func:`step_grid` runs one method over step sizes from the same start; :class:`StepGrid` reports
iterations to a tolerance per step size and the best step (fewest iterations; ties go to the
smaller step). Wall-clock time per run is recorded beside the iterations (per-iteration costs
differ between methods: VN and BW-GD solve with a ``d x d`` matrix, SR-VN does not).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from common.vi.gaussian import SqrtGaussian, entropy
from common.vi.guards import Diverged
from common.vi.registry import VIStep, get_step

__all__ = ["VIRun", "run_vi", "StepGrid", "step_grid", "first_below"]


def first_below(values, threshold: float, at=None, *, stay: bool = False) -> int:
    """The first ``at[t]`` (default ``t``) with ``values[t] <= threshold``, or ``-1``.

    ``stay=True``: the first ``t`` from which *every* later value is ``<= threshold`` (``-1`` when
    the last value is above it).
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v) & (v <= threshold)
    if stay:
        if ok.size == 0 or not ok[-1]:
            return -1
        bad = np.flatnonzero(~ok)
        i = 0 if bad.size == 0 else int(bad[-1]) + 1
    else:
        hit = np.flatnonzero(ok)
        if hit.size == 0:
            return -1
        i = int(hit[0])
    return int(i if at is None else np.asarray(at)[i])


@dataclass
class VIRun:
    """One run. ``objective[j]`` is ``F`` at iteration ``at[j]`` (``at = 0, 1, ...`` unless a
    monitor evaluates every ``eval_every``); ``final`` is the last valid iterate."""

    method: str
    lr: float
    at: np.ndarray
    objective: np.ndarray
    diverged: bool
    reason: str
    final: SqrtGaussian | None
    num_iterations: int
    wall_time_s: float
    extra: dict = field(default_factory=dict)

    def iterations_to(self, threshold: float) -> int:
        """First recorded iteration from which ``F`` stays ``<= threshold`` to the end of the
        run (-1: never, or the run diverged)."""
        if self.diverged:
            return -1
        return first_below(self.objective, threshold, self.at, stay=True)

    def first_hit(self, threshold: float) -> int:
        """First recorded iteration with ``F <= threshold``, whether or not it stays (-1)."""
        return first_below(self.objective, threshold, self.at)

    @property
    def final_objective(self) -> float:
        return float(self.objective[-1]) if not self.diverged else math.inf


def run_vi(step: VIStep | str, estimator, q0: SqrtGaussian, lr: float, num_steps: int, *,
           stop_below: float | None = None, monitor=None, eval_every: int = 1,
           max_increase: float = 1e8, patience: int | None = None, trace=None) -> VIRun:
    """Run ``step`` for at most ``num_steps`` iterations from ``q0`` with step size ``lr``.

    Args:
        step: a :class:`VIStep` or a name in :data:`common.vi.STEPS`.
        estimator: ``estimator(q) -> Expectations`` fed to the update.
        q0: the initial Gaussian.
        lr: step size (rho for the natural-gradient steps, h for GD and BW-GD).
        num_steps: iteration budget.
        stop_below: stop at the first recorded ``F <= stop_below``.
        monitor: a deterministic estimator for ``F`` (default: ``estimator``'s own value).
        eval_every: record ``F`` every this many iterations (with a monitor).
        max_increase: divergence threshold on ``F - F_0`` relative to ``max(1, |F_0|)``.
        patience: stop a run whose lowest ``F`` has not decreased over this many recorded
            evaluations (``extra["stalled"] = True``: it neither converges nor diverges, e.g. a
            period-2 oscillation); ``None`` runs to the budget.
        trace: ``trace(q) -> value`` stored at every recorded iteration in
            ``extra["trace"]`` (e.g. the means of a 2-D path).
    """
    spec = get_step(step)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r}: a positive finite number")
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps={num_steps!r}: a non-negative integer")
    if not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every={eval_every!r}: a positive integer")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience={patience!r}: a positive integer or None")
    if eval_every > 1 and monitor is None:
        raise ValueError("eval_every > 1 needs a monitor estimator")
    t0 = time.perf_counter()
    state = spec.init(q0)
    at, values, traced = [], [], []
    diverged, reason, last_q, stalled = False, "", None, False
    limit, lowest, since_lowest = None, math.inf, 0
    t = 0
    while True:
        try:
            q = spec.gaussian(state)
            ex = estimator(q)
            if monitor is None or t % eval_every == 0 or t == num_steps:
                value = ex.value if monitor is None else monitor(q).value
                F = float(value - entropy(q))
                if limit is None:
                    limit = F + max_increase * max(1.0, abs(F))
                if not math.isfinite(F) or F > limit:
                    raise Diverged(f"F = {F:.3g} (not finite or above the divergence limit)")
                at.append(t)
                values.append(F)
                if trace is not None:
                    traced.append(trace(q))
                if stop_below is not None and F <= stop_below:
                    last_q = q
                    break
                if F < lowest:
                    lowest, since_lowest = F, 0
                else:
                    since_lowest += 1
                if patience is not None and since_lowest >= patience:
                    last_q, stalled = q, True
                    reason = f"stalled: no new lowest F in {patience} evaluations"
                    break
            last_q = q
            if t >= num_steps:
                break
            state = spec.update(state, ex, lr)
            t += 1
        except Diverged as exc:
            diverged, reason = True, str(exc)
            break
    return VIRun(spec.name, float(lr), np.asarray(at, dtype=int), np.asarray(values),
                 diverged, reason, last_q, t, time.perf_counter() - t0,
                 {"stalled": stalled, **({"trace": traced} if trace is not None else {})})


@dataclass
class StepGrid:
    """One method over a grid of step sizes from one start."""

    method: str
    lrs: np.ndarray
    runs: list[VIRun]

    def iterations_to(self, threshold: float) -> np.ndarray:
        """Per step size: :meth:`VIRun.iterations_to` (-1: not converged or diverged)."""
        return np.array([r.iterations_to(threshold) for r in self.runs], dtype=int)

    @property
    def diverged(self) -> np.ndarray:
        return np.array([r.diverged for r in self.runs], dtype=bool)

    def best(self, threshold: float) -> tuple[int, float, int]:
        """``(index, lr, iterations)`` of the fastest run to ``threshold``; ``(-1, nan, -1)``
        when no run gets there. Ties go to the smaller step."""
        its = self.iterations_to(threshold)
        ok = np.flatnonzero(its >= 0)
        if ok.size == 0:
            return -1, math.nan, -1
        i = int(ok[np.argmin(its[ok])])
        return i, float(self.lrs[i]), int(its[i])


def step_grid(step: VIStep | str, lrs, estimator, q0: SqrtGaussian, num_steps: int,
              **kwargs) -> StepGrid:
    """:func:`run_vi` for every ``lr`` in ``lrs`` (same start, same estimator); ``kwargs`` go to
    :func:`run_vi`. A stochastic estimator's stream continues across runs: build one per run
    (or use :func:`run_vi` directly) when runs must see the same draws."""
    spec = get_step(step)
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or lrs.size == 0:
        raise ValueError("lrs: a non-empty 1-D grid of step sizes")
    runs = [run_vi(spec, estimator, q0, float(lr), num_steps, **kwargs) for lr in lrs]
    return StepGrid(spec.name, lrs, runs)
