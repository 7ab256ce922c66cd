"""Clip21-SGD2M and its relatives against the notes' reference recursion, step by step.

The reference below transcribes the pseudo-code of the clip21-sgd2m notes (section 3) in NumPy,
with the server update ``g^{t+1} = g^t + (beta_hat / n) sum_i c_i`` (no m buffers). The library
implements Byz-Clip21-SGD2M's Algorithm 1 (m buffers and an aggregator); with the mean they must
coincide. Both draw the same noise (one torch generator, same order): float64, tolerance 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.federated import Byzantine, clip21_sgd2m_step, clip_sgd_step, fed_init, safe_dshb_step
from common.robust import IPM, coordinate_median, nnm_median

N, D = 5, 4


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, D, D)) / 2
    b = rng.standard_normal((N, D)) * 3  # heterogeneous clients
    return A, b


def _grad_fn(A, b, noise_std, gen):
    """Client i: f_i(x) = 1/2 ||A_i x - b_i||^2 plus Gaussian gradient noise."""
    At = torch.tensor(A)
    bt = torch.tensor(b)

    def grad(x):
        r = torch.einsum("ijk,k->ij", At, x) - bt
        g = torch.einsum("ijk,ij->ik", At, r)
        return g + noise_std * torch.randn(g.shape, generator=gen, dtype=g.dtype)

    return grad


def np_clip(u, tau):
    n = np.linalg.norm(u, axis=-1, keepdims=True)
    return u * np.minimum(1.0, tau / np.maximum(n, 1e-300))


def reference(A, b, x0, T, lr, beta, beta_hat, tau, sigma, noise_std, seed):
    gen = torch.Generator().manual_seed(seed)  # the same stream, consumed in the same order
    x, g = x0.copy(), np.zeros(D)
    v, g_loc = np.zeros((N, D)), np.zeros((N, D))
    xs = []
    for _ in range(T):
        x = x - lr * g
        grad = np.einsum("ijk,ij->ik", A, np.einsum("ijk,k->ij", A, x) - b)
        grad = grad + noise_std * torch.randn((N, D), generator=gen, dtype=torch.float64).numpy()
        v = (1 - beta) * v + beta * grad
        delta = np_clip(v - g_loc, tau)
        g_loc = g_loc + beta_hat * delta
        c = delta
        if sigma > 0:  # no noise, no draw (the library does not consume the stream either)
            c = c + sigma * torch.randn((N, D), generator=gen, dtype=torch.float64).numpy()
        g = g + beta_hat / N * c.sum(axis=0)
        xs.append(x.copy())
    return np.array(xs)


@pytest.mark.parametrize("beta,beta_hat,tau,sigma,noise", [
    (0.1, 0.5, 0.3, 0.0, 0.0), (0.5, 1.0, 1.0, 0.2, 0.5), (1.0, 1.0, 0.05, 0.0, 1.0),
    (0.2, 0.05, 10.0, 1.0, 0.1)])
def test_clip21_sgd2m_with_mean_equals_the_reference_recursion(beta, beta_hat, tau, sigma, noise):
    A, b = _problem()
    x0 = np.ones(D)
    want = reference(A, b, x0, 30, 0.1, beta, beta_hat, tau, sigma, noise, seed=7)
    gen = torch.Generator().manual_seed(7)
    grad_fn = _grad_fn(A, b, noise, gen)
    state = fed_init(torch.tensor(x0), N)
    for t in range(30):
        state, _ = clip21_sgd2m_step(state, grad_fn, lr=0.1, beta=beta, beta_hat=beta_hat,
                                     tau=tau, sigma=sigma, generator=gen)
        np.testing.assert_allclose(state.x.numpy(), want[t], rtol=1e-12, atol=1e-12)


def test_without_clipping_noise_and_attackers_it_is_momentum_averaging():
    """tau = inf, sigma = 0, mean, no Byzantine: m_i == g_i for all t, g = mean_i g_i; with
    beta_hat = 1 as well, x follows distributed heavy-ball averaging x <- x - lr mean_i v_i."""
    A, b = _problem(1)
    gen = torch.Generator().manual_seed(0)
    grad_fn = _grad_fn(A, b, 0.3, gen)
    state = fed_init(torch.ones(D, dtype=torch.float64), N)
    for _ in range(20):
        state, _ = clip21_sgd2m_step(state, grad_fn, lr=0.05, beta=0.3, beta_hat=0.7,
                                     tau=float("inf"), generator=gen)
        torch.testing.assert_close(state.m, state.g_local, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(state.g, state.g_local.mean(0), rtol=1e-12, atol=1e-12)
    gen1, gen2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    fn1, fn2 = _grad_fn(A, b, 0.3, gen1), _grad_fn(A, b, 0.3, gen2)
    state = fed_init(torch.ones(D, dtype=torch.float64), N)
    x, v = torch.ones(D, dtype=torch.float64), torch.zeros(N, D, dtype=torch.float64)
    for _ in range(20):
        state, _ = clip21_sgd2m_step(state, fn1, lr=0.05, beta=0.3, beta_hat=1.0,
                                     tau=float("inf"), generator=gen1)
        x = x - 0.05 * v.mean(0)
        v = 0.7 * v + 0.3 * fn2(x)
    torch.testing.assert_close(state.x, x, rtol=1e-10, atol=1e-10)


def test_clip21_gd_reaches_the_optimum_where_clip_gd_is_biased():
    """The notes' Toy A: f_i = 1/2 (x - a_i)^2, a = (-1, -1, 10), tau = 1, gamma = 0.1.
    Clip-GD's fixed point solves sum_i clip_1(x - a_i) = 0, i.e. x = -0.5; x* = 8/3."""
    a = torch.tensor([[-1.0], [-1.0], [10.0]], dtype=torch.float64)
    grad_fn = lambda x: x - a  # noqa: E731  (full gradients, one coordinate)
    results = {}
    for name, step, kw in [("clip", clip_sgd_step, {}),
                           ("clip21", clip21_sgd2m_step, {"beta": 1.0, "beta_hat": 1.0}),
                           ("2m", clip21_sgd2m_step, {"beta": 0.5, "beta_hat": 1.0})]:
        state = fed_init(torch.zeros(1, dtype=torch.float64), 3)
        for _ in range(2000):
            state, _ = step(state, grad_fn, lr=0.1, tau=1.0, **kw)
        results[name] = float(state.x)
    assert results["clip"] == pytest.approx(-0.5, abs=1e-3)
    assert results["clip21"] == pytest.approx(8 / 3, abs=1e-3)
    assert results["2m"] == pytest.approx(8 / 3, abs=1e-3)


