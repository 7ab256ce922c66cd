"""Compressors: unbiasedness and omega by Monte Carlo (bands from the CLT), EF21 invariants."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from common.federated import (
    QSGD,
    Bernoulli,
    Identity,
    RandK,
    Sign,
    TopK,
    ef21_init,
    ef21_step,
    majority_vote,
    mean_of_signs,
    omega_table,
)
from common.privacy import clip_rows

D = 20
X = torch.linspace(-2.0, 3.0, D, dtype=torch.float64)


def _samples(comp, n=40_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return comp(X.expand(n, D).clone(), generator=g)


@pytest.mark.parametrize("comp", [Identity(), RandK(5), RandK(1), Bernoulli(0.3), QSGD(1), QSGD(4)],
                         ids=repr)
def test_unbiased_and_variance_bounded_by_omega(comp):
    s = _samples(comp)
    n = s.shape[0]
    # each coordinate's mean is within 6 standard errors of x_j (CLT; a false alarm has
    # probability < 1e-8 per coordinate)
    se = s.std(dim=0) / math.sqrt(n)
    assert bool(((s.mean(0) - X).abs() <= 6 * se + 1e-12).all())
    mse = ((s - X) ** 2).sum(1).mean()
    omega = comp.omega(D)
    assert mse <= omega * (X**2).sum() * (1 + 0.03) + 1e-12  # 3 %: Monte Carlo error of the mean


@pytest.mark.parametrize("comp", [RandK(5), Bernoulli(0.25)], ids=repr)
def test_omega_is_attained_for_sparsifiers(comp):
    """For rand-k and Bernoulli, E||C(x) - x||^2 = omega ||x||^2 exactly."""
    mse = ((_samples(comp) - X) ** 2).sum(1).mean()
    assert float(mse) == pytest.approx(comp.omega(D) * float((X**2).sum()), rel=0.03)


def test_rand_k_keeps_exactly_k_and_rows_are_independent():
    s = _samples(RandK(3), n=50)
    assert ((s != 0).sum(1) == 3).all()
    assert not torch.equal(s[0], s[1])


def test_biased_compressors():
    top = TopK(3)(X)
    assert (top != 0).sum() == 3 and top.abs().max() == X.abs().max()
    assert ((top - X) ** 2).sum() <= (1 - 3 / D) * (X**2).sum()  # contraction alpha = k/d
    torch.testing.assert_close(Sign()(X), torch.sign(X))
    torch.testing.assert_close(Sign(scaled=True)(X), torch.sign(X) * X.abs().mean())
    for comp in (TopK(3), Sign()):
        with pytest.raises(ValueError, match="biased"):
            comp.omega(D)


def test_sign_aggregation():
    x = torch.tensor([[1.0, -2.0, 0.5], [2.0, -1.0, -0.5], [-1.0, 3.0, 0.0]])
    torch.testing.assert_close(majority_vote(x), torch.tensor([1.0, -1.0, 0.0]))
    torch.testing.assert_close(mean_of_signs(x), torch.tensor([1 / 3, -1 / 3, 0.0]))


def test_compressor_validation():
    with pytest.raises(ValueError, match="k=0"):
        RandK(0)(X)
    with pytest.raises(ValueError, match="p=0"):
        Bernoulli(0.0)
    with pytest.raises(ValueError, match="s=0"):
        QSGD(0)
    with pytest.raises(ValueError, match=r"\(d,\) or \(n, d\)"):
        RandK(2)(torch.zeros(2, 2, 2))


def test_ef21_identity_operator_tracks_targets_in_one_step():
    target = torch.randn(4, 6, dtype=torch.float64)
    state = ef21_init(torch.zeros(4, 6, dtype=torch.float64))
    msgs, new = ef21_step(state, target, lambda u: u)
    torch.testing.assert_close(new.local, target)
    torch.testing.assert_close(new.server, target.mean(0))
    assert torch.equal(state.local, torch.zeros(4, 6, dtype=torch.float64))  # pure


def test_ef21_with_clipping_converges_to_fixed_targets():
    """Clip21's mechanism: clipped differences still drive every estimate to its target."""
    target = 5 * torch.randn(5, 3, dtype=torch.float64)
    state = ef21_init(torch.zeros(5, 3, dtype=torch.float64))
    for _ in range(200):
        _, state = ef21_step(state, target, partial(clip_rows, max_norm=0.5))
    torch.testing.assert_close(state.local, target)
    torch.testing.assert_close(state.server, target.mean(0))


def test_ef21_with_a_compressor_and_validation():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 8, dtype=torch.float64)
    state = ef21_init(torch.zeros(3, 8, dtype=torch.float64))
    for _ in range(300):
        _, state = ef21_step(state, target, partial(TopK(2), generator=g))
    torch.testing.assert_close(state.local, target)
    with pytest.raises(ValueError, match="target has shape"):
        ef21_step(state, target[:2], lambda u: u)


# ---- omega_table: omega is what the SDE uses, so it must be the measured variance ----------
# Monte Carlo bands of Z = 6 standard errors (a false alarm has probability ~2e-9 per check, as in
# tests/sde/_stats.py)

Z = 6.0
X_OMEGA = torch.linspace(-2.0, 3.0, 10, dtype=torch.float64)


@pytest.mark.parametrize("comp", [RandK(1), RandK(2), RandK(5), Bernoulli(0.2), Bernoulli(0.5)],
                         ids=repr)
def test_omega_table_sparsifiers_variance_equals_omega(comp):
    """rand-k and Bernoulli: E||C(x) - x||^2 = omega ||x||^2 exactly, and E C(x) = x."""
    row = omega_table([comp], X_OMEGA, num_samples=40_000, seed=1)[0]
    assert row["omega"] == pytest.approx(comp.omega(10))
    assert abs(row["measured"] - row["omega"]) <= Z * row["measured_se"]
    assert row["bias_z"] <= Z


@pytest.mark.parametrize("s", [1, 2, 4])
def test_qsgd_variance_is_bounded_by_omega(s):
    """QSGD's omega = min(d/s^2, sqrt(d)/s) is a worst case: measured <= omega (up to MC error),
    and its exact variance is sum_j (||x||/s)^2 p_j (1 - p_j), p_j = frac(s |x_j| / ||x||)."""
    comp = QSGD(s)
    row = omega_table([comp], X_OMEGA, num_samples=40_000, seed=2)[0]
    assert row["measured"] <= row["omega"] + Z * row["measured_se"]
    norm = float(X_OMEGA.norm())
    frac = np.modf(s * np.abs(X_OMEGA.numpy()) / norm)[0]
    exact = float(np.sum((norm / s) ** 2 * frac * (1 - frac))) / norm**2
    assert abs(row["measured"] - exact) <= Z * row["measured_se"]
    assert row["bias_z"] <= Z
