"""papers/adaptive-sde/lib.py: the phase closed forms, the scaling variants, the JAX networks and
the configs (including the paper-scale parameters). The grid runner is tested in
tests/sde/test_simulate_grid.py, the window statistics in tests/metrics/test_trajectory.py."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import sde
from common.experiment import ConfigError
from common.project import paper_module
from common.project.paperyml import load_paper
from common.sde import closed_forms as cf

lib = paper_module("adaptive-sde")

H = np.linspace(0.5, 5.0, 10)
SIGMA = np.linspace(0.5, 2.0, 10)


def _traj(paths, steps=None):
    """A Trajectory of given per-path values (records x paths)."""
    paths = np.asarray(paths, float)
    steps = np.arange(paths.shape[0]) * 10 if steps is None else np.asarray(steps)
    return sde.Trajectory(steps, paths.mean(axis=1), paths.std(axis=1), None, paths, None)


# ---- SignSGD's phases -----------------------------------------------------------------------


def test_phase3_ou_loss_limits():
    """At t = 0 the loss is f(x0); as t -> inf the OU level is the closed form
    eta sum(sigma) / (4 * 2 p(0)) of common.sde.closed_forms (the same derivation, independent
    code), for Gaussian and Student-t slopes."""
    x0, lr = 0.3, 0.01
    assert lib.phase3_ou_loss(0.0, H, SIGMA, lr, x0) == pytest.approx(0.5 * H.sum() * x0**2)
    assert lib.phase3_ou_loss(1e4, H, SIGMA, lr, x0) == pytest.approx(
        cf.signsgd_stationary_loss(lr, SIGMA), rel=1e-12)
    slope = cf.sign_slope_at_zero(1.5)
    assert lib.phase3_ou_loss(1e4, H, SIGMA, lr, x0, slope) == pytest.approx(
        cf.signsgd_stationary_loss(lr, SIGMA, nu=1.5), rel=1e-12)
    t = np.linspace(0, 5, 50)
    assert np.all(np.diff(lib.phase3_ou_loss(t, H, SIGMA, lr, x0)) < 0)  # starts above its level


def test_signgd_ode_moves_every_coordinate_at_unit_speed():
    t = np.array([0.0, 0.5, 2.0, 3.0])
    expected = 0.5 * H.sum() * np.array([4.0, 2.25, 0.0, 0.0])
    np.testing.assert_allclose(lib.signgd_ode_loss(t, H, -2.0), expected)


def test_mean_field_phases_go_from_1_to_3():
    phases = lib.mean_field_phases(3000, H, SIGMA, 0.01, 20.0)
    assert phases.shape == (3001, 10)
    assert (phases[0] == 1).all() and (phases[-1] == 3).all()
    assert (np.diff(phases, axis=0) >= 0).all()  # the mean-field path never climbs back
    # the thresholds are elementwise: Y_j = h_j x / (sqrt 2 sigma_j) at x = 20
    y0 = H * 20.0 / (math.sqrt(2) * SIGMA)
    assert (y0 > 1.5).all()



def test_mean_field_phases_use_lemma_3_4_thresholds_elementwise():
    """Y_j = h_j x_j / (sqrt 2 sigma_j): phase 1 for |Y| > 3/2, phase 2 for 1 < |Y| <= 3/2, else 3;
    sigma_j is chosen to put each coordinate's SNR at a given value, boundaries included."""
    y = np.array([2.0, 1.5, 1.2, 1.0, 0.5])
    h = np.ones_like(y)
    sigma = 1.0 / (math.sqrt(2) * y)  # x0 = 1, so Y_j = y_j
    np.testing.assert_array_equal(lib.mean_field_phases(0, h, sigma, 0.01, 1.0)[0],
                                  [1, 2, 2, 3, 3])
    np.testing.assert_array_equal(lib.mean_field_phases(0, h, sigma, 0.01, -1.0)[0],
                                  [1, 2, 2, 3, 3])  # |Y|: the sign of x does not matter

# ---- scaling rules --------------------------------------------------------------------------


def test_scaling_variants_follow_the_rule_and_keep_the_closed_form():
    v = lib.scaling_variants(4.0, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.5,
                             num_steps=8000)
    rule = v["theta sqrt(kappa)"]
    assert rule["lr"] == pytest.approx(2e-3)
    assert 1 - rule["beta1"] == pytest.approx(0.4)
    assert 1 - rule["beta2"] == pytest.approx(0.004)
    assert rule["eps"] == pytest.approx(5e-9)
    assert rule["weight_decay"] == pytest.approx(1.0)
    assert rule["num_steps"] == 2000
    assert v["theta unchanged"]["weight_decay"] == 0.5
    assert v["theta kappa"]["weight_decay"] == pytest.approx(2.0)
    assert v["theta / sqrt(kappa)"]["weight_decay"] == pytest.approx(0.25)
    # the reconstructed rule keeps (eta/4) sum h sigma / (h + theta sigma) with sigma -> sigma / 2
    base = cf.adaptive_stationary_loss(1e-3, H, SIGMA, weight_decay=0.5)
    for name, expect_equal in (("theta sqrt(kappa)", True), ("theta unchanged", False)):
        p = v[name]
        level = cf.adaptive_stationary_loss(p["lr"], H, SIGMA / 2, weight_decay=p["weight_decay"])
        assert (level == pytest.approx(base, rel=1e-12)) is expect_equal


# ---- networks -------------------------------------------------------------------------------


def _numpy_mlp(w, x, sizes):
    i, h = 0, x
    for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = w[i:i + a * b].reshape(a, b)
        i += a * b
        h = h @ W + w[i:i + b]
        i += b
        if j < len(sizes) - 2:
            h = np.tanh(h)
    return h


