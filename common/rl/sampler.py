"""Batch samplers for multi-task RL with a zero-advantage filter: plain, dynamic (DAPO) and the
ratio-preserving sampler (RPS) with acceptance-aware sampling (AAS) of MT-GRPO.

A sampler builds one training batch of ``batch_size`` prompt groups for task weights ``z``. It
asks ``draw(task_ids) -> accepted`` to generate rollouts for one prompt of each listed task and
to say which groups survive the filter (:mod:`common.rl.filters`); the caller keeps the drawn
groups in the order of the calls, and the sampler returns which of them form the batch
(:class:`SampleResult`). Every sampler has the signature of :data:`SAMPLERS`' values.

**Ratio-preserving sampler** (Ramesh et al., MT-GRPO, arXiv 2602.05547, Algorithm 2)::

    n ~ Multinomial(B, z)                                  # per-task targets
    m_k = min(1 / (1 - rho_k), M_acc)   (AAS; 1 without)   # rho_k: EMA of task k's filter rate
    draw M_os * B prompts from  z_hat ∝ z * m,  filter, count acceptances c_k
    while some deficit  def_k = max(n_k - c_k, 0) > 0  and rounds < max_rounds:
        draw M_os * B prompts with probabilities ∝ def_k * m_k, filter, update c_k
    keep at most n_k accepted groups per task, fill up to B at random from the surplus

so the post-filter task proportions stay at ``z`` however different the tasks' filter rates are.
**Filtering alone** (DAPO's dynamic sampling, arXiv 2503.14476: draw ``M_os * B`` prompts from
``z`` per round until ``B`` groups are accepted) realises proportions ``∝ z_k (1 - rho_k)``:
easy and hopeless tasks, whose groups are filtered most, shrink in the batch.

Conventions (documented choices): ``rounds`` counts generation batches *including the first*
(so 1 = no resampling), and ``max_rounds`` bounds that count (the paper's ``N_rs = 10`` in Exp 1;
the official code's DAPO "up to 10 generation batches"). The official code takes the targets
from the rounded empirical task ratios of the first draw rather than a fresh multinomial
(notes, pitfall 5); we follow the paper. AAS follows the code: acceptance ``a = clip(1 - rho,
0.01, 1)``, ``m = min(a^-1, M_acc)``, ``rho`` an EMA with decay 0.9 starting at 0
(:func:`update_filter_rate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SampleResult", "Draw", "plain_sampler", "dynamic_sampler",
           "ratio_preserving_sampler", "SAMPLERS", "get_sampler", "aas_inflation",
           "update_filter_rate", "realised_ratio"]

#: ``draw(task_ids) -> accepted``: generate and filter one prompt group per entry.
Draw = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SampleResult:
    """One batch: ``indices`` into the groups drawn (in draw order) and what was drawn.

    Attributes:
        indices: ``(b,)`` positions of the batch's groups among all drawn groups (``b <= B``).
        task_ids: ``(b,)`` their tasks.
        drawn_tasks: ``(D,)`` the task of every drawn group, in draw order.
        accepted: ``(D,)`` whether each drawn group passed the filter.
        targets: ``(K,)`` the per-task targets ``n_k`` (RPS), or None.
        rounds: generation batches used (1 = no resampling).
    """

    indices: np.ndarray
    task_ids: np.ndarray
    drawn_tasks: np.ndarray
    accepted: np.ndarray
    targets: np.ndarray | None
    rounds: int

    def ratio(self, num_tasks: int) -> np.ndarray:
        """Realised task proportions of the batch, ``(num_tasks,)``."""
        return realised_ratio(self.task_ids, num_tasks)


def realised_ratio(task_ids, num_tasks: int) -> np.ndarray:
    """Proportion of each task among ``task_ids`` (zeros for an empty batch)."""
    counts = np.bincount(np.asarray(task_ids, dtype=np.int64), minlength=num_tasks)
    return counts / max(counts.sum(), 1)


def _check(z, batch_size: int, oversample: int, max_rounds: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1 or z.size < 1 or (z < 0).any() or not np.isclose(z.sum(), 1.0, atol=1e-8):
        raise ValueError(f"z={z}: task weights must be a non-negative vector summing to 1")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    if oversample < 1:
        raise ValueError(f"oversample={oversample}: must be >= 1")
    if max_rounds < 1:
        raise ValueError(f"max_rounds={max_rounds}: must be >= 1")
    return z / z.sum()


def _call(draw: Draw, tasks: np.ndarray) -> np.ndarray:
    accepted = np.asarray(draw(tasks), dtype=bool)
    if accepted.shape != tasks.shape:
        raise ValueError(f"draw returned {accepted.shape} flags for {tasks.shape} prompts")
    return accepted


def plain_sampler(z, batch_size: int, draw: Draw, rng: np.random.Generator, *,
                  oversample: int = 1, max_rounds: int = 1, inflation=None) -> SampleResult:
    """Draw ``batch_size`` prompts from ``z`` once; the batch is the accepted ones.

    With the ``none`` filter this is GRPO's batch; with a filter it shrinks the batch (no
    resampling). ``oversample``, ``max_rounds`` and ``inflation`` are ignored.
    """
    z = _check(z, batch_size, 1, 1)
    tasks = rng.choice(z.size, size=batch_size, p=z)
    accepted = _call(draw, tasks)
    idx = np.flatnonzero(accepted)
    return SampleResult(idx, tasks[idx], tasks, accepted, None, 1)


def dynamic_sampler(z, batch_size: int, draw: Draw, rng: np.random.Generator, *,
                    oversample: int = 3, max_rounds: int = 10, inflation=None) -> SampleResult:
    """DAPO's dynamic sampling: rounds of ``oversample * batch_size`` prompts from ``z`` until
    ``batch_size`` groups are accepted (or ``max_rounds``); keep ``batch_size`` of them at random.
    """
    z = _check(z, batch_size, oversample, max_rounds)
    drawn, acc, rounds = [], [], 0
    while rounds < max_rounds and sum(int(a.sum()) for a in acc) < batch_size:
        tasks = rng.choice(z.size, size=oversample * batch_size, p=z)
        drawn.append(tasks)
        acc.append(_call(draw, tasks))
        rounds += 1
    drawn_tasks, accepted = np.concatenate(drawn), np.concatenate(acc)
    pool = np.flatnonzero(accepted)
    idx = np.sort(rng.choice(pool, size=min(batch_size, pool.size), replace=False))
    return SampleResult(idx, drawn_tasks[idx], drawn_tasks, accepted, None, rounds)


def ratio_preserving_sampler(z, batch_size: int, draw: Draw, rng: np.random.Generator, *,
                             oversample: int = 3, max_rounds: int = 10,
                             inflation=None) -> SampleResult:
    """MT-GRPO's ratio-preserving sampler (Algorithm 2); ``inflation`` is the AAS vector ``m``
    (:func:`aas_inflation`) or None (no AAS: ``m = 1``)."""
    z = _check(z, batch_size, oversample, max_rounds)
    K = z.size
    m = np.ones(K) if inflation is None else np.asarray(inflation, dtype=np.float64)
    if m.shape != (K,) or not (m > 0).all():
        raise ValueError(f"inflation={inflation}: a positive vector of length {K} expected")
    targets = rng.multinomial(batch_size, z)
    p = z * m
    drawn, acc = [], []
    counts = np.zeros(K, dtype=np.int64)
    rounds = 0
    while rounds < max_rounds:
        tasks = rng.choice(K, size=oversample * batch_size, p=p / p.sum())
        accepted = _call(draw, tasks)
        drawn.append(tasks)
        acc.append(accepted)
        counts += np.bincount(tasks[accepted], minlength=K)
        rounds += 1
        deficit = np.maximum(targets - counts, 0)
        if deficit.sum() == 0:
            break
        p = deficit * m
    drawn_tasks, accepted = np.concatenate(drawn), np.concatenate(acc)
    chosen, surplus = [], []
    for k in range(K):
        pool = np.flatnonzero(accepted & (drawn_tasks == k))
        pool = rng.permutation(pool)
        chosen.append(pool[:targets[k]])
        surplus.append(pool[targets[k]:])
    chosen = np.concatenate(chosen)
    surplus = np.concatenate(surplus)
    fill = min(batch_size - chosen.size, surplus.size)
    if fill > 0:
        chosen = np.concatenate([chosen, rng.choice(surplus, size=fill, replace=False)])
    idx = np.sort(chosen)
    return SampleResult(idx, drawn_tasks[idx], drawn_tasks, accepted, targets, rounds)


#: Samplers by name; each is ``sampler(z, batch_size, draw, rng, *, oversample, max_rounds,
#: inflation) -> SampleResult``.
SAMPLERS: dict[str, Callable[..., SampleResult]] = {
    "plain": plain_sampler,
    "dynamic": dynamic_sampler,
    "ratio_preserving": ratio_preserving_sampler,
}


def get_sampler(name: str) -> Callable[..., SampleResult]:
    """The sampler called ``name`` (a clear error otherwise)."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"sampler={name!r}: allowed are {sorted(SAMPLERS)}") from None


