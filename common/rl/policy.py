"""Policies for RL on token sequences: sampling completions and their token log-probabilities.

A policy wraps a causal language model behind two calls used by :mod:`common.rl.trainer`:

- ``generate(prompts, max_new_tokens, temperature, generator) -> (completions, mask)``: sample
  completions ``(n, T)`` of left-padded prompts ``(n, P)``; ``mask`` marks the response tokens
  (up to and including the first EOS; later positions are PAD).
- ``token_logprobs(prompts, completions) -> (n, T)``: ``log pi(y_t | x, y_<t)`` of each completion
  token (with gradient when called under grad).

:class:`CausalLMPolicy` does both for any module whose ``forward(idx)`` returns logits (or a
tuple starting with them), such as :class:`common.models.GPT`. A model whose
``supports_kv_cache`` is true (:class:`common.models.GPT`) is sampled with its key/value cache
(``forward(new_tokens, cache=...)``: the prompt once, then one token per step); any other
recomputes the whole prefix at every generated token. The cached logits equal the recomputed
ones to float rounding only (CPU attention rounds a row differently with the sequence length), so
a sampled token can in principle differ; mt-grpo 02's nine runs were bit-identical either way.
The Hugging Face policy of :mod:`common.rl.hf` uses ``model.generate`` with a KV cache.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CausalLMPolicy", "completion_mask", "gather_logprobs"]


def completion_mask(completions: torch.Tensor, eos_id: int) -> torch.Tensor:
    """``(n, T)`` bool: positions up to and including each row's first EOS (all if none)."""
    is_eos = (completions == eos_id).int()
    after = torch.cumsum(is_eos, dim=1) - is_eos  # EOS tokens strictly before each position
    return after == 0


def gather_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[..., tokens]`` for logits ``(n, T, V)`` and tokens ``(n, T)``."""
    return torch.gather(F.log_softmax(logits.float(), dim=-1), -1,
                        tokens.unsqueeze(-1)).squeeze(-1)


class CausalLMPolicy:
    """A policy over a causal LM ``model(idx) -> logits | (logits, ...)``, decoding with the
    model's key/value cache where it has one (``supports_kv_cache``).

    Args:
        model: the network; its context must hold ``prompt length + max_new_tokens - 1``.
        eos_id, pad_id: token ids of the end of the response and of padding after it.
    """

    def __init__(self, model: nn.Module, *, eos_id: int, pad_id: int):
        self.model = model
        self.eos_id, self.pad_id = int(eos_id), int(pad_id)

    def parameters(self):
        return self.model.parameters()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _logits(self, idx: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        out = self.model(idx) if cache is None else self.model(idx, cache=cache)
        return out[0] if isinstance(out, tuple) else out

    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample up to ``max_new_tokens`` tokens per prompt (temperature 0: greedy); the
        completions and their mask come back on the CPU."""
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens}: must be >= 1")
        if temperature < 0:
            raise ValueError(f"temperature={temperature}: must be >= 0")
        was_training = self.model.training
        self.model.eval()
        idx = prompts.to(self.device)
        done = torch.zeros(prompts.shape[0], dtype=torch.bool, device=prompts.device)
        cache = [] if getattr(self.model, "supports_kv_cache", False) else None
        new = idx  # the tokens the model has not seen yet (all of them without a cache)
        for _ in range(max_new_tokens):
            logits = self._logits(new, cache)[:, -1, :].float()
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                if generator is not None and generator.device != probs.device:
                    probs = probs.to(generator.device)  # a CPU generator: sample on the CPU
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(idx.device)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            done |= nxt == self.eos_id
            idx = torch.cat([idx, nxt.unsqueeze(1)], dim=1)
            new = idx if cache is None else idx[:, -1:]
        self.model.train(was_training)
        completions = idx[:, prompts.shape[1]:].cpu()
        return completions, completion_mask(completions, self.eos_id)

    def token_logprobs(self, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
        """``(n, T)`` log-probabilities of the completion tokens given prompt and prefix (on the
        model's device)."""
        idx = torch.cat([prompts, completions[:, :-1]], dim=1).to(self.device)
        logits = self._logits(idx)[:, prompts.shape[1] - 1:, :]
        return gather_logprobs(logits, completions)
