"""Code only the Byz-Clip21-SGD2M reproduction needs: the robustness-ratio study, the
bookkeeping invariants, the tuning protocol and one sweep-able training run. The algorithms are
:mod:`common.federated.clip21` run by :func:`common.federated.run_rounds`, the MNIST problem with
Byzantine clients :func:`common.federated.mnist_federated`, the aggregators and attacks
:mod:`common.robust`, the noise calibration :mod:`common.privacy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import Config, ConfigError, derive, derive_seed, param
from common.federated import (
    MNIST_NETWORKS,
    Byzantine,
    StepRule,
    clip21_sgd2m_step,
    clip_sgd_step,
    fed_init,
    mnist_federated,
    run_rounds,
    safe_dshb_step,
)
from common.privacy import clip_rows, nominal_local_sigma
from common.robust import (
    ALIE,
    IPM,
    SignFlip,
    get_aggregator,
    robustness_coefficient,
    robustness_ratio,
)

__all__ = ["METHODS", "ATTACKS", "RobustnessConfig", "robustness_attacks", "robustness_study",
           "invariants", "clip21_reference", "mnist_byzantine", "Trial", "train", "ByzStudy",
           "tuning_grid", "evaluation_grid", "COMPARED", "CONTROL", "CountStudy",
           "count_tuning_grid", "ipm_count_grid", "flip_count_grid"]

#: method -> its step rule; Byz-Clip21-SGD2M reads beta and beta_hat, Safe-DSHB beta, from the
#: run's Trial; Byz-Clip21-SGD is Byz-Clip21-SGD2M without its two momenta (beta = beta_hat = 1),
#: the negative control of notebook 02
METHODS = {
    "Byz-Clip21-SGD2M": StepRule(clip21_sgd2m_step, from_config=("beta", "beta_hat")),
    "Byz-Clip21-SGD": StepRule(clip21_sgd2m_step, {"beta": 1.0, "beta_hat": 1.0}),
    "Byz-Clip-SGD": StepRule(clip_sgd_step),
    "Safe-DSHB": StepRule(safe_dshb_step, from_config=("beta",)),
}

#: attack -> (the Byzantine clients' message attack for a Trial, or None; whether they train on
#: flipped labels, a data attack)
ATTACKS = {
    "none": (lambda trial: None, False),
    "ipm": (lambda trial: IPM(trial.ipm_scale), False),
    "label_flip": (lambda trial: None, True),
}


# ---------------------------------------------------------------------------------------------
# Notebook 01: the aggregator's robustness ratio and the algorithm's invariants
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RobustnessConfig(Config):
    """Settings of ``01_aggregators_invariants`` (defaults: cpu scale)."""

    dim: int = param(1000, ge=1, doc="dimension of the synthetic messages")
    honest_means: tuple[float, ...] = param((1.0, 0.1), gt=0,
                                            doc="honest mean per coordinate (spread 1)")
    num_honest: int = param(20, ge=2, doc="honest clients")
    byzantine_counts: tuple[int, ...] = param((2, 5), ge=1, doc="Byzantine clients f")
    magnitudes: tuple[int, ...] = param((0, 3, 6, 9), ge=0, le=30, doc="constant attacks 10^k")
    ipm_scales: tuple[float, ...] = param((0.1, 0.5, 10.0), gt=0,
                                          doc="IPM's eps (small: inside the honest cloud)")
    alie_zs: tuple[float, ...] = param((0.5, 1.0, 2.0), gt=0,
                                       doc="ALIE's z besides Baruch et al.'s default")
    invariant_steps: int = param(50, ge=1, doc="steps of the bookkeeping checks")
    sanity_steps: int = param(200, ge=1, doc="rounds of the IPM training runs")
    sanity_lr: float = param(0.3, gt=0, doc="step size of the IPM training runs")
    sanity_beta_hat: float = param(0.1, gt=0, le=1, doc="EF momentum of the IPM runs")
    sanity_seeds: tuple[int, ...] = param((0, 1, 2), ge=0, doc="seeds of the IPM training runs")
    seed: int = param(0, ge=0, doc="seed of the synthetic messages")

    def __post_init__(self):
        super().__post_init__()
        if any(2 * f >= self.num_honest + f for f in self.byzantine_counts):
            raise ConfigError(f"byzantine_counts={self.byzantine_counts}: each f must be below "
                              f"half of num_honest + f (num_honest={self.num_honest})")
        if len(set(self.sanity_seeds)) < 2:
            raise ConfigError(f"sanity_seeds={self.sanity_seeds}: at least two distinct seeds "
                              "(paired intervals)")


class _Constant:
    """Every Byzantine client sends the constant vector ``value * 1``."""

    def __init__(self, value: float):
        self.value = value

    def __call__(self, honest, own, *, generator=None):
        return torch.full_like(own, self.value)


def robustness_attacks(cfg: RobustnessConfig) -> dict:
    """The attacks of the robustness study, by label: ALIE (Baruch et al.'s default z and
    ``alie_zs``), IPM for each of ``ipm_scales``, sign flip, and the constants ``10^k``.

    Honest rows are ~ N(mu 1, I_d): they sit at distance ~ sqrt(d) from their mean and ~ sqrt(2d)
    from each other. ALIE with z sends a vector at distance z sqrt(d) from the honest mean, IPM with
    eps one at (1 + eps) mu sqrt(d). A Byzantine vector closer to the honest rows than they are to
    each other lies *inside the honest cloud*, where distance-based filtering (NNM) cannot single
    it out: ALIE with z <= 1 always, IPM when mu is small (mu = 0.1: the noise-dominated regime of
    private training) but not when mu = 1.
    """
    attacks = {"ALIE (default z)": ALIE()}
    attacks.update({f"ALIE (z = {z:g})": ALIE(z) for z in cfg.alie_zs})
    attacks.update({f"IPM (eps = {e:g})": IPM(e) for e in cfg.ipm_scales})
    attacks["sign flip"] = SignFlip()
    attacks.update({f"constant 1e{k}": _Constant(10.0**k) for k in cfg.magnitudes})
    return attacks


def robustness_study(cfg: RobustnessConfig) -> list[dict]:
    """The robustness ratio of the mean, the median and NNM + median under every attack of
    :func:`robustness_attacks`, for each honest mean mu and Byzantine count f, with the proven
    bound of each robust aggregator (:func:`common.robust.robustness_coefficient`; NaN for the
    mean), as records."""
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, "robustness"))
    rows = []
    for mu in cfg.honest_means:
        for f in cfg.byzantine_counts:
            x_h = mu + torch.randn(cfg.num_honest, cfg.dim, generator=g, dtype=torch.float64)
            own = mu + torch.randn(f, cfg.dim, generator=g, dtype=torch.float64)
            n = cfg.num_honest + f
            for attack_name, attack in robustness_attacks(cfg).items():
                x = torch.cat([x_h, attack(x_h, own)])
                for agg in ("mean", "median", "nnm_median"):
                    bound = robustness_coefficient(agg, n, f) if agg != "mean" else float("nan")
                    rows.append({"mu": mu, "f": f, "n": n, "attack": attack_name,
                                 "aggregator": agg, "bound": bound,
                                 "ratio": robustness_ratio(get_aggregator(agg)(x, f=f), x_h)})
    return rows


def clip21_reference(grad, x0, n, steps, *, lr, beta, beta_hat, tau, sigma, generator):
    """Clip21-SGD2M for ``n`` clients as the clip21-sgd2m notes write it (no server buffers m_i):
    the server keeps ``g += (beta_hat / n) sum_i c_i``. Returns the iterates (steps, d)."""
    x, g = x0.clone(), torch.zeros_like(x0)
    v = torch.zeros(n, x0.numel(), dtype=x0.dtype)
    g_loc = torch.zeros_like(v)
    xs = []
    for _ in range(steps):
        x = x - lr * g
        v = (1 - beta) * v + beta * grad(x)
        delta = clip_rows(v - g_loc, tau)
        g_loc = g_loc + beta_hat * delta
        c = delta + sigma * torch.randn(delta.shape, generator=generator, dtype=delta.dtype)
        g = g + beta_hat * c.mean(0)
        xs.append(x)
    return torch.stack(xs)


def invariants(steps: int, seed: int) -> dict[str, float]:
    """The largest deviations from the three bookkeeping identities, on a noisy quadratic.

    ``m_equals_g_local``: tau = inf, sigma = 0, mean, no Byzantine: ``m_i == g_i`` and
    ``g == mean_i g_i`` at every step. ``momentum_averaging``: additionally beta_hat = 1: the
    iterates equal distributed heavy-ball averaging ``x -= lr mean_i v_i``.
    ``equals_clip21_sgd2m``: with clipping, DP noise and the mean aggregator, Algorithm 1 (server
    buffers m_i) equals :func:`clip21_reference` step by step on the same random stream.
    """
    rng = np.random.default_rng(seed)
    A = torch.tensor(rng.standard_normal((6, 5, 5)) / 2)
    b = torch.tensor(rng.standard_normal((6, 5)) * 3)

    def make_grad(gen):
        def grad(x):
            r = torch.einsum("ijk,k->ij", A, x) - b
            g = torch.einsum("ijk,ij->ik", A, r)
            return g + 0.3 * torch.randn(g.shape, generator=gen, dtype=g.dtype)
        return grad

    x0 = torch.ones(5, dtype=torch.float64)
    out = {}
    gen = torch.Generator().manual_seed(seed)
    grad = make_grad(gen)
    state, dev = fed_init(x0, 6), 0.0
    for _ in range(steps):
        state, _ = clip21_sgd2m_step(state, grad, lr=0.05, beta=0.3, beta_hat=0.7,
                                     tau=float("inf"), generator=gen)
        dev = max(dev, float((state.m - state.g_local).abs().max()),
                  float((state.g - state.g_local.mean(0)).abs().max()))
    out["m_equals_g_local"] = dev
    gen1, gen2 = torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(seed + 1)
    grad1, grad2 = make_grad(gen1), make_grad(gen2)
    state, x, v, dev = fed_init(x0, 6), x0.clone(), torch.zeros(6, 5, dtype=torch.float64), 0.0
    for _ in range(steps):
        state, _ = clip21_sgd2m_step(state, grad1, lr=0.05, beta=0.3, beta_hat=1.0,
                                     tau=float("inf"), generator=gen1)
        x = x - 0.05 * v.mean(0)
        v = 0.7 * v + 0.3 * grad2(x)
        dev = max(dev, float((state.x - x).abs().max()))
    out["momentum_averaging"] = dev
    gen1, gen2 = torch.Generator().manual_seed(seed + 2), torch.Generator().manual_seed(seed + 2)
    hyper = dict(lr=0.1, beta=0.2, beta_hat=0.5, tau=0.5, sigma=0.1)
    ref = clip21_reference(make_grad(gen2), x0, 6, steps, generator=gen2, **hyper)
    state, grad1, dev = fed_init(x0, 6), make_grad(gen1), 0.0
    for t in range(steps):
        state, _ = clip21_sgd2m_step(state, grad1, generator=gen1, **hyper)
        dev = max(dev, float((state.x - ref[t]).abs().max()))
    out["equals_clip21_sgd2m"] = dev
    return out


# ---------------------------------------------------------------------------------------------
# Training with Byzantine clients (notebooks 01 and 02)
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def mnist_byzantine(num_honest: int, num_byzantine: int, label_flip: bool, model: str = "mlp7",
                    seed: int = 0):
    """MNIST split iid and equally over honest + Byzantine clients (the paper: "distribute the
    dataset among them equally"), on the network ``model`` of
    :data:`common.federated.MNIST_NETWORKS`: ``"mlp7"`` (the cpu scale's MLP 49-32-10, tanh, on
    7x7 MNIST), ``"mlp256"`` (the paper's 784-256-10 MLP, tanh) or ``"cnn"`` (the paper's CNN);
    the last ``num_byzantine`` clients are Byzantine and, with ``label_flip``, train on
    ``9 - y``."""
    if model not in MNIST_NETWORKS:
        raise ValueError(f"model={model!r}: allowed values are {sorted(MNIST_NETWORKS)}")
    return mnist_federated(num_honest + num_byzantine, split="iid", seed=seed,
                           label_flip_clients=num_byzantine if label_flip else 0,
                           **MNIST_NETWORKS[model])


@dataclass(frozen=True)
class Trial(Config):
    """One training run of a method under an attack, at a privacy level."""

    method: str = param("Byz-Clip21-SGD2M", choices=tuple(METHODS))
    model: str = param("mlp7", choices=tuple(MNIST_NETWORKS),
                       doc="network (mlp7: 49-32-10 on 7x7; mlp256, cnn: the paper's)")
    aggregator: str = param("nnm_median", choices=("mean", "median", "nnm_median"))
    attack: str = param("ipm", choices=tuple(ATTACKS))
    num_honest: int = param(20, ge=1, doc="regular clients")
    num_byzantine: int = param(5, ge=0, doc="Byzantine clients")
    ipm_scale: float = param(10.0, gt=0, doc="IPM's eps (paper 10; authors' code 1)")
    lr: float = param(0.3, gt=0, doc="step size gamma")
    tau: float = param(1.0, gt=0, doc="clipping threshold")
    beta: float = param(0.1, gt=0, le=1, doc="client momentum")
    beta_hat: float = param(0.01, gt=0, le=1, doc="EF momentum (Byz-Clip21-SGD2M)")
    epsilon: float = param(0.0, ge=0, doc="nominal local epsilon; 0: no DP noise")
    delta: float = param(4e-4, gt=0, lt=1, doc="delta (paper: 4e-4)")
    steps: int = param(200, ge=1, doc="rounds T")
    batch_size: int = param(32, ge=1, doc="mini-batch per client")
    seed: int = param(0, ge=0, doc="seed of the initialisation, sampling and noise")


def train(trial: Trial) -> dict:
    """Run one trial and evaluate its final model (validation and test loss and accuracy)."""
    message_attack, label_flip = ATTACKS[trial.attack]
    problem = mnist_byzantine(trial.num_honest, trial.num_byzantine, label_flip, trial.model)
    rule = METHODS[trial.method]
    sigma = (nominal_local_sigma(trial.tau, trial.epsilon, trial.delta, trial.steps)
             if trial.epsilon > 0 else 0.0)
    gen = torch.Generator().manual_seed(derive_seed(trial.seed, "byz-trial"))
    state = run_rounds(rule.step, problem.x0(trial.seed), problem.grad_fn(trial.batch_size, gen),
                       num_clients=trial.num_honest + trial.num_byzantine,
                       num_rounds=trial.steps, lr=trial.lr, tau=trial.tau, sigma=sigma,
                       aggregator=get_aggregator(trial.aggregator),
                       byzantine=Byzantine(trial.num_byzantine, message_attack(trial)),
                       generator=gen, **rule.hyper(trial))
    return {"sigma": sigma, **problem.evaluate(state.x)}


# ---------------------------------------------------------------------------------------------
# Notebook 02: the tuning protocol as data
# ---------------------------------------------------------------------------------------------


#: The methods compared in notebook 02, and the negative control (the paper's method without
#: momenta: the claims say the momenta matter, so the same comparison must fail for it)
COMPARED = ("Byz-Clip21-SGD2M", "Byz-Clip-SGD", "Safe-DSHB")
CONTROL = "Byz-Clip21-SGD"


@dataclass(frozen=True)
class ByzStudy(Config):
    """Settings of ``02_byzantine_dp_mnist`` (defaults: cpu scale).

    The compared methods are tuned on ``lrs`` x ``taus``, the control on ``lrs`` x
    ``control_taus`` (its best threshold is two decades lower: without momentum it needs
    smaller, less noisy messages); Byz-Clip21-SGD2M's EF momentum is the paper's ``beta_hat``.
    """

    model: str = param("mlp7", choices=tuple(MNIST_NETWORKS),
                       doc="network (mlp7: 49-32-10 on 7x7; mlp256, cnn: the paper's)")
    num_clients: int = param(25, ge=2, doc="clients in all (honest + Byzantine)")
    num_byzantine: int = param(5, ge=1, doc="Byzantine clients in the main comparison")
    steps: int = param(200, ge=1, doc="rounds T")
    batch_size: int = param(32, ge=1, doc="mini-batch per client")
    lrs: tuple[float, ...] = param((0.03, 0.1, 0.3), gt=0, doc="step sizes")
    taus: tuple[float, ...] = param((0.01, 0.1, 1.0), gt=0, doc="clipping thresholds")
    control_taus: tuple[float, ...] = param((0.0003, 0.001, 0.003, 0.01), gt=0,
                                            doc="clipping thresholds of the control")
    beta: float = param(0.1, gt=0, le=1, doc="client momentum (Byz-Clip21-SGD2M, Safe-DSHB)")
    beta_hat: float = param(0.01, gt=0, le=1, doc="EF momentum (the paper's 0.01)")
    epsilons: tuple[float, ...] = param((3.0, 23.0), gt=0, doc="nominal local epsilons")
    tune_epsilon: float = param(8.0, gt=0, doc="epsilon of the tuning runs")
    control_epsilon: float = param(23.0, gt=0, doc="epsilon of the negative control")
    delta: float = param(4e-4, gt=0, lt=1, doc="delta")
    seeds: tuple[int, ...] = param((0, 1, 2, 3), ge=0, doc="evaluation seeds")

    def __post_init__(self):
        super().__post_init__()
        if len(set(self.seeds)) < 2:
            raise ConfigError(f"seeds={self.seeds}: at least two distinct seeds (paired "
                              "intervals)")
        if self.control_epsilon not in self.epsilons:
            raise ConfigError(f"control_epsilon={self.control_epsilon} must be one of "
                              f"epsilons={self.epsilons}")

    def trial(self, **kw) -> Trial:
        """A Trial with this study's shared settings (Byzantine count, steps, batch size, beta,
        beta_hat, delta; the other clients honest) and ``kw``."""
        return derive(Trial, self, num_honest=self.num_clients - self.num_byzantine, **kw)


def tuning_grid(study: ByzStudy) -> list[Trial]:
    """Every compared method on ``lrs`` x ``taus`` and the control on ``lrs`` x
    ``control_taus``, under IPM at ``tune_epsilon`` (first seed)."""
    grids = {m: study.taus for m in COMPARED} | {CONTROL: study.control_taus}
    return [study.trial(method=m, attack="ipm", lr=lr, tau=tau, epsilon=study.tune_epsilon,
                        seed=study.seeds[0])
            for m, taus in grids.items() for lr in study.lrs for tau in taus]


def evaluation_grid(study: ByzStudy, chosen: dict[str, Trial]) -> list[Trial]:
    """Each tuned method under IPM and label flipping, at every epsilon and seed; the control
    at ``control_epsilon`` only."""
    return [t.replace(attack=attack, epsilon=eps, seed=s) for m, t in chosen.items()
            for attack in ("ipm", "label_flip") for eps in study.epsilons for s in study.seeds
            if m != CONTROL or eps == study.control_epsilon]


# ---------------------------------------------------------------------------------------------
# Notebook 03: sweeps over the number of Byzantine clients
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountStudy(Config):
    """Settings of ``03_byzantine_counts`` (defaults: cpu scale).

    Fig. 1: IPM with ``num_honest`` regular clients plus B Byzantine, B in ``ipm_counts``; Fig. 2:
    label flipping with ``num_clients`` clients in all, B of them Byzantine, B in
    ``flip_counts``. Each network of ``models`` trains with its own mini-batch
    (``batch_sizes``, the paper's: 32 for the CNN, 64 for the MLP). The compared methods take
    their (gamma, tau) from ``lrs`` x ``taus``, the control (Byz-Clip21-SGD) from ``lrs`` x
    ``control_taus``; with one value each (cpu scale) they are frozen, otherwise tuned under IPM
    with ``tune_count`` Byzantine clients at ``tune_epsilon`` (first seed), per network.
    """

    models: tuple[str, ...] = param(("mlp7",), choices=tuple(MNIST_NETWORKS),
                                    doc="networks (mlp7: 49-32-10 on 7x7; mlp256, cnn: paper's)")
    batch_sizes: tuple[int, ...] = param((32,), ge=1, doc="mini-batch per client, per network")
    num_honest: int = param(20, ge=2, doc="regular clients under IPM (Fig. 1)")
    ipm_counts: tuple[int, ...] = param((2, 5, 8), ge=1, doc="Byzantine counts under IPM")
    num_clients: int = param(25, ge=2, doc="clients in all under label flipping (Fig. 2)")
    flip_counts: tuple[int, ...] = param((1, 5, 8), ge=0, doc="Byzantine counts, label flip")
    steps: int = param(200, ge=1, doc="rounds T")
    lrs: tuple[float, ...] = param((0.1,), gt=0, doc="step sizes (one value: frozen)")
    taus: tuple[float, ...] = param((0.1,), gt=0, doc="clipping thresholds (one value: frozen)")
    control_lrs: tuple[float, ...] = param((0.3,), gt=0, doc="step sizes of the control")
    control_taus: tuple[float, ...] = param((0.0003,), gt=0,
                                            doc="clipping thresholds of the control")
    beta: float = param(0.1, gt=0, le=1, doc="client momentum (Byz-Clip21-SGD2M, Safe-DSHB)")
    beta_hat: float = param(0.01, gt=0, le=1, doc="EF momentum (the paper's 0.01)")
    epsilons: tuple[float, ...] = param((23.0,), gt=0, doc="nominal local epsilons")
    tune_epsilon: float = param(8.0, gt=0, doc="epsilon of the tuning runs")
    tune_count: int = param(5, ge=1, doc="Byzantine clients (IPM) in the tuning runs")
    delta: float = param(4e-4, gt=0, lt=1, doc="delta")
    seeds: tuple[int, ...] = param((0, 1, 2, 3), ge=0, doc="evaluation seeds (paired)")

    def __post_init__(self):
        super().__post_init__()
        if len(self.batch_sizes) != len(self.models):
            raise ConfigError(f"batch_sizes={self.batch_sizes}: one per network of "
                              f"models={self.models}")
        if len(set(self.seeds)) < 2:
            raise ConfigError(f"seeds={self.seeds}: at least two distinct seeds (paired "
                              "intervals)")
        if any(2 * b >= self.num_clients for b in self.flip_counts):
            raise ConfigError(f"flip_counts={self.flip_counts}: each must be below half of "
                              f"num_clients={self.num_clients}")
        if any(b >= self.num_honest for b in self.ipm_counts):
            raise ConfigError(f"ipm_counts={self.ipm_counts}: each must be below "
                              f"num_honest={self.num_honest}")

    @property
    def tuned(self) -> bool:
        """Whether (gamma, tau) are tuned here (a grid of more than one point per method)."""
        return len(self.lrs) * len(self.taus) > 1 or len(self.control_lrs) * len(
            self.control_taus) > 1


def count_tuning_grid(study: CountStudy) -> list[Trial]:
    """Per network: every compared method on ``lrs`` x ``taus`` and the control on
    ``control_lrs`` x ``control_taus``, under IPM with ``num_honest`` + ``tune_count`` clients at
    ``tune_epsilon`` (first seed). With one point per method these are the frozen settings."""
    grids = {m: (study.lrs, study.taus) for m in COMPARED}
    grids[CONTROL] = (study.control_lrs, study.control_taus)
    return [derive(Trial, study, method=m, model=model, batch_size=bs, attack="ipm",
                   num_honest=study.num_honest, num_byzantine=study.tune_count, lr=lr, tau=tau,
                   epsilon=study.tune_epsilon, seed=study.seeds[0])
            for model, bs in zip(study.models, study.batch_sizes)
            for m, (lrs, taus) in grids.items() for lr in lrs for tau in taus]


def ipm_count_grid(study: CountStudy, chosen: dict[tuple[str, str], Trial]) -> list[Trial]:
    """Fig. 1: each network's chosen trials (``{(model, method): Trial}``) under IPM with
    ``num_honest`` + B clients, B in ``ipm_counts``, at every epsilon and seed; the control only
    at the largest B and epsilon."""
    return [t.replace(attack="ipm", num_honest=study.num_honest, num_byzantine=b, epsilon=eps,
                      seed=s)
            for (model, m), t in chosen.items() for b in study.ipm_counts
            for eps in study.epsilons for s in study.seeds
            if m != CONTROL or (b == max(study.ipm_counts) and eps == max(study.epsilons))]


def flip_count_grid(study: CountStudy, chosen: dict[tuple[str, str], Trial]) -> list[Trial]:
    """Fig. 2: the compared methods under label flipping with ``num_clients`` clients, B of them
    Byzantine (``flip_counts``), at the largest epsilon and every seed."""
    return [t.replace(attack="label_flip", num_honest=study.num_clients - b, num_byzantine=b,
                      epsilon=max(study.epsilons), seed=s)
            for (model, m), t in chosen.items() if m != CONTROL
            for b in study.flip_counts for s in study.seeds]
