r"""Code only the lce-quantum reproduction needs (Meyer, Scala, Tacchino, Lucchi, "Gradient
Scalability and Taylor Surrogation of Quantum Cost Landscapes", arXiv 2507.06344).

The simulator, ansätze, LCE, Pauli propagation and Taylor surrogate are :mod:`common.quantum`;
this module holds the three experiments, each a function of one frozen config so that grids run
through :func:`common.experiment.sweep` (in-process at cpu scale, worker processes or SLURM at
paper scale):

- ``01``: gradient norms on landscape patches, with and without the LCE (official Exp T);
- ``02``: truncation orders (Exp II), Taylor-surrogate accuracy and evaluation counts, and
  :math:`\|\nabla C(0)\|` by sign-free Pauli propagation up to N = 32 (Exp III);
- ``03``: gradient-descent VQE with and without the LCE, and the official random-walk control.

**Official seeding** (``code_trainability``): run ``s`` seeds Python's ``random`` and NumPy's
legacy generator with ``s``, draws the observable letter by letter (``random.choice``), then
``k = random.randint(0, D-1)``, then the patches in the order :data:`SIGMAS`
(``np.random.normal(0, sigma, D)`` five times). We use local ``random.Random(s)`` and
``np.random.RandomState(s)`` instances, which give the same streams, and reverse the drawn
string (qiskit labels put qubit 0 last), so each of our instances is the official one. The
official fHEA / rPQC experiments re-seeded every run with a stale seed (pitfall 1); every run here
has its own seed, and the rPQC's gates come from ``random.Random(derive_seed(s, "rpqc"))``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from common.experiment import Config, derive_seed, param, sweep
from common.metrics import loglog_slope  # re-exported: notebook 02 fits m ~ N^slope
from common.metrics.stats import bootstrap_ci
from common.quantum import (
    ANSATZE,
    HAMILTONIANS,
    PauliSum,
    TaylorSurrogate,
    gradient_descent,
    gradient_support,
    linear_clifford_encoder,
    naive_count,
    random_pauli,
    random_walk,
    shift_count,
    truncation_order,
    truncation_order_official,
)
from common.quantum import statevector as sv

__all__ = ["SIGMAS", "sigma_of", "official_instance", "GradTrial", "gradient_trial",
           "GradientStudy", "gradient_trials", "gradient_frame", "exp_rate", "rate_ci",
           "ratio_ci", "TRUNCATION_SIGMAS", "official_n_grid", "truncation_curves",
           "loglog_slope", "TaylorStudy", "clifford_gradient_norms", "taylor_accuracy",
           "evaluation_counts", "VQETrial", "vqe_trial", "VQEStudy", "vqe_trials", "BACKENDS",
           "PATCHES", "OFFICIAL_EXP_T", "compare_official", "agreement_ci", "ratio_gap_ci",
           "OFFICIAL_EXP_II", "compare_truncation_official", "m_scatter", "ARMS", "vqe_frame",
           "observable_of", "cost_and_grad"]

#: Patches theta ~ N(0, sigma^2 I_D), sigma = D^-exponent, in the official draw order.
SIGMAS = (("1/D", 1.0), ("D^-1/2", 0.5), ("D^-1/3", 1 / 3), ("D^-1/5", 0.2), ("1", 0.0))
#: The VQE patches (official ``code_VQE`` / ``code_randomwalk``: patch1..patch4).
PATCHES = SIGMAS[:4]
BACKENDS = ("numpy", "jax")
#: Ansaetze whose circuit does not depend on the seed: one compiled JAX program serves all runs.
#: The rPQC draws new gates every run, so a JAX program would compile per run (minutes at N = 16);
#: its runs use the NumPy simulator whatever the backend.
JAX_REUSABLE = ("mhea", "fhea")


def sigma_of(label: str, d: int) -> float:
    """sigma of a patch label for D parameters."""
    return float(d) ** -dict(SIGMAS)[label]


# ---------------------------------------------------------------------------------------------
# Backends: the NumPy adjoint simulator, or one compiled JAX program per ansatz
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _jax_program(circuit, device: str):
    """One compiled JAX program per circuit (per process): the bare ansatz serves every seed's
    LCE through :meth:`common.quantum.lce.LCE.effective`."""
    from common.quantum.jax_backend import JaxStatevector

    return JaxStatevector(circuit, device=device)


def cost_and_grad(backend: str, circuit, observable, theta, *, lce=None, device: str = "auto"):
    """C and grad of ``circuit`` (with ``lce``: of the LCE circuit built on it) on ``backend``."""
    if backend == "numpy":
        return sv.cost_and_grad(lce.circuit if lce is not None else circuit, observable, theta)
    if backend != "jax":
        raise ValueError(f"backend={backend!r}: allowed {BACKENDS}")
    program = _jax_program(circuit, device)
    if lce is None:
        return program.cost_and_grad(theta, observable)
    psi0, obs = lce.effective(observable)
    return program.cost_and_grad(theta, obs, psi0)


# ---------------------------------------------------------------------------------------------
# Notebook 01: gradient norms on landscape patches (official Exp T)
# ---------------------------------------------------------------------------------------------


def official_instance(ansatz: str, n: int, layers: int, seed: int):
    """(circuit, observable letters, k, thetas (5, D) in :data:`SIGMAS` order) of run ``seed``."""
    py, npr = random.Random(seed), np.random.RandomState(seed)
    gate_rng = random.Random(derive_seed(seed, "rpqc")) if ansatz == "rpqc" else None
    circuit = ANSATZE[ansatz](n, layers, gate_rng)
    d = circuit.num_params
    pauli = random_pauli(n, py)[::-1]          # official qiskit label -> our qubit order
    k = py.randint(0, d - 1)
    thetas = np.stack([npr.normal(0, sigma_of(label, d), d) for label, _ in SIGMAS])
    return circuit, pauli, k, thetas


@dataclass(frozen=True)
class GradTrial(Config):
    """One official run: an ansatz instance, its observable, k and five patch draws."""

    ansatz: str = param("mhea", choices=tuple(ANSATZE), doc="ansatz")
    num_qubits: int = param(2, ge=2, doc="N")
    layers: int = param(1, ge=1, doc="L (HEA entangling layers) or rPQC depth")
    seed: int = param(0, ge=0, doc="official run seed")
    backend: str = param("numpy", choices=BACKENDS, doc="statevector backend")
    device: str = param("auto", choices=("auto", "cpu", "gpu"), doc="JAX device")


def gradient_trial(trial: GradTrial) -> dict:
    """Gradients at theta = 0 and at the five patch draws, with and without the LCE."""
    circ, pauli, k, thetas = official_instance(trial.ansatz, trial.num_qubits, trial.layers,
                                               trial.seed)
    lce = linear_clifford_encoder(circ, pauli, k)
    batch = np.vstack([np.zeros(circ.num_params), thetas])
    backend = trial.backend if trial.ansatz in JAX_REUSABLE else "numpy"
    c_lce, g_lce = cost_and_grad(backend, circ, pauli, batch, lce=lce, device=trial.device)
    c_plain, g_plain = cost_and_grad(backend, circ, pauli, batch, device=trial.device)
    return {"pauli": pauli, "k": k, "D": circ.num_params, "branch": lce.branch,
            "c0_lce": c_lce[0], "dk0_lce": g_lce[0, k],
            "norm0_lce": float(np.linalg.norm(g_lce[0])),
            "norm0_plain": float(np.linalg.norm(g_plain[0])),
            "norm_lce": np.linalg.norm(g_lce[1:], axis=1), "norm_plain":
            np.linalg.norm(g_plain[1:], axis=1),
            "d0_lce": g_lce[1:, 0], "d0_plain": g_plain[1:, 0]}


@dataclass(frozen=True)
class GradientStudy(Config):
    """Settings of ``01_lce_gradient_scaling`` (defaults: cpu scale; notes section 5, B1)."""

    ansatze: tuple[str, ...] = param(("mhea",), choices=tuple(ANSATZE), doc="ansaetze")
    ns_linear: tuple[int, ...] = param(tuple(range(2, 11)), ge=2, doc="N of the L = N panel")
    ns_shallow: tuple[int, ...] = param(tuple(range(2, 13)), ge=2, doc="N of the L = 1 panel")
    num_seeds: int = param(20, ge=2, doc="official runs per N")
    rate_from: int = param(6, ge=2, doc="smallest N of the fitted exponential rates")
    backend: str = param("numpy", choices=BACKENDS, doc="statevector backend")
    device: str = param("auto", choices=("auto", "cpu", "gpu"), doc="JAX device")
    seed: int = param(0, ge=0, doc="base seed of the notebook (the runs use the official seeds)")


def _layers(ansatz: str, n: int, depth: str) -> int:
    """L = N ("linear") or 1 ("shallow") for the HEAs; rPQC depth 2N or 5 (official)."""
    if ansatz == "rpqc":
        return 2 * n if depth == "linear" else 5
    return n if depth == "linear" else 1


def gradient_trials(cfg: GradientStudy) -> list[GradTrial]:
    trials = []
    for ansatz in cfg.ansatze:
        for depth, ns in (("linear", cfg.ns_linear), ("shallow", cfg.ns_shallow)):
            for n in ns:
                for s in range(cfg.num_seeds):
                    trials.append(GradTrial(ansatz=ansatz, num_qubits=n,
                                            layers=_layers(ansatz, n, depth), seed=s,
                                            backend=cfg.backend, device=cfg.device))
    return trials


def gradient_frame(cfg: GradientStudy, store_dir, *, executor="debug", resume=False,
                   progress=False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the grid; return (per-run table, long table of norms per patch and arm)."""
    trials = gradient_trials(cfg)
    res = sweep(gradient_trial, trials, store_dir=store_dir, executor=executor, resume=resume,
                progress=progress).raise_for_failures()
    runs, rows = [], []
    for t, r in zip(trials, res.results()):
        depth = "linear" if t.layers == _layers(t.ansatz, t.num_qubits, "linear") else "shallow"
        runs.append({"ansatz": t.ansatz, "depth": depth, "N": t.num_qubits, "L": t.layers,
                     "seed": t.seed, **{k: r[k] for k in ("D", "k", "pauli", "branch", "c0_lce",
                                                         "dk0_lce", "norm0_lce", "norm0_plain")}})
        for i, (label, _) in enumerate(SIGMAS):
            for arm in ("lce", "plain"):
                rows.append({"ansatz": t.ansatz, "depth": depth, "N": t.num_qubits,
                             "seed": t.seed, "sigma": label, "arm": arm,
                             "norm": r[f"norm_{arm}"][i], "d0": r[f"d0_{arm}"][i]})
    return pd.DataFrame(runs), pd.DataFrame(rows)


