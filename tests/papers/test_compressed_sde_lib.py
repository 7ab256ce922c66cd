"""papers/compressed-sde/lib.py: compressors' omega against their measured variance, the torch
simulator against exact recursions, the SDE built from omega, the scaling rules, the configs.
(The methods, the Student-t noise and the training loop are tested in tests/federated.)

Monte Carlo checks use bands of 6 standard errors (a false alarm has probability ~2e-9 per check,
as in ``tests/sde/_stats.py``) plus, where a quantity is compared with a formula that differs from
it by a known bias, that bias written next to the check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from common import sde
from common.experiment import ConfigError
from common.federated import (
    QSGD,
    Bernoulli,
    CompressedMethod,
    Identity,
    RandK,
    Sign,
    dcsgd,
    dsgd,
    dsignsgd,
)
from common.metrics import half_life, window
from common.project import paper_module
from common.sde import closed_forms as cf

lib = paper_module("compressed-sde")

Z = 6.0  # standard errors in every Monte Carlo band (module docstring)
X = torch.linspace(-2.0, 3.0, 10, dtype=torch.float64)


# ---- compressors: omega is what the SDE uses, so it must be their measured variance ----------

@pytest.mark.parametrize("comp", [Identity(), RandK(2), Bernoulli(0.25), QSGD(2)], ids=repr)
def test_sde_is_built_from_the_compressors_omega(comp):
    model = lib.sde_model(dcsgd(comp), lr=0.01, num_clients=3)
    assert isinstance(model, sde.DCSGDSDE) and model.num_clients == 3
    assert float(model.compressor.omega(10)) == pytest.approx(comp.omega(10), rel=1e-6)


def test_jax_and_torch_rand_k_have_the_same_covariance_diagonal():
    """The SDE's compression covariance is omega x_j^2 per coordinate: both samplings of rand-k
    (common.sde.compress in JAX, the compressor's own in torch) must have it."""
    import jax

    n = 40_000
    torch_s = RandK(2)(X.expand(n, 10).clone(), generator=torch.Generator().manual_seed(3))
    keys = jax.random.split(jax.random.PRNGKey(3), n)
    jax_s = np.asarray(jax.vmap(lambda k, x: sde.compress(RandK(2), k, x),
                                in_axes=(0, None))(keys, X.numpy()))
    target = 4.0 * X.numpy() ** 2  # omega = 10/2 - 1
    for s in (torch_s.numpy(), jax_s):
        dev = (s - X.numpy()) ** 2
        se = dev.std(axis=0) / math.sqrt(n)
        assert np.all(np.abs(dev.mean(axis=0) - target) <= Z * se + 1e-6)


def test_sde_model_needs_the_mean_of_signs():
    with pytest.raises(ValueError, match="majority"):
        lib.sde_model(dsignsgd("majority"), lr=0.01, num_clients=4)


# ---- the simulator against independent references -------------------------------------------

def test_noiseless_dsgd_is_gradient_descent():
    """scale = 0: every path is x_k = (1 - eta h)^k x0, so f_k = 1/2 sum h x0^2 (1 - eta h)^2k."""
    p = lib.simulate(dsgd(), lr=0.1, num_clients=3, num_steps=20, num_paths=2,
                     scale=np.zeros(10), record_every=5)
    k = p.steps[:, None]
    exact = 0.5 * np.sum(lib.H * 4.0 * (1 - 0.1 * lib.H) ** (2 * k), axis=1)
    np.testing.assert_allclose(p.paths, np.repeat(exact[:, None], 2, axis=1), rtol=1e-5)


def test_noiseless_dsignsgd_moves_by_lr_per_coordinate():
    """scale = 0 and x0 = 2: every agent's sign is +1, so x_k = 2 - k eta while positive."""
    p = lib.simulate(dsignsgd(), lr=0.1, num_clients=4, num_steps=10, num_paths=1,
                     scale=np.zeros(10), record_every=1)
    x = 2.0 - 0.1 * p.steps
    np.testing.assert_allclose(p.paths[:, 0], 0.5 * lib.H.sum() * x**2, rtol=1e-5)


def test_dcsgd_level_equals_the_exact_discrete_recursion():
    """Bernoulli(p) sparsification makes each coordinate's recursion exact:
    E x^2 (stationary) = eta^2 (1 + omega) sigma^2 / (N (2 eta h - eta^2 h^2 (1 + omega / N))),
    so E f = sum eta (1 + omega) sigma^2 / (2N (2 - eta h (1 + omega / N))) (written here
    independently of common.sde.closed_forms). Started at the minimiser, the window [500, 1500)
    is stationary to < 0.1 % (slowest rate 2 h eta = 0.01 per step)."""
    lr, n, omega = 0.01, 2, 4.0
    p = lib.simulate(dcsgd(Bernoulli(0.2)), lr=lr, num_clients=n, num_steps=1500,
                     num_paths=128, x0=0.0, record_every=10, seed=6)
    level, se = window(p, 500)
    exact = float(np.sum(lr * (1 + omega) * lib.SIGMA**2
                         / (2 * n * (2 - lr * lib.H * (1 + omega / n)))))
    assert abs(level - exact) <= Z * se + 0.002 * exact


def test_compression_variance_of_bernoulli_is_omega_sigma_squared():
    """Bernoulli(p): (C(z) - z)_j = z_j (b/p - 1) with b ~ Bernoulli(p), so v_j = omega sigma_j^2
    exactly; Monte Carlo over 20 000 draws of z_j^2 (b/p - 1)^2, whose relative standard error
    is sqrt((E z^4 E(b/p - 1)^4 / (E z^2 E(b/p - 1)^2)^2 - 1) / n) < 0.05 for p = 0.25."""
    v = lib.compression_variance(Bernoulli(0.25), num_samples=20_000, seed=3)
    omega = 3.0
    assert np.all(np.abs(v / (omega * lib.SIGMA**2) - 1) <= 0.05 * Z)
    assert abs(v.sum() / (omega * np.sum(lib.SIGMA**2)) - 1) <= 0.02 * Z / math.sqrt(10)
    with pytest.raises(ValueError, match="num_samples"):
        lib.compression_variance(Bernoulli(0.25), num_samples=1)


def test_calibrated_level_is_the_additive_recursion():
    """With v = 0 the formula is DSGD's exact discrete stationary loss, written independently:
    E f = sum_j eta sigma_j^2 / (2N (2 - eta h_j)); v = omega sigma^2 gives the (1 + omega)
    multiple of it (no multiplicative term: the calibration treats compression noise as
    additive)."""
    lr, n = 0.01, 4
    plain = float(np.sum(lr * lib.SIGMA**2 / (2 * n * (2 - lr * lib.H))))
    assert lib.calibrated_level(np.zeros(10), lr=lr, num_clients=n) == pytest.approx(plain)
    assert lib.calibrated_level(4 * lib.SIGMA**2, lr=lr, num_clients=n) == pytest.approx(5 * plain)
    with pytest.raises(ValueError, match="unstable"):
        lib.calibrated_level(np.zeros(10), lr=0.5, num_clients=n)


def test_recursion_half_life():
    """Without compression and noise the loss is sum h_j/2 x0^2 (1 - eta h_j)^(2k), whose
    half-life is computed here on its own; compression (omega > 0) only lengthens it."""
    lr = 0.01
    k = np.arange(2001)
    loss = np.sum(lib.H / 2 * 4.0 * (1 - lr * lib.H)[None, :] ** (2 * k[:, None]), axis=1)
    target = half_life(k, loss, 0.0) * lr
    got = lib.recursion_half_life(0.0, lr=lr, num_clients=4, scale=np.zeros(10))
    assert got == pytest.approx(target, rel=1e-9)
    hl = [lib.recursion_half_life(om, lr=lr, num_clients=4) for om in (0.0, 4.0, 9.0)]
    assert hl[0] < hl[1] < hl[2] < 1.1 * hl[0]
    with pytest.raises(ValueError, match="contract"):
        lib.recursion_half_life(1e4, lr=0.1, num_clients=1)


def test_half_lives_of_dsgd_match_the_recursion_and_x0_per_coordinate():
    """The simulated half-life of DSGD (64 paths) is within 5 % of the exact recursion's (the
    path average of the loss at the crossing is within about 2 % here); a per-coordinate start
    gives the initial loss sum h_j x0_j^2 / 2 exactly."""
    rows = lib.half_lives(dsgd(), lr=0.01, num_clients=4, factors=(1.0,), x0=2.0,
                          num_steps=200, num_paths=64, seed=1)
    assert rows[0]["half_life"] == pytest.approx(
        lib.recursion_half_life(0.0, lr=0.01, num_clients=4), rel=0.05)
    x0 = 0.5 * lib.SIGMA / lib.H
    p = lib.simulate(dsignsgd(), lr=0.01, num_clients=2, num_steps=10, num_paths=4, x0=x0,
                     record_every=10)
    assert p.mean[0] == pytest.approx(float(np.sum(lib.H * x0**2) / 2), rel=1e-6)


def test_dsignsgd_level_within_its_closed_form():
    """The phase-3 linearisation eta sqrt(pi/2) tr(Sigma^1/2) / (4N) is within 10 % of
    DSignSGD (the notes' tolerance; the notes' pilot is within 2 %)."""
    p = lib.simulate(dsignsgd(), lr=0.01, num_clients=4, num_steps=1500, num_paths=128,
                     x0=0.0, seed=7)
    level, se = window(p, 500)
    target = cf.signsgd_stationary_loss(0.01, lib.SIGMA, num_clients=4)
    assert abs(level - target) <= 0.10 * target + Z * se


def test_vote_rules_coincide_where_they_must():
    """N = 1: mean of signs = majority vote (same stream, same paths); without zero entries
    (Gaussian noise) the 1-bit vote equals the majority vote."""
    kw = {"lr": 0.01, "num_steps": 100, "num_paths": 8, "seed": 8}
    base = lib.simulate(dsignsgd("mean"), num_clients=1, **kw)
    vote = CompressedMethod("DSignSGD", Sign(), dsignsgd("majority").aggregate)
    np.testing.assert_array_equal(base.paths, lib.simulate(vote, num_clients=1, **kw).paths)
    maj = lib.simulate(dsignsgd("majority"), num_clients=4, **kw)
    bit = CompressedMethod("DSignSGD (majority vote)", Sign(), dsignsgd("one_bit").aggregate)
    np.testing.assert_array_equal(maj.paths, lib.simulate(bit, num_clients=4, **kw).paths)


def test_simulator_validation():
    with pytest.raises(ValueError, match="batch size 1"):
        lib.simulate(dsgd(), lr=0.01, num_clients=1, num_steps=10, num_paths=2, nu=1.5,
                     batch_size=2)
    with pytest.raises(ValueError, match="record_every"):
        lib.simulate(dsgd(), lr=0.01, num_clients=1, num_steps=10, num_paths=2,
                     record_every=3)


# ---- closed forms and scaling rules -----------------------------------------------------------

def test_predicted_levels():
    lr = 0.01
    assert lib.predicted_level(dsgd(), lr=lr, num_clients=1) == pytest.approx(
        cf.sgd_stationary_loss(lr, lib.SIGMA**2))
    four = dcsgd(RandK(2))
    assert lib.predicted_level(four, lr=lr, num_clients=4) == pytest.approx(
        5 * lib.predicted_level(dsgd(), lr=lr, num_clients=4))
    # the batch rule B -> (1 + omega) B gives DSGD's leading-order level exactly
    assert lib.predicted_level(four, lr=lr, num_clients=4, batch_size=5) == pytest.approx(
        lib.predicted_level(dsgd(), lr=lr, num_clients=4))
    # the exact SDE value exceeds the leading order by the multiplicative term omega (grad f)^2
    assert (lib.predicted_level(four, lr=lr, num_clients=1, exact=True)
            > lib.predicted_level(four, lr=lr, num_clients=1))
    assert math.isinf(lib.predicted_level(four, lr=lr, num_clients=4, nu=1.5))
    sign = lib.predicted_level(dsignsgd(), lr=lr, num_clients=4, nu=1.5)
    assert sign == pytest.approx(cf.signsgd_stationary_loss(lr, lib.SIGMA, nu=1.5, num_clients=4))


def test_scaling_runs_apply_the_rules():
    runs = {label: hyper for label, _, hyper in lib.scaling_runs(lib.ScalingConfig())}
    assert runs["DCSGD, B x (1 + omega)"]["batch_size"] == 5
    assert runs["DCSGD, N x (1 + omega)"]["num_clients"] == 20
    lr_rule = runs["DCSGD, eta / (1 + omega), steps x (1 + omega)"]
    assert lr_rule["lr"] == pytest.approx(0.002) and lr_rule["num_steps"] == 15_000
    sqrt_rule = runs["DSignSGD, (sqrt(kappa) eta, kappa B), steps / kappa"]
    assert (sqrt_rule["lr"], sqrt_rule["batch_size"], sqrt_rule["num_steps"]) == (0.02, 4, 750)
    with pytest.raises(ValueError, match="not an integer"):
        lib.scaling_runs(lib.ScalingConfig(kappa=2.5))


# ---- configs and the network grids -----------------------------------------------------------

@pytest.mark.parametrize("kw,match", [
    ({"record_every": 7}, "record_every"),
    ({"clients": (2, 16)}, "clients"),
    ({"rand_ks": (1,)}, "rand_ks"),
    ({"stationary_from": 5000}, "stationary_from"),
    ({"lr": 0.5}, "lr"),
])
def test_quadratic_config_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        lib.QuadraticConfig(**kw)


def test_other_configs_validate():
    with pytest.raises(ConfigError, match="stationary_time"):
        lib.ScalingConfig(stationary_time=40.0)
    with pytest.raises(ConfigError, match="nu"):
        lib.NetStudy(nu=3.0)
    with pytest.raises(ConfigError, match="method"):
        lib.NetTrial(method="DCSGD top-k")


def test_network_methods_and_grids():
    methods = lib.net_methods(6634, 0.1, 8)
    assert methods["DCSGD rand-k"].omega(6634) == pytest.approx(6634 / 663 - 1)
    assert methods["DCSGD QSGD"].omega(6634) == pytest.approx(math.sqrt(6634) / 8)
    study = lib.NetStudy(seeds=(0, 1, 2))
    tuning = lib.net_tuning_grid(study)
    assert len(tuning) == 3 * len(study.sgd_lrs) + 2 * len(study.sign_lrs)
    assert {t.lr for t in tuning if t.method == "DCSGD QSGD"} == set(study.sgd_lrs)
    assert {t.lr for t in tuning if t.method == "DSignSGD (majority vote)"} == set(study.sign_lrs)
    lrs = {"DSGD": 0.1, "DCSGD rand-k": 0.03, "DCSGD QSGD": 0.3, "DSignSGD": 0.01,
           "DSignSGD (majority vote)": 0.003}
    grid = lib.net_evaluation_grid(study, lrs)
    assert len(grid) == len(study.seeds) * (2 * len(lib.NET_METHODS) + 1)
    rule = [t for t in grid if t.batch_size != study.batch_size]
    assert {t.batch_size for t in rule} == {320} and {t.method for t in rule} == {"DCSGD rand-k"}
    assert {t.lr for t in rule} == {0.1}  # the batch rule keeps DSGD's step size
    assert all(t.lr == lrs[t.method] for t in grid if t not in rule)
    assert len({t.config_hash() for t in grid}) == len(grid)
    with pytest.raises(ValueError, match="no step size"):
        lib.net_evaluation_grid(study, {"DSGD": 0.1})
    with pytest.raises(ConfigError, match="at least 3"):
        lib.NetStudy(seeds=(0, 1))


def test_network_training_smoke(shared_data):
    """A few steps on a tiny subset: the record has the advertised fields, DSignSGD stays finite
    under Student-t noise, and the averaged train loss is the mean of the curve's tail."""
    trial = lib.NetTrial(method="DSignSGD", lr=0.01, noise="student_t", steps=20, subset=256,
                         pool=4, hidden=8, eval_every=5, tail_fraction=0.5)
    out = lib.train_network(trial)
    assert out["curve_steps"] == [0, 5, 10, 15, 20] and not out["diverged"]
    assert out["train_loss"] == pytest.approx(np.mean(out["curve"][-2:]))
    assert 0.0 <= out["test_acc"] <= 1.0


def test_paper_scale_parameters_build_valid_configs():
    """params/paper.yaml (SCALE=paper) must pass the same validation as the cpu defaults."""
    from common.project.paperyml import load_paper

    params = load_paper("compressed-sde").paper_params()
    configs = {"01_dcsgd_vs_dsignsgd_quadratic": lib.QuadraticConfig,
               "02_compression_scaling_rules": lib.ScalingConfig,
               "03_distributed_mlp": lib.NetStudy}
    for stem, cls in configs.items():
        fields = set(cls.__dataclass_fields__)
        cfg = cls(**{k: v for k, v in params[stem].items() if k in fields})
        if cls is lib.ScalingConfig:
            lib.scaling_runs(cfg)  # every rule gives integer batch sizes, agents and steps
