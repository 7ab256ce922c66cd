"""Experiments of the igb-meanfield reproduction (Bassi et al., arXiv:2505.12096).

The theory lives in :mod:`common.models.meanfield` (maps, fixed points, EOC, neutrality, phases),
the statistics in :mod:`common.metrics.igb`, the batched random networks in
:class:`common.models.MLPEnsemble`. This module holds what only this paper's notebooks run:

- notebook 01: the fixed-point table at the paper's four initialisations, the phase-diagram
  grids, the ReLU approach to deep prejudice, and the figures;
- notebook 02: layer-wise statistics of ensembles of finite random networks (Theorem 3.1 at
  finite width, max-class fractions), per-sample gradients split by class, and the perturbation
  growth of an average-pooling network;
- notebook 03: one training run per (initialisation, seed) (:class:`TrainRun`,
  :func:`train_run`), mapped by :func:`common.experiment.sweep`, with the official code's
  selection of an initialisation by its initial bias, and the suites of the paper's section 4
  as data (:data:`SUITES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import Config, ConfigError, derive_seed, param, resolve_device, sweep
from common.experiment.checks import require_at_most, require_range
from common.metrics import (
    class_fractions,
    drift_moments,
    empirical_correlation,
    max_class_fraction,
)
from common.models import MLPEnsemble
from common.models import meanfield as mf

__all__ = [
    "PHASE_COLORS", "RATIO_COLORS", "PhaseConfig", "fixed_point_table", "phase_grid",
    "relu_trajectories", "log_slope", "plot_phase_diagram", "FiniteConfig", "gaussian_inputs",
    "layer_statistics", "gradient_asymmetry", "perturbation_growth", "TrainConfig", "TrainRun",
    "SUITES", "dataset", "eval_steps", "select_init", "train_run", "initial_bias",
    "training_sweep", "first_step_below", "plot_training",
]

#: Colours of the phases (Table 1), after the official code's ``dict_phase_color``.
PHASE_COLORS = {
    "ordered deep prejudice": "#9bbcff", "edge of chaos": "#a14646",
    "chaotic deep prejudice": "#4861c1", "prejudice": "#6346a1", "neutrality": "#a08bdd",
}


#: Colours of the paper's four initialisations (sigma_w2 / EOC), Okabe-Ito.
RATIO_COLORS = {0.75: "#56B4E9", 0.8: "#0072B2", 1.0: "#D55E00", 1.25: "#009E73", 1.5: "#E69F00",
                2.5: "#CC79A7"}


def log_slope(layer, y, lo: int, hi: int, *, loglog: bool) -> float:
    """Least-squares slope of ``log y`` against ``log layer`` (``loglog``: a power law's
    exponent) or against ``layer`` (an exponential's rate), over ``lo <= layer <= hi``."""
    layer, y = np.asarray(layer, dtype=float), np.asarray(y, dtype=float)
    keep = (layer >= lo) & (layer <= hi) & (y > 0)
    if keep.sum() < 2:
        raise ValueError(f"log_slope over layers [{lo}, {hi}]: fewer than 2 positive points")
    x = np.log(layer[keep]) if loglog else layer[keep]
    return float(np.polyfit(x, np.log(y[keep]), 1)[0])


# ---------------------------------------------------------------------------------------------
# Notebook 01: mean-field phases
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseConfig(Config):
    """Settings of ``01_meanfield_phases``."""

    sigma_b2: float = param(0.1, ge=0, le=1, doc="bias variance of the paper's runs")
    ratios: tuple[float, ...] = param((0.8, 1.0, 1.25, 2.5), gt=0,
                                      doc="sigma_w2 / EOC of the paper's four initialisations")
    curve_points: int = param(21, ge=3, le=201, doc="sigma_b2 values of the EOC curves")
    curve_sigma_b2_max: float = param(0.2, gt=0, le=1, doc="right end of the curves and diagrams")
    grid_points: int = param(41, ge=5, le=201, doc="points per axis of the phase diagrams")
    sigma_w2_max: float = param(5.0, gt=2, doc="largest sigma_w2 of the phase diagrams")
    relu_depth: int = param(200, ge=20, doc="layers of the ReLU recursions")
    relu_power_fit: tuple[int, ...] = param((20, 200), ge=1, doc="layers of the power-law fit")
    relu_ordered: tuple[float, ...] = param((1.5, 0.1), ge=0,
                                              doc="(sigma_w2, sigma_b2) in the ordered phase")
    relu_exp_fit: tuple[int, ...] = param((10, 60), ge=1, doc="layers of the exponential fit")
    relu_chaotic: tuple[float, ...] = param((2.5, 0.1), ge=0,
                                              doc="(sigma_w2, sigma_b2) in the chaotic phase")

    def __post_init__(self):
        super().__post_init__()
        for name in ("relu_ordered", "relu_chaotic"):
            if len(getattr(self, name)) != 2:
                raise ConfigError(f"{name}={getattr(self, name)}: needs (sigma_w2, sigma_b2)")
        for name in ("relu_power_fit", "relu_exp_fit"):
            require_range(name, getattr(self, name))
            require_at_most(name, getattr(self, name)[1], "relu_depth", self.relu_depth)
        if not self.relu_ordered[0] < 2 < self.relu_chaotic[0]:
            raise ConfigError("relu_ordered needs sigma_w2 < 2 and relu_chaotic sigma_w2 > 2")


def fixed_point_table(activation: str, sigma_b2: float, ratios) -> list[dict]:
    """One row per ratio: sigma_w2 = ratio x EOC, chi_1, q*, c*, gamma*, the phase."""
    edge = mf.eoc(activation, sigma_b2)
    rows = []
    for r in ratios:
        sw2 = r * edge
        c = mf.c_star(activation, sw2, sigma_b2)
        rows.append({"ratio": r, "sigma_w2": sw2, "chi1": mf.chi1(activation, sw2, sigma_b2),
                     "q_star": mf.q_star(activation, sw2, sigma_b2), "c_star": c,
                     "gamma_star": math.inf if c >= 1 else c / (1 - c),
                     "phase": mf.phase(activation, sw2, sigma_b2).name})
    return rows


def phase_grid(activation: str, sigma_b2, sigma_w2, *, depth: int | None = None) -> np.ndarray:
    """``c`` on the grid (rows: sigma_w2, columns: sigma_b2): the fixed point c* or, with
    ``depth``, c at that layer from orthogonal inputs (ReLU, which has no c* below 1)."""
    out = np.empty((len(sigma_w2), len(sigma_b2)))
    for i, w in enumerate(sigma_w2):
        for j, b in enumerate(sigma_b2):
            out[i, j] = (mf.c_star(activation, w, b) if depth is None
                         else mf.propagate(activation, w, b, depth).c[-1])
    return out


def relu_trajectories(cfg: PhaseConfig) -> dict[str, dict]:
    """ReLU's ``1 - c`` by layer from orthogonal inputs, through the official (V, Ṽ) recursion
    (``1 - c = V / (V + Ṽ)`` keeps full precision). The ordered run starts at its fixed point
    (q^(1) = q*), so its decay rate is the asymptotic one, sigma_w2 / 2, from the first layer."""
    out = {}
    cases = {"σ_b = 0 (EOC)": (2.0, 0.0, 1.0), "ordered": (*cfg.relu_ordered, None),
             "chaotic": (*cfg.relu_chaotic, 1.0)}
    for name, (sw2, sb2, q_in) in cases.items():
        if q_in is None:
            q_in = (mf.q_star("relu", sw2, sb2) - sb2) / sw2
        V, Vt = mf.relu_drift_recursion(sw2, sb2, cfg.relu_depth, q_in=q_in)
        out[name] = {"sigma_w2": sw2, "sigma_b2": sb2, "layer": np.arange(1, cfg.relu_depth + 1),
                     "one_minus_c": V / (V + Vt), "gamma": Vt / V}
    return out


def plot_phase_diagram(ax, sigma_b2, sigma_w2, values, curves: dict, *, title: str,
                       vmin: float = 0.0, vmax: float = 1.0):
    """``values`` (rows: sigma_w2) as a colour map with the EOC and the neutrality line;
    returns the image for a colour bar."""
    im = ax.pcolormesh(sigma_b2, sigma_w2, values, vmin=vmin, vmax=vmax, cmap="viridis",
                       shading="nearest")
    ax.plot(curves["sigma_b2"], curves["eoc"], color="white", lw=2, label="EOC (χ₁ = 1)")
    if np.isfinite(curves["neutrality"]).any():
        ax.plot(curves["sigma_b2"], curves["neutrality"], color="white", ls="--", lw=1.6,
                label="neutrality (c* = ½)")
    ax.set_xlabel("σ_b²")
    ax.set_ylabel("σ_w²")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=7)
    return im