def exp_rate(ns, means) -> float:
    """Least-squares slope of log(mean) against N: the exponential rate per qubit."""
    ns, means = np.asarray(ns, float), np.asarray(means, float)
    if np.any(means <= 0) or not np.all(np.isfinite(means)):
        return math.nan
    return float(np.polyfit(ns, np.log(means), 1)[0])


def _matrix(long: pd.DataFrame, ns) -> np.ndarray:
    """(seeds, N) matrix of norms of one (panel, sigma, arm) selection."""
    wide = long.pivot_table(index="seed", columns="N", values="norm")
    return wide[list(ns)].to_numpy()


def rate_ci(long: pd.DataFrame, ns, seed: int = 0):
    """exp_rate of the mean norm over ``ns`` with a bootstrap interval over seeds."""
    m = _matrix(long, ns)
    return bootstrap_ci(lambda x: exp_rate(ns, x.mean(axis=0)), m, seed=seed)


def ratio_ci(long: pd.DataFrame, n_hi: int, n_lo: int, seed: int = 0):
    """mean norm at N = n_hi over mean norm at n_lo, bootstrap interval over seeds."""
    m = _matrix(long, (n_lo, n_hi))
    return bootstrap_ci(lambda x: x[:, 1].mean() / x[:, 0].mean(), m, seed=seed)


