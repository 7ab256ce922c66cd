"""The paper-scale path: Hugging Face causal LMs (Qwen2.5-3B) and TRL's ``GRPOConfig``.

MT-GRPO's Exp 1 trains Qwen2.5-3B (arXiv 2602.05547, §6). This module provides:

- :func:`load_causal_lm`: the model and tokenizer **from the local Hugging Face cache only**
  (``HF_HUB_OFFLINE=1``, ``local_files_only=True``): nothing is downloaded; when the weights are
  absent it raises :class:`WeightsUnavailableError`, which says how to put them there.
- :class:`HFPolicy`: the policy interface of :mod:`common.rl.policy` over a ``transformers``
  model (sampling with ``model.generate`` and a KV cache; log-probabilities with the attention
  mask and position ids of left-padded prompts).
- :func:`paper_grpo_config` / :func:`settings_from_trl`: the paper's GRPO settings as a TRL
  ``GRPOConfig`` (``num_generations``, ``epsilon = 0.2``, ``epsilon_high = 0.28``, ``beta = 0``,
  ``scale_rewards = "group"``, ``loss_type = "bnpo"``, i.e. token mean) and their translation to
  :class:`common.rl.trainer.GRPOSettings`.
- :class:`SECTaskSet`: the paper's Countdown / Zebra / ARC tasks from the official verl parquet
  files (columns ``prompt``, ``reward_model``, ``extra_info``), one task per
  ``"<difficulty>-<type>"`` group, scored by :mod:`common.rl.rewards`.

Why our loop and not ``trl.GRPOTrainer``: TRL generates one batch per optimisation window and
has no hook to regenerate prompts of chosen tasks until their filtered counts meet per-task
targets (the ratio-preserving sampler) or to update task weights from per-task improvements
after each minibatch. The training step is therefore :func:`common.rl.trainer.train_step`, with
TRL's ``GRPOConfig`` as the source of the shared GRPO settings, and the loss is tested against
TRL's ``_compute_loss`` on the same batch (``tests/rl/test_trl_reference.py``).

``transformers`` and ``trl`` are imported only inside these functions (extra ``hf``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.rl.policy import completion_mask, gather_logprobs
from common.rl.rewards import countdown_reward, exact_match_reward
from common.rl.trainer import GRPOSettings

__all__ = ["WeightsUnavailableError", "load_causal_lm", "HFPolicy", "paper_grpo_config",
           "save_tiny_random_lm",
           "settings_from_trl", "SECTaskSet", "TRL_AGGREGATION"]


class WeightsUnavailableError(FileNotFoundError):
    """The model's weights are not in the local Hugging Face cache (nothing is downloaded)."""


