"""The federated training loop, method tables, compressed methods, injected noise, and the
federated MNIST problem builder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from common.federated import (
    NOISES,
    QSGD,
    Bernoulli,
    CompressedMethod,
    Identity,
    RandK,
    Sign,
    StepRule,
    clip21_sgd2m_step,
    compressed_step,
    dcsgd,
    dsgd,
    dsignsgd,
    fed_init,
    mnist_federated,
    rand_k,
    run_rounds,
    student_t,
    with_injected_noise,
)


def _quadratic_grad(gen, n=4, d=3, noise=0.1):
    a = torch.arange(n * d, dtype=torch.float64).reshape(n, d) / 5

    def grad(x):
        return (x - a) + noise * torch.randn(n, d, generator=gen, dtype=torch.float64)

    return grad


def test_run_rounds_equals_the_hand_written_loop():
    hyper = dict(lr=0.2, beta=0.3, beta_hat=0.5, tau=1.0, sigma=0.05)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    seen = []
    final = run_rounds(clip21_sgd2m_step, torch.zeros(3, dtype=torch.float64),
                       _quadratic_grad(g1), num_clients=4, num_rounds=25, generator=g1,
                       callback=lambda k, s: seen.append((k, s.t)), **hyper)
    state, grad = fed_init(torch.zeros(3, dtype=torch.float64), 4), _quadratic_grad(g2)
    for _ in range(25):
        state, _ = clip21_sgd2m_step(state, grad, generator=g2, **hyper)
    assert torch.equal(final.x, state.x) and final.t == 25
    assert seen == [(k, k) for k in range(1, 26)]


def test_run_rounds_stops_at_the_first_non_finite_model():
    def grad(x):
        return torch.full((2, 1), float("inf")) if x.abs().max() > 1 else torch.full((2, 1), -1.0)

    seen = []
    state = run_rounds(compressed_step, torch.zeros(1), grad, num_clients=2, num_rounds=50,
                       lr=0.6, method=dsgd(), callback=lambda k, s: seen.append(k))
    assert not torch.isfinite(state.x).all() and state.t == 3 and seen == [1, 2]


def test_step_rule_reads_fixed_then_config_hyperparameters():
    class Cfg:
        beta, beta_hat, lr = 0.2, 0.7, 9.0

    rule = StepRule(clip21_sgd2m_step, {"beta": 1.0, "tau": 2.0}, ("beta", "beta_hat"))
    assert rule.hyper(Cfg) == {"beta": 0.2, "tau": 2.0, "beta_hat": 0.7}


def test_compressed_step_is_the_compressed_mean_update():
    gen = torch.Generator().manual_seed(1)
    grads = torch.randn(5, 8, generator=gen)
    state = fed_init(torch.ones(8), 5)
    for method in (dsgd(), dsignsgd(), dsignsgd("majority"), dcsgd(RandK(2))):
        g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
        new, info = compressed_step(state, lambda x: grads, lr=0.1, method=method, generator=g1)
        expected = 1 - 0.1 * method.aggregate(method.compressor(grads, generator=g2))
        torch.testing.assert_close(new.x, expected)
        assert torch.equal(state.x, torch.ones(8))  # pure
    with pytest.raises(ValueError, match="lr"):
        compressed_step(state, lambda x: grads, lr=0.0, method=dsgd())


def test_direction_paths_equals_one_call_per_path():
    """Laying R runs side by side must not change any run's direction (same stream)."""
    grads = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(3))
    for method in (dsgd(), dsignsgd(), dsignsgd("majority"), dsignsgd("one_bit")):
        together = method.direction_paths(grads)
        for r in range(3):
            torch.testing.assert_close(together[r], method.direction(grads[r]))


def test_methods_and_their_validation():
    assert dsgd().omega(10) == 0.0
    assert rand_k(10, 10) == Identity() and rand_k(3, 10) == RandK(3)
    assert dcsgd(RandK(2)).name == "DCSGD rand-2" and dcsgd(QSGD(4)).name == "DCSGD QSGD(4)"
    assert dcsgd(Bernoulli(0.25)).name == "DCSGD Bernoulli(0.25)"
    assert dsignsgd().is_sign and not dsgd().is_sign
    assert CompressedMethod("x", Sign()).is_sign
    with pytest.raises(ValueError, match="unbiased"):
        dcsgd(Sign())
    with pytest.raises(ValueError, match="vote"):
        dsignsgd("median")
    with pytest.raises(ValueError, match="k=11"):
        rand_k(11, 10)
    with pytest.raises(ValueError, match="biased"):
        dsignsgd().omega(10)