#: Official 50-run mean ||grad C|| of the linear-depth mHEA at N = 2 and N = 10, as the notes give
#: them (section 4, read from the official pickles; their digits): {(sigma, arm): (N=2, N=10)}.
OFFICIAL_EXP_T = {
    ("1/D", "lce"): ("1.61", "1.50"), ("1/D", "plain"): ("0.545", "0.0046"),
    ("D^-1/2", "lce"): ("1.35", "1.25"), ("D^-1/2", "plain"): ("0.918", "0.114"),
    ("D^-1/3", "lce"): ("1.18", "0.60"), ("D^-1/3", "plain"): ("0.956", "0.241"),
    ("D^-1/5", "lce"): ("1.21", "0.33"), ("D^-1/5", "plain"): ("1.02", "0.31"),
    ("1", "lce"): ("1.07", "0.32"), ("1", "plain"): ("1.13", "0.32"),
}


def compare_official(long: pd.DataFrame, official=None) -> pd.DataFrame:
    """Our means at N = 2 and 10 against the official ones, rounded to the official digits."""
    official = OFFICIAL_EXP_T if official is None else official
    rows = []
    for (sig, arm), values in official.items():
        for n, text in zip((2, 10), values):
            ours = float(long[(long.sigma == sig) & (long.arm == arm) & (long.N == n)].norm.mean())
            decimals = len(text.split(".")[1])
            rows.append({"sigma": sig, "arm": arm, "N": n, "official": float(text), "ours": ours,
                         "ours_rounded": round(ours, decimals),
                         "match": round(ours, decimals) == float(text),
                         "rel_dev": abs(ours - float(text)) / float(text)})
    return pd.DataFrame(rows)