def load_causal_lm(model_id: str, *, cache_dir: str | os.PathLike | None = None,
                   dtype: torch.dtype | None = None, device: str | torch.device = "cpu"):
    """``(model, tokenizer)`` of ``model_id`` (a hub id or a local folder), offline.

    Raises :class:`WeightsUnavailableError` naming the model and the cache searched when the
    files are absent.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import time
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    where = (str(cache_dir) if cache_dir is not None else
             os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, cache_dir=cache_dir,
                                                  local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(model_id, cache_dir=cache_dir,
                                                     local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as err:
        raise WeightsUnavailableError(
            f"{model_id!r} is not in the local Hugging Face cache ({where}) and nothing is "
            f"downloaded here. On a machine with network access run `hf download {model_id}` "
            f"with the same HF_HOME (or pass cache_dir / a local folder), then rerun. "
            f"Underlying error: {type(err).__name__}: {err}") from err
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.to(device), tokenizer


class HFPolicy:
    """The policy interface (:class:`common.rl.policy.CausalLMPolicy`) over a ``transformers``
    causal LM; prompts are left-padded with ``pad_id``."""

    def __init__(self, model, *, eos_id: int, pad_id: int):
        self.model = model
        self.eos_id, self.pad_id = int(eos_id), int(pad_id)

    def parameters(self):
        return self.model.parameters()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _prompt_mask(self, prompts: torch.Tensor) -> torch.Tensor:
        # left padding: a position is real from the first non-pad token on
        return (torch.cumsum((prompts != self.pad_id).int(), dim=1) > 0).long()

    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample with ``model.generate`` (top-k and top-p off). ``generator`` seeds torch's
        global generator on the model's device (``generate`` takes no generator)."""
        if generator is not None:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            torch.manual_seed(seed)
        prompts = prompts.to(self.device)
        out = self.model.generate(
            input_ids=prompts, attention_mask=self._prompt_mask(prompts),
            max_new_tokens=max_new_tokens, do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None, top_k=0, top_p=1.0,
            eos_token_id=self.eos_id, pad_token_id=self.pad_id)
        comp = out[:, prompts.shape[1]:].cpu()
        if comp.shape[1] < max_new_tokens:  # every row stopped early: pad to a fixed width
            pad = torch.full((comp.shape[0], max_new_tokens - comp.shape[1]), self.pad_id)
            comp = torch.cat([comp, pad], dim=1)
        mask = completion_mask(comp, self.eos_id)
        comp = torch.where(mask, comp, torch.full_like(comp, self.pad_id))
        return comp, mask

    def token_logprobs(self, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
        prompts, completions = prompts.to(self.device), completions.to(self.device)
        ids = torch.cat([prompts, completions], dim=1)
        attn = torch.cat([self._prompt_mask(prompts), torch.ones_like(completions)], dim=1)
        position_ids = (torch.cumsum(attn, dim=1) - 1).clamp_min(0)
        logits = self.model(input_ids=ids[:, :-1], attention_mask=attn[:, :-1],
                            position_ids=position_ids[:, :-1]).logits
        return gather_logprobs(logits[:, prompts.shape[1] - 1:], completions)


#: TRL ``loss_type`` -> our aggregation (where the definitions coincide on one device).
TRL_AGGREGATION = {"bnpo": "token_mean", "grpo": "seq_mean_token_mean",
                   "dapo": "token_mean"}


def paper_grpo_config(output_dir: str | os.PathLike, **overrides):
    """TRL's ``GRPOConfig`` with the paper's Exp 1 GRPO settings (§6, App. B, App. E).

    One generation batch of 32 prompts x 72 rollouts per step, split into 4 optimiser steps
    (minibatches of 8 prompts, i.e. 576 sequences, reached by gradient accumulation of
    ``per_device_train_batch_size``-sized micro-batches); AdamW LR 1e-6, betas (0.9, 0.99);
    clip 0.2 / 0.28; KL coefficient 0; gradient clipping 1.0; token-mean loss; sampling at
    temperature 1.0 with up to 4096 new tokens.
    """
    from trl import GRPOConfig

    micro = overrides.pop("per_device_train_batch_size", 8)
    G = overrides.pop("num_generations", 72)
    prompts = overrides.pop("prompts_per_step", 32)
    minibatches = overrides.pop("num_minibatches", 4)
    seqs_per_minibatch = prompts * G // minibatches
    if seqs_per_minibatch % micro:
        raise ValueError(f"per_device_train_batch_size={micro} must divide the "
                         f"{seqs_per_minibatch} sequences of a minibatch")
    accum = seqs_per_minibatch // micro
    kw: dict[str, Any] = dict(
        output_dir=str(output_dir), learning_rate=1e-6, adam_beta1=0.9, adam_beta2=0.99,
        weight_decay=0.0, max_grad_norm=1.0, num_generations=G, epsilon=0.2,
        epsilon_high=0.28, beta=0.0, scale_rewards="group", loss_type="bnpo",
        temperature=1.0, top_p=1.0, max_completion_length=4096, num_iterations=1,
        per_device_train_batch_size=micro, gradient_accumulation_steps=accum,
        steps_per_generation=accum * minibatches, max_steps=720, report_to="none",
        logging_steps=1, save_strategy="no", seed=0)
    kw.update(overrides)
    with warnings.catch_warnings():  # transformers' own deprecation of a field TRL sets
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        return GRPOConfig(**kw)


def settings_from_trl(config) -> GRPOSettings:
    """Our :class:`~common.rl.trainer.GRPOSettings` from a TRL ``GRPOConfig``.

    The prompt groups per step are ``generation_batch_size / num_generations``; the minibatches
    per step ``steps_per_generation / gradient_accumulation_steps``; the micro-batch size
    ``per_device_train_batch_size``. The upper clip ``epsilon_high`` belongs to the method
    (:data:`common.rl.trainer.METHODS`: 0.28 for DAPO and MT-GRPO, 0.2 for GRPO), and the response
    budget to the task set. Settings without a counterpart in our step (vLLM, entropy
    masks, sequence-level importance sampling, ``num_iterations > 1``) raise an error.
    """
    if config.loss_type not in TRL_AGGREGATION:
        raise ValueError(f"loss_type={config.loss_type!r}: supported are "
                         f"{sorted(TRL_AGGREGATION)}")
    if config.num_iterations != 1 or config.importance_sampling_level != "token":
        raise ValueError("only num_iterations=1 and token-level importance sampling are "
                         "supported (the paper's setting)")
    if config.scale_rewards not in ("group", True):
        raise ValueError(f"scale_rewards={config.scale_rewards!r}: the paper uses 'group'")
    G = config.num_generations
    return GRPOSettings(
        group_size=G, batch_size=config.generation_batch_size // G,
        num_minibatches=max(1, config.steps_per_generation // config.gradient_accumulation_steps),
        eps_low=config.epsilon, aggregation=TRL_AGGREGATION[config.loss_type],
        kl_coef=config.beta, max_grad_norm=config.max_grad_norm,
        temperature=config.temperature, micro_batch_size=config.per_device_train_batch_size)


class SECTaskSet:
    """The paper's SEC tasks from verl parquet rows, one task per ``"<difficulty>-<type>"``.

    Args:
        rows: a pandas DataFrame with the verl columns (``prompt``: a list of chat messages whose
            first ``content`` is the full R1-style prompt; ``reward_model.ground_truth``;
            ``extra_info.difficulty`` and ``.type``).
        groups: the tasks to keep, e.g. ``("2-countdown", "2-zebra", "2-arc")`` (Exp 1).
        tokenizer: a Hugging Face tokenizer (left padding).
        max_prompt_len: prompts are cut to their last ``max_prompt_len`` tokens (1024).
        max_new_tokens: response budget (4096).
    """

    def __init__(self, rows, groups: Sequence[str], tokenizer, *, max_prompt_len: int = 1024,
                 max_new_tokens: int = 4096):
        self.tokenizer = tokenizer
        self.names = tuple(groups)
        self.max_new_tokens = int(max_new_tokens)
        self.max_prompt_len = int(max_prompt_len)
        key = [f"{e['difficulty']}-{e['type']}" for e in rows["extra_info"]]
        self._rows = {}
        for name in self.names:
            sel = [i for i, k in enumerate(key) if k == name]
            if not sel:
                raise ValueError(f"task {name!r} has no rows (present: {sorted(set(key))})")
            self._rows[name] = rows.iloc[sel].reset_index(drop=True)
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id

    @classmethod
    def from_parquet(cls, paths: Sequence[str | os.PathLike], groups, tokenizer, **kw):
        import pandas as pd

        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(
                f"SEC data files not found: {missing}. They ship in the official repository "
                "(rsshyam/MT-GRPO, data/combined/*.parquet; some train files are missing there "
                "and must be regenerated with ReasoningGym).")
        return cls(pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True), groups,
                   tokenizer, **kw)

    @property
    def num_tasks(self) -> int:
        return len(self.names)

    def prompts(self, task_ids, rng: np.random.Generator):
        task_ids = np.asarray(task_ids, dtype=np.int64)
        texts, truths, kinds = [], [], []
        for k in task_ids:
            rows = self._rows[self.names[k]]
            r = rows.iloc[int(rng.integers(len(rows)))]
            texts.append(r["prompt"][0]["content"])
            truths.append(r["reward_model"]["ground_truth"])
            kinds.append(r["extra_info"]["type"])
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                             max_length=self.max_prompt_len, add_special_tokens=False)
        return enc["input_ids"], np.array(truths, dtype=object), np.array(kinds, dtype=object)

    def rewards(self, truths, kinds, completions: torch.Tensor) -> torch.Tensor:
        mask = completion_mask(completions, self.eos_id)
        out = torch.zeros(len(completions), dtype=torch.float64)
        for i, (truth, kind) in enumerate(zip(truths, kinds)):
            ids = completions[i][mask[i] & (completions[i] != self.eos_id)].tolist()
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            if kind == "countdown":
                numbers = [int(n) for n in str(truth["numbers"]).split(",")]
                out[i] = countdown_reward(text, numbers, float(truth["target"]))
            else:
                out[i] = exact_match_reward(text, str(truth["target"]))
        return out


#: The characters of :func:`save_tiny_random_lm`'s tokenizer (enough for Countdown-style text).
_TINY_CHARS = ("0123456789+-*/()= abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ{}\\\n.,:[]"
               "'?!_")


def save_tiny_random_lm(folder: str | os.PathLike, *, seed: int = 0, hidden_size: int = 32,
                        num_layers: int = 2) -> Path:
    """Write a tiny randomly initialised Qwen2 causal LM and a character tokenizer to ``folder``
    (built locally, nothing downloaded), loadable by :func:`load_causal_lm`. For smoke tests of
    the paper-scale path."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    vocab = {t: i for i, t in enumerate(("<unk>", "<pad>", "<eos>") + tuple(_TINY_CHARS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>",
                                        pad_token="<pad>", eos_token="<eos>")
    cfg = Qwen2Config(vocab_size=len(vocab), hidden_size=hidden_size,
                      intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=None, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
