"""papers/asym-lora/lib.py: the head-LoRA grids on synthetic features, the pooled across-A
spread, and the paper-scale code path (LoRA on the MLP's layers through a sweep) at tiny size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.project import paper_module

lib = paper_module("asym-lora")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _features(n=400, n_test=300, d=12, K=10, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(K, d))
    H, Ht = np.maximum(rng.normal(size=(n, d)), 0), np.maximum(rng.normal(size=(n_test, d)), 0)
    return lib.Foundation(H, (H @ W.T).argmax(1), Ht, (Ht @ W.T).argmax(1), W * 0.1,
                          np.zeros(K), 1.0)


def test_concentration_grid_shapes_and_convergence():
    cfg = lib.ConcentrationConfig(sample_sizes=(40, 80), num_subsets=2, ranks=(1, 3), num_draws=3)
    g = lib.concentration_grid(cfg, _features())
    assert g["gap_ce"].shape == (2, 2, 2, 3) and g["converged"] == 1.0
    np.testing.assert_allclose(g["gap_01"], g["test_01"] - g["train_01"])
    g2 = lib.concentration_grid(cfg.replace(frozen_head="mnist"), _features())
    assert not np.allclose(g2["gap_ce"], g["gap_ce"])  # the frozen head enters the fit


def test_random_label_grid_exact_gap_and_test_risk():
    cfg = lib.RandomLabelConfig(sample_sizes=(40, 80), ranks=(1, 2), num_draws=2,
                                num_label_draws=2)
    g = lib.random_label_grid(cfg, _features(n_test=2000))
    np.testing.assert_allclose(g["gap_01_exact"], 0.9 - g["train_01"])
    assert abs(g["test_01"].mean() - 0.9) < 4 * np.sqrt(0.09 / 2000)  # labels carry no signal


def test_within_subset_draws_is_the_pooled_std():
    G = np.random.default_rng(1).normal(size=(3, 2, 7)) + np.arange(2)[None, :, None] * 5
    pooled = lib.within_subset_draws(G).std(axis=1, ddof=1)
    np.testing.assert_allclose(pooled, np.sqrt(G.var(axis=2, ddof=1).mean(axis=1)))


def test_subsets_are_disjoint_and_nested():
    sub = lib.subset_indices(100, (10, 20), 2, seed=0)
    assert set(sub[(20, 0)]).isdisjoint(sub[(20, 1)])
    np.testing.assert_array_equal(sub[(10, 1)], sub[(20, 1)][:10])
    with pytest.raises(ValueError, match="exceeds"):
        lib.subset_indices(30, (20,), 2, seed=0)


@pytest.mark.slow
def test_paper_scale_hidden_lora_sweep_tiny(shared_data, tmp_path):
    """The paper-scale path (LoRA on the MLP's layers, three arms, a sweep, device "auto" ->
    CPU here) on a few steps with tiny shapes."""
    tiny = dict(hidden=(16,), targets=("0", "2"), pretrain_max=256, epochs=1, max_test=200,
                device="auto")
    res = lib.hidden_lora_sweep(tmp_path, sample_sizes=(64,), ranks=(2,), num_lora_draws=1,
                                num_data_draws=1, executor="debug", **tiny)
    df = res.raise_for_failures().to_frame()
    assert len(df) == 3 and set(df["arm"]) == set(lib.ARMS)
    assert np.all(np.isfinite(df["gap_ce"])) and not df["diverged"].any()
    one = lib.hidden_lora_run(lib.HiddenLoRARun(N=64, r=2, **tiny))
    assert set(one) >= {"gap_ce", "gap_01", "train_ce", "test_ce"}
