"""Experiments of the norm-placement reproduction (Francazi, Pinto, Lucchi, Baity-Jesi,
arXiv:2505.11312, AISTATS 2026).

The placement-aware MLP is :class:`common.models.MLP` (``norm=`` one of
:data:`common.models.PLACEMENTS`), BatchNorm's batch statistics are forced by
:func:`common.models.batch_statistics`, the IGB statistics are :mod:`common.metrics.igb`, the
mean-field ReLU recursion is :mod:`common.models.meanfield`. This module holds what only this
paper's notebooks run:

- notebook 01: the initial-bias statistics of ensembles of random placement networks on Gaussian
  inputs and on MNIST (:func:`init_statistics`), and the per-placement drift ratios our
  derivation predicts (:func:`predicted_gamma`);
- notebook 02: one Adam training run per (placement, seed) on binarised MNIST
  (:class:`TrainRun`, :func:`train_run`), mapped by :func:`common.experiment.sweep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import Config, ConfigError, derive_seed, param, resolve_device, sweep
from common.metrics import class_fractions, drift_moments, ensemble_outputs, max_class_fraction
from common.models import MLP, PLACEMENTS, batch_statistics, init_gaussian_
from common.models import meanfield as mf

__all__ = ["PLACEMENT_COLORS", "BN_BEFORE_GAMMA", "InitConfig", "gaussian_inputs",
           "mnist_inputs", "input_correlation", "build", "init_statistics", "predicted_gamma",
           "placement_study", "ensemble_gamma", "eval_mode_fractions", "VEHICLES_ANIMALS",
           "cifar_vehicles_animals", "real_inputs",
           "TrainRun", "DynamicsConfig", "dataset", "eval_steps", "train_run", "dynamics_sweep",
           "first_eval_after", "plot_dynamics"]

#: One colour per placement (Okabe-Ito).
PLACEMENT_COLORS = {"none": "#000000", "bn_before": "#E69F00", "bn_after": "#0072B2",
                    "ln_before": "#CC79A7", "ln_after": "#009E73"}

#: The drift ratio after BN -> ReLU -> Linear [derived]: every unit has mean 1/sqrt(2 pi) and
#: variance 1/2 - 1/(2 pi) over the data, so gamma = (1/2pi) / (1/2 - 1/2pi) = 1/(pi - 1).
BN_BEFORE_GAMMA = 1.0 / (math.pi - 1.0)


# ---------------------------------------------------------------------------------------------
# Notebook 01: initial bias of random networks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InitConfig(Config):
    """Settings of ``01_initial_bias``."""

    seed: int = param(0, ge=0, doc="base seed (Gaussian inputs, initialisations)")
    width: int = param(100, ge=2, doc="hidden width (the official code's 100)")
    depths: tuple[int, ...] = param((1, 20), ge=1, doc="hidden layers: shallow and deep")
    num_inits: int = param(300, ge=10, doc="initialisations per (placement, depth, inputs)")
    num_inputs: int = param(1000, ge=10, doc="evaluated inputs (the BN batch)")
    input_dim: int = param(1000, ge=2, doc="dimension of the Gaussian inputs")
    real_inputs: str = param("mnist", choices=("mnist", "cifar10_va"),
                             doc="the real inputs: MNIST or CIFAR-10 vehicles vs animals")

    def __post_init__(self):
        super().__post_init__()
        if len(self.depths) != 2 or self.depths[0] >= self.depths[1]:
            raise ConfigError(f"depths={self.depths}: (shallow, deep) with shallow < deep")


def gaussian_inputs(n: int, dim: int, seed: int) -> torch.Tensor:
    """``n`` i.i.d. N(0, I_dim) inputs (float32)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g)


def mnist_inputs(n: int) -> torch.Tensor:
    """The first ``n`` MNIST training images, flattened, standardised with the global scalars
    (0.1307, 0.3081), as the official code evaluates them (not a random sample)."""
    from common.data import load_mnist, to_tensors

    images, labels = load_mnist("train")
    return to_tensors(images[:n], labels[:n])[0]


