"""Every SDE against its optimizer and against its closed form, on the notes' quadratic.

Set-up (adaptive-sde A-01 / compressed-sde B-01): f = 1/2 sum h_j x_j^2, d = 10,
h = linspace(0.5, 5, 10), noise scales sigma = linspace(0.5, 2, 10), eta = 0.01, x0 = 2 (all ones),
K = 1500 steps (SDE time 15), 256 paths, the loss recorded every 10 steps (Student-t: 128 paths,
1000 steps). The optimizer and its SDE run with different keys (independent Monte Carlo samples).
Deviations from the notes, to fit a 2-core budget: 256 paths (notes: 256-512) and K = 1500
(notes: 3000-4000); AdamW uses the common set-up with beta2 = 0.99 (notes A-02: eta = 1e-3,
beta2 = 0.999, smaller sigma), which gives the same phases in fewer steps.

Tracking: on each window of steps, the SDE's mean loss (each path averaged over the window first)
must equal the optimizer's within a relative allowance plus Z_BAND Monte Carlo standard errors
(see ``_stats``). Allowances, from the notes (pilot values in parentheses) or measured here with
2048 paths where the notes give none:

- SGD, DP-SGD (no example clipped): 0. Euler-Maruyama with dt = eta on Gaussian noise is the
  optimizer's own recursion, so the two have the same law (measured: within 1.4 %, all MC).
- SignSGD, Gaussian: 0.05 (notes A-01, pilot 0.022); measured <= 1.1 %.
- SignSGD, Student-t nu = 1.5: 0.10 (notes A-01: "within 10 % of its t-SDE"); measured <= 1.5 %.
- RMSpropW: 0.05 (no pilot; measured <= 2.6 %, in the transient).
- AdamW, transient (steps < 400): 0.02 (notes A-02, pilot 0.0018); measured <= 1.5 %. In the
  noise-dominated phase the SDE sits ~19 % below AdamW, the gap documented in
  :mod:`common.sde.adamw`; that phase is checked against the closed forms instead.
- DCSGD, DSignSGD, DP-SignSGD: 0.10 (notes B-01 and dp-sde F4); measured <= 1.4 %.
- AdamW, Malladi-style baseline: must *fail* to track the transient (notes A-02: error > 0.3;
  measured 0.59-0.99).

Stationary levels use the window [750, 1500) ([500, 1000) for Student-t) against
:mod:`common.sde.closed_forms`; each allowance is stated at the check.

The cases run in four groups, each group's optimizers and SDEs as one compiled program
(``simulate_many``: on CPU, compilation, not simulation, dominates at this size); one test per
group makes both kinds of checks for each of its cases and reports every failing case.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import sde
from common.federated.compressors import Bernoulli
from common.sde import closed_forms as cf
from tests.sde._stats import Z_BAND, assert_close_mc, assert_tracks, window

H = np.linspace(0.5, 5.0, 10)
SIGMA = np.linspace(0.5, 2.0, 10)
LR = 0.01
X0 = 2.0
RUN = {"num_steps": 1500, "num_paths": 256, "record_every": 10, "keep_paths": True}
TRANSIENT = [(0, 100), (100, 200), (200, 400)]
LATE = [(400, 750), (750, 1100), (1100, 1501)]
# from step 750 (SDE time 7.5) on, what is left of the slowest transient (SGD, h = 0.5: e^{-t})
# adds < 0.2 % to the window's mean level, far below its Monte Carlo error (~1 %)
STATIONARY = (750, 1501)
# The Student-t SDE evaluates a betainc continued fraction per coordinate and step (~1 us each):
# that case runs half the paths for half the steps, with its windows moved to match.
RUN_T = {**RUN, "num_steps": 1000, "num_paths": 128}
LATE_T = [(400, 700), (700, 1001)]
STATIONARY_T = (500, 1001)
# DP: B = 2 examples with noise sigma_b = SIGMA, C = 100 (per-example norms are ~20: none is
# clipped), sigma_DP = sigma C / B = 0.5 (the notes use B = 64: B only scales sigma_b^2 / B)
DP_BATCH, DP_CLIP, DP_SIGMA = 2, 100.0, 0.5
# DCSGD and DSignSGD: 2 agents (notes: 1, 4, 16; the 1/N law is checked on the closed forms),
# Bernoulli(0.2) sparsification (omega = 4, exactly diagonal covariance)
CLIENTS, OMEGA = 2, 4.0
# discretisation bias of the Euler / discrete recursion against the SDE's closed form:
# 2 / (2 - eta h) - 1 <= eta h_max / (2 - eta h_max) = 2.6 %
EM_BIAS = LR * H.max() / (2 - LR * H.max())


def _gauss():
    return sde.Gaussian(jnp.asarray(SIGMA))


def _dp():
    return sde.ClippedGaussianDP(_gauss(), clip=DP_CLIP,
                                 noise_multiplier=DP_SIGMA * DP_BATCH / DP_CLIP,
                                 batch_size=DP_BATCH)


CASES = {
    # label: (registry names: the optimizer's pair first, then extra SDEs; noise; hyperparameters)
    "SGD": (("SGD",), _gauss, {}),
    "SignSGD": (("SignSGD",), _gauss, {}),
    "SignSGD t1.5": (("SignSGD",), lambda: sde.StudentT(1.5, jnp.asarray(SIGMA)), {}),
    "RMSpropW": (("RMSpropW",), _gauss, {}),
    "AdamW": (("AdamW", "AdamW (Malladi-style)"), _gauss, {"beta2": 0.99}),
    "DCSGD": (("DCSGD",), _gauss,
              {"compressor": Bernoulli(1 / (1 + OMEGA)), "num_clients": CLIENTS}),
    "DSignSGD": (("DSignSGD",), _gauss, {"num_clients": CLIENTS}),
    "DP-SGD": (("DP-SGD",), _dp, {}),
    "DP-SignSGD": (("DP-SignSGD",), _dp, {}),
}


# Cases compiled together (one program per group; a group shares the run configuration). A few
# groups keep compilation low (about 0.6 s per extra process in a program, against 2-3 s per
# program) while pytest-xdist can still spread them over workers.
GROUPS = (("SGD", "SignSGD", "RMSpropW"), ("AdamW", "DCSGD", "DSignSGD"),
          ("DP-SGD", "DP-SignSGD"), ("SignSGD t1.5",))


def _processes(label):
    names, noise, hyper = CASES[label]
    objective, noise = sde.DiagQuadratic(jnp.asarray(H)), noise()
    opt, model = sde.make(names[0], objective, noise, LR, **hyper)
    return (opt, model, *(sde.make(name, objective, noise, LR, **hyper)[1]
                          for name in names[1:]))


@functools.cache
def _group_runs(group):
    procs = {label: _processes(label) for label in group}
    flat = [p for label in group for p in procs[label]]
    keys = [jax.random.PRNGKey(11 + i) for i in range(len(flat))]
    run = RUN_T if group == ("SignSGD t1.5",) else RUN
    trajs = iter(sde.simulate_many(flat, jnp.full(10, X0), keys, **run))
    return {label: tuple(next(trajs) for _ in procs[label]) for label in group}


def runs(label):
    """(optimizer trajectory, SDE trajectory, ...) for one case, simulated once."""
    group = next(g for g in GROUPS if label in g)
    return _group_runs(group)[label]


def _stationary(traj):
    return window(traj, *(STATIONARY if int(traj.steps[-1]) == RUN["num_steps"] else STATIONARY_T))


def _sgd_em_exact(var, num=1):
    """Exact stationary E f of x <- x - eta (h x + noise), Var(noise) = var / num (also EM with
    dt = eta of the SGD SDE): E x^2 = eta var / (num h (2 - eta h)), so E f = sum eta var /
    (2 num (2 - eta h)). Written here independently of common.sde.closed_forms."""
    return float(np.sum(LR * var / (2 * num * (2 - LR * H))))


def check_sgd(opt, model):
    assert_tracks("SGD", opt, model, TRANSIENT + LATE, 0.0)
    for traj in (opt, model):
        m, se = _stationary(traj)
        assert_close_mc("SGD vs exact recursion", m, se, _sgd_em_exact(SIGMA**2), 0.0)
        assert_close_mc("SGD vs eta tr(Sigma) / 4", m, se,
                        cf.sgd_stationary_loss(LR, SIGMA**2), EM_BIAS)


def check_signsgd(opt, model):
    assert_tracks("SignSGD", opt, model, TRANSIENT + LATE, 0.05)
    # notes A-01: within 10 % of eta sqrt(pi/2) tr(Sigma^1/2) / 4 = 0.0392 (pilot 0.0399)
    target = cf.signsgd_stationary_loss(LR, SIGMA)
    assert target == pytest.approx(0.0392, abs=1e-4)
    for traj in (opt, model):
        assert_close_mc("SignSGD", *_stationary(traj), target, 0.10)


def check_signsgd_t(opt, model):
    """nu = 1.5 (infinite variance): SignSGD and its SDE stay at eta tr(scale) / (4 * 2 p(0)),
    the phase-3 prediction with the t density (notes: 10 %; pilot nu = 1: 0.050 vs 0.049)."""
    assert_tracks("SignSGD t1.5", opt, model, TRANSIENT + LATE_T, 0.10)
    target = cf.signsgd_stationary_loss(LR, SIGMA, nu=1.5)
    for traj in (opt, model):
        assert_close_mc("SignSGD t1.5", *_stationary(traj), target, 0.10)


def check_rmspropw(opt, model):
    assert_tracks("RMSpropW", opt, model, TRANSIENT + LATE, 0.05)
    # notes A-02: within 10 % of (eta/4) sum h sigma / (h + theta sigma) (pilot <= 4.5 %)
    target = cf.adaptive_stationary_loss(LR, H, SIGMA)
    for traj in (opt, model):
        assert_close_mc("RMSpropW", *_stationary(traj), target, 0.10)


def check_adamw(opt, model, malladi):
    """The new SDE tracks the transient; the Malladi-style baseline, whose V ignores
    (grad f)^2, does not (it converges far too fast while |grad f| >~ sigma). At stationarity
    AdamW sits at (eta/4) sum h sigma / (h + theta sigma); its SDE at its own Lyapunov value,
    which the (1 - eta rho1) coupling puts ~20 % lower (common.sde.adamw); the baseline, without
    the coupling, at the former. Allowance 10 % (notes A-02)."""
    assert_tracks("AdamW", opt, model, TRANSIENT, 0.02)
    for start, stop in TRANSIENT[1:]:
        a, sa = window(opt, start, stop)
        b, sb = window(malladi, start, stop)
        # relative error > 0.3 (notes A-02) by more than Z_BAND standard errors (measured
        # 0.96-0.99)
        assert abs(b - a) / a - Z_BAND * np.hypot(sa, sb) / a > 0.3, (start, stop, a, b)
    plain = cf.adaptive_stationary_loss(LR, H, SIGMA)
    coupled = cf.adamw_stationary_loss(LR, H, SIGMA, beta1=0.9)
    assert 0.75 < coupled / plain < 0.85
    assert_close_mc("AdamW", *_stationary(opt), plain, 0.10)
    assert_close_mc("AdamW SDE", *_stationary(model), coupled, 0.10)
    assert_close_mc("AdamW Malladi-style SDE", *_stationary(malladi), plain, 0.10)


def check_dcsgd(opt, model):
    """Exact recursion (Bernoulli: Var C(g) = (1 + omega) sigma^2 + omega h^2 x^2 per agent):
    E f = sum eta (1 + omega) sigma^2 / (2 N (2 - eta h (1 + omega / N))); the SDE's exact value
    within EM_BIAS; the notes' leading order eta (1 + omega) tr(Sigma) / (4N) within 15 % (B-01)."""
    assert_tracks("DCSGD", opt, model, TRANSIENT + LATE, 0.10)
    exact = float(np.sum(LR * (1 + OMEGA) * SIGMA**2
                         / (2 * CLIENTS * (2 - LR * H * (1 + OMEGA / CLIENTS)))))
    for traj in (opt, model):
        m, se = _stationary(traj)
        assert_close_mc("DCSGD vs exact recursion", m, se, exact, 0.0)
        assert_close_mc("DCSGD vs SDE closed form", m, se,
                        cf.dcsgd_stationary_loss(LR, SIGMA**2, omega=OMEGA, num_clients=CLIENTS,
                                                 h=H), EM_BIAS)
        assert_close_mc("DCSGD vs leading order", m, se,
                        cf.dcsgd_stationary_loss(LR, SIGMA**2, omega=OMEGA,
                                                 num_clients=CLIENTS), 0.15)


