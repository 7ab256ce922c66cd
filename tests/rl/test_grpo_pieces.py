"""GRPO pieces of common.rl against hand computations and independent NumPy references."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.rl import (
    AGGREGATIONS,
    clipped_token_loss,
    completion_mask,
    filter_rates,
    get_filter,
    group_advantages,
    lenient_filter,
    low_var_kl,
    strict_filter,
)


def test_group_advantages_hand_computed():
    # rewards (1, 0, 0, 0): mean 0.25, unbiased std sqrt(0.25) = 0.5
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), eps=0.0)
    assert torch.allclose(adv, torch.tensor([[1.5, -0.5, -0.5, -0.5]], dtype=adv.dtype))
    # 1 / 0.1 / 0 rewards: mean 0.275, unbiased var = sum((r - m)^2) / 3
    r = np.array([1.0, 0.1, 0.0, 0.0])
    ref = (r - r.mean()) / (r.std(ddof=1) + 1e-6)
    got = group_advantages(torch.from_numpy(r[None])).numpy()[0]
    np.testing.assert_allclose(got, ref, rtol=1e-12)  # same float64 arithmetic


def test_group_advantages_constant_group_is_zero_and_centering():
    adv = group_advantages(torch.tensor([[0.1, 0.1, 0.1], [1.0, 0.0, 1.0]]))
    assert torch.all(adv[0] == 0)
    c = group_advantages(torch.tensor([[1.0, 0.0, 1.0]]), scale=False)
    assert torch.allclose(c, torch.tensor([[1 / 3, -2 / 3, 1 / 3]], dtype=c.dtype))


@pytest.mark.parametrize("bad", [torch.zeros(4), torch.zeros(3, 1)])
def test_group_advantages_bad_shapes(bad):
    with pytest.raises(ValueError, match="rewards"):
        group_advantages(bad)


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=12), st.floats(0.1, 10),
       st.floats(-3, 3))
@settings(max_examples=60, deadline=None)
def test_group_advantages_affine_invariance(r, a, b):
    # standardisation is invariant to r -> a r + b (a > 0), up to the eps in the denominator
    r = torch.tensor([r], dtype=torch.float64)
    if r.std() < 1e-3:
        return
    x, y = group_advantages(r, eps=0.0), group_advantages(a * r + b, eps=0.0)
    assert torch.allclose(x, y, atol=1e-9)
    assert abs(float(x.sum())) < 1e-9  # zero mean


def _numpy_loss(logp, old, adv, mask, lo, hi):
    ratio = np.exp(logp - old)
    a = adv[:, None]
    tok = np.maximum(-a * ratio, -a * np.clip(ratio, 1 - lo, 1 + hi))
    return (tok * mask).sum() / mask.sum(), tok


def test_clipped_loss_hand_cases():
    # one token each: ratio 1.5 with A=+1 is clipped at 1.28 (clip-higher), 0.5 with A=-1 at 0.8
    logp = torch.log(torch.tensor([[1.5], [0.5], [1.1]], dtype=torch.float64))
    old = torch.zeros_like(logp)
    adv = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    mask = torch.ones_like(logp)
    loss, info = clipped_token_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.28)
    # tokens: -1.28, +0.8 (max(0.5, 0.8)), -2.2 (unclipped inside the range)
    assert info["per_token"].flatten().tolist() == pytest.approx([-1.28, 0.8, -2.2])
    assert float(loss) == pytest.approx((-1.28 + 0.8 - 2.2) / 3)
    assert float(info["clip_frac"]) == pytest.approx(2 / 3)


def test_clipped_loss_matches_numpy_and_aggregations():
    g = torch.Generator().manual_seed(0)
    B, T = 6, 5
    logp = torch.randn(B, T, generator=g, dtype=torch.float64) * 0.3 - 1
    old = logp + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.3
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    mask = (torch.arange(T)[None] < torch.tensor([5, 3, 1, 4, 2, 5])[:, None]).double()
    ref, tok = _numpy_loss(*(t.numpy() for t in (logp, old, adv, mask)), 0.2, 0.28)
    loss, _ = clipped_token_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.28)
    assert float(loss) == pytest.approx(ref, rel=1e-12)
    m = mask.numpy()
    seq = ((tok * m).sum(1) / m.sum(1)).mean()
    l2, _ = clipped_token_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.28,
                               aggregation="seq_mean_token_mean")
    assert float(l2) == pytest.approx(seq, rel=1e-12)
    assert set(AGGREGATIONS) == {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum"}


def test_clipped_loss_gradient_on_policy_is_policy_gradient():
    # at ratio 1 the gradient of the token-mean loss is -mean(A * grad log pi) (no clipping)
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], dtype=torch.float64, requires_grad=True)
    adv = torch.tensor([0.7, -1.3], dtype=torch.float64)
    loss, _ = clipped_token_loss(logp, logp.detach(), adv, torch.ones(2, 2))
    loss.backward()
    expected = -adv[:, None].expand(2, 2) / 4
    assert torch.allclose(logp.grad, expected)


def test_clipped_loss_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="aggregation"):
        clipped_token_loss(x, x, torch.zeros(2), x, aggregation="mean")
    with pytest.raises(ValueError, match="eps_low"):
        clipped_token_loss(x, x, torch.zeros(2), x, eps_low=1.0)
    with pytest.raises(ValueError, match="same shape"):
        clipped_token_loss(x, torch.zeros(2, 2), torch.zeros(2), x)
    with pytest.raises(ValueError, match="ref_logp"):
        clipped_token_loss(x, x, torch.zeros(2), x, kl_coef=0.1)


def test_low_var_kl_hand_values_and_unbiasedness():
    # u = pi_ref / pi = e: f = e - 1 - 1
    assert float(low_var_kl(torch.tensor(0.0), torch.tensor(1.0))) == pytest.approx(math.e - 2)
    assert float(low_var_kl(torch.tensor(-0.3), torch.tensor(-0.3))) == 0.0
    # mean over y ~ pi of f(pi_ref / pi) equals KL(pi || pi_ref) exactly (finite support)
    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.2, 0.2, 0.6], dtype=torch.float64)
    est = (p * low_var_kl(p.log(), q.log())).sum()
    assert float(est) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-12)
    assert float(low_var_kl(torch.tensor(0.0), torch.tensor(30.0), clamp=10.0)) == 10.0


def test_kl_term_added_per_token():
    logp = torch.full((1, 2), -1.0, dtype=torch.float64)
    ref = torch.full((1, 2), -2.0, dtype=torch.float64)
    base, _ = clipped_token_loss(logp, logp, torch.zeros(1), torch.ones(1, 2))
    with_kl, info = clipped_token_loss(logp, logp, torch.zeros(1), torch.ones(1, 2),
                                       ref_logp=ref, kl_coef=0.5)
    f = math.exp(-1) + 1 - 1
    assert float(with_kl - base) == pytest.approx(0.5 * f)
    assert float(info["kl"]) == pytest.approx(f)


def test_filters_hand_cases():
    r = torch.tensor([[1.0, 1.0, 1.0],      # all correct: strict drops, lenient drops
                      [0.1, 0.1, 0.1],      # all format-only: both drop
                      [0.1, 0.0, 0.0],      # no correct, not constant: strict drops, lenient keeps
                      [1.0, 0.1, 0.0],      # mixed with a correct one: both keep
                      [0.0, 0.0, 0.0]])
    assert strict_filter(r).tolist() == [False, False, False, True, False]
    assert lenient_filter(r).tolist() == [False, False, True, True, False]
    assert get_filter("none")(r).all()
    with pytest.raises(ValueError, match="filter='dapo'"):
        get_filter("dapo")
    rates = filter_rates([0, 0, 1, 1, 2], strict_filter(r), 4)
    assert rates[:3].tolist() == [1.0, 0.5, 1.0] and math.isnan(rates[3])


@given(st.lists(st.lists(st.sampled_from([0.0, 0.1, 1.0]), min_size=2, max_size=6),
                min_size=1, max_size=8).filter(lambda x: len({len(r) for r in x}) == 1))
@settings(max_examples=60, deadline=None)
def test_strict_keeps_a_subset_of_lenient_and_only_nonzero_advantages(rows):
    r = torch.tensor(rows)
    s, l = strict_filter(r), lenient_filter(r)
    assert not (s & ~l).any()
    nonzero = (group_advantages(r).abs() > 0).any(1)
    assert torch.equal(l, nonzero)  # lenient = exactly the groups with a learning signal


def test_completion_mask():
    c = torch.tensor([[3, 5, 9, 9], [5, 9, 9, 9], [1, 2, 3, 4]])
    m = completion_mask(c, eos_id=5)
    assert m.tolist() == [[True, True, False, False], [True, False, False, False],
                          [True, True, True, True]]
