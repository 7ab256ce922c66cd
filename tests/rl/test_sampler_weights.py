"""Samplers, task weights (IWU) and multi-task metrics: hand computations, autograd, torch.optim
and property tests."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.metrics import average_accuracy, delta_m_percent, worst_task_accuracy
from common.rl import (
    SAMPLERS,
    aas_inflation,
    get_sampler,
    improvement_scores,
    iwu_step,
    logit_adam_update,
    omega,
    ratio_preserving_sampler,
    softmax,
    strict_step,
    task_weights_init,
    update_filter_rate,
    weight_gradient,
)


def _bernoulli_draw(acceptance, rng):
    acceptance = np.asarray(acceptance)

    def draw(tasks):
        return rng.random(tasks.size) < acceptance[tasks]
    return draw


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name):
    # every sampler: indices into the drawn groups, all accepted, at most B, tasks consistent
    rng = np.random.default_rng(0)
    res = get_sampler(name)([0.2, 0.5, 0.3], 16, _bernoulli_draw([0.9, 0.3, 0.6], rng), rng)
    assert res.indices.size <= 16
    assert res.accepted[res.indices].all()
    assert np.array_equal(res.task_ids, res.drawn_tasks[res.indices])
    assert len(np.unique(res.indices)) == res.indices.size
    assert res.rounds >= 1
    np.testing.assert_allclose(res.ratio(3).sum(), 1.0)


def test_ratio_preserving_hits_targets_exactly_when_supply_suffices():
    rng = np.random.default_rng(1)
    res = ratio_preserving_sampler([0.25, 0.25, 0.5], 32, _bernoulli_draw([1.0, 1.0, 1.0], rng),
                                   rng, oversample=3)
    assert res.rounds == 1  # everything accepted: no resampling
    np.testing.assert_array_equal(np.bincount(res.task_ids, minlength=3), res.targets)


def test_ratio_preserving_resamples_only_deficit_tasks():
    # task 0 always accepted, task 1 never: after round 1, every draw is for task 1
    rng = np.random.default_rng(2)
    res = ratio_preserving_sampler([0.5, 0.5], 10, _bernoulli_draw([1.0, 0.0], rng), rng,
                                   oversample=2, max_rounds=4)
    assert res.rounds == 4 if res.targets[1] > 0 else res.rounds == 1
    later = res.drawn_tasks[20:]
    assert (later == 1).all()
    # the batch: task 0's target, then filled from task 0's surplus up to B
    assert res.indices.size == 10 and (res.task_ids == 0).all()


def test_dynamic_sampler_stops_when_full_and_plain_keeps_accepted():
    rng = np.random.default_rng(3)
    res = get_sampler("dynamic")([0.5, 0.5], 8, _bernoulli_draw([1.0, 1.0], rng), rng)
    assert res.rounds == 1 and res.indices.size == 8
    res = get_sampler("plain")([0.5, 0.5], 8, _bernoulli_draw([1.0, 0.0], rng), rng)
    assert (res.task_ids == 0).all() and res.indices.size == (res.drawn_tasks == 0).sum()


def test_sampler_errors():
    rng = np.random.default_rng(0)
    draw = _bernoulli_draw([1.0, 1.0], rng)
    with pytest.raises(ValueError, match="z="):
        ratio_preserving_sampler([0.5, 0.6], 4, draw, rng)
    with pytest.raises(ValueError, match="batch_size"):
        ratio_preserving_sampler([0.5, 0.5], 0, draw, rng)
    with pytest.raises(ValueError, match="inflation"):
        ratio_preserving_sampler([0.5, 0.5], 4, draw, rng, inflation=[1.0])
    with pytest.raises(ValueError, match="sampler='rps'"):
        get_sampler("rps")
    with pytest.raises(ValueError, match="flags"):
        ratio_preserving_sampler([0.5, 0.5], 4, lambda t: np.ones(1, bool), rng)


def test_aas_inflation_and_filter_rate_ema():
    np.testing.assert_allclose(aas_inflation([0.0, 0.5, 0.8, 0.99, 1.0]),
                               [1.0, 2.0, 5.0, 5.0, 5.0])
    np.testing.assert_allclose(aas_inflation([0.75], max_inflation=10), [4.0])
    rho = update_filter_rate([0.0, 0.5], [1.0, np.nan], decay=0.9)
    np.testing.assert_allclose(rho, [0.1, 0.5])


@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5), st.integers(0, 2**31 - 1))
@settings(max_examples=25, deadline=None)
def test_ratio_preserving_never_exceeds_targets_before_filling(acc, seed):
    k = len(acc)
    rng = np.random.default_rng(seed)
    z = rng.dirichlet(np.ones(k))
    res = ratio_preserving_sampler(z, 12, _bernoulli_draw(acc, rng), rng, max_rounds=3)
    counts = np.bincount(res.task_ids, minlength=k)
    # a task above its target means the batch was filled from surplus: then no task has a deficit
    # that its accepted pool could have covered
    if (counts > res.targets).any():
        pool = np.bincount(res.drawn_tasks[res.accepted], minlength=k)
        assert (counts >= np.minimum(res.targets, pool)).all()
    assert res.indices.size == min(12, int(res.accepted.sum()))


def test_weight_gradient_equals_autograd():
    rng = np.random.default_rng(0)
    for _ in range(10):
        xi = torch.tensor(rng.normal(size=4), dtype=torch.float64, requires_grad=True)
        s = rng.normal(size=4)
        (torch.softmax(xi, 0) @ torch.from_numpy(s)).backward()
        np.testing.assert_allclose(weight_gradient(softmax(xi.detach().numpy()), s),
                                   xi.grad.numpy(), atol=1e-14)


@pytest.mark.parametrize("decoupled", [False, True])
def test_logit_adam_matches_torch(decoupled):
    rng = np.random.default_rng(1)
    xi = torch.tensor(rng.normal(size=3), dtype=torch.float64, requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([xi], lr=0.025, weight_decay=1e-2)
    state = task_weights_init(3, xi.detach().numpy())
    for _ in range(20):
        g = rng.normal(size=3)
        xi.grad = torch.from_numpy(g)
        opt.step()
        state = logit_adam_update(state, g, lr=0.025, weight_decay=1e-2, decoupled=decoupled)
    np.testing.assert_allclose(state.logits, xi.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_iwu_scores_clip_and_direction():
    s = improvement_scores([0.5, -0.5, 0.0], [0.8, 0.5, 0.3], 0.2, improvement_clip=0.1)
    np.testing.assert_allclose(s, [0.1 + 0.16, -0.1 + 0.1, 0.06])
    state, info = iwu_step(task_weights_init(3), [0.0, 0.0, 0.0], [0.8, 0.5, 0.3], lam=1.0,
                           lr=0.025)
    assert np.argmax(info["z"]) == 2 and np.argmin(info["z"]) == 0  # weight to the lowest J
    with pytest.raises(ValueError, match="lam"):
        improvement_scores([0.0], [0.0], -1.0)


def test_strict_collapses_and_iwu_moves_weight_to_the_stagnating_task():
    J = [0.8, 0.5, 0.3]
    st_, it = task_weights_init(3), task_weights_init(3)
    for _ in range(200):
        st_, _ = strict_step(st_, J, lr=0.025)
        it, _ = iwu_step(it, [0.0, 0.0, 0.5], J, lam=0.2, lr=0.025)
    assert st_.z[2] > 0.9
    assert it.z[2] < 1 / 3 and np.argmax(it.z) == 1


def test_omega():
    assert omega([1 / 3] * 3) == 0.0
    assert omega([1.0, 0.0, 0.0]) == pytest.approx(2 / 3)


def test_multitask_metrics_hand_values():
    acc = np.array([[0.6, 0.3, 0.9], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(worst_task_accuracy(acc), [0.3, 0.5])
    np.testing.assert_allclose(average_accuracy(acc), [0.6, 0.5])
    assert worst_task_accuracy([0.2, 0.1]) == 0.1
    # (0.6-0.5)/0.5 = 0.2, (0.3-0.5)/0.5 = -0.4, (0.9-0.5)/0.5 = 0.8 -> mean 0.2 -> 20 %
    assert delta_m_percent(acc[0], acc[1]) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="reference"):
        delta_m_percent([0.5], [0.0])
    with pytest.raises(ValueError, match="tasks"):
        delta_m_percent([0.5, 0.5], [0.5])
