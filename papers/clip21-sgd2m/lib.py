"""Code only the Clip21-SGD2M reproduction needs: the toy problems, the non-convex logistic
regression across clients, the tuning protocol, and one sweep-able training run.

The algorithms (Clip-SGD, Clip21-SGD, Clip21-SGD2M) are :mod:`common.federated.clip21`, run by
the federated training loop :func:`common.federated.run_rounds`; the MNIST network problem is
:func:`common.federated.mnist_federated`; the noise calibration is :mod:`common.privacy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import Config, ConfigError, derive, derive_seed, param
from common.federated import (
    MNIST_NETWORKS,
    ClientData,
    StepRule,
    clip21_sgd2m_step,
    clip_sgd_step,
    fed_init,
    mnist_federated,
    run_rounds,
    sorted_split,
)
from common.privacy import nominal_local_sigma

__all__ = ["METHODS", "ToyConfig", "toy_a", "toy_b", "Trial", "train", "DPStudy", "variants",
           "no_dp_grid", "tuning_grid", "evaluation_grid", "seeds_grid", "LogisticProblem",
           "get_problem"]

#: method -> its step rule. Clip21-SGD is Clip21-SGD2M with beta = beta_hat = 1; Clip21-SGD2M
#: reads beta and beta_hat (swept) from the run's config (a Trial, or ToyConfig on Toy B).
METHODS = {
    "Clip-SGD": StepRule(clip_sgd_step),
    "Clip21-SGD": StepRule(clip21_sgd2m_step, {"beta": 1.0, "beta_hat": 1.0}),
    "Clip21-SGD2M": StepRule(clip21_sgd2m_step, from_config=("beta", "beta_hat")),
}


# ---------------------------------------------------------------------------------------------
# Notebook 01: toy problems
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyConfig(Config):
    """Settings of ``01_toy_problems`` (defaults: cpu scale)."""

    toy_a_steps: int = param(2000, ge=1, doc="iterations on Toy A")
    toy_b_lrs: tuple[float, ...] = param((0.03, 0.01), gt=0, doc="step sizes gamma on Toy B")
    toy_b_steps: tuple[int, ...] = param((4000, 8000), ge=10, doc="iterations per step size")
    toy_b_seeds: int = param(5, ge=2, doc="seeds of the gradient noise (paired intervals)")
    toy_b_tau: float = param(0.5, gt=0, doc="clipping threshold on Toy B")
    beta: float = param(0.05, gt=0, le=1, doc="Clip21-SGD2M client momentum on Toy B")
    beta_hat: float = param(0.1, gt=0, le=1, doc="Clip21-SGD2M EF momentum on Toy B")

    def __post_init__(self):
        super().__post_init__()
        if len(self.toy_b_lrs) != len(self.toy_b_steps) or len(self.toy_b_lrs) < 2:
            raise ConfigError("toy_b_lrs and toy_b_steps need the same length, at least 2")


def toy_a(steps: int) -> dict[str, float]:
    """Toy A (exact): f_i(x) = (x - a_i)^2 / 2, a = (-1, -1, 10), tau = 1, gamma = 0.1, full
    gradients. Returns the final iterate of Clip-GD, Clip21-GD and Clip21-SGD2M (beta = 0.5,
    beta_hat = 1), and the true optimum 8/3 and Clip-GD's fixed point -1/2 (solution of
    sum_i clip_1(x - a_i) = 0) for comparison."""
    a = torch.tensor([[-1.0], [-1.0], [10.0]], dtype=torch.float64)

    def grad(x):
        return x - a

    out = {}
    for name, step, kw in [("Clip-GD", clip_sgd_step, {}),
                           ("Clip21-GD", clip21_sgd2m_step, {"beta": 1.0, "beta_hat": 1.0}),
                           ("Clip21-SGD2M", clip21_sgd2m_step, {"beta": 0.5, "beta_hat": 1.0})]:
        state = fed_init(torch.zeros(1, dtype=torch.float64), 3)
        for _ in range(steps):
            state, _ = step(state, grad, lr=0.1, tau=1.0, **kw)
        out[name] = float(state.x[0])
    return out


def _toy_b_problem():
    """Ten heterogeneous quadratic clients in d = 10 (eight optima on one side, two far on the
    other) with skewed, zero-mean, bounded gradient noise (+3 w.p. 1/4, -1 w.p. 3/4)."""
    rng = np.random.default_rng(100)
    u = torch.tensor(rng.standard_normal(10))
    u = u / u.norm()
    side = torch.tensor([-1.0] * 8 + [4.0] * 2, dtype=torch.float64)
    a = 3 * side[:, None] * u[None, :] + 0.5 * torch.tensor(rng.standard_normal((10, 10)))
    return a


def toy_b(cfg: ToyConfig) -> dict[str, np.ndarray]:
    """Mean ||grad f(x_t)||^2 over the last 20 % of iterations: ``{method: (lrs, seeds)}``."""
    a = _toy_b_problem()
    x_star = a.mean(0)
    out = {m: np.zeros((len(cfg.toy_b_lrs), cfg.toy_b_seeds)) for m in METHODS}
    for i, (lr, steps) in enumerate(zip(cfg.toy_b_lrs, cfg.toy_b_steps)):
        for s in range(cfg.toy_b_seeds):
            for method, rule in METHODS.items():
                gen = torch.Generator().manual_seed(derive_seed(s, "toy-b"))

                def grad(x, gen=gen):
                    u = torch.rand(a.shape, generator=gen, dtype=torch.float64)
                    return (x - a) + torch.where(u < 0.25, 3.0, -1.0)

                tail = []

                def record(t, state, tail=tail, steps=steps):  # the last 20 % of the rounds
                    if t - 1 >= 0.8 * steps:
                        tail.append(float(((state.x - x_star) ** 2).sum()))  # H = I

                run_rounds(rule.step, torch.zeros(a.shape[1], dtype=torch.float64), grad,
                           num_clients=a.shape[0], num_rounds=steps, callback=record, lr=lr,
                           tau=cfg.toy_b_tau, **rule.hyper(cfg))
                out[method][i, s] = np.mean(tail)
    return out


# ---------------------------------------------------------------------------------------------
# Notebooks 02-03: federated problems and one training run
# ---------------------------------------------------------------------------------------------


class LogisticProblem:
    """Binary MNIST (digits 0-4 vs 5-9) non-convex logistic regression across clients.

    ``f_i(x) = mean_j log(1 + exp(-b_ij a_ij^T x)) + lam sum_k x_k^2 / (1 + x_k^2)`` (the
    non-convex regulariser of this group's papers; lam [unverified]); features: 7x7 pooled pixels
    plus a bias, rows scaled to unit norm; clients: ``sorted_split`` by digit (heterogeneous).
    A validation set (10 % of the examples, held out before the split) is used for tuning.
    """

    def __init__(self, num_clients: int, num_examples: int, lam: float, seed: int = 0):
        from common.data import load_mnist, pooled

        images, labels = load_mnist("train")
        X, digits = pooled(images, 4), torch.tensor(labels, dtype=torch.long)
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(X))[:num_examples]
        A = torch.cat([X[idx], torch.ones(len(idx), 1, dtype=torch.float64)], 1)
        A = A / A.norm(dim=1, keepdim=True)
        b = torch.where(digits[idx] <= 4, 1.0, -1.0).double()
        n_val = len(idx) // 10
        self.A_val, self.b_val = A[:n_val], b[:n_val]
        A, b, d_train = A[n_val:], b[n_val:], digits[idx][n_val:].numpy()
        shards = sorted_split(d_train, num_clients)
        self.data = ClientData.from_split(A, b, shards)
        self.lam, self.dim = lam, A.shape[1]

    def x0(self, seed: int) -> torch.Tensor:
        return torch.zeros(self.dim, dtype=torch.float64)

    def _grad(self, A, b, x):
        w = torch.sigmoid(-b * (A @ x))
        return -(A * (b * w)[..., None]).mean(-2) + self.lam * 2 * x / (1 + x * x) ** 2

    def grad_fn(self, batch_size: int, generator: torch.Generator):
        def grad(x):
            A, b = self.data.sample(batch_size, generator)
            return self._grad(A, b, x)

        return grad

    def loss(self, x, split: str = "train") -> float:
        A, b = (self.data.X, self.data.y) if split == "train" else (self.A_val, self.b_val)
        reg = self.lam * float((x * x / (1 + x * x)).sum())
        return float(torch.nn.functional.softplus(-b * (A @ x)).mean()) + reg

    def grad_sq_norm(self, x) -> float:
        return float((self._grad(self.data.X, self.data.y, x).mean(0) ** 2).sum())

    def evaluate(self, x) -> dict:
        return {"train_loss": self.loss(x), "val_loss": self.loss(x, "val"),
                "grad_sq_norm": self.grad_sq_norm(x)}


@lru_cache(maxsize=4)
def get_problem(name: str, num_clients: int, model: str = "mlp7"):
    """The federated problems by name (cached per process, so sweep workers build them once).

    ``"network"``: MNIST with clients sorted by digit, on the network ``model`` of
    :data:`common.federated.MNIST_NETWORKS`: ``"mlp7"`` (the cpu scale's MLP 49-32-10, tanh, on
    7x7 MNIST), ``"mlp256"`` (784-256-10, tanh) or ``"cnn"`` (the paper's MNIST CNN, Fig. 4);
    ``model`` is ignored by ``"logistic"``.
    """
    if model not in MNIST_NETWORKS:
        raise ValueError(f"model={model!r}: allowed values are {sorted(MNIST_NETWORKS)}")
    if name == "logistic":
        return LogisticProblem(num_clients, num_examples=12_000, lam=1e-3)
    if name == "network":
        return mnist_federated(num_clients, split="sorted", **MNIST_NETWORKS[model])
    raise ValueError(f"problem={name!r}: allowed values are 'logistic' and 'network'")


@dataclass(frozen=True)
class Trial(Config):
    """One training run: a method with its hyperparameters on a problem, at a privacy level."""

    problem: str = param("logistic", choices=("logistic", "network"))
    model: str = param("mlp7", choices=tuple(MNIST_NETWORKS),
                       doc="network of the 'network' problem (mlp7: 49-32-10; cnn: the paper's)")
    method: str = param("Clip21-SGD2M", choices=tuple(METHODS))
    lr: float = param(1.0, gt=0, doc="step size gamma")
    tau: float = param(0.1, gt=0, doc="clipping threshold")
    beta: float = param(0.1, gt=0, le=1, doc="client momentum (Clip21-SGD2M)")
    beta_hat: float = param(0.1, gt=0, le=1, doc="EF momentum (Clip21-SGD2M)")
    epsilon: float = param(0.0, ge=0, doc="nominal local epsilon per client; 0: no DP noise")
    delta: float = param(1e-3, gt=0, lt=1, doc="delta of the nominal calibration")
    num_clients: int = param(100, ge=1, doc="clients")
    steps: int = param(500, ge=1, doc="communication rounds T")
    batch_size: int = param(32, ge=1, doc="mini-batch per client")
    seed: int = param(0, ge=0, doc="seed of the initialisation, sampling and DP noise")


def train(trial: Trial) -> dict:
    """Run one trial and evaluate its final model (train/validation losses, accuracies)."""
    problem = get_problem(trial.problem, trial.num_clients, trial.model)
    rule = METHODS[trial.method]
    sigma = (nominal_local_sigma(trial.tau, trial.epsilon, trial.delta, trial.steps)
             if trial.epsilon > 0 else 0.0)
    gen = torch.Generator().manual_seed(derive_seed(trial.seed, "clip21-trial"))
    state = run_rounds(rule.step, problem.x0(trial.seed), problem.grad_fn(trial.batch_size, gen),
                       num_clients=trial.num_clients, num_rounds=trial.steps, lr=trial.lr,
                       tau=trial.tau, sigma=sigma, generator=gen, **rule.hyper(trial))
    return {"sigma": sigma, **problem.evaluate(state.x)}


# ---------------------------------------------------------------------------------------------
# Notebooks 02-03: the tuning protocol as data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPStudy(Config):
    """Settings of the DP notebooks (defaults: cpu scale of ``02_logistic_regression``)."""

    problem: str = param("logistic", choices=("logistic", "network"))
    model: str = param("mlp7", choices=tuple(MNIST_NETWORKS),
                       doc="network of the 'network' problem (mlp7: 49-32-10; cnn: the paper's)")
    num_clients: int = param(100, ge=1, doc="clients")
    steps: int = param(300, ge=1, doc="communication rounds T")
    batch_size: int = param(32, ge=1, doc="mini-batch per client")
    taus: tuple[float, ...] = param((0.01, 0.1, 1.0), gt=0, doc="clipping thresholds")
    dp_taus: tuple[float, ...] = param((), gt=0, doc="thresholds with DP; empty: ``taus``")
    dp_beta_hat: float = param(0.0, ge=0, le=1,
                               doc="Clip21-SGD2M's EF momentum with DP; 0: tune over beta_hats")
    dp_lrs: tuple[float, ...] = param((0.03, 0.1, 0.3, 1.0), gt=0, doc="steps with DP")
    beta: float = param(0.1, gt=0, le=1, doc="Clip21-SGD2M client momentum")
    beta_hats: tuple[float, ...] = param((0.1, 0.01), gt=0, le=1, doc="Clip21-SGD2M EF momenta")
    epsilons: tuple[float, ...] = param((3.0, 5.2, 9.0, 15.6, 27.0), gt=0, doc="nominal epsilons")
    tune_epsilon: float = param(9.0, gt=0, doc="epsilon at which (gamma, tau) are tuned")
    delta: float = param(1e-3, gt=0, lt=1, doc="delta")
    seeds: tuple[int, ...] = param((0, 1, 2), ge=0, doc="seeds of the evaluation runs")

    def trial(self, **kw) -> Trial:
        """A Trial with this study's shared settings (problem, model, clients, steps, batch size,
        beta, delta) and ``kw``."""
        return derive(Trial, self, **kw)


def variants(study: DPStudy, *, dp: bool) -> list[dict]:
    """Method variants compared: Clip-SGD, Clip21-SGD, Clip21-SGD2M for each beta_hat (with DP;
    only ``dp_beta_hat`` when it is set) or for the first beta_hat (without DP)."""
    out = [{"method": "Clip-SGD"}, {"method": "Clip21-SGD"}]
    dp_bhs = (study.dp_beta_hat,) if study.dp_beta_hat > 0 else study.beta_hats
    for bh in (dp_bhs if dp else study.beta_hats[:1]):
        out.append({"method": "Clip21-SGD2M", "beta_hat": bh})
    return out


def no_dp_grid(study: DPStudy, lrs) -> list[Trial]:
    """Every variant x tau x step size in ``lrs`` without DP noise (first seed)."""
    return [study.trial(**v, tau=tau, lr=lr, seed=study.seeds[0])
            for v in variants(study, dp=False) for tau in study.taus for lr in lrs]


def tuning_grid(study: DPStudy) -> list[Trial]:
    """Every variant x DP threshold (``dp_taus``, else ``taus``) x DP step size at
    ``tune_epsilon`` (first seed)."""
    return [study.trial(**v, tau=tau, lr=lr, epsilon=study.tune_epsilon, seed=study.seeds[0])
            for v in variants(study, dp=True) for tau in (study.dp_taus or study.taus)
            for lr in study.dp_lrs]


def seeds_grid(study: DPStudy, chosen) -> list[Trial]:
    """Each tuned trial in ``chosen`` (a list of Trials, e.g. one per method and threshold
    without DP) at every seed."""
    return [t.replace(seed=s) for t in chosen for s in study.seeds]


def evaluation_grid(study: DPStudy, chosen: dict[str, Trial]) -> list[Trial]:
    """Each method's tuned trial at every epsilon and seed."""
    return [t.replace(epsilon=eps, seed=s) for t in chosen.values() for eps in study.epsilons
            for s in study.seeds]
