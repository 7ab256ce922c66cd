"""Multi-task GRPO training: one step = sample a batch, one GRPO epoch of minibatch updates,
and (MT-GRPO) improvement-aware task-weight updates. Methods are data (:data:`METHODS`).

A step of :func:`train_step` (Ramesh et al., MT-GRPO, arXiv 2602.05547, Algorithm 1):

1. the method's sampler (:mod:`common.rl.sampler`) builds a batch of ``batch_size`` prompt
   groups at the task weights ``z``, asking ``draw`` for rollouts: ``draw`` samples prompts of the
   requested tasks, ``group_size`` completions each at ``temperature``, scores them and applies
   the method's zero-advantage filter (:mod:`common.rl.filters`);
2. group advantages (:mod:`common.rl.advantages`) and the log-probabilities of the sampling
   policy; the batch's sequences are shuffled into ``num_minibatches`` minibatches, each taking
   one optimiser step on the clipped token loss (:mod:`common.rl.loss`) with gradient clipping;
3. MT-GRPO only: after each minibatch step, the improvement ``I_k`` and the IWU
   (:mod:`common.rl.task_weights`).

**Documented choices, following the official code rather than the paper's text** (notes,
pitfalls 2-4 and 8): the IWU runs after *every minibatch* (Algorithm 1: once per step; the two
coincide with ``num_minibatches = 1``); ``I_k`` is the *sum* over task k's sequences in the
minibatch of ``loss_before - loss_after``, each sequence's loss the token mean of its clipped
surrogate, re-evaluated on the same minibatch right after the step, then clipped to
``±improvement_clip``; ``J_k`` is an EMA (decay 0.5) of task k's accuracy (fraction of rollouts
with reward >= 1) over every rollout drawn in the step, before filtering, not the KL-regularised
expected reward of eq. 1. "DAPO" is clip-higher (0.28) plus dynamic sampling with the strict
filter, no overlong shaping; every method aggregates by token mean; the KL coefficient is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from common.rl.advantages import group_advantages
from common.rl.filters import filter_rates, get_filter
from common.rl.loss import AGGREGATIONS, clipped_token_loss
from common.rl.sampler import aas_inflation, get_sampler, update_filter_rate
from common.rl.task_weights import TaskWeightState, iwu_step, task_weights_init

__all__ = ["GRPOSettings", "IWUSettings", "MultiTaskMethod", "METHODS", "get_method",
           "TrainState", "init_state", "train_step", "evaluate", "supervised_warm_start"]


@dataclass(frozen=True)
class GRPOSettings:
    """What every method shares (the paper's Exp 1 values in brackets)."""

    group_size: int = 8            # rollouts per prompt G [72]
    batch_size: int = 16           # prompt groups per step [32]
    num_minibatches: int = 2       # optimiser steps per step [4: 32 / 8]
    eps_low: float = 0.2           # lower clip [0.2]
    aggregation: str = "token_mean"
    kl_coef: float = 0.0           # [0]
    max_grad_norm: float = 1.0     # [1.0]
    temperature: float = 1.0       # sampling temperature [1.0]
    micro_batch_size: int | None = None  # sequences per forward/backward (gradient
                                         # accumulation inside a minibatch); None: all at once

    def __post_init__(self):
        for name in ("group_size", "batch_size", "num_minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.group_size < 2:
            raise ValueError(f"group_size={self.group_size}: GRPO needs >= 2 rollouts per prompt")
        if self.max_grad_norm <= 0 or self.temperature <= 0:
            raise ValueError("max_grad_norm and temperature must be > 0")
        if self.micro_batch_size is not None and self.micro_batch_size < 1:
            raise ValueError(f"micro_batch_size={self.micro_batch_size}: must be >= 1 or None")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation={self.aggregation!r}: allowed are "
                             f"{sorted(AGGREGATIONS)}")


@dataclass(frozen=True)
class IWUSettings:
    """The improvement-aware weight update (Exp 1: lambda 0.2 / 0.25, LR 0.025, WD 1e-5, clip 0.1
    times lr / 1e-6 in the code's units; re-tune lambda and the clip at any other scale)."""

    lam: float = 0.2
    lr: float = 0.025
    weight_decay: float = 1e-5
    improvement_clip: float | None = 0.1
    decoupled: bool = False        # False: Adam + coupled L2 (the code); True: AdamW (the text)
    accuracy_decay: float = 0.5    # EMA decay of J_k (the code)


@dataclass(frozen=True)
class MultiTaskMethod:
    """A method as data: how batches are sampled and filtered, the upper clip, the weights."""

    name: str
    sampler: str = "plain"
    filter: str = "none"
    eps_high: float = 0.2
    oversample: int = 3            # M_os
    max_rounds: int = 10           # generation batches per step (N_rs)
    max_inflation: float | None = None   # AAS's M_acc (None: AAS off)
    iwu: IWUSettings | None = None       # None: fixed uniform weights

    def __post_init__(self):
        get_sampler(self.sampler)
        get_filter(self.filter)


#: The paper's three methods (§6): GRPO (uniform, no filter, symmetric clip); DAPO (uniform,
#: clip-higher, dynamic sampling with the strict filter); MT-GRPO (IWU + ratio-preserving sampler
#: with the strict filter, clip-higher). AAS is off, as in the Exp 1 scripts.
METHODS: dict[str, MultiTaskMethod] = {
    "GRPO": MultiTaskMethod("GRPO"),
    "DAPO": MultiTaskMethod("DAPO", sampler="dynamic", filter="strict", eps_high=0.28),
    "MT-GRPO": MultiTaskMethod("MT-GRPO", sampler="ratio_preserving", filter="strict",
                               eps_high=0.28, iwu=IWUSettings()),
}


def get_method(name: str, **overrides) -> MultiTaskMethod:
    """A method of :data:`METHODS`, with fields replaced (``iwu=IWUSettings(lam=0.5)``)."""
    if name not in METHODS:
        raise ValueError(f"method={name!r}: allowed are {sorted(METHODS)}")
    return replace(METHODS[name], **overrides)


@dataclass
class TrainState:
    """What persists between steps besides the policy and its optimiser."""

    weights: TaskWeightState
    accuracy: np.ndarray                 # J_k, EMA of batch accuracy (NaN before the first)
    filter_rate: np.ndarray              # rho_k, EMA of the filter rate (AAS)
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def init_state(num_tasks: int) -> TrainState:
    """The :class:`TrainState` before the first step: initial task weights, no accuracy yet."""
    return TrainState(task_weights_init(num_tasks), np.full(num_tasks, np.nan),
                      np.zeros(num_tasks))


def _ema(old: np.ndarray, new: np.ndarray, decay: float) -> np.ndarray:
    out = np.where(np.isnan(old), new, decay * old + (1 - decay) * new)
    return np.where(np.isnan(new), old, out)


def _seq_loss(per_token: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (per_token * mask).sum(-1) / mask.sum(-1).clamp_min(1)


def _repeat(x, G: int):
    """Each row ``G`` times in a row (tensors, NumPy arrays)."""
    if isinstance(x, torch.Tensor):
        return x.repeat_interleave(G, dim=0)
    return np.repeat(np.asarray(x, dtype=object if not isinstance(x, np.ndarray) else None),
                     G, axis=0)


def _cat_left_padded(tensors: list[torch.Tensor], pad_id: int) -> torch.Tensor:
    """Concatenate left-padded ``(n_i, P_i)`` prompt tensors, padding to the widest."""
    width = max(t.shape[1] for t in tensors)
    return torch.cat([torch.nn.functional.pad(t, (width - t.shape[1], 0), value=pad_id)
                      for t in tensors])


#: The share of a micro-batch in its minibatch's aggregated loss, so that accumulating the
#: micro-batches' gradients gives the minibatch's gradient exactly.
_MICRO_WEIGHT = {
    "token_mean": lambda mask, total: mask.sum() / total.sum().clamp_min(1),
    "seq_mean_token_mean": lambda mask, total: mask.shape[0] / total.shape[0],
    "seq_mean_token_sum": lambda mask, total: mask.shape[0] / total.shape[0],
}


def _minibatch_update(policy, optimizer, prompts, comp, old_logp, adv, mask, settings,
                      method) -> tuple[torch.Tensor, float, torch.Tensor]:
    """One optimiser step on a minibatch (accumulating micro-batches); returns the per-token
    loss (detached), the aggregated loss and the clip fraction."""
    n = comp.shape[0]
    size = settings.micro_batch_size or n
    kw = dict(eps_low=settings.eps_low, eps_high=method.eps_high,
              aggregation=settings.aggregation)
    optimizer.zero_grad(set_to_none=True)
    per_token, total, clip = [], 0.0, 0.0
    for idx in torch.split(torch.arange(n), size):
        loss, info = clipped_token_loss(policy.token_logprobs(prompts[idx], comp[idx]),
                                        old_logp[idx], adv[idx], mask[idx], **kw)
        w = float(_MICRO_WEIGHT[settings.aggregation](mask[idx], mask))
        (loss * w).backward()
        per_token.append(info["per_token"].detach())
        total += float(loss.detach()) * w
        clip += float(info["clip_frac"]) * float(mask[idx].sum() / mask.sum().clamp_min(1))
    torch.nn.utils.clip_grad_norm_(list(policy.parameters()), settings.max_grad_norm)
    optimizer.step()
    return torch.cat(per_token), total, clip


@torch.no_grad()
def _per_token_loss(policy, prompts, comp, old_logp, adv, mask, settings, method):
    size = settings.micro_batch_size or comp.shape[0]
    out = []
    for idx in torch.split(torch.arange(comp.shape[0]), size):
        _, info = clipped_token_loss(policy.token_logprobs(prompts[idx], comp[idx]),
                                     old_logp[idx], adv[idx], mask[idx],
                                     eps_low=settings.eps_low, eps_high=method.eps_high)
        out.append(info["per_token"])
    return torch.cat(out)


def train_step(policy, optimizer: torch.optim.Optimizer, tasks, method: MultiTaskMethod,
               settings: GRPOSettings, state: TrainState, rng: np.random.Generator,
               generator: torch.Generator | None = None) -> dict[str, Any]:
    """One training step; updates ``policy``, ``optimizer`` and ``state`` and returns its log.

    ``tasks`` provides ``num_tasks``, ``max_new_tokens``, ``prompts(task_ids, rng) -> (prompts,
    answers, answer_lens)`` and ``rewards(answers, answer_lens, completions) -> (n,)``
    (:class:`common.data.toy_reasoning.ToyTaskSet`).
    """
    K, G = tasks.num_tasks, settings.group_size
    keep_fn = get_filter(method.filter)
    pool: list[dict[str, torch.Tensor]] = []

    def draw(task_ids: np.ndarray) -> np.ndarray:
        prompts, answers, lens = tasks.prompts(task_ids, rng)
        comp, mask = policy.generate(_repeat(prompts, G), tasks.max_new_tokens,
                                     temperature=settings.temperature, generator=generator)
        rewards = tasks.rewards(_repeat(answers, G), _repeat(lens, G), comp).view(-1, G)
        keep = keep_fn(rewards)
        pool.append({"tasks": torch.as_tensor(task_ids), "prompts": prompts,
                     "completions": comp.view(-1, G, comp.shape[1]),
                     "mask": mask.view(-1, G, mask.shape[1]), "rewards": rewards})
        return keep.numpy()

    z = state.weights.z if method.iwu is not None else np.full(K, 1.0 / K)
    inflation = (aas_inflation(state.filter_rate, max_inflation=method.max_inflation)
                 if method.max_inflation is not None else None)
    res = get_sampler(method.sampler)(z, settings.batch_size, draw, rng,
                                      oversample=method.oversample,
                                      max_rounds=method.max_rounds, inflation=inflation)
    drawn = {k: torch.cat([p[k] for p in pool]) for k in pool[0] if k != "prompts"}
    drawn["prompts"] = _cat_left_padded([p["prompts"] for p in pool], policy.pad_id)
    # statistics of everything drawn (pre-filter): accuracy J_k and filter rates rho_k
    solved = (drawn["rewards"] >= 1.0).double().mean(1).numpy()
    acc = np.array([solved[res.drawn_tasks == k].mean() if (res.drawn_tasks == k).any()
                    else np.nan for k in range(K)])
    rates = filter_rates(res.drawn_tasks, res.accepted, K).numpy()
    decay = method.iwu.accuracy_decay if method.iwu is not None else 0.5
    state.accuracy = _ema(state.accuracy, acc, decay)
    state.filter_rate = update_filter_rate(state.filter_rate, rates)
    log: dict[str, Any] = {"step": state.step, "z": z.copy(), "ratio": res.ratio(K),
                           "rounds": res.rounds, "groups": int(res.indices.size),
                           "drawn_accuracy": acc, "filter_rate": rates}
    losses, clips = [], []
    if res.indices.size:
        sel = torch.as_tensor(res.indices)
        seq_task = drawn["tasks"][sel].repeat_interleave(G)
        prompts = drawn["prompts"][sel].repeat_interleave(G, dim=0)
        comp = drawn["completions"][sel].flatten(0, 1)
        mask = drawn["mask"][sel].flatten(0, 1)
        with torch.no_grad():
            size = settings.micro_batch_size or comp.shape[0]
            old_logp = torch.cat([policy.token_logprobs(prompts[i], comp[i])
                                  for i in torch.split(torch.arange(comp.shape[0]), size)])
        dev = old_logp.device
        adv = group_advantages(drawn["rewards"][sel]).flatten().to(dev, old_logp.dtype)
        mask = mask.to(dev)
        order = torch.as_tensor(rng.permutation(comp.shape[0]))
        for mb in torch.tensor_split(order, settings.num_minibatches):
            if mb.numel() == 0:
                continue
            batch = (prompts[mb], comp[mb], old_logp[mb], adv[mb], mask[mb])
            before, loss, clip = _minibatch_update(policy, optimizer, *batch, settings, method)
            losses.append(loss)
            clips.append(clip)
            if method.iwu is not None:
                after = _per_token_loss(policy, *batch, settings, method)
                gain = (_seq_loss(before, mask[mb]) - _seq_loss(after, mask[mb])).double().cpu()
                improvement = torch.zeros(K, dtype=torch.float64).index_add_(
                    0, seq_task[mb], gain).numpy()
                acc_now = np.nan_to_num(state.accuracy, nan=0.0)
                state.weights, _ = iwu_step(
                    state.weights, improvement, acc_now, lam=method.iwu.lam, lr=method.iwu.lr,
                    weight_decay=method.iwu.weight_decay,
                    improvement_clip=method.iwu.improvement_clip, decoupled=method.iwu.decoupled)
    log["loss"] = float(np.mean(losses)) if losses else float("nan")
    log["clip_frac"] = float(np.mean(clips)) if clips else float("nan")
    state.step += 1
    state.history.append(log)
    return log


@torch.no_grad()
def evaluate(policy, tasks, *, num_prompts: int, num_samples: int = 1, seed: int = 0,
             temperature: float = 1.0) -> np.ndarray:
    """Per-task accuracy ``(K,)``: the fraction of ``num_samples`` completions of ``num_prompts``
    fixed prompts per task (drawn from ``seed``) that are correct (the paper: 8 samples at
    temperature 1.0 of 200 test prompts per task)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    out = np.zeros(tasks.num_tasks)
    for k in range(tasks.num_tasks):
        prompts, answers, lens = tasks.prompts(np.full(num_prompts, k), rng)
        rep = lambda t: t.repeat_interleave(num_samples, dim=0)  # noqa: E731
        comp, _ = policy.generate(rep(prompts), tasks.max_new_tokens, temperature=temperature,
                                  generator=gen)
        out[k] = float((tasks.rewards(rep(answers), rep(lens), comp) >= 1.0).double().mean())
    return out


def supervised_warm_start(policy, optimizer: torch.optim.Optimizer, tasks, *, num_steps: int,
                          batch_size: int, rng: np.random.Generator, weights=None) -> list[float]:
    """Cross-entropy on correct completions (answer + EOS) of prompts drawn from the tasks with
    probabilities ``weights`` (uniform by default); returns the losses."""
    K = tasks.num_tasks
    p = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, dtype=np.float64)
    losses = []
    for _ in range(num_steps):
        prompts, comp, mask = tasks.supervised_batch(rng.choice(K, size=batch_size, p=p), rng)
        logp = policy.token_logprobs(prompts, comp)
        mask = mask.to(logp.device)
        loss = -(logp * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
