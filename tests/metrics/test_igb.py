"""IGB statistics: class fractions, drift ratio, empirical correlation, the G0 law and the
predicted max-class fraction, against brute-force references and the Gaussian model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate
from scipy.special import ndtr

from common.metrics import (
    class_fractions,
    drift_moments,
    drift_ratio,
    empirical_correlation,
    ensemble_outputs,
    expected_max_fraction,
    g0_density,
    max_class_fraction,
    max_fraction_density,
)


def test_class_fractions_count_argmaxes():
    logits = np.array([[[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [5.0, 1.0, 1.0], [0.0, 0.0, 1.0]],
                       [[0.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 0.5], [1.0, 2.0, 1.0]]])
    np.testing.assert_allclose(class_fractions(logits), [[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(max_class_fraction(torch.tensor(logits)), [0.5, 1.0])
    assert class_fractions(logits[0], num_classes=5).shape == (5,)
    with pytest.raises(ValueError, match="num_classes=2"):
        class_fractions(logits, num_classes=2)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 30), st.integers(2, 6)),
              elements=st.floats(-5, 5)))
def test_fractions_sum_to_one_and_max_is_at_least_uniform(logits):
    f = class_fractions(logits)
    np.testing.assert_allclose(f.sum(-1), 1.0)
    m = max_class_fraction(logits)
    assert np.all(m >= 1.0 / logits.shape[-1] - 1e-12) and np.all(m <= 1.0)


def _gaussian_model(rng, inits, N, units, s_mu2, s_y2):
    mu = rng.normal(0, math.sqrt(s_mu2), (inits, 1, units))
    return mu + rng.normal(0, math.sqrt(s_y2), (inits, N, units))


def test_drift_ratio_recovers_the_gaussian_model():
    rng = np.random.default_rng(0)
    Y = _gaussian_model(rng, 40, 1000, 64, 2.0, 0.5)
    # E[mean_x y]^2 = s_mu2 + s_y2 / N (the finite-sample drift); the ensemble ratio averages
    # 40 x 64 centres: relative standard error sqrt(2 / 2560) ~ 3 %
    assert drift_ratio(Y) == pytest.approx((2.0 + 0.5 / 1000) / 0.5, rel=0.1)
    m2, v = drift_moments(Y)
    assert m2.shape == v.shape == (40,)
    assert drift_ratio(Y, per_init=True).shape == (40,)
    assert drift_ratio(Y[0]) == pytest.approx(float(m2[0] / v[0]))


def test_empirical_correlation_is_the_mean_cosine_of_disjoint_pairs():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(3, 9, 5))  # N odd: the last input is left out
    ref = [np.mean([Y[k, a] @ Y[k, a + 1] / np.linalg.norm(Y[k, a]) / np.linalg.norm(Y[k, a + 1])
                    for a in range(0, 8, 2)]) for k in range(3)]
    np.testing.assert_allclose(empirical_correlation(Y), ref, rtol=1e-12)


def test_torch_inputs_give_the_numpy_results():
    rng = np.random.default_rng(4)
    Y = _gaussian_model(rng, 3, 50, 7, 1.0, 2.0)
    T = torch.from_numpy(Y).float()
    for f in (empirical_correlation, lambda y: drift_moments(y)[0], lambda y: drift_moments(y)[1],
              max_class_fraction):
        out = f(T)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_allclose(out, f(Y), rtol=1e-5)  # float32 reductions


def test_theorem_3_1_in_the_gaussian_model():
    # with many units, q_ab -> s_mu2 and q_aa -> s_mu2 + s_y2, so c -> gamma / (1 + gamma)
    rng = np.random.default_rng(2)
    Y = _gaussian_model(rng, 4, 400, 4000, 1.5, 1.0)
    gam = drift_ratio(Y)
    assert float(empirical_correlation(Y).mean()) == pytest.approx(gam / (1 + gam), abs=0.02)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # the endpoint
@pytest.mark.parametrize("gamma", [0.05, 0.5, 1.0, 4.0])                    # singularities
def test_g0_density_is_the_law_of_phi_sqrt_gamma_z(gamma):
    # for gamma > 1 the density has integrable singularities at 0 and 1, where quad is good to
    # a few 1e-6 only: tolerance 1e-5
    total, _ = integrate.quad(lambda g: float(g0_density(g, gamma)), 0, 1, limit=200)
    assert total == pytest.approx(1.0, abs=1e-5)
    # its CDF at t is P(Phi(sqrt(gamma) Z) <= t) = Phi(Phi^-1(t) / sqrt(gamma))
    for t in (0.1, 0.3, 0.5, 0.8):
        cdf, _ = integrate.quad(lambda g: float(g0_density(g, gamma)), 0, t, limit=200)
        from scipy.special import ndtri
        assert cdf == pytest.approx(float(ndtr(ndtri(t) / math.sqrt(gamma))), abs=1e-5)
    m, _ = integrate.quad(lambda x: float(max_fraction_density(x, gamma)), 0.5, 1, limit=200)
    assert m == pytest.approx(1.0, abs=1e-5)


def test_g0_density_shapes():
    g = np.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(g0_density(g, 1.0), 1.0)               # uniform at gamma = 1
    assert g0_density(0.5, 0.2) > g0_density(0.1, 0.2)                 # unimodal at 1/2
    assert g0_density(0.5, 5.0) < g0_density(0.02, 5.0)                # bimodal at 0 and 1
    with pytest.raises(ValueError, match="gamma=0"):
        g0_density(0.5, 0.0)
    with pytest.raises(ValueError, match="open interval"):
        g0_density(1.0, 1.0)


def _simulated_max_fraction(gamma, C, N, draws, rng):
    """Brute force: draw centres mu ~ N(0, I_C), then N inputs with noise xi ~ N(0, I_C)."""
    out = []
    for _ in range(draws):
        mu = rng.standard_normal(C)
        pred = np.argmax(math.sqrt(gamma) * mu + rng.standard_normal((N, C)), axis=1)
        out.append(np.bincount(pred, minlength=C).max() / N)
    return float(np.mean(out))


def test_expected_max_fraction_closed_form_and_monte_carlo():
    # C = 2, infinite data: 1/2 + arctan(sqrt(gamma)) / pi (notes' table: 0.645 at 0.244 and
    # 0.806 at 2.056, from 4000-point simulations)
    assert expected_max_fraction(0.0) == 0.5 and expected_max_fraction(math.inf) == 1.0
    assert expected_max_fraction(1.0) == pytest.approx(0.75, abs=1e-15)
    assert expected_max_fraction(0.244) == pytest.approx(0.646, abs=1e-3)
    assert expected_max_fraction(2.056) == pytest.approx(0.806, abs=1e-3)
    # the quadrature path agrees with the closed form at C = 2 (many inputs: no finite-N excess)
    mc = expected_max_fraction(2.056, 2, num_data=10**6, seed=1)
    assert mc == pytest.approx(expected_max_fraction(2.056), abs=8e-3)  # MC s.e. ~ 2.5e-3
    # C = 10 against the brute-force simulation (s.e. of 300 draws ~ 0.01)
    rng = np.random.default_rng(3)
    for gamma in (0.467, 10.0):
        sim = _simulated_max_fraction(gamma, 10, 1000, 300, rng)
        assert expected_max_fraction(gamma, 10, num_data=1000) == pytest.approx(sim, abs=0.03)
    # the notes' C = 10 table (N = 4000, 400 draws: its own s.e. is ~0.01): 0.426 at gamma = 1,
    # 0.765 at gamma = 10 (20,000 draws here give 0.433 and 0.752)
    assert expected_max_fraction(1.0, 10, num_data=4000) == pytest.approx(0.426, abs=0.03)
    assert expected_max_fraction(10.0, 10, num_data=4000) == pytest.approx(0.765, abs=0.03)
    with pytest.raises(ValueError, match="num_classes=1"):
        expected_max_fraction(1.0, 1)


def test_ensemble_outputs_is_reproducible_per_network():
    X = torch.randn(7, 3)

    def build(gen):
        lin = torch.nn.Linear(3, 2)
        with torch.no_grad():
            lin.weight.normal_(generator=gen)
            lin.bias.normal_(generator=gen)
        return lin

    a = ensemble_outputs(build, X, 4, seed=10)
    b = ensemble_outputs(build, X, 2, seed=10)
    assert a.shape == (4, 7, 2)
    torch.testing.assert_close(a[:2], b)  # network k does not depend on the ensemble size
    assert not torch.equal(a[0], a[1])
    with pytest.raises(ValueError, match="num_inits=0"):
        ensemble_outputs(build, X, 0)
