"""Rewards, the toy tasks, the causal-LM policy and a few training steps of every method."""

import numpy as np
import pytest
import torch

from common.data.toy_reasoning import EOS, PAD, TOKEN, ToyTask, ToyTaskSet, decode, make_task
from common.models import GPT, GPTConfig
from common.rl import (
    CausalLMPolicy,
    GRPOSettings,
    IWUSettings,
    countdown_reward,
    evaluate,
    exact_match_reward,
    get_method,
    init_state,
    last_boxed,
    supervised_warm_start,
    token_answer_reward,
    train_step,
)


def test_last_boxed_reads_only_the_last_line():
    assert last_boxed("work\n\\boxed{3}\nso \\boxed{4} and \\boxed{{5}}") == "{5}"
    assert last_boxed("\\boxed{3}\nno box here") is None
    assert last_boxed("") is None


def test_exact_match_and_countdown_rewards():
    assert exact_match_reward("x\n\\boxed{ Alice }", "alice") == 1.0
    assert exact_match_reward("\\boxed{Bob}", "alice") == 0.1
    assert exact_match_reward("Alice", "alice") == 0.0
    assert countdown_reward("\\boxed{(8 + 73) * 96 / 96}", [8, 73, 96, 96], 81) == 1.0
    assert countdown_reward("\\boxed{8 * 73 + 96 = 680}", [8, 73, 96], 680) == 1.0
    assert countdown_reward("\\boxed{8 * 73}", [8, 73, 96], 584) == 0.1  # 96 unused
    assert countdown_reward("\\boxed{8 / (73 - 73) + 96}", [8, 73, 73, 96], 1) == 0.1
    assert countdown_reward("\\boxed{__import__('os')}", [1], 1) == 0.1
    assert countdown_reward("no answer", [1], 1) == 0.0


def test_token_answer_reward_cases():
    answers = torch.tensor([[3, 4], [3, 4], [3, 4], [3, 4], [7, -1]])
    lens = torch.tensor([2, 2, 2, 2, 1])
    comp = torch.tensor([[3, 4, EOS, PAD],     # correct
                         [3, 5, EOS, PAD],     # well-formed, wrong
                         [3, EOS, PAD, PAD],   # too short
                         [3, 4, 5, 6],         # no EOS
                         [7, EOS, PAD, PAD]])  # correct, length 1
    r = token_answer_reward(comp, answers, lens, eos_id=EOS)
    assert r.tolist() == [1.0, 0.1, 0.0, 0.0, 1.0]
    bad = torch.tensor([[TOKEN["A"], 4, EOS, PAD]])
    assert token_answer_reward(bad, answers[:1], lens[:1], eos_id=EOS).tolist() == [0.0]


def test_toy_tasks_answers_are_right():
    rng = np.random.default_rng(0)
    p, a = ToyTask("sum", 2).sample(rng, 50)
    assert (a[:, 0] == p[:, 1:4].sum(1) % 10).all()
    p, a = ToyTask("minmax", 1).sample(rng, 50)
    assert (a[:, 0] == p[:, 1:4].max(1)).all() and (a[:, 1] == p[:, 1:4].min(1)).all()
    p, a = ToyTask("induction", 1).sample(rng, 200)
    x, fx, q = p[:, 1:4], p[:, 5:8], p[:, 9:12]
    # every answer is f(q) for a rule f that maps the demonstration x to f(x)
    rules = (lambda v: v[:, ::-1], lambda v: (v + 1) % 10, lambda v: np.roll(v, -1, 1))
    explained = np.zeros(len(a), dtype=bool)
    for f in rules:
        explained |= (f(x) == fx).all(1) & (f(q) == a).all(1)
    assert explained.all()
    assert decode(p[0]).startswith("C ")
    with pytest.raises(ValueError, match="family"):
        make_task("chess-1")
    with pytest.raises(ValueError, match="level"):
        ToyTask("sum", 4)


def test_toy_taskset_supervised_batch_is_rewarded_1():
    ts = ToyTaskSet(["sum-1", "minmax-1", "induction-1"])
    rng = np.random.default_rng(0)
    prompts, comp, mask = ts.supervised_batch(np.arange(30) % 3, rng)
    assert prompts.shape == (30, ts.prompt_len)
    rng = np.random.default_rng(0)
    _, answers, lens = ts.prompts(np.arange(30) % 3, rng)
    assert (ts.rewards(answers, lens, comp) == 1.0).all()


