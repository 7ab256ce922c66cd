"""Reinforcement learning for language-model policies: GRPO pieces, multi-task samplers and task
reweighting (MT-GRPO, arXiv 2602.05547).

- :mod:`~common.rl.advantages`: GRPO group advantages.
- :mod:`~common.rl.loss`: the clipped token loss (asymmetric clipping, token-mean aggregation)
  and the low-variance KL.
- :mod:`~common.rl.filters`: zero-advantage filters (strict, lenient).
- :mod:`~common.rl.sampler`: plain, dynamic (DAPO) and ratio-preserving (RPS, with AAS) batches.
- :mod:`~common.rl.task_weights`: the improvement-aware and strict task-weight updates.
- :mod:`~common.rl.rewards`: 1 / 0.1 / 0 outcome rewards (boxed answers, Countdown, tokens).
- :mod:`~common.rl.policy`, :mod:`~common.rl.trainer`: sampling and log-probabilities of a
  causal LM; the multi-task training step and the paper's methods as data.
- :mod:`~common.rl.hf`: the Hugging Face / TRL path for the paper's models (imports
  ``transformers`` and ``trl`` only when used).
"""

from common.rl.advantages import group_advantages
from common.rl.filters import FILTERS, filter_rates, get_filter, lenient_filter, strict_filter
from common.rl.loss import AGGREGATIONS, clipped_token_loss, low_var_kl
from common.rl.policy import CausalLMPolicy, completion_mask
from common.rl.rewards import (
    countdown_reward,
    exact_match_reward,
    last_boxed,
    outcome_reward,
    token_answer_reward,
)
from common.rl.sampler import (
    SAMPLERS,
    SampleResult,
    aas_inflation,
    dynamic_sampler,
    get_sampler,
    plain_sampler,
    ratio_preserving_sampler,
    realised_ratio,
    update_filter_rate,
)
from common.rl.task_weights import (
    TaskWeightState,
    improvement_scores,
    iwu_step,
    logit_adam_update,
    omega,
    softmax,
    strict_step,
    task_weights_init,
    weight_gradient,
)
from common.rl.trainer import (
    METHODS,
    GRPOSettings,
    IWUSettings,
    MultiTaskMethod,
    TrainState,
    evaluate,
    get_method,
    init_state,
    supervised_warm_start,
    train_step,
)

__all__ = [
    "group_advantages", "FILTERS", "filter_rates", "get_filter", "lenient_filter",
    "strict_filter", "AGGREGATIONS", "clipped_token_loss", "low_var_kl", "CausalLMPolicy",
    "completion_mask", "countdown_reward", "exact_match_reward", "last_boxed", "outcome_reward",
    "token_answer_reward", "SAMPLERS", "SampleResult", "aas_inflation", "dynamic_sampler",
    "get_sampler", "plain_sampler", "ratio_preserving_sampler", "realised_ratio",
    "update_filter_rate", "TaskWeightState", "improvement_scores", "iwu_step",
    "logit_adam_update", "omega", "softmax", "strict_step", "task_weights_init",
    "weight_gradient", "METHODS", "GRPOSettings", "IWUSettings", "MultiTaskMethod", "TrainState",
    "evaluate", "get_method", "init_state", "supervised_warm_start", "train_step",
]
