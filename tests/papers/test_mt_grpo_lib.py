"""papers/mt-grpo/lib.py: the mechanics helpers, the toy sweep and the paper-scale path at tiny
shapes (device "auto" falls back to the CPU here)."""

from __future__ import annotations

import numpy as np
import pytest

from common.experiment import ConfigError
from common.project import paper_module
from common.rl import omega

lib = paper_module("mt-grpo")


def test_min_flow_lp_equals_omega():
    rng = np.random.default_rng(0)
    for z in rng.dirichlet(np.ones(4), size=5):
        assert lib.min_flow_omega(z) == pytest.approx(omega(z), abs=1e-9)


def test_simulated_sampler_matches_the_filtering_prediction():
    z, rho = np.array([0.5, 0.5]), np.array([0.0, 0.5])
    out = lib.simulate_sampler("dynamic", z, rho, batch_size=16, oversample=3, max_rounds=10,
                               num_batches=200, seed=0)
    pred = z * (1 - rho) / (z * (1 - rho)).sum()
    assert np.abs(out["ratio"] - pred).max() < 0.03  # 3200 groups: standard error ~0.008
    out = lib.simulate_sampler("ratio_preserving", z, rho, batch_size=16, oversample=3,
                               max_rounds=10, num_batches=200, seed=0, aas=True)
    assert np.abs(out["ratio"] - z).max() < 0.03 and out["rounds"] >= 1


def test_configs_validate():
    with pytest.raises(ConfigError, match="z="):
        lib.MechanicsConfig(z=(0.5, 0.6, 0.1))
    with pytest.raises(ConfigError, match="tasks"):
        lib.ToyConfig(tasks=("chess-1",))
    with pytest.raises(ConfigError, match="divisible"):
        lib.ToyConfig(d_model=30, n_head=4)


@pytest.mark.slow
def test_toy_sweep_tiny_on_auto_device(tmp_path):
    cfg = lib.ToyConfig(seeds=(0,), methods=("GRPO", "MT-GRPO"), n_layer=1, n_head=2,
                        d_model=16, sft_steps=2, sft_batch_size=8, rl_steps=2, group_size=2,
                        batch_size=2, max_rounds=2, eval_prompts=2, eval_samples=1,
                        eval_every=1, device="auto")
    records, result = lib.toy_sweep(cfg, store_dir=tmp_path, executor="debug")
    assert result.ok and [r["method"] for r in records] == ["GRPO", "MT-GRPO"]
    df = lib.summarise_toy(records)
    assert set(df.columns) >= {"worst", "average", "z hard (mean)", "ratio bias"}
    assert records[0]["test_acc"].shape == (3, 3)  # steps 0, 1, 2 x 3 tasks
    # the warm start is shared: both methods start from the same test accuracy
    np.testing.assert_array_equal(records[0]["test_acc"][0], records[1]["test_acc"][0])


def test_verl_command_and_exp1_table():
    cmd = lib.verl_command(0.25)
    assert "trainer.sec.bandit.lambda_bias=0.25" in cmd
    assert "actor_rollout_ref.rollout.n=72" in cmd and "clip_ratio_high=0.28" in cmd
    assert all(len(row) == 3 for row in lib.EXP1)


@pytest.mark.slow
def test_paper_scale_path_on_a_tiny_model(tmp_path):
    pytest.importorskip("trl")
    cfg = lib.PaperScaleConfig(steps=1, group_size=2, prompts_per_step=2, max_new_tokens=4,
                               filter="none", device="auto")
    model, tok = lib.paper_scale_model(cfg, tmp_path / "tiny")
    logs = lib.paper_scale_train(cfg, model, tok)
    assert len(logs) == 1 and logs[0]["groups"] == 2
    check = lib.trl_loss_check(model, tok, tmp_path / "trl")
    assert check["ours"] == pytest.approx(check["trl"], rel=1e-5)