def agreement_ci(a: pd.DataFrame, b: pd.DataFrame, ns, seed: int = 0):
    """max over N of |mean_a / mean_b - 1|, bootstrap over runs (the arms share runs)."""
    ma, mb = _matrix(a, ns), _matrix(b, ns)
    return bootstrap_ci(lambda x, y: float(np.max(np.abs(x.mean(0) / y.mean(0) - 1))), ma, mb,
                        seed=seed)


def ratio_gap_ci(a: pd.DataFrame, b: pd.DataFrame, n_hi: int, n_lo: int, seed: int = 0):
    """[mean(n_hi)/mean(n_lo)] of ``a`` minus the same of ``b``, bootstrap over runs."""
    ma, mb = _matrix(a, (n_lo, n_hi)), _matrix(b, (n_lo, n_hi))
    return bootstrap_ci(lambda x, y: x[:, 1].mean() / x[:, 0].mean() - y[:, 1].mean()
                        / y[:, 0].mean(), ma, mb, seed=seed)


# ---------------------------------------------------------------------------------------------
# Notebook 02: truncation orders, the Taylor surrogate, gradients at 0 by Pauli propagation
# ---------------------------------------------------------------------------------------------

#: Exp II sigmas in the official draw order (sigma as a function of D); "0" draws nothing.
TRUNCATION_SIGMAS = (
    ("exp(-D)", lambda d: math.exp(-d)), ("D^-2", lambda d: d ** -2.0),
    ("1/D", lambda d: 1.0 / d), ("D^-1/2", lambda d: d ** -0.5),
    ("D^-1/3", lambda d: d ** (-1 / 3)), ("D^-1/5", lambda d: d ** -0.2),
    ("1/log D", lambda d: 1 / math.log(d)), ("1", lambda d: 1.0),
)