def _numpy_conv_same_stride2(x, k, b):
    """NHWC 'SAME' convolution with stride 2 (TensorFlow/XLA padding: the extra pad goes after)."""
    n, side, _, c_in = x.shape
    out = -(-side // 2)
    pad = max((out - 1) * 2 + 3 - side, 0)
    xp = np.pad(x, ((0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2), (0, 0)))
    y = np.zeros((n, out, out, k.shape[-1]))
    for i in range(out):
        for j in range(out):
            patch = xp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, k)
    return y + b


def test_mlp_and_cnn_match_numpy_references():
    rng = np.random.default_rng(0)
    mlp = lib.FlatNet("mlp", (6, 5, 4, 3))
    w = mlp.init(1)
    assert w.shape == (mlp.dim,) == (6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3,)
    x = rng.standard_normal((7, 6)).astype(np.float32)
    np.testing.assert_allclose(mlp.logits(jnp.asarray(w), jnp.asarray(x)),
                               _numpy_mlp(w.astype(float), x, (6, 5, 4, 3)), rtol=1e-4, atol=1e-5)

    cnn = lib.FlatNet("cnn", (7, 2, 3, 4))
    w = cnn.init(2) + rng.standard_normal(cnn.dim).astype(np.float32) * 0.1  # nonzero biases
    x = rng.standard_normal((5, 49)).astype(np.float32)
    k1, b1, k2, b2, W, c = cnn.unflatten(w.astype(float))
    h = np.maximum(_numpy_conv_same_stride2(x.reshape(5, 7, 7, 1), k1, b1), 0)
    h = np.maximum(_numpy_conv_same_stride2(h, k2, b2), 0)
    ref = h.mean(axis=(1, 2)) @ W + c
    np.testing.assert_allclose(cnn.logits(jnp.asarray(w), jnp.asarray(x)), ref, rtol=1e-4,
                               atol=1e-5)


def test_transformer_is_causal_and_starts_near_uniform():
    net = lib.FlatNet("transformer", (11, 8, 16))
    w = jnp.asarray(net.init(3))
    ids = jnp.asarray(np.random.default_rng(1).integers(0, 11, (2, 8)), dtype=jnp.int32)
    changed = ids.at[:, 5:].set((ids[:, 5:] + 1) % 11)
    logits = jax.jit(net.logits)  # eager dispatch of every op costs seconds; one compile does not
    a, b = logits(w, ids), logits(w, changed)
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-6)  # earlier positions unaffected
    assert not np.allclose(a[:, 5:], b[:, 5:])
    # small embeddings: the initial loss is close to log(vocabulary) (uniform prediction)
    loss, grad = jax.jit(jax.value_and_grad(net))(w, (ids, changed))
    assert abs(float(loss) - math.log(11)) < 0.5
    assert np.isfinite(np.asarray(grad)).all()


def test_flatnet_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind"):
        lib.FlatNet("resnet", (1, 2)).dim  # noqa: B018


# ---- configs --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls,bad,match", [
    (lib.QuadraticConfig, {"phase3_x0": 1.0}, "phase3_x0"),
    (lib.QuadraticConfig, {"nus": (1.0, 3.0), "t_sde_nu": 1.0}, "nus"),
    (lib.QuadraticConfig, {"record_every": 7}, "record_every"),
    (lib.QuadraticConfig, {"sigma_range": (2.0, 0.5)}, "sigma_range"),
    (lib.AdamWConfig, {"scale_steps": 8004}, "scale_steps"),
    (lib.AdamWConfig, {"stat_factors": (4.0, 1.0)}, "stat_factors"),
    (lib.AdamWConfig, {"stat_window": 9000}, "stat_window"),
    (lib.NetworkConfig, {"nets": ("resnet",)}, "nets"),
    (lib.NetworkConfig, {"nets": ("cnn",), "channels": (8,)}, "channels"),
    (lib.QuadraticConfig, {"rate_paths": 100, "rate_batches": 16}, "rate_paths"),
    (lib.NetworkConfig, {"num_seeds": 2}, "num_seeds"),
    (lib.AdamWConfig, {"transient_factor": 1.0}, "transient_factor"),
])
def test_bad_values_name_the_parameter(cls, bad, match):
    with pytest.raises(ConfigError, match=match):
        cls(**bad)


def test_paper_scale_parameters_build_valid_configs():
    """params/paper.yaml must name parameters of each notebook (checked by the contract test)
    and, applied over the cpu defaults, give a config that validates."""
    classes = {"01_signsgd_sde_quadratic": lib.QuadraticConfig,
               "02_adamw_rmspropw_sde": lib.AdamWConfig,
               "03_sde_vs_optimizer_mlp": lib.NetworkConfig}
    params = load_paper("adaptive-sde").paper_params()
    assert set(params) == set(classes)
    for stem, overrides in params.items():
        cfg = classes[stem](**overrides)
        assert all(getattr(cfg, k) == (tuple(v) if isinstance(v, list) else v)
                   for k, v in overrides.items())


def test_network_problem_uses_a_fixed_full_batch(shared_data):
    cfg = lib.NetworkConfig(num_images=64)
    model, (x, y), w0 = lib.network_problem(cfg, "mlp")
    assert x.shape == (64, 49) and y.shape == (64,) and w0.shape == (model.dim,)
    again = lib.network_problem(cfg, "mlp")
    np.testing.assert_array_equal(np.asarray(again[1][0]), np.asarray(x))
    assert abs(float(np.asarray(x).mean())) < 1e-5  # standardised
    assert 2.0 < float(model(w0, (x, y))) < 2.7  # ~log 10 at initialisation