def check_dsignsgd(opt, model):
    assert_tracks("DSignSGD", opt, model, TRANSIENT + LATE, 0.10)
    # notes B-01: within 10 % of eta sqrt(pi/2) tr(Sigma^1/2) / (4N) (pilot <= 2 %)
    target = cf.signsgd_stationary_loss(LR, SIGMA, num_clients=CLIENTS)
    for traj in (opt, model):
        assert_close_mc("DSignSGD", *_stationary(traj), target, 0.10)


def check_dp_sgd(opt, model):
    assert_tracks("DP-SGD", opt, model, TRANSIENT + LATE, 0.0)
    s2 = SIGMA**2 / DP_BATCH + DP_SIGMA**2
    for traj in (opt, model):
        m, se = _stationary(traj)
        assert_close_mc("DP-SGD vs exact recursion", m, se, _sgd_em_exact(s2), 0.0)
        assert_close_mc("DP-SGD vs closed form", m, se,
                        cf.dp_sgd_stationary_loss(LR, SIGMA**2, batch_size=DP_BATCH,
                                                  sigma_dp=DP_SIGMA), EM_BIAS)


def check_dp_signsgd(opt, model):
    assert_tracks("DP-SignSGD", opt, model, TRANSIENT + LATE, 0.10)
    # the small-SNR linearisation, as for SignSGD: 10 % (dp-sde notes, F4's tolerance)
    target = cf.dp_signsgd_stationary_loss(LR, SIGMA**2, batch_size=DP_BATCH, sigma_dp=DP_SIGMA)
    for traj in (opt, model):
        assert_close_mc("DP-SignSGD", *_stationary(traj), target, 0.10)


CHECKS = {
    "SGD": check_sgd, "SignSGD": check_signsgd, "SignSGD t1.5": check_signsgd_t,
    "RMSpropW": check_rmspropw, "AdamW": check_adamw, "DCSGD": check_dcsgd,
    "DSignSGD": check_dsignsgd, "DP-SGD": check_dp_sgd, "DP-SignSGD": check_dp_signsgd,
}


def test_every_registered_sde_is_covered():
    assert set(CHECKS) == set(CASES) == {label for group in GROUPS for label in group}
    assert {name for names, _, _ in CASES.values() for name in names} == set(sde.SDES)


@pytest.mark.parametrize("group", GROUPS, ids=[", ".join(g) for g in GROUPS])
def test_sdes_track_their_optimizers_and_closed_forms(group):
    """One test per compiled group (so that pytest-xdist never simulates a group twice); every
    case of the group is checked, and every failing case is reported."""
    failures = []
    for label in group:
        try:
            CHECKS[label](*runs(label))
        except AssertionError as err:
            failures.append(f"[{label}] {err}")
    assert not failures, "\n".join(failures)