def test_byzantine_attacks_message_and_state_levels():
    A, b = _problem(2)
    n_total, f = N, 2
    gen = torch.Generator().manual_seed(0)
    grad_fn = _grad_fn(A, b, 0.0, gen)
    common = dict(lr=0.1, beta=0.5, beta_hat=0.5, tau=1.0)
    s0 = fed_init(torch.ones(D, dtype=torch.float64), n_total)
    s1, info = clip21_sgd2m_step(s0, grad_fn, aggregator=coordinate_median,
                                 byzantine=Byzantine(f, IPM(10.0)), **common)
    honest = info["messages"][:n_total - f]
    torch.testing.assert_close(info["messages"][n_total - f:],
                               (-10 * honest.mean(0)).expand(f, -1))
    s2, _ = clip21_sgd2m_step(s0, grad_fn, aggregator=coordinate_median,
                              byzantine=Byzantine(f, IPM(10.0), level="state"), **common)
    torch.testing.assert_close(s2.m[n_total - f:],
                               (-10 * s2.m[:n_total - f].mean(0)).expand(f, -1))
    with pytest.raises(ValueError, match="f=3 Byzantine clients out of n=5"):
        clip21_sgd2m_step(s0, grad_fn, aggregator=nnm_median, byzantine=Byzantine(3), **common)


def test_safe_dshb_and_validation():
    A, b = _problem(3)
    grad_fn = _grad_fn(A, b, 0.0, torch.Generator().manual_seed(0))
    s = fed_init(torch.ones(D, dtype=torch.float64), N)
    s1, _ = safe_dshb_step(s, grad_fn, lr=0.1, beta=0.5, tau=100.0)
    torch.testing.assert_close(s1.m, 0.5 * grad_fn(s1.x))
    for kwargs, match in [({"lr": 0.0}, "lr=0.0"), ({"beta": 0.0}, "beta=0.0"),
                          ({"tau": -1.0}, "tau=-1.0"), ({"sigma": -1.0}, "sigma=-1.0")]:
        base = dict(lr=0.1, beta=0.5, beta_hat=0.5, tau=1.0)
        with pytest.raises(ValueError, match=match):
            clip21_sgd2m_step(s, grad_fn, **{**base, **kwargs})
    with pytest.raises(ValueError, match=r"grad_fn returned shape \(3, 4\)"):
        clip21_sgd2m_step(s, lambda x: torch.zeros(3, D, dtype=torch.float64), lr=0.1, beta=0.5,
                          beta_hat=0.5, tau=1.0)