# ---------------------------------------------------------------------------------------------
# Notebook 02: finite random networks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FiniteConfig(Config):
    """Settings of ``02_finite_networks``."""

    seed: int = param(0, ge=0, doc="base seed (inputs, initialisations)")
    sigma_b2: float = param(0.1, ge=0, doc="bias variance")
    ratios: tuple[float, ...] = param((0.8, 1.0, 1.25, 2.5), gt=0, doc="sigma_w2 / EOC")
    width: int = param(512, ge=8, doc="hidden width of the tanh networks")
    depth: int = param(50, ge=5, doc="hidden layers of the tanh networks")
    num_inits: int = param(40, ge=2, doc="initialisations per setting")
    num_inputs: int = param(500, ge=10, doc="i.i.d. Gaussian inputs (dimension = width)")
    grad_width: int = param(256, ge=8, doc="width of the ReLU gradient networks")
    grad_depth: int = param(30, ge=2, doc="depth of the ReLU gradient networks")
    grad_inits: int = param(20, ge=2, doc="initialisations of the gradient check")
    grad_inputs: int = param(200, ge=10, doc="labelled inputs of the gradient check")
    grad_sigma_w2: float = param(2.5, gt=2, doc="chaotic ReLU sigma_w2 (sigma_b2 = 0)")
    pool_width: int = param(256, ge=8, doc="width of the average-pooling networks")
    pool_depth: int = param(40, ge=12, doc="depth of the average-pooling networks")
    pool_inits: int = param(8, ge=2, doc="initialisations of the perturbation check")
    pool_inputs: int = param(32, ge=2, doc="input pairs of the perturbation check")
    pool_burn_in: int = param(10, ge=1, doc="layers skipped before the growth is measured")
    pool_eps: float = param(1e-3, gt=0, lt=0.1, doc="relative size of the input perturbation")

    def __post_init__(self):
        super().__post_init__()
        for name in ("width", "grad_width", "pool_width"):
            if getattr(self, name) % 2:
                raise ConfigError(f"{name}={getattr(self, name)}: must be even (pairs)")
        if self.pool_burn_in >= self.pool_depth - 2:
            raise ConfigError(f"pool_burn_in={self.pool_burn_in} leaves too few layers of "
                              f"pool_depth={self.pool_depth}")