def official_n_grid(n_max: int = 10_000, num: int = 50) -> np.ndarray:
    """The official Exp II grid ``unique(logspace(0, log10(n_max), num, dtype=int))``."""
    return np.unique(np.logspace(0, np.log10(n_max), num=num, dtype=int))


def _l1_official(rs: np.random.RandomState, sigma: float, d: int, chunk: int) -> float:
    """sum |normal(0, sigma, d)| drawn in chunks from the legacy stream (same values)."""
    total, left = 0.0, d
    while left:
        m = min(chunk, left)
        total += float(np.abs(rs.normal(0, sigma, m)).sum())
        left -= m
    return total


def truncation_curves(n_values, eps: float, n_exact: int, seed: int = 7,
                      chunk: int = 4_000_000) -> pd.DataFrame:
    """m(theta, eps) for theta ~ N(0, sigma^2 I_D), D = 2N(N+1), per N and sigma.

    For N <= ``n_exact`` theta is the official draw (``np.random.seed(7)`` per N, the sigmas in
    :data:`TRUNCATION_SIGMAS` order); above, ||theta||_1 = sigma * S with S drawn from its normal
    approximation N(D sqrt(2/pi), D (1 - 2/pi)) (CLT; skewness ~ D^-1/2 < 1e-3), by
    ``np.random.default_rng(derive_seed(seed, N))``: a different draw of the same law, not the
    official one.
    """
    rows = []
    for n in n_values:
        n = int(n)
        d = 2 * n * (n + 1)
        exact = n <= n_exact
        rs = np.random.RandomState(seed) if exact else None
        gen = None if exact else np.random.default_rng(derive_seed(seed, "clt", n))
        for label, sig in TRUNCATION_SIGMAS:
            sigma = sig(d)
            if exact:
                l1 = _l1_official(rs, sigma, d, chunk)
            else:
                s = d * math.sqrt(2 / math.pi) + math.sqrt(d * (1 - 2 / math.pi)) * gen.normal()
                l1 = sigma * s
            rows.append({"N": n, "D": d, "sigma": label, "l1": l1, "official_draw": exact,
                         "m": truncation_order_official(l1, eps),
                         "m_exact": truncation_order(l1, eps)})
        rows.append({"N": n, "D": d, "sigma": "0", "l1": 0.0, "official_draw": True,
                     "m": truncation_order_official(0.0, eps), "m_exact": 1})
    return pd.DataFrame(rows)


def m_scatter(l1_mean: float, l1_sd: float, eps: float) -> float:
    """Standard deviation of m induced by the draw: dm/dl1 (central difference) x sd(l1)."""
    h = max(l1_sd, 1e-9)
    return abs(truncation_order(l1_mean + h, eps) - truncation_order(l1_mean - h, eps)) / 2


#: Official Exp II orders (notes section 3, from the official pickles): {sigma: {N: m}}.
OFFICIAL_EXP_II = {
    "1/D": {1: 8, 11: 9, 109: 9, 1048: 9, 10_000: 9},
    "D^-1/2": {1: 11, 11: 43, 109: 344, 1048: 3223, 10_000: 30683},
    "D^-1/3": {1: 12, 11: 100, 109: 1823, 1048: 36649, 10_000: 741764},
    "D^-1/5": {1: 18, 11: 206, 109: 6924, 1048: 257069, 10_000: 9486417},
    "1": {1: 18, 11: 617, 109: 52208, 1048: 4770930, 10_000: 433784882},
}


