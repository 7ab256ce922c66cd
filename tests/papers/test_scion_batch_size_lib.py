"""papers/scion-batch-size/lib.py: the batched logistic-regression runs against a plain loop, the
variance measurement, the GPT runs (one and two stages, the restart), the configs' checks, the
FineWeb path's error when shards are missing, and params/paper.yaml against the configs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml

from common import paths
from common.data.download import DataUnavailableError
from common.experiment import ConfigError, derive_seed
from common.optim import scion_init, scion_update
from common.project import paper_module

lib = paper_module("scion-batch-size")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_logreg_gradient_matches_autograd():
    X, y = lib.digits_problem()
    W = torch.randn(2, 10, 64, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(len(X), (2, 5), generator=torch.Generator().manual_seed(0))
    logits = torch.einsum("pbi,pki->pbk", X[idx], W).reshape(-1, 10)
    loss = torch.nn.functional.cross_entropy(logits, y[idx].reshape(-1), reduction="sum") / 5
    (auto,) = torch.autograd.grad(loss, W)
    torch.testing.assert_close(lib.logreg_grad(W.detach(), X[idx], y[idx]), auto)
    full = lib.logreg_loss(W.detach(), X, y)
    assert full.shape == (2,) and torch.all(full > 0)


def test_batched_logreg_equals_one_copy_at_a_time():
    """Copy (lr, seed) of the batched run is the unbatched Scion run with the same draws."""
    out = lib.scion_logreg(64, 8, [0.1, 0.3], [0, 1], radius=5.0, momentum=0.5)
    assert out["loss"].shape == (2, 2)
    X, y = lib.digits_problem()
    lmo = lib._spectral()
    gen = torch.Generator().manual_seed(derive_seed(1, "logreg-B8"))
    draws = torch.randint(len(X), (9, 8), generator=gen)
    W = torch.zeros(1, 10, 64, dtype=torch.float64)
    state = scion_init((W,), grads=(lib.logreg_grad(W, X[draws[8]][None], y[draws[8]][None]),))
    for k in range(8):
        g = lib.logreg_grad(W, X[draws[k]][None], y[draws[k]][None])
        (u,), state, _ = scion_update((g,), state, (W,), lr=0.3, momentum=0.5, norm=lmo, scale=5.0,
                                      batch_dims=1)
        W = W + u
    np.testing.assert_allclose(out["loss"][1, 1], lib.logreg_loss(W, X, y).item(), rtol=1e-10)
    # the constrained iterates stay in the ball (NS5 overshoots the unit ball by at most ~20 %)
    assert float(lmo.norm(out["W"], batch_dims=1).max()) <= 5.0 * 1.25


def test_log_argmin_refines_inside_and_keeps_edges():
    grid = [1, 2, 4, 8, 16]
    vals = [(np.log2(b) - np.log2(5.0)) ** 2 for b in grid]  # a parabola in log B: exact
    assert lib.log_argmin(grid, vals) == pytest.approx(5.0, rel=1e-9)
    assert lib.log_argmin(grid, [1, 2, 3, 4, 5]) == 1.0


def test_logreg_variance_is_one_over_b():
    W = torch.zeros(10, 64, dtype=torch.float64)
    var = lib.logreg_gradient_variance(W, [1, 4, 16], 400, 0)
    slope = np.polyfit(np.log([1, 4, 16]), np.log(var), 1)[0]
    assert -1.15 < slope < -0.85  # 400 draws: a few percent of Monte Carlo error per point


def _tiny(**kw):
    base = dict(tokens=(2048,), batch_sizes=(4,), lrs=(0.05,), context=16, d_model=16, n_head=2,
                eval_tokens=256, log_every=2, eval_points=2)
    return lib.GPTRun(**{**base, **kw})


def test_gpt_run_one_and_two_stages():
    one = lib.train_gpt(_tiny())
    assert np.isfinite(one["val_loss"]) and one["steps"] == 2048 // 64
    assert len(one["evals"]) == 3 and one["log"][0][0] == 0 and one["log"][0][2] > 0
    two = lib.train_gpt(_tiny(tokens=(1024, 1024), batch_sizes=(2, 8), lrs=(0.05, 0.025)))
    assert two["steps"] == 1024 // 32 + 1024 // 128 and np.isfinite(two["val_loss"])
    assert lib.train_gpt(_tiny())["val_loss"] == one["val_loss"]  # deterministic


def test_gpt_variance_runs():
    out = lib.gradient_variance(_tiny(), [1, 2, 4], 4, 2)
    assert len(out["variance"]) == 3 and all(v > 0 for v in out["variance"])


def test_restart_config_uses_the_bst_stages():
    cfg = lib.RestartConfig(tokens=4096, batch_size=2)
    r = cfg.restarted(0.04, "BST", 0)
    assert r.tokens == (512, 3584) and r.batch_sizes == (2, 8)
    assert r.lrs == pytest.approx((0.04, 0.02))
    s = cfg.restarted(0.04, "sqrt", 0)
    assert s.batch_sizes == (2, 6) and s.lrs[1] == pytest.approx(0.04 / np.sqrt(8))


def test_configs_reject_bad_values():
    with pytest.raises(ConfigError, match="stage"):
        lib.GPTRun(tokens=(1, 2), batch_sizes=(1,), lrs=(0.1,))
    with pytest.raises(ConfigError, match="batch_sizes"):
        lib.BatchSweepConfig(batch_sizes=(4, 2, 8))
    with pytest.raises(ConfigError, match="batch_sizes_small"):
        lib.LogRegConfig(batch_sizes_small=(2, 4))
    with pytest.raises(ValueError, match="momentum"):
        lib.GPTRun(momentum=0.0)


def test_fineweb_without_shards_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(paths, "data_search_path", lambda: [tmp_path])
    lib.corpus.cache_clear()
    try:
        with pytest.raises(DataUnavailableError, match="fineweb10B"):
            lib.corpus("fineweb")
    finally:
        lib.corpus.cache_clear()


def test_paper_params_are_config_fields():
    path = paths.paper_dir("scion-batch-size") / "params" / "paper.yaml"
    params = yaml.safe_load(path.read_text())
    configs = {"01_logreg_spectral": lib.LogRegConfig,
               "02_chargpt_batch_sweep": lib.BatchSweepConfig, "03_restart": lib.RestartConfig}
    for nb, block in params.items():
        fields = {f.name for f in dataclasses.fields(configs[nb])}
        extra = set(block) - fields - {"resume"}
        assert not extra, (nb, extra)
        configs[nb](**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in block.items() if k != "resume"})