def gaussian_inputs(n: int, dim: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    """``n`` i.i.d. N(0, I) inputs (q_in = 1 on average, correlations O(1/sqrt(dim)))."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=dtype)


def layer_statistics(X: torch.Tensor, *, width: int, depth: int, num_inits: int,
                     activation: str, sigma_w2: float, sigma_b2: float, seed: int,
                     num_classes: int = 2) -> dict[str, np.ndarray]:
    """Layer-wise IGB statistics of ``num_inits`` random networks on the inputs ``X``.

    Returns arrays of shape (depth, inits): ``sigma_mu2`` (mean over units of the squared
    data-mean), ``sigma_y2`` (mean over units of the data variance), ``corr`` (mean cosine of
    disjoint input pairs); and per init: ``max_frac``, ``frac0`` (share of class 0) and the
    output moments ``out_mu2``, ``out_y2``. Networks are drawn from one generator seeded with
    ``seed``, so settings that differ only in sigma_w2 hold scaled copies of the same networks.
    """
    net = MLPEnsemble(num_inits, X.shape[1], width, depth, num_classes, activation=activation,
                      dtype=X.dtype)
    net.reset_parameters(sigma_w2, sigma_b2, generator=torch.Generator().manual_seed(seed))
    mu2, y2, corr = [], [], []

    def observe(l, y):
        m, v = drift_moments(y)
        mu2.append(m)
        y2.append(v)
        corr.append(empirical_correlation(y))

    with torch.no_grad():
        out = net(X, observe=observe)
    om, ov = drift_moments(out)
    return {"sigma_mu2": np.array(mu2), "sigma_y2": np.array(y2), "corr": np.array(corr),
            "max_frac": max_class_fraction(out), "frac0": class_fractions(out)[:, 0],
            "out_mu2": om, "out_y2": ov}


def gradient_asymmetry(*, width: int, depth: int, num_inits: int, num_inputs: int,
                       sigma_w2: float, sigma_b2: float, seed: int) -> dict[str, np.ndarray]:
    """Per-sample gradient norms of the first layer's weights, favoured vs unfavoured class.

    ReLU networks with two outputs on i.i.d. Gaussian inputs with balanced random labels; the
    loss is the sum of per-sample cross-entropies, so the gradient with respect to sample a's
    first pre-activation is its own, and ``||dL_a/dW^(1)|| = ||delta_a|| ||x_a||`` (an outer
    product). The favoured class of a network is the arg-max of its class fractions. Returns per
    init the medians over samples labelled favoured / unfavoured, and the favoured fraction.
    """
    g = torch.Generator().manual_seed(derive_seed(seed, "gradient-inputs"))
    X = torch.randn(num_inputs, width, generator=g, dtype=torch.float64)
    y = torch.randperm(num_inputs, generator=g) % 2
    net = MLPEnsemble(num_inits, width, width, depth, 2, activation="relu", dtype=torch.float64)
    net.reset_parameters(sigma_w2, sigma_b2,
                         generator=torch.Generator().manual_seed(derive_seed(seed, "gradient")))
    first = {}

    def observe(l, h):
        if l == 1:
            h.retain_grad()
            first["h"] = h

    out = net(X, observe=observe)
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, 2), y.repeat(num_inits),
                                             reduction="sum")
    loss.backward()
    per_sample = first["h"].grad.norm(dim=-1) * X.norm(dim=-1)        # (inits, N)
    frac = class_fractions(out.detach())                                 # (inits, 2)
    fav = frac.argmax(-1)
    med_fav, med_unfav = [], []
    for k in range(num_inits):
        mask = (y == int(fav[k])).numpy()
        g_k = per_sample[k].detach().numpy()
        med_fav.append(float(np.median(g_k[mask])))
        med_unfav.append(float(np.median(g_k[~mask])))
    return {"median_favoured": np.array(med_fav), "median_unfavoured": np.array(med_unfav),
            "favoured_fraction": frac.max(-1)}


def perturbation_growth(*, width: int, depth: int, num_inits: int, num_inputs: int,
                        activation: str, sigma_w2: float, sigma_b2: float, burn_in: int,
                        eps: float, seed: int) -> np.ndarray:
    """Per-layer growth factor of the squared distance between nearby inputs, per init.

    Pairs (x, x + eps * ||x|| v / ||v||) go through the same network (float64); the squared
    distance of their pre-activations, relative to their squared length, changes by a factor
    chi_1 per layer once c is near 1. Returns the geometric-mean factor over layers
    ``burn_in + 1 .. depth`` for each init.
    """
    g = torch.Generator().manual_seed(derive_seed(seed, "pool-inputs"))
    X = torch.randn(num_inputs, width, generator=g, dtype=torch.float64)
    V = torch.randn(num_inputs, width, generator=g, dtype=torch.float64)
    Xp = X + eps * V / V.norm(dim=1, keepdim=True) * X.norm(dim=1, keepdim=True)
    net = MLPEnsemble(num_inits, width, width, depth, 2, activation=activation,
                      dtype=torch.float64)
    net.reset_parameters(sigma_w2, sigma_b2,
                         generator=torch.Generator().manual_seed(derive_seed(seed, "pool")))
    dist = []

    def observe(l, h):
        a, b = h[:, :num_inputs], h[:, num_inputs:]
        d2 = ((a - b) ** 2).sum(-1) / (0.5 * ((a * a).sum(-1) + (b * b).sum(-1)))
        dist.append(d2.mean(-1).numpy())

    with torch.no_grad():
        net(torch.cat([X, Xp]), observe=observe)
    d = np.log(np.array(dist))                                  # (depth, inits)
    return np.exp((d[-1] - d[burn_in - 1]) / (depth - burn_in))


# ---------------------------------------------------------------------------------------------
# Notebook 03: training from biased and neutral initialisations
# ---------------------------------------------------------------------------------------------

#: The training suites of the paper's section 4 [code: ``train_spec_*/*.cfg``]: dataset,
#: activation, Vw grid (relative to the EOC), learning rate, and the max-class fractions the
#: initialisations are selected for (read from the training figure's first points for the tanh
#: MLP on binarised Fashion-MNIST; the configs never define ``target_max_freq``, so None for the
#: suites whose figure we have not seen). Width 1000, depth 100, sigma_b2 0.1, Adam, batch 100,
#: 10k steps everywhere. The residual-MLP and ViT suites are not reproduced.
SUITES: dict[str, dict] = {
    "mlp_bfmnist_tanh": {"dataset": "bfmnist", "activation": "tanh",
                         "vws": (0.8, 1.0, 1.25, 2.5), "lr": 1e-7,
                         "targets": (1.0, 1.0, 0.9, 0.6)},
    "mlp_bfmnist_relu": {"dataset": "bfmnist", "activation": "relu",
                         "vws": (0.75, 1.0, 1.25), "lr": 1e-7, "targets": None},
    "mlp_cifar10_tanh": {"dataset": "cifar10", "activation": "tanh",
                         "vws": (0.8, 1.0, 1.25, 2.5), "lr": 1e-5, "targets": None},
    "mlp_cifar10_relu": {"dataset": "cifar10", "activation": "relu",
                         "vws": (0.75, 1.0, 1.5), "lr": 1e-5, "targets": None},
}

#: Per-channel statistics the official code normalises CIFAR-10 with.
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


@lru_cache(maxsize=4)
def dataset(name: str, train_size: int | None, test_size: int | None):
    """``(X_train, y_train, X_test, y_test)`` as flattened float32 tensors (cached per process).

    ``bfmnist``: Fashion-MNIST, labels mod 2 (the official ``BinarizedDataset``), pixels
    standardised with the global scalars (0.2860, 0.3530) as in the official code.
    ``cifar10``: CIFAR-10 (10 classes), per-channel standardisation with the official code's
    statistics. ``None`` sizes keep the whole split; otherwise the first images.
    """
    from common.data import load_cifar10, load_fashion_mnist, to_tensors
    from common.data.idx import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    def cut(n):
        return slice(None) if n is None else slice(0, n)

    if name == "bfmnist":
        out = []
        for split, n in (("train", train_size), ("test", test_size)):
            images, labels = load_fashion_mnist(split)
            X, y = to_tensors(images[cut(n)], labels[cut(n)], mean=FASHION_MNIST_MEAN,
                              std=FASHION_MNIST_STD, dtype=torch.float32)
            out += [X, y % 2]
        return tuple(out)
    if name == "cifar10":
        out = []
        mean = torch.tensor(CIFAR10_MEAN).reshape(1, 3, 1, 1)
        std = torch.tensor(CIFAR10_STD).reshape(1, 3, 1, 1)
        for split, n in (("train", train_size), ("test", test_size)):
            X, y = load_cifar10(split)
            X = ((X[cut(n)] - mean) / std).flatten(1)
            out += [X, y[cut(n)]]
        return tuple(out)
    raise ValueError(f"dataset={name!r}: allowed values are 'bfmnist' and 'cifar10'")


def eval_steps(num_steps: int, num_evals: int) -> np.ndarray:
    """Evaluation steps: 0 and ``num_evals`` points log-spaced up to ``num_steps`` (dense where
    the bias is absorbed, early in training)."""
    pts = np.unique(np.round(np.geomspace(1, num_steps, num_evals)).astype(int))
    return np.concatenate([[0], pts])


@dataclass(frozen=True)
class TrainRun(Config):
    """One training run: a network initialised at ``vw`` x EOC, trained with Adam."""

    vw: float = param(1.0, gt=0, doc="sigma_w2 relative to the EOC (the official Vw)")
    seed: int = param(0, ge=0, doc="initialisation and batch order")
    dataset: str = param("bfmnist", choices=("bfmnist", "cifar10"), doc="data")
    activation: str = param("tanh", choices=("tanh", "relu"), doc="activation")
    sigma_b2: float = param(0.1, ge=0, doc="bias variance")
    width: int = param(256, ge=2, doc="hidden width")
    depth: int = param(30, ge=1, doc="hidden layers")
    lr: float = param(1e-5, gt=0, doc="Adam learning rate")
    batch_size: int = param(100, ge=1, doc="mini-batch size")
    num_steps: int = param(300, ge=1, doc="Adam steps")
    num_evals: int = param(25, ge=2, doc="log-spaced evaluations (plus step 0)")
    train_size: int | None = param(10_000, ge=100, doc="training images (None: all)")
    test_size: int | None = param(1000, ge=100, doc="test images evaluated (None: all)")
    target_max_freq: float | None = param(None, gt=0, le=1,
                                          doc="re-draw the init until its max-class fraction "
                                              "on the first batch is this (None: no selection)")
    target_eps: float = param(0.05, gt=0, doc="tolerance of the init selection")
    max_draws: int = param(500, ge=1, doc="most initialisations drawn by the selection")
    device: str = param("cpu", doc="cpu, cuda or auto")
    precision: str = param("float32", choices=("float32", "bf16"),
                           doc="bf16: autocast matmuls to bfloat16 (the paper's bf16-mixed)")


@lru_cache(maxsize=16)
def _eoc(activation: str, sigma_b2: float) -> float:
    return mf.eoc(activation, sigma_b2)


def _net(run: TrainRun, in_dim: int, num_classes: int, device, generator) -> MLPEnsemble:
    sw2 = run.vw * _eoc(run.activation, run.sigma_b2)
    net = MLPEnsemble(1, in_dim, run.width, run.depth, num_classes, activation=run.activation,
                      device=device)
    return net.reset_parameters(sw2, run.sigma_b2, generator=generator)


def select_init(run: TrainRun, Xb: torch.Tensor, num_classes: int, device):
    """The official code's ``select_init``: draw initialisations until the max-class fraction
    on the batch ``Xb`` is within ``target_eps`` of ``target_max_freq`` (the first draw when no
    target is set). Returns ``(net, draws, max_frac)``."""
    for draw in range(run.max_draws):
        gen = torch.Generator(device=device).manual_seed(derive_seed(run.seed, "init", draw))
        net = _net(run, Xb.shape[1], num_classes, device, gen)
        with torch.no_grad():
            m = float(max_class_fraction(net(Xb)[0]))
        if run.target_max_freq is None or abs(m - run.target_max_freq) <= run.target_eps:
            return net, draw + 1, m
    raise RuntimeError(f"select_init: no initialisation within {run.target_eps} of "
                       f"target_max_freq={run.target_max_freq} in {run.max_draws} draws "
                       f"(vw={run.vw}, seed={run.seed})")


def train_run(run: TrainRun) -> dict:
    """Train one network with Adam; evaluate test accuracy, max-class fraction and the class
    fractions at :func:`eval_steps`. Top level, seeded by its config (sweep workers run it)."""
    device = resolve_device(run.device)
    Xtr, ytr, Xte, yte = dataset(run.dataset, run.train_size, run.test_size)
    C = int(max(ytr.max(), yte.max())) + 1
    Xtr, ytr, Xte, yte = (t.to(device) for t in (Xtr, ytr, Xte, yte))
    gb = torch.Generator(device="cpu").manual_seed(derive_seed(run.seed, "batches"))
    batches = torch.randint(0, len(Xtr), (run.num_steps, run.batch_size), generator=gb)
    net, draws, start = select_init(run, Xtr[batches[0].to(device)], C, device)
    opt = torch.optim.Adam(net.parameters(), lr=run.lr)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16,
                              enabled=run.precision == "bf16")
    when = set(eval_steps(run.num_steps, run.num_evals).tolist())
    rec = {"step": [], "test_acc": [], "max_freq": [], "fractions": [], "train_loss": []}
    loss_val = math.nan
    for k in range(run.num_steps + 1):
        if k in when:
            with torch.no_grad(), autocast:
                out = net(Xte)[0].float()
            rec["step"].append(k)
            rec["test_acc"].append(float((out.argmax(-1) == yte).float().mean()))
            rec["max_freq"].append(float(max_class_fraction(out)))
            rec["fractions"].append(class_fractions(out, C).tolist())
            rec["train_loss"].append(loss_val)
        if k == run.num_steps:
            break
        idx = batches[k].to(device)
        with autocast:
            loss = torch.nn.functional.cross_entropy(net(Xtr[idx])[0].float(), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_val = float(loss.detach())
    return {**rec, "init_draws": draws, "init_max_freq_batch": start,
            "sigma_w2": run.vw * _eoc(run.activation, run.sigma_b2)}


def initial_bias(run: TrainRun, num_inits: int, seed: int) -> np.ndarray:
    """Max-class fractions on the test images of ``num_inits`` unselected initialisations
    (the distribution the selection of :func:`select_init` draws from), as one batched
    ensemble; every setting uses the same standard-normal draws (paired by init)."""
    device = resolve_device(run.device)
    _, ytr, Xte, yte = dataset(run.dataset, run.train_size, run.test_size)
    C = int(max(ytr.max(), yte.max())) + 1
    net = MLPEnsemble(num_inits, Xte.shape[1], run.width, run.depth, C,
                      activation=run.activation, device=device)
    net.reset_parameters(run.vw * _eoc(run.activation, run.sigma_b2), run.sigma_b2,
                         generator=torch.Generator(device=device).manual_seed(seed))
    with torch.no_grad():
        return max_class_fraction(net(Xte.to(device)))


@dataclass(frozen=True)
class TrainConfig(Config):
    """Settings of ``03_training``: every (suite, seed, Vw) is one :class:`TrainRun`."""

    suites: tuple[str, ...] = param(("mlp_bfmnist_tanh",), choices=tuple(SUITES),
                                    doc="section-4 suites (the claims use mlp_bfmnist_tanh)")
    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="training seeds")
    width: int = param(256, ge=2, doc="hidden width")
    depth: int = param(30, ge=1, doc="hidden layers")
    lr: float | None = param(1e-5, gt=0, doc="Adam learning rate (None: each suite's own)")
    num_steps: int = param(200, ge=1, doc="Adam steps")
    batch_size: int = param(100, ge=1, doc="batch size")
    num_evals: int = param(20, ge=2, doc="log-spaced evaluations")
    train_size: int | None = param(10_000, ge=100, doc="training images (None: all)")
    test_size: int | None = param(1000, ge=100, doc="test images (None: all)")
    select_init: bool = param(True, doc="select initialisations by the suite's target bias")
    bias_inits: int = param(30, ge=2, doc="unselected initialisations for the initial bias")
    device: str = param("cpu", doc="cpu, cuda or auto")
    precision: str = param("float32", choices=("float32", "bf16"), doc="matmul precision")

    def __post_init__(self):
        super().__post_init__()
        if "mlp_bfmnist_tanh" not in self.suites:
            raise ConfigError(f"suites={self.suites}: must include 'mlp_bfmnist_tanh' (the "
                              "suite the claims are checked on)")
        if len(set(self.suites)) != len(self.suites):
            raise ConfigError(f"suites={self.suites}: repeated suite")

    def runs(self, suite: str | None = None) -> list[TrainRun]:
        """One :class:`TrainRun` per (suite, seed, Vw), in that order (one suite if given)."""
        out = []
        for name in self.suites if suite is None else (suite,):
            s = SUITES[name]
            targets = s["targets"] if self.select_init and s["targets"] else (None,) * len(
                s["vws"])
            out += [TrainRun(vw=vw, seed=seed, dataset=s["dataset"], activation=s["activation"],
                             width=self.width, depth=self.depth,
                             lr=self.lr if self.lr is not None else s["lr"],
                             batch_size=self.batch_size, num_steps=self.num_steps,
                             num_evals=self.num_evals, train_size=self.train_size,
                             test_size=self.test_size, target_max_freq=t, device=self.device,
                             precision=self.precision)
                    for seed in self.seeds for vw, t in zip(s["vws"], targets)]
        return out


def training_sweep(cfg: TrainConfig, *, store_dir, executor: str = "debug",
                   resume: bool = False, progress: bool = False):
    """Every run of ``cfg`` through :func:`common.experiment.sweep` (resumable); returns the
    :class:`~common.experiment.SweepResult` (``.to_frame()``: one row per run)."""
    return sweep(train_run, cfg.runs(), store_dir=store_dir, executor=executor, resume=resume,
                 progress=progress).raise_for_failures()


def first_step_below(steps, values, level: float) -> float:
    """The first step whose value is below ``level`` (inf if none)."""
    for k, v in zip(steps, values):
        if v < level:
            return float(k)
    return math.inf


def plot_training(axes, frame) -> None:
    """Max-class fraction and test accuracy against the step, one line per (Vw, seed)."""
    for _, row in frame.iterrows():
        c = RATIO_COLORS.get(row["vw"], "grey")
        steps = np.maximum(np.asarray(row["step"]), 0.8)  # step 0 drawn at 0.8 on a log axis
        axes[0].plot(steps, row["max_freq"], color=c, alpha=0.8,
                     label=f"{row['vw']:g}×EOC" if row["seed"] == frame["seed"].min() else None)
        axes[1].plot(steps, row["test_acc"], color=c, alpha=0.8)
    for ax, lab in zip(axes, ("max-class fraction (test)", "test accuracy")):
        ax.set_xscale("log")
        ax.set_xlabel("step (0 drawn at 0.8)")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
