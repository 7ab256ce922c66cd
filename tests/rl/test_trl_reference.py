"""The paper-scale path on a tiny randomly initialised Qwen2 built locally: offline loading, the
GRPO loss against TRL's on the same batch, TRL's GRPOConfig translation, and two training steps
of MT-GRPO on SEC-format Countdown / Zebra rows (nothing is downloaded)."""

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("trl")
pytestmark = pytest.mark.slow  # importing transformers + trl takes ~10-30 s

from common.rl import clipped_token_loss, get_method, init_state, train_step  # noqa: E402
from common.rl.hf import (  # noqa: E402
    HFPolicy,
    SECTaskSet,
    WeightsUnavailableError,
    load_causal_lm,
    paper_grpo_config,
    save_tiny_random_lm,
    settings_from_trl,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny_random_lm(tmp_path_factory.mktemp("tiny-qwen2"), seed=0)
    model, tok = load_causal_lm(str(folder))
    return folder, model, tok


def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="Qwen/Qwen2.5-3B.*nothing is downloaded"):
        load_causal_lm("Qwen/Qwen2.5-3B", cache_dir=tmp_path)


def test_paper_config_and_its_translation(tmp_path):
    cfg = paper_grpo_config(tmp_path, use_cpu=True)
    assert (cfg.num_generations, cfg.epsilon, cfg.epsilon_high, cfg.beta) == (72, 0.2, 0.28, 0.0)
    assert cfg.generation_batch_size == 32 * 72 and cfg.learning_rate == 1e-6
    s = settings_from_trl(cfg)
    assert (s.group_size, s.batch_size, s.num_minibatches) == (72, 32, 4)
    assert s.aggregation == "token_mean" and s.micro_batch_size == 8
    with pytest.raises(ValueError, match="per_device_train_batch_size"):
        paper_grpo_config(tmp_path, per_device_train_batch_size=7)


@pytest.mark.parametrize("loss_type,aggregation,beta", [("bnpo", "token_mean", 0.0),
                                                         ("bnpo", "token_mean", 0.04),
                                                         ("grpo", "seq_mean_token_mean", 0.0)])
def test_loss_equals_trl_on_the_same_batch(tiny, tmp_path, loss_type, aggregation, beta):
    from datasets import Dataset
    from trl import GRPOTrainer

    _, model, tok = tiny
    cfg = paper_grpo_config(tmp_path, num_generations=4, prompts_per_step=2, num_minibatches=1,
                            per_device_train_batch_size=4, max_completion_length=8,
                            use_cpu=True, bf16=False, loss_type=loss_type,
                            use_bias_correction_kl=False)  # the k3 KL as GRPO and verl define it
    trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **kw: [0.0] *
                                                     len(completions)],
                          args=cfg, train_dataset=Dataset.from_dict({"prompt": ["1+2=", "3*4="]}),
                          processing_class=tok)
    trainer.beta = beta  # TRL reads the KL coefficient from this attribute in _compute_loss
    g = torch.Generator().manual_seed(0)
    B, P, T = 6, 5, 7  # unpadded prompts: TRL and we then use the same positions
    prompt_ids = torch.randint(3, 40, (B, P), generator=g)
    completion_ids = torch.randint(3, 40, (B, T), generator=g)
    mask = (torch.arange(T)[None] < torch.tensor([7, 3, 5, 1, 7, 6])[:, None]).long()
    policy = HFPolicy(model, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
    model.eval()  # TRL divides by the accumulation steps in train mode only
    with torch.no_grad():
        logp = policy.token_logprobs(prompt_ids, completion_ids)
        old = logp + 0.3 * torch.randn(B, T, generator=g)   # ratios inside and outside the clip
        ref = logp + 0.5 * torch.randn(B, T, generator=g)
        adv = torch.randn(B, generator=g)
        inputs = dict(prompt_ids=prompt_ids, prompt_mask=torch.ones_like(prompt_ids),
                      completion_ids=completion_ids, completion_mask=mask, advantages=adv,
                      old_per_token_logps=old, ref_per_token_logps=ref,
                      num_items_in_batch=mask.sum())
        theirs = float(trainer._compute_loss(model, inputs))
        ours, info = clipped_token_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.28,
                                        aggregation=aggregation, ref_logp=ref, kl_coef=beta)
    assert 0 < float(info["clip_frac"]) < 1  # both branches of the clip are exercised
    # float32 forward passes of the same model on the same inputs: equal to rounding
    assert float(ours) == pytest.approx(theirs, rel=1e-5, abs=1e-6)


def _sec_rows():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(6):
        a, b = (int(x) for x in rng.integers(1, 9, size=2))
        rows.append({"prompt": [{"role": "user", "content": f"Use {a},{b} to make {a + b}.\n"
                                 "Assistant: Let me solve this step by step."}],
                     "reward_model": {"ground_truth": {"numbers": f"{a},{b}", "target": a + b}},
                     "extra_info": {"difficulty": 2, "type": "countdown"}})
        rows.append({"prompt": [{"role": "user", "content": "Who lives in house 1?"}],
                     "reward_model": {"ground_truth": {"target": "alice"}},
                     "extra_info": {"difficulty": 2, "type": "zebra"}})
    return pd.DataFrame(rows)


def test_sec_rewards_and_an_mt_grpo_step_on_the_tiny_model(tiny):
    _, model, tok = tiny
    tasks = SECTaskSet(_sec_rows(), ("2-countdown", "2-zebra"), tok, max_new_tokens=6)
    comp = tok(["\\boxed{3+4}", "\\boxed{Alice}", "oops"], return_tensors="pt",
               padding=True)["input_ids"]
    r = tasks.rewards(np.array([{"numbers": "3,4", "target": 7}, {"target": "alice"},
                                {"target": "alice"}], dtype=object),
                      np.array(["countdown", "zebra", "zebra"], dtype=object), comp)
    assert r.tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="no rows"):
        SECTaskSet(_sec_rows(), ("3-arc",), tok)
    policy = HFPolicy(model, eos_id=tasks.eos_id, pad_id=tasks.pad_id)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    from common.rl import GRPOSettings

    settings = GRPOSettings(group_size=3, batch_size=2, num_minibatches=2, micro_batch_size=2)
    method = get_method("MT-GRPO", filter="none", max_rounds=2)
    state = init_state(2)
    for _ in range(2):
        log = train_step(policy, opt, tasks, method, settings, state, np.random.default_rng(0),
                         torch.Generator().manual_seed(0))
    assert state.step == 2 and log["groups"] == 2 and np.isfinite(log["loss"])
    assert state.weights.step == 4  # the IWU ran after each of the 2 x 2 minibatches