def input_correlation(X: torch.Tensor) -> tuple[float, float]:
    """``(q_in, c_in)``: the mean squared entry and the mean cosine of the disjoint pairs
    (0, 1), (2, 3), ... (the uncentred mean-field moments of the inputs)."""
    n = len(X) // 2 * 2
    a, b = X[0:n:2].double(), X[1:n:2].double()
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    return float((X.double() ** 2).mean()), float(cos.mean())


def build(placement: str, in_dim: int, width: int, depth: int, out_dim: int = 2):
    """``build(generator)`` for :func:`common.metrics.ensemble_outputs`: a ReLU MLP with
    ``depth`` hidden layers of ``width``, the placement's norm layers, Kaiming-normal weights
    (variance 2 / fan_in) and zero biases, left in train mode (BN uses batch statistics)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement={placement!r}: allowed are {list(PLACEMENTS)}")

    def make(generator: torch.Generator) -> MLP:
        model = MLP(in_dim, (width,) * depth, out_dim, norm=placement)
        return init_gaussian_(model, 2.0, 0.0, generator=generator).train()

    return make


def init_statistics(X: torch.Tensor, placement: str, depth: int, *, width: int, num_inits: int,
                    seed: int) -> dict[str, np.ndarray]:
    """Per initialisation: the max-class fraction, the share of class 0 and the output moments
    (mean over the two outputs of mu^2 and of Var_x y). Network k is seeded ``seed + k`` for
    every placement, so the placements share their linear weights (paired by initialisation)."""
    Y = ensemble_outputs(build(placement, X.shape[1], width, depth), X, num_inits, seed=seed)
    m2, v = drift_moments(Y)
    return {"max_frac": max_class_fraction(Y), "frac0": class_fractions(Y)[:, 0],
            "mu2": m2, "var": v}


def predicted_gamma(placement: str, depth: int, *, q_in: float = 1.0,
                    c_in: float = 0.0) -> float:
    """The output drift ratio our derivation predicts [derived, infinite width and data].

    ``none`` and ``ln_before`` (LayerNorm before the ReLU removes the across-unit mean, which is
    ~0, and rescales each sample by ~its norm): the ReLU mean-field recursion at Kaiming
    (sigma_w2 = 2, sigma_b2 = 0) through ``depth`` hidden layers to the read-out, from the
    inputs' (q_in, c_in). ``bn_before``: 1/(pi - 1) at every depth (BN zeroes each unit's
    data-mean before the ReLU). ``bn_after``: 0 (the last hidden layer has zero data-mean per
    unit). ``ln_after``: 0, reached with depth (each layer multiplies a small gamma by about
    1/(2 - 2/pi) ~ 0.73); at depth 1 it inherits the inputs' drift, so it is returned as 0 only
    for inputs with ``c_in = 0``.
    """
    if placement in ("none", "ln_before"):
        return float(mf.propagate("relu", 2.0, 0.0, depth + 1, q_in=q_in, c_in=c_in).gamma[-1])
    if placement == "bn_before":
        return BN_BEFORE_GAMMA
    if placement == "bn_after":
        return 0.0
    if placement == "ln_after":
        return 0.0 if (c_in == 0 or depth > 1) else math.nan
    raise ValueError(f"placement={placement!r}: allowed are {list(PLACEMENTS)}")


# ---------------------------------------------------------------------------------------------
# Notebook 02: training dynamics from prejudiced and neutral starts
# ---------------------------------------------------------------------------------------------

_DATASETS = ("mnist", "fashion_mnist", "cifar10_va")

#: The official code's CIFAR-10 ``class_mapping``: vehicles (airplane, automobile, ship, truck)
#: -> 0, animals (cat, deer, dog, horse) -> 1; bird and frog are dropped.
VEHICLES_ANIMALS = {0: 0, 1: 0, 8: 0, 9: 0, 3: 1, 4: 1, 5: 1, 7: 1}


@lru_cache(maxsize=2)
def cifar_vehicles_animals(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 vehicles vs animals (:data:`VEHICLES_ANIMALS`) through
    :func:`common.data.load_cifar10`, flattened, each channel standardised with the training
    split's mean and standard deviation, in the dataset's order (the official code takes the
    first points of the filtered set). Needs the CIFAR-10 archive (offline: place it in
    ``$REPRO_DATA_DIR/cifar10/``)."""
    from common.data import load_cifar10

    Xtr = load_cifar10("train")[0]
    mean, std = Xtr.mean((0, 2, 3), keepdim=True), Xtr.std((0, 2, 3), keepdim=True)
    X, y = load_cifar10(split)
    keep = torch.isin(y, torch.tensor(list(VEHICLES_ANIMALS)))
    mapped = torch.tensor([VEHICLES_ANIMALS.get(int(c), -1) for c in range(10)])[y[keep]]
    return ((X[keep] - mean) / std).flatten(1), mapped