def aas_inflation(filter_rate, *, max_inflation: float = 5.0, min_acceptance: float = 1e-2
                  ) -> np.ndarray:
    """AAS multipliers ``m_k = min(1 / clip(1 - rho_k, min_acceptance, 1), max_inflation)``.

    ``max_inflation`` is the paper's ``M_acc`` (5); ``min_acceptance`` the code's ``eps``.
    """
    rho = np.asarray(filter_rate, dtype=np.float64)
    if max_inflation < 1:
        raise ValueError(f"max_inflation={max_inflation}: must be >= 1")
    if not 0 < min_acceptance <= 1:
        raise ValueError(f"min_acceptance={min_acceptance}: must be in (0, 1]")
    acceptance = np.clip(1.0 - rho, min_acceptance, 1.0)
    return np.minimum(1.0 / acceptance, max_inflation)


def update_filter_rate(rate, observed, *, decay: float = 0.9) -> np.ndarray:
    """EMA ``rho <- decay * rho + (1 - decay) * observed`` per task; NaN observations (a task
    not drawn this step) leave ``rho`` unchanged. Returns a new array."""
    if not 0 <= decay < 1:
        raise ValueError(f"decay={decay}: must be in [0, 1)")
    rate = np.asarray(rate, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    new = decay * rate + (1 - decay) * observed
    return np.where(np.isnan(observed), rate, new)
