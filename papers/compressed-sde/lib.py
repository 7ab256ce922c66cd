r"""Code only the compressed-sde reproduction needs (Compagnoni, Islamov, Proske, Lucchi,
"Unbiased and Sign Compression in Distributed Learning: Comparing Noise Resilience via SDEs",
AISTATS 2025, arXiv 2502.17009).

**The methods** (compressed-sde notes, section 3). N agents hold noisy gradients
g_i = grad f(x) + Z_i; each sends a compressed message and the server moves along the aggregate:

.. math::  \text{DSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i g_i, \quad
           \text{DCSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i \mathcal C_i(g_i), \quad
           \text{DSignSGD: } x \leftarrow x - \frac{\eta}{N}\sum_i \mathrm{sign}(g_i),

with an unbiased compressor C of variance omega (E C(x) = x, E||C(x) - x||^2 = omega ||x||^2 for
rand-k and Bernoulli, <= for QSGD). The methods are :mod:`common.federated.compressed`
(:class:`~common.federated.CompressedMethod`: a compressor of
:mod:`common.federated.compressors` applied to every agent's gradient plus a server aggregator),
so the quadratic simulations here run the same objects that train the network of notebook 03
(through :func:`common.federated.run_rounds` and :func:`common.federated.mnist_federated`).

**Their SDEs** are :mod:`common.sde.distributed` (JAX): a compressor enters DCSGD's SDE only
through its omega, as the covariance omega diag((grad f)^2 + diag Sigma) [derived in the notes;
exact for Bernoulli, the diagonal of rand-k's]; :func:`sde_model` builds the SDE of a method from
its own compressor, of which the SDE reads only ``omega``. The closed-form stationary losses on
the quadratic are :mod:`common.sde.closed_forms` (:func:`predicted_level`) [derived:
reconstructed by the notes, not read in the paper].

Two parts: (1) the quadratic experiments (notebooks 01 and 02): :func:`simulate` runs many
independent paths of a method at once in torch, vectorised over paths and agents, and the
notebooks' studies are :func:`level_grid`, :func:`sigma_sweep`, :func:`heavy_tails`,
:func:`compressor_levels` and :func:`scaling_study` (their statistics:
:mod:`common.metrics.trajectory`; the compressors' measured omega is
:func:`common.federated.omega_table`); (2) the MNIST network with injected noise (notebook 03):
:class:`NetTrial` and :func:`train_network`, run through :func:`common.experiment.sweep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import (
    Config,
    ConfigError,
    derive,
    derive_seed,
    param,
    require_multiples,
)
from common.federated import (
    NOISES,
    QSGD,
    Bernoulli,
    CompressedMethod,
    RandK,
    compressed_step,
    dcsgd,
    dsgd,
    dsignsgd,
    mean_of_signs,
    mnist_federated,
    rand_k,
    run_rounds,
    student_t,
    with_injected_noise,
)
from common.metrics import Paths, half_life, relative_error, window

__all__ = ["H", "SIGMA", "color", "simulate", "sde_model", "simulate_sdes", "predicted_level",
           "QuadraticConfig", "ScalingConfig", "level_grid", "sigma_sweep",
           "heavy_tails", "compressor_levels", "compression_variance", "calibrated_level",
           "half_lives", "recursion_half_life", "scaling_runs", "scaling_study", "NET_METHODS",
           "net_methods", "NetTrial", "mnist_agents", "train_network", "NetStudy",
           "net_tuning_grid", "net_evaluation_grid"]

#: The notes' quadratic (adaptive-sde A-01 / compressed-sde B-01): f = 1/2 sum h_j x_j^2, d = 10.
H = np.linspace(0.5, 5.0, 10)
#: Per-coordinate noise scale of one agent's gradient (batch size 1).
SIGMA = np.linspace(0.5, 2.0, 10)


# ---------------------------------------------------------------------------------------------
# Part 1: the methods (common.federated.compressed), simulated on the quadratic
# ---------------------------------------------------------------------------------------------

#: Colours of the methods and rules in this chapter's figures (Okabe-Ito, as common.plotting).
_COLORS = {
    "DSGD": "#000000", "DCSGD identity": "#000000", "DCSGD": "#0072B2", "DCSGD rand-2": "#0072B2",
    "DCSGD rand-k": "#0072B2", "DCSGD rand-1": "#56B4E9", "DCSGD rand-5": "#CC79A7",
    "DCSGD QSGD": "#E69F00", "DSignSGD": "#009E73", "DSignSGD (majority vote)": "#D55E00",
    "DCSGD, B x (1 + omega)": "#CC79A7", "DCSGD, N x (1 + omega)": "#E69F00",
    "DCSGD, eta / (1 + omega), steps x (1 + omega)": "#D55E00",
    "DSignSGD, (sqrt(kappa) eta, kappa B), steps / kappa": "#56B4E9",
    "DSignSGD, (kappa eta, kappa B), steps / kappa": "#D55E00",
}


def color(label: str) -> str:
    """The figure colour of a method or rule label (``common.plotting.color`` otherwise)."""
    from common import plotting

    return _COLORS.get(label) or plotting.color(label)


def simulate(method: CompressedMethod, *, lr: float, num_clients: int, num_steps: int,
             num_paths: int, h=H, scale=SIGMA, batch_size: int = 1, nu: float | None = None,
             x0=2.0, record_every: int = 10, seed: int = 0,
             dtype=torch.float32) -> Paths:
    """``num_paths`` independent runs of ``method`` on f = 1/2 sum h_j x_j^2 from x = x0 1
    (``x0`` a scalar, or one value per coordinate).

    Agent i's gradient is h x + Z_i, with Z_i ~ N(0, diag(scale^2) / batch_size) or, with ``nu``,
    Z_i = scale T_i, T_i ~ t_nu independent (batch size 1 only: a mean of t draws is not t).
    Fresh noise and compressor randomness per agent, path and step; the agents' gradients of all
    paths are compressed in one (R N, d) call of the compressor, and the server's aggregate is
    taken per path (:meth:`~common.federated.CompressedMethod.direction_paths`). Returns the loss
    every ``record_every`` steps.
    """
    if num_steps % record_every:
        raise ValueError(f"record_every={record_every}: must divide num_steps={num_steps}")
    if nu is not None and batch_size != 1:
        raise ValueError(f"batch_size={batch_size}: Student-t noise is defined for batch size 1")
    gen = torch.Generator().manual_seed(derive_seed(seed, "compressed-sde", method.name))
    h = torch.as_tensor(np.asarray(h), dtype=dtype)
    d = h.numel()
    std = torch.as_tensor(np.asarray(scale), dtype=dtype) / math.sqrt(batch_size)
    R, N = num_paths, num_clients
    start = np.array(np.broadcast_to(np.asarray(x0, dtype=float), (d,)))
    x = torch.as_tensor(start, dtype=dtype).expand(R, d).clone()
    losses = [0.5 * (h * x * x).sum(1)]
    for k in range(1, num_steps + 1):
        z = (torch.randn((R, N, d), generator=gen, dtype=dtype) if nu is None
             else student_t((R, N, d), nu, gen, dtype))
        x = x - lr * method.direction_paths((h * x)[:, None, :] + std * z, generator=gen)
        if k % record_every == 0:
            losses.append(0.5 * (h * x * x).sum(1))
    return Paths(np.arange(0, num_steps + 1, record_every),
                 torch.stack(losses).to(torch.float64).numpy())


def _noise(scale, batch_size: int, nu: float | None):
    import jax.numpy as jnp

    from common import sde

    scale = jnp.asarray(np.asarray(scale) / (1.0 if nu is not None else math.sqrt(batch_size)))
    return sde.StudentT(nu, scale) if nu is not None else sde.Gaussian(scale)


def sde_model(method: CompressedMethod, *, lr: float, num_clients: int, h=H, scale=SIGMA,
              batch_size: int = 1, nu: float | None = None):
    """The SDE of ``method`` (:mod:`common.sde.distributed`), with the same noise model.

    An unbiased compressor enters only through its omega: the DCSGD SDE is built from the
    method's own compressor (:class:`common.sde.DCSGDSDE` reads ``compressor.omega(d)`` and
    nothing else), with compression covariance omega diag(x^2) (exact for Bernoulli, the
    diagonal of rand-k's, an upper bound for QSGD whose omega is a worst case). DSignSGD with the
    server mean of signs has the DSignSGD SDE; the majority vote has none in the notes
    (ValueError).
    """
    import jax.numpy as jnp

    from common import sde

    objective = sde.DiagQuadratic(jnp.asarray(np.asarray(h)))
    noise = _noise(scale, batch_size, nu)
    if method.is_sign:
        if method.aggregate is not mean_of_signs:
            raise ValueError(f"{method.name}: only the server mean of signs has an SDE here "
                             "(the notes derive none for the majority vote)")
        return sde.DSignSGDSDE(objective, noise, lr, num_clients=num_clients)
    return sde.DCSGDSDE(objective, noise, lr, compressor=method.compressor,
                        num_clients=num_clients)


def simulate_sdes(models, *, num_steps: int, num_paths: int, seeds, x0: float = 2.0,
                  record_every: int = 10) -> list[Paths]:
    """Euler-Maruyama (dt = lr) paths of several SDE models compiled as one program
    (:func:`common.sde.simulate_many`); one seed per model."""
    import jax.numpy as jnp

    from common import sde
    from common.experiment import jax_key

    models = tuple(models)
    dim = models[0].noise.dim
    trajs = sde.simulate_many(models, jnp.full(dim, float(x0)), tuple(jax_key(s) for s in seeds),
                              num_steps=num_steps, num_paths=num_paths,
                              record_every=record_every, keep_paths=True)
    return [Paths(np.asarray(t.steps), np.asarray(t.paths, dtype=np.float64)) for t in trajs]


def predicted_level(method: CompressedMethod, *, lr: float, num_clients: int, h=H, scale=SIGMA,
                    batch_size: int = 1, nu: float | None = None, exact: bool = False) -> float:
    r"""The notes' closed-form stationary E f [derived]: eta (1 + omega) tr(Sigma) / (4N) for
    DSGD/DCSGD (``exact=True``: the SDE's value with the multiplicative term omega (grad f)^2),
    eta tr(Sigma^{1/2}) / (4 N 2 p(0)) for DSignSGD (sqrt(pi/2) for Gaussian noise); ``inf`` for
    DCSGD under Student-t noise with nu <= 2."""
    from common.sde import closed_forms as cf

    scale = np.asarray(scale, dtype=float)
    if method.is_sign:
        s = scale if nu is not None else scale / math.sqrt(batch_size)
        return cf.signsgd_stationary_loss(lr, s, nu=nu, num_clients=num_clients)
    if nu is not None and nu <= 2:
        return math.inf
    var = scale**2 * (nu / (nu - 2.0) if nu is not None else 1.0 / batch_size)
    return cf.dcsgd_stationary_loss(lr, var, omega=method.omega(len(scale)),
                                    num_clients=num_clients, h=np.asarray(h) if exact else None)


# ---------------------------------------------------------------------------------------------
# Notebook configs (quadratic)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuadraticConfig(Config):
    """Settings of ``01_dcsgd_vs_dsignsgd_quadratic`` (defaults: cpu scale, the notes' B-01)."""

    num_paths: int = param(256, ge=8, doc="independent paths per setting")
    num_steps: int = param(3000, ge=100, doc="steps K")
    record_every: int = param(10, ge=1, doc="steps between loss records")
    stationary_from: int = param(2000, ge=0, doc="first step of the stationary window")
    lr: float = param(0.01, gt=0, le=0.05, doc="step size eta (small: notes pitfall 3)")
    clients: tuple[int, ...] = param((1, 4, 16), ge=1, doc="numbers of agents N")
    rand_ks: tuple[int, ...] = param((10, 2, 1), ge=1, le=10, doc="rand-k's k (omega d/k - 1)")
    sigma_factor: float = param(4.0, gt=1, doc="noise multiplier of the sigma sweep")
    nus: tuple[float, ...] = param((1.5, 2.5), gt=0, doc="Student-t degrees of freedom")
    qsgd_levels: int = param(2, ge=1, doc="QSGD levels s of the compressor comparison")
    bernoulli_p: float = param(0.2, gt=0, le=1, doc="Bernoulli keep probability")
    rate_steps: int = param(1000, ge=100, doc="steps of the half-life runs (recorded every step)")
    rate_start: float = param(0.5, gt=0, le=1, doc="DSignSGD's half-life runs start at "
                              "x0_j = rate_start sigma_j / h_j, inside erf's linear regime")
    seed: int = param(0, ge=0, doc="seed")

    def __post_init__(self):
        super().__post_init__()
        require_multiples("record_every", self.record_every, num_steps=self.num_steps)
        if not self.stationary_from < self.num_steps:
            raise ConfigError(f"stationary_from = {self.stationary_from} must be < num_steps = "
                              f"{self.num_steps} (notebook parameter `stationary_from`)")
        if 1 not in self.clients or 4 not in self.clients:
            raise ConfigError(f"clients = {self.clients} must contain 1 and 4 (the checks "
                              "compare N = 1 with the largest N and use N = 4; notebook "
                              "parameter `clients`)")
        if 10 not in self.rand_ks or 2 not in self.rand_ks:
            raise ConfigError(f"rand_ks = {self.rand_ks} must contain 10 (omega 0, the DSGD "
                              "reference) and 2 (omega 4, the notes' reference; notebook "
                              "parameter `rand_ks`)")


@dataclass(frozen=True)
class ScalingConfig(Config):
    """Settings of ``02_compression_scaling_rules`` (defaults: cpu scale, the notes' B-02)."""

    num_paths: int = param(256, ge=8, doc="independent paths per setting")
    num_steps: int = param(3000, ge=100, doc="steps K of the base runs")
    record_every: int = param(10, ge=1, doc="steps between loss records (base runs)")
    stationary_time: float = param(20.0, ge=0, doc="SDE time t = k eta where the window starts")
    lr: float = param(0.01, gt=0, le=0.05, doc="base step size eta")
    num_clients: int = param(4, ge=1, doc="agents N")
    rand_k: int = param(2, ge=1, le=9, doc="rand-k's k (omega d/k - 1)")
    kappa: float = param(4.0, gt=1, doc="batch factor of the DSignSGD rules")
    seed: int = param(0, ge=0, doc="seed")

    def __post_init__(self):
        super().__post_init__()
        require_multiples("record_every", self.record_every, num_steps=self.num_steps)
        if not self.stationary_time < self.num_steps * self.lr:
            raise ConfigError(f"stationary_time = {self.stationary_time} must be below the SDE "
                              f"horizon num_steps * lr = {self.num_steps * self.lr:g} (notebook "
                              "parameter `stationary_time`)")


# ---------------------------------------------------------------------------------------------
# Notebook 01: the experiments on the quadratic, as records
# ---------------------------------------------------------------------------------------------


def _record(method: CompressedMethod, paths: Paths, start: int, **hyper) -> dict:
    level, se = window(paths, start)
    omega = math.nan if method.is_sign else method.omega(len(H))
    rec = {"method": method.name, "omega": omega, "level": level, "se": se}
    rec.update({k: v for k, v in hyper.items() if k != "scale"})
    kw = {k: hyper[k] for k in ("lr", "num_clients", "batch_size", "nu", "scale") if k in hyper}
    rec["closed_form"] = predicted_level(method, **kw)
    rec["closed_form_exact"] = predicted_level(method, exact=True, **kw)
    return rec


def level_grid(cfg: QuadraticConfig) -> tuple[list[dict], dict]:
    """DCSGD with rand-k for every k (omega = d/k - 1) and N, DSignSGD for every N: the
    optimizer's stationary level, its SDE's (same omega, same noise), the closed forms and the
    SDE's tracking error. Returns the records and ``{(method name, N): (optimizer, SDE)}`` paths."""
    run = {"num_steps": cfg.num_steps, "num_paths": cfg.num_paths,
           "record_every": cfg.record_every}
    methods = [dcsgd(rand_k(k, len(H))) for k in cfg.rand_ks] + [dsignsgd()]
    records, paths = [], {}
    for method in methods:
        models = [sde_model(method, lr=cfg.lr, num_clients=n) for n in cfg.clients]
        seeds = [derive_seed(cfg.seed, "sde", method.name, n) for n in cfg.clients]
        sdes = simulate_sdes(models, seeds=seeds, **run)
        for n, sde_paths in zip(cfg.clients, sdes):
            opt = simulate(method, lr=cfg.lr, num_clients=n, seed=cfg.seed, **run)
            rec = _record(method, opt, cfg.stationary_from, lr=cfg.lr, num_clients=n)
            rec["sde_level"] = window(sde_paths, cfg.stationary_from)[0]
            # the notes' mean relative error, over every record after the common start
            rec["tracking_error"] = relative_error(opt, sde_paths, start=1)
            records.append(rec)
            paths[method.name, n] = (opt, sde_paths)
    return records, paths


def sigma_sweep(cfg: QuadraticConfig, num_clients: int = 4, k: int = 2) -> list[dict]:
    """Stationary levels of DCSGD (rand-k) and DSignSGD at noise scale sigma and
    ``sigma_factor`` sigma, N = ``num_clients``."""
    run = {"num_steps": cfg.num_steps, "num_paths": cfg.num_paths,
           "record_every": cfg.record_every, "seed": cfg.seed}
    out = []
    for method in (dcsgd(rand_k(k, len(H))), dsignsgd()):
        for factor in (1.0, cfg.sigma_factor):
            opt = simulate(method, lr=cfg.lr, num_clients=num_clients, scale=factor * SIGMA, **run)
            out.append({**_record(method, opt, cfg.stationary_from, lr=cfg.lr,
                                  num_clients=num_clients, scale=factor * SIGMA),
                        "sigma_factor": factor})
    return out


def heavy_tails(cfg: QuadraticConfig, num_clients: int = 4, k: int = 2) -> tuple[list, dict]:
    """DCSGD (rand-k) and DSignSGD under Student-t noise of scale sigma for every nu (one fixed
    seed: with nu <= 2 the mean loss is driven by a few paths, notes pitfall 1)."""
    run = {"num_steps": cfg.num_steps, "num_paths": cfg.num_paths,
           "record_every": cfg.record_every, "seed": cfg.seed}
    records, paths = [], {}
    for nu in cfg.nus:
        for method in (dcsgd(rand_k(k, len(H))), dsignsgd()):
            opt = simulate(method, lr=cfg.lr, num_clients=num_clients, nu=nu, **run)
            rec = _record(method, opt, cfg.stationary_from, lr=cfg.lr, num_clients=num_clients,
                          nu=nu)
            rec["median"] = float(np.median(opt.paths[opt.steps >= cfg.stationary_from]))
            rec["max"] = float(opt.paths.max())
            records.append(rec)
            paths[method.name, nu] = opt
    return records, paths


def compressor_levels(cfg: QuadraticConfig, num_clients: int = 4) -> list[dict]:
    """DCSGD with three compressors of :mod:`common.federated` (rand-k, Bernoulli, QSGD) against
    the DCSGD SDE built from each compressor's omega alone, N = ``num_clients``."""
    run = {"num_steps": cfg.num_steps, "num_paths": cfg.num_paths,
           "record_every": cfg.record_every}
    p = cfg.bernoulli_p
    methods = [dcsgd(rand_k(max(1, round(p * len(H))), len(H))), dcsgd(Bernoulli(p)),
               dcsgd(QSGD(cfg.qsgd_levels))]
    models = [sde_model(m, lr=cfg.lr, num_clients=num_clients) for m in methods]
    sdes = simulate_sdes(models, seeds=[derive_seed(cfg.seed, "sde-comp", m.name)
                                        for m in methods], **run)
    out = []
    for method, sde_paths in zip(methods, sdes):
        opt = simulate(method, lr=cfg.lr, num_clients=num_clients, seed=cfg.seed, **run)
        rec = _record(method, opt, cfg.stationary_from, lr=cfg.lr, num_clients=num_clients)
        rec["sde_level"] = window(sde_paths, cfg.stationary_from)[0]
        out.append(rec)
    return out


def compression_variance(compressor, scale=SIGMA, *, num_samples: int = 20_000,
                         seed: int = 0) -> np.ndarray:
    """Per-coordinate variance v_j = E (C(Z)_j - Z_j)^2 of a compressor at Z ~ N(0, diag scale^2)
    (Monte Carlo over ``num_samples`` draws of Z and of the compressor's randomness).

    Near the minimiser an agent's gradient h x + Z is dominated by its noise Z (E |h x|^2 is
    about 1 % of tr(Sigma) on the notes' quadratic), so v is the compression noise the iterates
    see at stationarity, whatever the compressor's worst-case omega.
    """
    if num_samples < 2:
        raise ValueError(f"num_samples={num_samples}: need at least 2 draws")
    gen = torch.Generator().manual_seed(derive_seed(seed, "compression-variance", compressor.label))
    std = torch.as_tensor(np.asarray(scale, dtype=float), dtype=torch.float64)
    z = std * torch.randn((num_samples, std.numel()), generator=gen, dtype=torch.float64)
    return ((compressor(z, generator=gen) - z) ** 2).mean(0).numpy()


def calibrated_level(variance, *, lr: float, num_clients: int, h=H, scale=SIGMA) -> float:
    r"""Stationary E f of DCSGD's discrete recursion when each agent's compression adds noise of
    per-coordinate variance ``variance`` (:func:`compression_variance`) to its gradient:

        E f = eta / (2N) sum_j (sigma_j^2 + v_j) / (2 - eta h_j)

    [derived: the exact stationary second moment of x_{k+1,j} = (1 - eta h_j) x_{k,j} + eta
    xi_j with Var xi_j = (sigma_j^2 + v_j) / N]. The loss depends on the compressor only through
    the trace-weighted v, so this needs no diagonal-covariance assumption (QSGD's is not)."""
    h = np.asarray(h, dtype=float)
    var = np.asarray(scale, dtype=float) ** 2 + np.asarray(variance, dtype=float)
    if np.any(lr * h >= 2):
        raise ValueError(f"lr={lr}: the recursion is unstable (lr h_j >= 2)")
    return float(lr / (2 * num_clients) * np.sum(var / (2 - lr * h)))


def half_lives(method: CompressedMethod, *, lr: float, num_clients: int, factors, x0,
               num_steps: int, num_paths: int, seed: int = 0) -> list[dict]:
    """The half-life (in SDE time k eta) of the mean loss's excess over the SDE's stationary
    level, for ``method`` at noise scale ``factor`` sigma for each factor, from ``x0`` (a scalar or
    one value per coordinate, the same for every factor); losses recorded every step."""
    out = []
    for factor in factors:
        scale = factor * SIGMA
        opt = simulate(method, lr=lr, num_clients=num_clients, num_steps=num_steps,
                       num_paths=num_paths, scale=scale, x0=x0, record_every=1, seed=seed)
        level = predicted_level(method, lr=lr, num_clients=num_clients, scale=scale,
                                exact=True)
        steps = half_life(opt.steps, opt.mean, level)
        omega = math.nan if method.is_sign else method.omega(len(H))
        out.append({"method": method.name, "omega": omega, "sigma_factor": factor,
                    "initial_loss": float(opt.mean[0]), "level": level,
                    "half_life": steps * lr})
    return out


def recursion_half_life(omega: float, *, lr: float, num_clients: int, x0: float = 2.0, h=H,
                        scale=SIGMA, max_steps: int = 10_000) -> float:
    r"""The half-life (SDE time) of DCSGD's mean excess loss from the exact second-moment
    recursion, for a compressor with diagonal covariance omega diag(g^2) (rand-k's diagonal,
    Bernoulli's exactly):

        E x_{k+1,j}^2 = a_j E x_{k,j}^2 + lr^2 (1 + omega) sigma_j^2 / N,
        a_j = (1 - lr h_j)^2 + lr^2 omega h_j^2 / N

    [derived]. The mean E x_{k,j} = (1 - lr h_j)^k x0 does not involve omega (the drift); the
    loss's decay does, through the multiplicative term lr^2 omega h_j^2 / N of a_j."""
    h = np.asarray(h, dtype=float)
    a = (1 - lr * h) ** 2 + lr**2 * omega * h**2 / num_clients
    if np.any(a >= 1):
        raise ValueError(f"omega={omega}, lr={lr}: the second moment does not contract")
    stat = lr**2 * (1 + omega) * np.asarray(scale, dtype=float) ** 2 / num_clients / (1 - a)
    level = float(np.sum(h / 2 * stat))
    k = np.arange(max_steps + 1)[:, None]
    loss = np.sum(h / 2 * (a**k * x0**2 + stat * (1 - a**k)), axis=1)
    return half_life(k[:, 0], loss, level) * lr


# ---------------------------------------------------------------------------------------------
# Notebook 02: the scaling rules, applied from :data:`common.sde.scaling.SCALING_RULES`
# ---------------------------------------------------------------------------------------------


def _as_int(name: str, value: float) -> int:
    if abs(value - round(value)) > 1e-9:
        raise ValueError(f"the rule gives {name} = {value:g}, not an integer: choose a kappa that "
                         f"keeps {name} integral")
    return int(round(value))


def _divisor_at_most(n: int, target: float) -> int:
    """The largest divisor of ``n`` that is at most ``max(1, target)``."""
    return max(r for r in range(1, max(1, int(target)) + 1) if n % r == 0)


def scaling_runs(cfg: ScalingConfig) -> list[tuple[str, CompressedMethod, dict]]:
    """(label, method, hyperparameters) of notebook 02: DSGD, DCSGD (rand-k) plain and under
    each DCSGD rule with kappa = 1 + omega, DSignSGD plain and under the square-root and the
    linear rules with kappa = ``cfg.kappa``. Every rule comes from
    :data:`common.sde.scaling.SCALING_RULES` (rules as data)."""
    from common.sde.scaling import SCALING_RULES

    base = {"lr": cfg.lr, "num_clients": cfg.num_clients, "batch_size": 1,
            "num_steps": cfg.num_steps}
    comp = dcsgd(rand_k(cfg.rand_k, len(H)))
    omega = comp.omega(len(H))
    out = [("DSGD", dsgd(), dict(base)), ("DCSGD", comp, dict(base))]
    rules = [("dcsgd-batch", "DCSGD, B x (1 + omega)", comp, 1.0 + omega),
             ("dcsgd-clients", "DCSGD, N x (1 + omega)", comp, 1.0 + omega),
             ("dcsgd-lr", "DCSGD, eta / (1 + omega), steps x (1 + omega)", comp, 1.0 + omega),
             ("signsgd-sqrt", "DSignSGD, (sqrt(kappa) eta, kappa B), steps / kappa", dsignsgd(),
              cfg.kappa),
             ("sgd-linear", "DSignSGD, (kappa eta, kappa B), steps / kappa", dsignsgd(),
              cfg.kappa)]
    for key, label, method, kappa in rules:
        if label.startswith("DSignSGD") and not out[-1][0].startswith("DSignSGD"):
            out.append(("DSignSGD", dsignsgd(), dict(base)))
        new = SCALING_RULES[key].apply(kappa, **base)
        new.update({k: _as_int(k, new[k]) for k in ("num_clients", "batch_size", "num_steps")})
        out.append((label, method, {**new, "rule": key, "kappa": kappa}))
    return out


def scaling_study(cfg: ScalingConfig) -> tuple[list[dict], dict]:
    """Simulate every run of :func:`scaling_runs`; each run's stationary window is the same final
    fraction of it (from SDE time ``stationary_time`` of the base run on), which is the same
    stretch of SDE time for the DCSGD rules and of sample-matched progress for DSignSGD's.
    Returns the records and the paths by label."""
    start_fraction = cfg.stationary_time / (cfg.lr * cfg.num_steps)
    records, paths = [], {}
    for label, method, hyper in scaling_runs(cfg):
        k = hyper["num_steps"]
        every = _divisor_at_most(k, cfg.record_every * k / cfg.num_steps)
        kw = {n: hyper[n] for n in ("lr", "num_clients", "batch_size")}
        opt = simulate(method, num_steps=k, num_paths=cfg.num_paths, record_every=every,
                       seed=derive_seed(cfg.seed, label), **kw)
        start = int(math.ceil(start_fraction * k))
        rec = _record(method, opt, start, **kw)
        rec.update(label=label, num_steps=k, rule=hyper.get("rule", ""),
                   kappa=hyper.get("kappa", math.nan), window_start=start,
                   samples=k * hyper["num_clients"] * hyper["batch_size"])
        records.append(rec)
        unit = kw["lr"] * math.sqrt(kw["batch_size"]) if method.is_sign else kw["lr"]
        paths[label] = (opt.steps * unit, opt.mean)
    return records, paths


# ---------------------------------------------------------------------------------------------
# Part 3: a small network on MNIST, N agents, real compressors, injected noise (notebook 03)
# ---------------------------------------------------------------------------------------------

#: The methods of notebook 03 (their compressors depend on the network's dimension, see
#: :func:`net_methods`) and the step size each is run at: DSGD's (``"sgd"``) for the unbiased
#: methods, DSignSGD's (``"sign"``) for the sign methods.
NET_METHODS = {"DSGD": "sgd", "DCSGD rand-k": "sgd", "DCSGD QSGD": "sgd", "DSignSGD": "sign",
               "DSignSGD (majority vote)": "sign"}


def net_methods(d: int, rand_k_fraction: float, qsgd_levels: int) -> dict[str, CompressedMethod]:
    """The five methods of notebook 03 for a network with ``d`` parameters: DSGD, DCSGD with
    rand-k (k = round(fraction d)) and with QSGD(s), DSignSGD with the server mean of signs and
    with the majority vote of 1-bit messages (:func:`~common.federated.one_bit_majority_vote`)."""
    k = max(1, min(d, round(rand_k_fraction * d)))
    return {"DSGD": dsgd(), "DCSGD rand-k": dcsgd(RandK(k)), "DCSGD QSGD": dcsgd(QSGD(qsgd_levels)),
            "DSignSGD": dsignsgd("mean"), "DSignSGD (majority vote)": dsignsgd("one_bit")}


@dataclass(frozen=True)
class NetTrial(Config):
    """One training run of notebook 03: a method, a step size, a noise model and a seed."""

    method: str = param("DSGD", choices=tuple(NET_METHODS))
    lr: float = param(0.1, gt=0, doc="step size eta")
    noise: str = param("gaussian", choices=tuple(NOISES), doc="injected noise")
    sigma: float = param(1.0, ge=0, doc="injected noise scale per example")
    nu: float = param(1.5, gt=0, doc="Student-t degrees of freedom")
    num_clients: int = param(4, ge=1, doc="agents N")
    batch_size: int = param(32, ge=1, doc="mini-batch per agent")
    steps: int = param(500, ge=1, doc="iterations")
    pool: int = param(2, choices=(1, 2, 4), doc="average-pooling factor of the 28x28 images")
    hidden: int = param(32, ge=1, doc="hidden width of the MLP")
    subset: int = param(4096, ge=16, doc="training images, split iid over the agents")
    rand_k_fraction: float = param(0.1, gt=0, le=1, doc="rand-k keeps this fraction of d")
    qsgd_levels: int = param(8, ge=1, doc="QSGD levels s")
    eval_every: int = param(10, ge=1, doc="iterations between train-loss evaluations")
    tail_fraction: float = param(0.2, gt=0, le=1, doc="final fraction of steps averaged")
    seed: int = param(0, ge=0, doc="seed of the initialisation, batches and noise")


@lru_cache(maxsize=4)
def mnist_agents(pool: int, subset: int, num_clients: int, hidden: int, seed: int = 0):
    """The federated MNIST problem of notebook 03: a random ``subset`` of the training images,
    pooled by ``pool`` and standardised, split iid and equally over ``num_clients`` agents (no
    validation set), an MLP pixels-``hidden``-10 (ReLU), evaluated on the union of the agents'
    shards (``"train"``, whose full-batch loss is the train loss) and on the test set. This
    chapter's streams: the subset from ``derive_seed(seed, "mnist-subset")``, the split from
    ``derive_seed(seed, "mnist-split")``."""
    return mnist_federated(num_clients, split="iid", pool=pool, hidden=hidden, activation="relu",
                           val_fraction=0.0, subset=subset,
                           seed=derive_seed(seed, "mnist-subset"),
                           split_seed=derive_seed(seed, "mnist-split") % 2**32, train_eval=True)


def _finite_or_inf(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def train_network(trial: NetTrial) -> dict:
    r"""Train an MLP (pooled pixels -> hidden -> 10, ReLU) with ``trial.method`` on N agents.

    Agent i's gradient at step k is its mini-batch gradient plus injected noise,
    g_i = grad f_{B_i}(x) + (sigma / sqrt(B)) Z_i, Z_i ~ N(0, I) or t_nu (per example noise of
    scale sigma averaged over the batch, so that B scales it as in the scaling rules;
    :func:`common.federated.with_injected_noise`); all agents' gradients come from one vectorised
    call. The server applies x <- x - lr aggregate(C(g_1), ..., C(g_N))
    (:func:`common.federated.compressed_step`, rounds by :func:`common.federated.run_rounds`).

    Returns the train loss (full-batch, on the agents' images) averaged over the evaluations in
    the last ``tail_fraction`` of the steps (``inf`` once the iterate is not finite), the final
    test accuracy, the curve of train losses and whether the run diverged.
    """
    problem = mnist_agents(trial.pool, trial.subset, trial.num_clients, trial.hidden)
    x0 = problem.x0(trial.seed, label="net-init")
    method = net_methods(x0.numel(), trial.rand_k_fraction, trial.qsgd_levels)[trial.method]
    gen = torch.Generator().manual_seed(derive_seed(trial.seed, "net-run", trial.noise))
    grad_fn = with_injected_noise(problem.grad_fn(trial.batch_size, gen),
                                  trial.sigma / math.sqrt(trial.batch_size),
                                  NOISES[trial.noise](nu=trial.nu), generator=gen)
    tail_start = trial.steps - max(1, int(round(trial.tail_fraction * trial.steps)))

    def train_loss(x) -> float:
        return _finite_or_inf(problem.evaluate(x, sets=("train",))["train_loss"])

    steps, curve, tail = [0], [train_loss(x0)], []

    def record(k, state):
        if k % trial.eval_every == 0 or k == trial.steps:
            loss = train_loss(state.x)
            steps.append(k)
            curve.append(loss)
            if k > tail_start:
                tail.append(loss)

    state = run_rounds(compressed_step, x0, grad_fn, num_clients=trial.num_clients,
                       num_rounds=trial.steps, callback=record, lr=trial.lr, method=method,
                       generator=gen)
    diverged = not bool(torch.isfinite(state.x).all())
    omega = math.nan if method.is_sign else method.omega(x0.numel())
    return {"train_loss": math.inf if diverged or not tail else float(np.mean(tail)),
            "test_acc": problem.evaluate(state.x, sets=("test",))["test_acc"],
            "diverged": diverged, "dim": x0.numel(), "omega": omega,
            "curve_steps": steps, "curve": curve}


@dataclass(frozen=True)
class NetStudy(Config):
    """Settings of ``03_distributed_mlp`` (defaults: cpu scale) and its grids."""

    num_clients: int = param(4, ge=1, doc="agents N")
    pool: int = param(2, choices=(1, 2, 4), doc="average-pooling factor of the images")
    hidden: int = param(32, ge=1, doc="hidden width of the MLP")
    subset: int = param(4096, ge=16, doc="training images")
    batch_size: int = param(32, ge=1, doc="mini-batch per agent")
    steps: int = param(500, ge=10, doc="iterations")
    sigma: float = param(1.0, gt=0, doc="injected noise scale per example")
    nu: float = param(1.5, gt=0, le=2, doc="Student-t degrees of freedom (infinite variance)")
    rand_k_fraction: float = param(0.1, gt=0, lt=1, doc="rand-k keeps this fraction of d")
    qsgd_levels: int = param(8, ge=1, doc="QSGD levels s")
    sgd_lrs: tuple[float, ...] = param((0.01, 0.03, 0.1, 0.3), gt=0,
                                       doc="step sizes of the unbiased methods")
    sign_lrs: tuple[float, ...] = param((0.003, 0.01, 0.03), gt=0,
                                        doc="step sizes of the sign methods")
    seeds: tuple[int, ...] = param((0, 1, 2), ge=0, doc="evaluation seeds (at least 3)")

    def __post_init__(self):
        super().__post_init__()
        if len(set(self.seeds)) < 3:
            raise ConfigError(f"seeds = {self.seeds}: need at least 3 distinct seeds for the "
                              "paired t intervals of the claims (notebook parameter `seeds`)")

    def trial(self, **kw) -> NetTrial:
        """A NetTrial with this study's shared settings and ``kw``."""
        return derive(NetTrial, self, **kw)


def net_tuning_grid(study: NetStudy) -> list[NetTrial]:
    """Every method on its own step-size grid (``sgd_lrs`` for the unbiased methods, ``sign_lrs``
    for the sign methods), Gaussian noise, first seed: each method's step size is chosen here
    and then frozen."""
    grids = {"sgd": study.sgd_lrs, "sign": study.sign_lrs}
    return [study.trial(method=m, lr=lr, seed=study.seeds[0])
            for m, family in NET_METHODS.items() for lr in grids[family]]


def net_evaluation_grid(study: NetStudy, lrs: dict[str, float]) -> list[NetTrial]:
    """Every method at its own chosen step size (``lrs``: method -> lr) under Gaussian and
    Student-t noise at every seed, and DCSGD rand-k with the batch rule B -> (1 + omega) B under
    Gaussian noise at DSGD's step size (the rule keeps the step size; omega = 1/fraction - 1, up
    to the rounding of k)."""
    missing = [m for m in NET_METHODS if m not in lrs]
    if missing:
        raise ValueError(f"lrs: no step size for {missing}")
    omega = 1.0 / study.rand_k_fraction - 1.0
    out = []
    for seed in study.seeds:
        for noise in ("gaussian", "student_t"):
            for m in NET_METHODS:
                out.append(study.trial(method=m, lr=lrs[m], noise=noise, seed=seed))
        out.append(study.trial(method="DCSGD rand-k", lr=lrs["DSGD"], seed=seed,
                               batch_size=int(round(study.batch_size * (1.0 + omega)))))
    return out