def real_inputs(name: str, n: int) -> torch.Tensor:
    """The first ``n`` training inputs of ``"mnist"`` (:func:`mnist_inputs`) or
    ``"cifar10_va"`` (:func:`cifar_vehicles_animals`)."""
    if name == "mnist":
        return mnist_inputs(n)
    if name == "cifar10_va":
        return cifar_vehicles_animals("train")[0][:n]
    raise ValueError(f"real inputs {name!r}: allowed are 'mnist' and 'cifar10_va'")


@lru_cache(maxsize=4)
def dataset(name: str, train_size: int, test_size: int):
    """``(X_train, y_train, X_test, y_test)``: the first images of each split, flattened.
    MNIST and Fashion-MNIST: standardised with the dataset's global scalars, labels mod 2
    (parity: a balanced binary task). ``cifar10_va``: :func:`cifar_vehicles_animals`. Cached per
    process."""
    from common.data import load_fashion_mnist, load_mnist, to_tensors
    from common.data.idx import FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD

    if name not in _DATASETS:
        raise ValueError(f"dataset={name!r}: allowed are {_DATASETS}")
    if name == "cifar10_va":
        out = []
        for split, n in (("train", train_size), ("test", test_size)):
            X, y = cifar_vehicles_animals(split)
            out += [X[:n], y[:n]]
        return tuple(out)
    load, mean, std = ((load_mnist, MNIST_MEAN, MNIST_STD) if name == "mnist"
                       else (load_fashion_mnist, FASHION_MNIST_MEAN, FASHION_MNIST_STD))
    out = []
    for split, n in (("train", train_size), ("test", test_size)):
        images, labels = load(split)
        X, y = to_tensors(images[:n], labels[:n], mean=mean, std=std, dtype=torch.float32)
        out += [X, y % 2]
    return tuple(out)


def eval_steps(num_steps: int, num_log: int) -> np.ndarray:
    """The official evaluation schedule: every step 0-7, then ``num_log`` log-spaced steps up to
    ``num_steps`` (dense early, where the bias is absorbed)."""
    early = np.arange(0, min(8, num_steps + 1))
    late = np.round(np.geomspace(8, num_steps, num_log)).astype(int) if num_steps > 8 else []
    return np.unique(np.concatenate([early, late])).astype(int)