def compare_truncation_official(curves: pd.DataFrame, official=None, eps: float = 1e-6
                                ) -> pd.DataFrame:
    """Our orders against the official ones, with the draw scatter s_m and |m - official| / s_m.

    s_m = |dm/dl1| * sigma * sqrt(D (1 - 2/pi)), the standard deviation of m over draws of theta
    (l1 = ||theta||_1 has standard deviation sigma sqrt(D (1 - 2/pi))); at least 1 (m is an
    integer).
    """
    official = OFFICIAL_EXP_II if official is None else official
    rows = []
    for sig, by_n in official.items():
        for n, m_off in by_n.items():
            row = curves[(curves.sigma == sig) & (curves.N == n)]
            if row.empty:
                continue
            r = row.iloc[0]
            sigma = dict(TRUNCATION_SIGMAS)[sig](r.D)
            sd = sigma * math.sqrt(r.D * (1 - 2 / math.pi))
            scatter = max(1.0, m_scatter(float(r.l1), sd, eps))
            rows.append({"sigma": sig, "N": n, "m": int(r.m), "official": m_off,
                         "official_draw": bool(r.official_draw), "scatter": scatter,
                         "z": abs(int(r.m) - m_off) / scatter})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class TaylorStudy(Config):
    """Settings of ``02_taylor_surrogate_phase_transition`` (cpu scale; notes section 5, B2)."""

    eps: float = param(1e-6, gt=0, lt=1, doc="Exp II tolerance")
    n_max: int = param(10_000, ge=10, doc="largest N of the Exp II grid")
    n_exact: int = param(1048, ge=1, doc="official draws up to this N; CLT draw above")
    surrogate_qubits: int = param(3, ge=1, doc="N of the surrogate-accuracy study (L = 1)")
    surrogate_seeds: int = param(10, ge=1, doc="official runs of the surrogate study")
    surrogate_draws: int = param(5, ge=1, doc="patch draws per run")
    max_order: int = param(4, ge=1, le=6, doc="largest truncation order m")
    count_qubits: tuple[int, ...] = param((1, 2, 3, 4, 6, 8, 12, 16), ge=1,
                                          doc="N of the evaluation-count panel (L = 1)")
    count_orders: tuple[int, ...] = param((1, 2, 3), ge=1, doc="orders of the count panel")
    ns_shallow: tuple[int, ...] = param(tuple(range(2, 33)), ge=2,
                                        doc="N of grad C(0) at L = 1")
    ns_linear: tuple[int, ...] = param(tuple(range(2, 17)), ge=2, doc="N of grad C(0) at L = N")
    clifford_seeds: int = param(10, ge=1, doc="official runs per N for grad C(0)")
    seed: int = param(7, ge=0, doc="the official Exp II seed")


def clifford_gradient_norms(ns, depth: str, num_seeds: int, ansatz: str = "mhea"
                            ) -> pd.DataFrame:
    """||grad C(0)|| with and without the LCE by sign-free Pauli propagation (official Exp III)."""
    rows = []
    for n in ns:
        layers = _layers(ansatz, n, depth)
        for s in range(num_seeds):
            circ, pauli, k, _ = official_instance(ansatz, n, layers, s)
            lce = linear_clifford_encoder(circ, pauli, k)
            sup_lce = gradient_support(lce.circuit, pauli)
            rows.append({"depth": depth, "N": n, "D": circ.num_params, "seed": s,
                         "norm_lce": float(np.sqrt(sup_lce.sum())), "dk_lce": sup_lce[k],
                         "norm_plain": float(np.sqrt(gradient_support(circ, pauli).sum()))})
    return pd.DataFrame(rows)


