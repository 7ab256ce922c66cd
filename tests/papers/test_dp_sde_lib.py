"""papers/dp-sde/lib.py: closed-form clipped gradients, the vectorised private trainer (composed
from common.privacy and common.optim), the Phase-2 noise law and the Phase-1 invariance, against
independent references (torch.func per-sample gradients, hand-written first steps, exact
formulas). The analysis statistics are tested in tests/metrics/test_trajectory.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from common.experiment import ConfigError
from common.privacy import (
    RDPAccountant,
    clip_rows,
    dp_sgd_event,
    flatten_per_sample,
    per_sample_grads,
)
from common.project import paper_module

lib = paper_module("dp-sde")
CE = nn.CrossEntropyLoss(reduction="none")


def _toy(n=40, D=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.cat([torch.randn(n, D - 1, generator=g), torch.ones(n, 1)], 1)
    return X, torch.randint(0, k, (n,), generator=g), k


class _Logits(nn.Module):
    """lib's parametrisation as a torch model: logits X W, class 0's logit fixed at 0 if k = 2."""

    def __init__(self, W, k):
        super().__init__()
        self.lin = nn.Linear(W.shape[0], W.shape[1], bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(W.T)
        self.k = k

    def forward(self, x):
        z = self.lin(x)
        return z if z.shape[1] == self.k else torch.cat([torch.zeros_like(z), z], 1)


def _reference_clipped_sum(X, y, W, k, clip):
    """Per-sample gradients by torch.func (common.privacy), flattened, clipped, summed."""
    flat = flatten_per_sample(per_sample_grads(_Logits(W, k), CE, X, y))  # (n, m * D)
    return clip_rows(flat, clip).sum(0).view(W.shape[1], W.shape[0]).T, flat.norm(dim=1)


@pytest.mark.parametrize("k", [2, 4])
def test_closed_form_clipped_sums_match_per_sample_gradients(k):
    X, y, _ = _toy(k=k)
    m = 1 if k == 2 else k
    W = 0.7 * torch.randn(X.shape[1], m, 3, generator=torch.Generator().manual_seed(1))
    _, norms0 = _reference_clipped_sum(X, y, W[:, :, 0], k, 1.0)
    clip = float(norms0.median())  # some examples clipped, some not
    G, norms = lib.clipped_grad_sums(X, y, W, clip, k)
    for r in range(3):
        ref, ref_norms = _reference_clipped_sum(X, y, W[:, :, r], k, clip)
        # float32 sums of 40 terms of size ~1: agreement to 1e-5 is rounding, not modelling
        torch.testing.assert_close(norms[:, r], ref_norms, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(G[:, :, r], ref, rtol=1e-5, atol=1e-5)
    assert (norms0 > clip).any() and (norms0 < clip).any()


@pytest.fixture(params=[3, 2], ids=["multinomial", "binary"])
def toy_data(monkeypatch, request):
    X, y, k = _toy(n=32, D=200, k=request.param)
    monkeypatch.setattr(lib, "logreg_data", lambda *a, **kw: (X, y, k))
    return X, y, k


def test_first_step_of_each_method_matches_a_hand_written_step(toy_data):
    """q = 1 (every example in the batch), no noise: one step from W = 0 is -lr times the mean
    clipped gradient (DP-SGD), its sign (DP-SignSGD), g / (|g| + eps) (DP-Adam's first step)."""
    X, y, k = toy_data
    ref, _ = _reference_clipped_sum(X, y, torch.zeros(X.shape[1], 1 if k == 2 else k), k, 0.5)
    g = ref / X.shape[0]
    steps = {"DP-SGD": g, "DP-SignSGD": torch.sign(g), "DP-Adam": g / (g.abs() + 1e-8)}
    for method, step in steps.items():
        trial = lib.LogRegTrial(method=method, n_train=32, batch_size=32, num_steps=1,
                                lrs=(0.1, 0.3), noise_multipliers=(0.0,), clip=0.5)
        W = lib.train_grid(trial)[0]
        for j, lr in enumerate(trial.lrs):
            torch.testing.assert_close(W[:, :, j], -lr * step, rtol=1e-5, atol=1e-6)


def test_noise_is_sigma_C_xi_over_B_with_one_draw_shared_by_the_grid(toy_data):
    trial = lib.LogRegTrial(method="DP-SGD", n_train=32, batch_size=32, num_steps=1, lrs=(0.2,),
                            noise_multipliers=(0.0, 1.0, 2.0), clip=0.5)
    W = lib.train_grid(trial)[0]
    d1, d2 = W[:, :, 1] - W[:, :, 0], W[:, :, 2] - W[:, :, 0]
    torch.testing.assert_close(d2, 2 * d1, rtol=1e-4, atol=1e-7)  # the same xi, scaled
    # d1 = -lr C xi / B entrywise: at least 200 standard normals, whose sample std has a relative
    # spread of at most 1/sqrt(400) = 5 %; 20 % is four standard errors
    scale = float(d1.std()) / (0.2 * 0.5 / 32)
    assert scale == pytest.approx(1.0, rel=0.2)


@pytest.mark.parametrize("method", lib.METHODS)
def test_each_grid_cell_is_the_run_it_stands_for(toy_data, method):
    trial = lib.LogRegTrial(method=method, n_train=32, batch_size=8, num_steps=15,
                            lrs=(0.01, 0.2), noise_multipliers=(0.5, 2.0), clip=0.5)
    full = lib.train_logreg(trial)["loss"]
    for i, s in enumerate(trial.noise_multipliers):
        for j, lr in enumerate(trial.lrs):
            one = lib.train_logreg(trial.replace(lrs=(lr,), noise_multipliers=(s,)))["loss"]
            # same batches and draws; only the matmul blocking differs (float32 rounding)
            assert one[0][0] == pytest.approx(full[i][j], rel=1e-4)


def test_dp_sgd_noise_multiplier_reaches_epsilon_without_overshooting():
    from common.privacy import dp_sgd_epsilons, dp_sgd_noise_multipliers

    sigma = dp_sgd_noise_multipliers([1.0], 1e-5, 0.01, 50)[0]
    acc = RDPAccountant()
    assert acc.epsilon(dp_sgd_event(sigma, 0.01, 50), 1e-5) <= 1.0
    assert acc.epsilon(dp_sgd_event(sigma * (1 - 2e-3), 0.01, 50), 1e-5) > 1.0  # rtol 1e-3
    # the PLD accountant is tighter than the RDP calibration it scores
    assert dp_sgd_epsilons([sigma], 1e-5, 0.01, 50)[0] <= 1.0


def test_phase2_noise_law_and_start_point():
    import jax
    import jax.numpy as jnp

    cfg = lib.QuadraticStudy(dim=64, sigma_dps=(0.5, 1.0), clip=1e4)
    s = lib.noise_std(cfg, 0.5)
    assert s == pytest.approx(math.sqrt(1 / 64 + 0.25))
    assert float(lib.averaged_noise(cfg, 0.5).std[0]) == pytest.approx(s, rel=1e-6)
    mech = lib.phase2_mechanism(cfg, 0.5)
    draws = jax.vmap(lambda k: mech.perturb(k, jnp.zeros(64)))(
        jax.random.split(jax.random.PRNGKey(0), 400))
    # 25,600 draws: the sample variance is within 5 % of s^2 (its relative std is 0.9 %)
    assert float(jnp.var(draws)) == pytest.approx(s**2, rel=0.05)
    x0 = lib.start_point(cfg, 2.0)
    np.testing.assert_allclose(lib.curvatures(cfg) * x0, 2.0 * s, rtol=1e-12)


def test_phase1_signsgd_iterates_do_not_depend_on_the_clip():
    cfg = lib.QuadraticStudy(dim=64, sigma_dps=(0.5, 1.0), phase1_steps=10,
                             phase1_clips=(1e-3, 1e-2))
    out = lib.phase1_runs(cfg)
    assert out["min_norm"] > 100 * max(cfg.phase1_clips)  # sqrt(64) sigma_b = 8 >> C
    np.testing.assert_array_equal(out["sign_final"][0], out["sign_final"][1])
    ratio = out["sgd_loss"][1][1:] / out["sgd_loss"][0][1:]
    np.testing.assert_allclose(ratio, 100.0, rtol=0.01)  # C^2 up to the O(C) drift


def test_accountant_sigma_dps_follow_the_accountant_and_anchor_the_largest_epsilon():
    from common.privacy import dp_sgd_noise_multipliers

    cfg = lib.QuadraticStudy(sigma_dps=(0.25, 1.0), accountant_epsilons=(1.0, 4.0, 2.0),
                             accountant_n_train=1000, accountant_batch_size=10,
                             accountant_steps=200)
    sigma, sigma_dp = lib.accountant_sigma_dps(cfg)
    # the same calibration as a direct call, in the order of accountant_epsilons
    np.testing.assert_allclose(sigma, dp_sgd_noise_multipliers((1.0, 4.0, 2.0), 1e-5, 0.01, 200))
    assert sigma[0] > sigma[2] > sigma[1]  # more privacy, more noise
    # sigma_DP = sigma C / B with C / B set so that the largest epsilon gets min(sigma_dps)
    assert sigma_dp[1] == pytest.approx(0.25)
    np.testing.assert_allclose(sigma_dp / sigma, 0.25 / sigma[1], rtol=1e-12)


def test_configs_validate():
    with pytest.raises(ConfigError, match="record_sgd"):
        lib.QuadraticStudy(record_sgd=3)
    with pytest.raises(ConfigError, match="h_min"):
        lib.QuadraticStudy(h_min=2.0)
    with pytest.raises(ConfigError, match="accountant_batch_size"):
        lib.QuadraticStudy(accountant_n_train=10, accountant_batch_size=20)
    with pytest.raises(ConfigError, match="accountant_epsilons"):
        lib.QuadraticStudy(accountant_epsilons=(1.0,))
    with pytest.raises(ConfigError, match="lr_points"):
        lib.LogRegStudy(lr_points=4)
    with pytest.raises(ConfigError, match="epsilons"):
        lib.LogRegStudy(epsilons=(2.0, 1.0))
    with pytest.raises(ConfigError, match="batch_size"):
        lib.LogRegTrial(n_train=10, batch_size=20)
    assert lib.CrossoverStudy().num_steps(48) == 2500
    assert lib.LogRegStudy(lr_centers=(1.0, 1.0, 1.0), lr_points=3, lr_factor=2.0).lrs(
        "DP-SGD") == (0.5, 1.0, 2.0)