@dataclass(frozen=True)
class TrainRun(Config):
    """One training run: a placement network trained with Adam on a binarised dataset."""

    placement: str = param("none", choices=tuple(PLACEMENTS), doc="norm placement")
    seed: int = param(0, ge=0, doc="initialisation and batch order")
    dataset: str = param("mnist", choices=_DATASETS, doc="binarised (parity) data")
    width: int = param(100, ge=2, doc="hidden width")
    depth: int = param(20, ge=1, doc="hidden layers")
    lr: float = param(1e-4, gt=0, doc="Adam learning rate")
    batch_size: int = param(512, ge=2, doc="mini-batch size")
    num_steps: int = param(200, ge=1, doc="Adam steps")
    num_log: int = param(8, ge=2, doc="log-spaced evaluations after step 7")
    train_size: int = param(10_000, ge=100, doc="training images (the first ones)")
    test_size: int = param(2000, ge=100, doc="test images (the first ones)")
    device: str = param("cpu", doc="cpu, cuda or auto")


def _evaluate(model: MLP, X: torch.Tensor, y: torch.Tensor) -> dict:
    """Test accuracy, per-class accuracy and class fractions, BN with the test batch's
    statistics (the official ``evaluate`` keeps BN active)."""
    with torch.no_grad(), batch_statistics(model):
        out = model(X)
    pred = out.argmax(-1)
    per_class = [float((pred[y == c] == c).float().mean()) for c in (0, 1)]
    return {"test_acc": float((pred == y).float().mean()), "class_acc": per_class,
            "max_frac": float(max_class_fraction(out)),
            "frac0": float(class_fractions(out, 2)[0])}


def train_run(run: TrainRun) -> dict:
    """Train one network with Adam (cross-entropy, batches drawn with replacement from
    ``seed``); evaluate on the test images at :func:`eval_steps`. Top level and seeded by its
    config, so sweep workers can run it."""
    device = resolve_device(run.device)
    Xtr, ytr, Xte, yte = (t.to(device) for t in dataset(run.dataset, run.train_size,
                                                        run.test_size))
    gen = torch.Generator().manual_seed(derive_seed(run.seed, "init"))
    model = build(run.placement, Xtr.shape[1], run.width, run.depth)(gen).to(device)
    gb = torch.Generator().manual_seed(derive_seed(run.seed, "batches"))
    batches = torch.randint(0, len(Xtr), (run.num_steps, run.batch_size), generator=gb)
    opt = torch.optim.Adam(model.parameters(), lr=run.lr)
    when = set(eval_steps(run.num_steps, run.num_log).tolist())
    rec: dict[str, list] = {"step": [], "test_acc": [], "class_acc": [], "max_frac": [],
                            "frac0": []}
    for k in range(run.num_steps + 1):
        if k in when:
            ev = _evaluate(model, Xte, yte)
            rec["step"].append(k)
            for key, v in ev.items():
                rec[key].append(v)
        if k == run.num_steps:
            break
        idx = batches[k].to(device)
        loss = torch.nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return rec


@dataclass(frozen=True)
class DynamicsConfig(Config):
    """Settings of ``02_dynamics``: every (placement, seed) is one :class:`TrainRun`."""

    seeds: tuple[int, ...] = param((0, 1, 2), ge=0, doc="training seeds")
    dataset: str = param("mnist", choices=_DATASETS, doc="binarised (parity) data")
    width: int = param(100, ge=2, doc="hidden width")
    depth: int = param(20, ge=1, doc="hidden layers")
    lr: float = param(1e-4, gt=0, doc="Adam learning rate")
    batch_size: int = param(512, ge=2, doc="batch size")
    num_steps: int = param(200, ge=9, doc="Adam steps")
    num_log: int = param(8, ge=2, doc="log-spaced evaluations after step 7")
    train_size: int = param(10_000, ge=100, doc="training images")
    test_size: int = param(2000, ge=100, doc="test images")
    early_step: int = param(10, ge=1, doc="the per-class gap is read at the first evaluation "
                                          "after this step")
    device: str = param("cpu", doc="cpu, cuda or auto")

    def __post_init__(self):
        super().__post_init__()
        if len(self.seeds) < 2 or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds={self.seeds}: at least two distinct seeds (paired "
                              "intervals)")
        if self.early_step >= self.num_steps:
            raise ConfigError(f"early_step={self.early_step} must be below "
                              f"num_steps={self.num_steps}")

    def runs(self) -> list[TrainRun]:
        """One :class:`TrainRun` per (seed, placement), in that order."""
        return [TrainRun(placement=p, seed=s, dataset=self.dataset, width=self.width,
                         depth=self.depth, lr=self.lr, batch_size=self.batch_size,
                         num_steps=self.num_steps, num_log=self.num_log,
                         train_size=self.train_size, test_size=self.test_size,
                         device=self.device)
                for s in self.seeds for p in PLACEMENTS]