def taylor_accuracy(cfg: TaylorStudy) -> pd.DataFrame:
    """|C - T_m| and its bound for official runs (N = surrogate_qubits, L = 1), with and
    without the LCE, at sigma = 1/D and D^-1/2."""
    rows = []
    n = cfg.surrogate_qubits
    for s in range(cfg.surrogate_seeds):
        circ, pauli, k, _ = official_instance("mhea", n, 1, s)
        d = circ.num_params
        draws = np.random.default_rng(derive_seed(cfg.seed, "taylor", s))
        for arm, c in (("plain", circ), ("lce", linear_clifford_encoder(circ, pauli, k).circuit)):
            sur = TaylorSurrogate(c, pauli)
            for m in range(1, cfg.max_order + 1):
                sur.extend(m)
            for label in ("1/D", "D^-1/2"):
                theta = draws.normal(0, sigma_of(label, d), size=(cfg.surrogate_draws, d))
                exact = sv.cost(c, pauli, theta)
                for m in range(1, cfg.max_order + 1):
                    err = np.abs(sur(theta, order=m) - exact)
                    bound = sur.error_bound(theta, order=m)
                    for j in range(len(theta)):
                        rows.append({"seed": s, "arm": arm, "sigma": label, "m": m, "draw": j,
                                     "error": err[j], "bound": bound[j]})
    return pd.DataFrame(rows)


def evaluation_counts(qubits, orders) -> pd.DataFrame:
    """Distinct Clifford evaluations of the cached surrogate (mHEA, L = 1, a Z...Z observable)
    against the lattice formula and the official uncached count."""
    import time

    rows = []
    for n in qubits:
        circ = ANSATZE["mhea"](n, 1, None)
        d = circ.num_params
        sur = TaylorSurrogate(circ, "Z" * n)
        for m in sorted(orders):
            t0 = time.process_time()
            sur.extend(m)
            rows.append({"N": n, "D": d, "m": m, "cached": sur.num_evaluations,
                         "formula": shift_count(d, m), "official_uncached": naive_count(d, m),
                         "cpu_s": time.process_time() - t0})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Notebook 03: VQE with and without the LCE, and the random-walk control
# ---------------------------------------------------------------------------------------------

ARMS = ("LCE-GD", "GD", "random walk", "random walk + GD")


@dataclass(frozen=True)
class VQETrial(Config):
    """One official VQE run of one arm; the four patches advance together as a batch."""

    hamiltonian: str = param("global_z", choices=tuple(HAMILTONIANS), doc="observable")
    num_qubits: int = param(10, ge=2, doc="N")
    layers: int = param(3, ge=1, doc="mHEA entangling layers L")
    run: int = param(0, ge=0, doc="official run index (seed run + 7)")
    arm: str = param("LCE-GD", choices=ARMS, doc="optimiser arm")
    lr: float = param(0.1, gt=0, doc="step size")
    num_steps: int = param(50, ge=1, doc="iterations")
    random_steps: int = param(10, ge=0, doc="random steps of the 'random walk + GD' arm")
    backend: str = param("numpy", choices=BACKENDS, doc="statevector backend")
    device: str = param("auto", choices=("auto", "cpu", "gpu"), doc="JAX device")


def vqe_trial(trial: VQETrial) -> dict:
    """Official seeding: ``RandomState(run + 7)`` draws the four patches; ``Random(run + 7)``
    picks the LCE's term and k; the random walk continues the NumPy stream (module docstring)."""
    n, layers = trial.num_qubits, trial.layers
    circ = ANSATZE["mhea"](n, layers, None)
    obs = HAMILTONIANS[trial.hamiltonian](n)
    d = circ.num_params
    npr = np.random.RandomState(trial.run + 7)
    theta0 = np.stack([npr.normal(0, sigma_of(label, d), d) for label, _ in PATCHES])
    py = random.Random(trial.run + 7)
    term = py.randint(0, len(obs) - 1)
    k = py.randint(0, d - 1)
    out = {"term": obs.paulis[term], "k": k}
    lce = linear_clifford_encoder(circ, obs.paulis[term], k) if trial.arm == "LCE-GD" else None

    def f(th):
        return cost_and_grad(trial.backend, circ, obs, th, lce=lce, device=trial.device)

    if trial.arm.startswith("random walk"):
        # the official hybrid: random steps (length lr^2), then gradient descent on the plain ansatz
        r = trial.num_steps if trial.arm == "random walk" else min(trial.random_steps,
                                                                    trial.num_steps)
        walk_rng = np.random.default_rng(npr.randint(2**31))
        theta, losses = random_walk(lambda th: f(th)[0], theta0, trial.lr, r, walk_rng)
        if r < trial.num_steps:
            _, more, _ = gradient_descent(f, theta, trial.lr, trial.num_steps - r)
            losses = np.concatenate([losses, more[1:]])
        return {**out, "losses": losses}
    _, losses, norms = gradient_descent(f, theta0, trial.lr, trial.num_steps)
    return {**out, "losses": losses, "grad_norms": norms}