def _tiny_setup(seed=0):
    ts = ToyTaskSet(["sum-1", "minmax-1", "induction-1"])
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=ts.vocab_size, context=ts.prompt_len + ts.max_new_tokens,
                          n_layer=1, n_head=2, d_model=16))
    return ts, CausalLMPolicy(model, eos_id=ts.eos_id, pad_id=ts.pad_id)


def test_policy_logprobs_match_generation_distribution():
    ts, pol = _tiny_setup()
    rng = np.random.default_rng(0)
    prompts, _, _ = ts.prompts(np.zeros(4, dtype=int), rng)
    comp, mask = pol.generate(prompts, 3, generator=torch.Generator().manual_seed(0))
    assert comp.shape == (4, 3) and mask[:, 0].all()
    lp = pol.token_logprobs(prompts, comp)
    # the first token's log-prob equals log softmax of the last prompt position's logits
    logits = pol.model(prompts)[0][:, -1]
    ref = torch.log_softmax(logits, -1).gather(1, comp[:, :1]).squeeze(1)
    assert torch.allclose(lp[:, 0], ref, atol=1e-6)


@pytest.mark.parametrize("name", ["GRPO", "DAPO", "MT-GRPO"])
def test_train_step_runs_every_method(name):
    ts, pol = _tiny_setup()
    opt = torch.optim.AdamW(pol.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    supervised_warm_start(pol, opt, ts, num_steps=3, batch_size=8, rng=rng)
    method = get_method(name, max_rounds=2)
    if method.iwu is not None:
        method = get_method(name, max_rounds=2, iwu=IWUSettings(lam=0.5, improvement_clip=None))
    state = init_state(3)
    settings = GRPOSettings(group_size=4, batch_size=4, num_minibatches=2)
    for _ in range(2):
        log = train_step(pol, opt, ts, method, settings, state, rng,
                         torch.Generator().manual_seed(0))
    assert state.step == 2 and len(state.history) == 2
    assert log["groups"] <= 4 and 1 <= log["rounds"] <= 2
    if method.iwu is None:
        np.testing.assert_allclose(log["z"], 1 / 3)
    acc = evaluate(pol, ts, num_prompts=4, num_samples=2)
    assert acc.shape == (3,) and ((0 <= acc) & (acc <= 1)).all()


def test_get_method_errors():
    with pytest.raises(ValueError, match="method='PPO'"):
        get_method("PPO")
    with pytest.raises(ValueError, match="sampler"):
        get_method("GRPO", sampler="rps")


def test_micro_batches_accumulate_to_the_minibatch_gradient():
    # the same step with and without micro-batching gives the same parameters
    params = []
    for micro in (None, 3):
        ts, pol = _tiny_setup(seed=1)
        opt = torch.optim.SGD(pol.parameters(), lr=0.5)
        settings = GRPOSettings(group_size=4, batch_size=4, num_minibatches=1,
                                micro_batch_size=micro, max_grad_norm=1e6)
        train_step(pol, opt, ts, get_method("GRPO"), settings, init_state(3),
                   np.random.default_rng(0), torch.Generator().manual_seed(0))
        params.append(torch.cat([p.detach().flatten() for p in pol.parameters()]))
    assert not torch.equal(params[0], torch.cat([p.detach().flatten() for p in
                                                 _tiny_setup(seed=1)[1].parameters()]))
    assert torch.allclose(params[0], params[1], atol=1e-6)  # float32 summation order


class _NoCache(torch.nn.Module):
    """The same network without ``supports_kv_cache``: the policy recomputes every prefix."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, idx):
        return self.model(idx)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generation_with_kv_cache_equals_recomputing_the_prefix(temperature):
    """The GPT is sampled with its key/value cache; the completions equal those of the
    cache-free path (every prefix recomputed) under the same generator, greedy and sampled."""
    ts, pol = _tiny_setup(seed=3)
    assert pol.model.supports_kv_cache
    plain = CausalLMPolicy(_NoCache(pol.model), eos_id=ts.eos_id, pad_id=ts.pad_id)
    prompts, _, _ = ts.prompts(np.arange(48) % 3, np.random.default_rng(1))  # mixed: left pads
    out = [p.generate(prompts, ts.max_new_tokens, temperature=temperature,
                      generator=torch.Generator().manual_seed(5)) for p in (pol, plain)]
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
