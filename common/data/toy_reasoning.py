"""Synthetic multi-task "reasoning" problems for a tiny causal transformer (MT-GRPO's toy scale).

Three families stand in for the SEC tasks of MT-GRPO (arXiv 2602.05547, §6: Countdown, Zebra
puzzles, ARC), each with difficulty levels 1, 2, 3; prompts and answers are token ids over
:data:`VOCAB` (digits 0-9, task tags, separators, EOS, PAD):

=============  ============  ============================================  ==================
family         stands in     prompt (level L)                              answer
=============  ============  ============================================  ==================
``sum``        Countdown     ``A d_1 .. d_{L+1} =``                        ``(sum d) mod 10``
``minmax``     Zebra         ``B d_1 .. d_{L+2} =``                        ``max min``
``induction``  ARC           ``C x_1..x_n > f(x)_1..f(x)_n | q_1..q_n =``  ``f(q)``, n = L + 2
=============  ============  ============================================  ==================

In ``induction`` one demonstration pair fixes a rule ``f`` among reverse, +1 (mod 10) and rotate
left by one, which the model must infer and apply to the query (an in-context rule, like ARC).
The completion is the answer followed by EOS; :func:`common.rl.rewards.token_answer_reward`
scores it 1 / 0.1 / 0 like the paper's verifiers. Prompts are left-padded with PAD to one length
so a model without attention masks (:class:`common.models.GPT`) sees every task the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["VOCAB", "TOKEN", "ToyTask", "ToyTaskSet", "FAMILIES", "make_task", "decode",
           "token_answer_reward"]

VOCAB: tuple[str, ...] = tuple(str(d) for d in range(10)) + ("A", "B", "C", "=", ">", "|",
                                                              "<eos>", "<pad>")
TOKEN: dict[str, int] = {t: i for i, t in enumerate(VOCAB)}
EOS, PAD = TOKEN["<eos>"], TOKEN["<pad>"]


def _sum(rng, n, level):
    d = rng.integers(0, 10, size=(n, level + 1))
    prompt = np.concatenate([np.full((n, 1), TOKEN["A"]), d, np.full((n, 1), TOKEN["="])], 1)
    return prompt, (d.sum(1) % 10)[:, None]


def _minmax(rng, n, level):
    d = rng.integers(0, 10, size=(n, level + 2))
    prompt = np.concatenate([np.full((n, 1), TOKEN["B"]), d, np.full((n, 1), TOKEN["="])], 1)
    return prompt, np.stack([d.max(1), d.min(1)], 1)


_RULES: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    lambda x: x[:, ::-1],                 # reverse
    lambda x: (x + 1) % 10,               # +1 mod 10
    lambda x: np.roll(x, -1, axis=1),     # rotate left by one
)


def _induction(rng, n, level):
    k = level + 2
    x = rng.integers(0, 10, size=(n, k))
    q = rng.integers(0, 10, size=(n, k))
    rule = rng.integers(0, len(_RULES), size=n)
    fx, fq = np.empty_like(x), np.empty_like(q)
    for r, f in enumerate(_RULES):
        sel = rule == r
        fx[sel], fq[sel] = f(x[sel]), f(q[sel])
    col = lambda t: np.full((n, 1), TOKEN[t])  # noqa: E731
    prompt = np.concatenate([col("C"), x, col(">"), fx, col("|"), q, col("=")], 1)
    return prompt, fq


#: family -> (generator(rng, n, level) -> (prompts (n, P), answers (n, answer_len)),
#:            answer length as a function of the level)
FAMILIES: dict[str, tuple[Callable, Callable[[int], int]]] = {
    "sum": (_sum, lambda level: 1),
    "minmax": (_minmax, lambda level: 2),
    "induction": (_induction, lambda level: level + 2),
}


@dataclass(frozen=True)
class ToyTask:
    """One task: a family at a difficulty level (1, 2 or 3)."""

    family: str
    level: int = 1

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r}: allowed are {sorted(FAMILIES)}")
        if self.level not in (1, 2, 3):
            raise ValueError(f"level={self.level}: allowed are 1, 2, 3")

    @property
    def name(self) -> str:
        return f"{self.family}-{self.level}"

    @property
    def answer_len(self) -> int:
        return FAMILIES[self.family][1](self.level)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` prompts ``(n, P)`` and answers ``(n, answer_len)`` (int64)."""
        return FAMILIES[self.family][0](rng, n, self.level)


def make_task(spec: str) -> ToyTask:
    """``"sum-1"`` -> ``ToyTask("sum", 1)``."""
    family, _, level = spec.rpartition("-")
    if not family or not level.isdigit():
        raise ValueError(f"task {spec!r}: expected '<family>-<level>', e.g. 'induction-1'")
    return ToyTask(family, int(level))