@pytest.mark.parametrize("nu", [1.0, 1.5, 3.0])
def test_student_t_draws_follow_t_nu(nu):
    """KS against scipy's t_nu (p > 1e-8, the budget of tests/sde/_stats.py); the cut of U at
    eps/2 bounds every float32 draw as common.sde.StudentT.sample's docstring says."""
    draws = student_t((20_000,), nu, torch.Generator().manual_seed(4), torch.float64)
    assert stats.kstest(draws.numpy(), stats.t(nu).cdf).pvalue > 1e-8
    f32 = student_t((100_000,), nu, torch.Generator().manual_seed(5))
    bound = math.sqrt(nu) * (2.0 / float(torch.finfo(torch.float32).eps)) ** (1.0 / nu)
    assert float(f32.abs().max()) <= bound * 1.001
    sampler = NOISES["student_t"](nu=nu)
    same = sampler((50,), torch.Generator().manual_seed(6))
    torch.testing.assert_close(same, student_t((50,), nu, torch.Generator().manual_seed(6)))


def test_torch_and_jax_student_t_are_the_same_map_of_uniforms():
    """The twin of common.sde.StudentT.sample: the same formula on the same uniforms."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from common import sde

    key = jax.random.PRNGKey(7)
    jax_draws = np.asarray(sde.StudentT(1.5, jnp.ones(4)).sample(key, (1000,)))
    k_u, k_v = jax.random.split(key)  # StudentT.sample's own split of the key
    u = np.maximum(np.asarray(jax.random.uniform(k_u, (1000, 4))), 0.5 * np.finfo(np.float32).eps)
    v = np.asarray(jax.random.uniform(k_v, (1000, 4)))
    torch_form = (torch.cos(2 * math.pi * torch.tensor(v))
                  * torch.sqrt(1.5 * torch.expm1(-2.0 * torch.log(torch.tensor(u)) / 1.5)))
    np.testing.assert_allclose(jax_draws, torch_form.numpy(), rtol=1e-4, atol=1e-6)


def test_injected_noise_is_drawn_after_the_gradient():
    gen = torch.Generator().manual_seed(8)
    noisy = with_injected_noise(lambda x: torch.zeros(2, 3), 0.5, NOISES["gaussian"](),
                                generator=gen)
    torch.testing.assert_close(noisy(None), 0.5 * torch.randn(2, 3, generator=torch.Generator()
                                                              .manual_seed(8)))
    with pytest.raises(ValueError, match="std"):
        with_injected_noise(lambda x: x, -1.0, NOISES["gaussian"](), generator=gen)


def test_mnist_problem_builder(shared_data):
    from common.data import MNIST_MEAN, MNIST_STD, load_mnist, pooled

    p = mnist_federated(5, split="sorted", subset=500, seed=3, train_eval=True, hidden=8)
    assert p.data.X.shape == (5, 100, 49) and set(p.eval_sets) == {"val", "train", "test"}
    # sorted split: the clients hold consecutive blocks of digits
    assert all(a.max() <= b.min() for a, b in zip(p.data.y[:-1], p.data.y[1:]))
    images, labels = load_mnist("train")
    order = np.random.default_rng(3).permutation(60_000)
    rows = np.sort(order[6000:][:500])
    Xv, yv = p.eval_sets["val"]
    torch.testing.assert_close(Xv[:4], ((pooled(images[order[:4]]) - MNIST_MEAN) / MNIST_STD)
                               .float())
    assert sorted(p.eval_sets["train"][1].tolist()) == sorted(labels[rows].tolist())
    assert yv.shape == (6000,)
    flipped = mnist_federated(4, split="iid", subset=400, label_flip_clients=1, hidden=8)
    plain = mnist_federated(4, split="iid", subset=400, hidden=8)
    assert torch.equal(flipped.data.y[:3], plain.data.y[:3])
    assert torch.equal(flipped.data.y[3], 9 - plain.data.y[3])
    x0 = plain.x0(0)
    assert x0.shape == (49 * 8 + 8 + 8 * 10 + 10,) and torch.equal(x0, plain.x0(0))
    assert set(plain.evaluate(x0, sets=("test",))) == {"test_loss", "test_acc"}
    with pytest.raises(ValueError, match="split"):
        mnist_federated(4, split="dirichlet")


def test_mnist_problem_models(shared_data):
    """``model`` picks the classifier: the 784-256-10 MLP and the papers' CNN on full images,
    both trainable through the same flat-vector interface; the CNN refuses pooled inputs."""
    from common.models import MnistCNN

    mlp = mnist_federated(3, subset=60, pool=1, hidden=256, val_fraction=0.0)
    assert mlp.dim == 784 * 256 + 256 + 256 * 10 + 10 == 203_530
    cnn = mnist_federated(3, subset=60, pool=1, model="cnn", val_fraction=0.0)
    assert isinstance(cnn.model, MnistCNN) and cnn.dim == 1_199_882
    g = cnn.grad_fn(4, torch.Generator().manual_seed(0))(cnn.x0(0))
    assert g.shape == (3, cnn.dim) and torch.isfinite(g).all()
    assert set(cnn.evaluate(cnn.x0(0))) == {"test_loss", "test_acc"}
    with pytest.raises(ValueError, match="pool=1"):
        mnist_federated(3, subset=60, model="cnn")
    with pytest.raises(ValueError, match="model"):
        mnist_federated(3, subset=60, model="resnet")