def dynamics_sweep(cfg: DynamicsConfig, *, store_dir, executor: str = "debug",
                   resume: bool = False, progress: bool = False):
    """Every run of ``cfg`` through :func:`common.experiment.sweep` (resumable)."""
    return sweep(train_run, cfg.runs(), store_dir=store_dir, executor=executor, resume=resume,
                 progress=progress).raise_for_failures()


def first_eval_after(steps, step: int) -> int:
    """Index of the first evaluation strictly after ``step``."""
    for i, k in enumerate(steps):
        if k > step:
            return i
    raise ValueError(f"no evaluation after step {step} (last: {steps[-1]})")


def plot_dynamics(axes, frame) -> None:
    """Max-class fraction and test accuracy against the step, one line per (placement, seed)."""
    first = frame["seed"].min()
    for _, row in frame.iterrows():
        c = PLACEMENT_COLORS[row["placement"]]
        steps = np.maximum(np.asarray(row["step"]), 0.8)  # step 0 drawn at 0.8 on a log axis
        axes[0].plot(steps, row["max_frac"], color=c, alpha=0.8,
                     label=row["placement"] if row["seed"] == first else None)
        axes[1].plot(steps, row["test_acc"], color=c, alpha=0.8)
    for ax, lab in zip(axes, ("max-class fraction (test)", "test accuracy")):
        ax.set_xscale("log")
        ax.set_xlabel("step (0 drawn at 0.8)")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)


def placement_study(X: torch.Tensor, cfg: InitConfig) -> dict[tuple[str, int], dict]:
    """:func:`init_statistics` for every placement and depth of ``cfg`` on the inputs ``X``;
    every setting uses the same initialisation seeds (paired by network)."""
    seed = derive_seed(cfg.seed, "inits")
    return {(p, d): init_statistics(X, p, d, width=cfg.width, num_inits=cfg.num_inits, seed=seed)
            for d in cfg.depths for p in PLACEMENTS}


def ensemble_gamma(stats: dict, *, num_resamples: int = 1000, seed: int = 0):
    """The ensemble drift ratio mean(mu^2) / mean(Var_x y) of one setting with its bootstrap
    interval over initialisations (an :class:`~common.metrics.stats.Interval`)."""
    from common.metrics import bootstrap_ci

    return bootstrap_ci(lambda m2, v: float(np.mean(m2) / np.mean(v)), stats["mu2"],
                        stats["var"], num_resamples=num_resamples, seed=seed)


def eval_mode_fractions(X: torch.Tensor, depth: int, *, width: int, num_inits: int,
                        seed: int) -> dict[str, np.ndarray]:
    """Share of class 0 of ``bn_before`` networks in eval mode and in train mode, and of the
    ``none`` networks with the same linear weights (the pitfall of measuring BN networks in eval
    mode: fresh running statistics make BN the identity up to 1/sqrt(1 + eps))."""
    out = {}
    for name, placement, train in (("bn_eval", "bn_before", False),
                                   ("bn_train", "bn_before", True), ("none", "none", True)):
        make = build(placement, X.shape[1], width, depth)
        Y = ensemble_outputs(lambda g, make=make, train=train: make(g).train(train), X,
                             num_inits, seed=seed)
        out[name] = class_fractions(Y)[:, 0]
    return out