class ToyTaskSet:
    """Several toy tasks with one prompt length; the task interface of :mod:`common.rl.trainer`.

    ``prompts(task_ids, rng)`` returns ``(prompts (n, L) long, answers (n, A) long padded with -1,
    answer_lens (n,))``; ``rewards(task_ids, answers, completions)`` scores completions.
    """

    def __init__(self, tasks: Sequence[ToyTask | str]):
        self.tasks = tuple(make_task(t) if isinstance(t, str) else t for t in tasks)
        if not self.tasks:
            raise ValueError("tasks: at least one task is needed")
        probe = np.random.default_rng(0)
        self.prompt_len = max(t.sample(probe, 1)[0].shape[1] for t in self.tasks)
        self.max_answer_len = max(t.answer_len for t in self.tasks)
        self.vocab_size = len(VOCAB)
        self.eos_id, self.pad_id = EOS, PAD

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def max_new_tokens(self) -> int:
        """Answer plus EOS of the longest task."""
        return self.max_answer_len + 1

    def prompts(self, task_ids, rng: np.random.Generator):
        task_ids = np.asarray(task_ids, dtype=np.int64)
        n = task_ids.size
        prompts = np.full((n, self.prompt_len), PAD, dtype=np.int64)
        answers = np.full((n, self.max_answer_len), -1, dtype=np.int64)
        lens = np.zeros(n, dtype=np.int64)
        for k, task in enumerate(self.tasks):
            sel = np.flatnonzero(task_ids == k)
            if sel.size == 0:
                continue
            p, a = task.sample(rng, sel.size)
            prompts[sel, self.prompt_len - p.shape[1]:] = p
            answers[sel, :a.shape[1]] = a
            lens[sel] = a.shape[1]
        return torch.from_numpy(prompts), torch.from_numpy(answers), torch.from_numpy(lens)

    def rewards(self, answers: torch.Tensor, answer_lens: torch.Tensor,
                completions: torch.Tensor) -> torch.Tensor:
        return token_answer_reward(completions, answers, answer_lens, eos_id=EOS,
                                   num_digits=10)

    def supervised_batch(self, task_ids, rng: np.random.Generator):
        """Prompts and their correct completions (answer, EOS, PAD...) for a warm start."""
        prompts, answers, lens = self.prompts(task_ids, rng)
        comp = torch.full((len(lens), self.max_new_tokens), PAD, dtype=torch.long)
        mask = torch.zeros_like(comp, dtype=torch.bool)
        for i, n in enumerate(lens.tolist()):
            comp[i, :n] = answers[i, :n]
            comp[i, n] = EOS
            mask[i, :n + 1] = True
        return prompts, comp, mask


def decode(tokens) -> str:
    """Token ids as text (``"A 3 4 = 7 <eos>"``), for printing examples."""
    return " ".join(VOCAB[int(t)] for t in tokens)


def token_answer_reward(completions: torch.Tensor, answers: torch.Tensor,
                        answer_lens: torch.Tensor, *, eos_id: int, num_digits: int = 10,
                        correct_reward: float = 1.0, format_reward: float = 0.1) -> torch.Tensor:
    """Rewards ``(n,)`` of token completions ``(n, T)`` against ``answers`` ``(n, A)``: the
    paper's 1 (correct) / 0.1 (well-formed but wrong) / 0 scheme (:mod:`common.rl.rewards`).

    Well-formed: the first EOS is at position ``answer_lens[i]`` and every token before it is a
    digit (id < ``num_digits``). Correct: well-formed and those tokens equal the answer.
    """
    n, T = completions.shape
    if answers.shape[0] != n or answer_lens.shape != (n,):
        raise ValueError(f"answers {tuple(answers.shape)} / answer_lens "
                         f"{tuple(answer_lens.shape)} do not match {n} completions")
    is_eos = completions == eos_id
    first_eos = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full((n,), T))
    pos = torch.arange(T).unsqueeze(0)
    before = pos < answer_lens.unsqueeze(1)
    digits_ok = ((completions < num_digits) | ~before).all(1)
    well_formed = (first_eos == answer_lens) & digits_ok
    A = min(answers.shape[1], T)
    target = torch.full((n, T), -1, dtype=completions.dtype)
    target[:, :A] = answers[:, :A]
    match = ((completions == target) | ~before).all(1)
    correct = well_formed & match
    out = torch.zeros(n, dtype=torch.float64)
    out[well_formed] = format_reward
    out[correct] = correct_reward
    return out