@dataclass(frozen=True)
class VQEStudy(Config):
    """Settings of ``03_vqe_lce`` (cpu scale; notes section 5, B3)."""

    num_qubits: int = param(10, ge=2, doc="N of the global-Z runs")
    layers: int = param(3, ge=1, doc="L of the global-Z runs")
    lr: float = param(0.1, gt=0, doc="global-Z step size")
    num_steps: int = param(50, ge=1, doc="global-Z iterations")
    num_runs: int = param(5, ge=2, doc="official runs (seeds run + 7)")
    random_steps: int = param(10, ge=0, doc="random steps of the hybrid control (official data)")
    heis_hamiltonian: str = param("heisenberg", choices=tuple(HAMILTONIANS),
                                  doc="second observable")
    heis_qubits: int = param(8, ge=2, doc="N of the Heisenberg runs")
    heis_layers: int = param(8, ge=1, doc="L of the Heisenberg runs")
    heis_lr: float = param(0.01, gt=0, doc="Heisenberg step size")
    heis_steps: int = param(300, ge=1, doc="Heisenberg iterations")
    backend: str = param("numpy", choices=BACKENDS, doc="statevector backend")
    device: str = param("auto", choices=("auto", "cpu", "gpu"), doc="JAX device")
    seed: int = param(0, ge=0, doc="base seed (the runs use the official seeds)")


def vqe_trials(cfg: VQEStudy) -> list[VQETrial]:
    kw = {"backend": cfg.backend, "device": cfg.device}
    trials = [VQETrial(hamiltonian="global_z", num_qubits=cfg.num_qubits, layers=cfg.layers,
                       run=r, arm=a, lr=cfg.lr, num_steps=cfg.num_steps,
                       random_steps=cfg.random_steps, **kw)
              for r in range(cfg.num_runs) for a in ARMS]
    trials += [VQETrial(hamiltonian=cfg.heis_hamiltonian, num_qubits=cfg.heis_qubits,
                        layers=cfg.heis_layers, run=r, arm=a, lr=cfg.heis_lr,
                        num_steps=cfg.heis_steps, **kw)
               for r in range(cfg.num_runs) for a in ("LCE-GD", "GD")]
    return trials


def vqe_frame(cfg: VQEStudy, store_dir, *, executor="debug", resume=False, progress=False):
    """Run every VQE trial; return (finals table, {(hamiltonian, arm, run): losses (T+1, 4)})."""
    trials = vqe_trials(cfg)
    res = sweep(vqe_trial, trials, store_dir=store_dir, executor=executor, resume=resume,
                progress=progress).raise_for_failures()
    rows, curves = [], {}
    for t, r in zip(trials, res.results()):
        losses = np.asarray(r["losses"])
        curves[(t.hamiltonian, t.arm, t.run)] = losses
        for i, (label, _) in enumerate(PATCHES):
            rows.append({"hamiltonian": t.hamiltonian, "arm": t.arm, "run": t.run,
                         "sigma": label, "initial": losses[0, i], "final": losses[-1, i],
                         "official_final": losses[-2, i], "term": r["term"], "k": r["k"]})
    return pd.DataFrame(rows), curves


def observable_of(name: str, n: int) -> PauliSum:
    return HAMILTONIANS[name](n)
