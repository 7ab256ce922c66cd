r"""Code only the gn-conditioning reproduction needs (J. Zhao, S. P. Singh, A. Lucchi,
"Theoretical characterisation of the Gauss-Newton conditioning in Neural Networks",
arXiv 2411.02139, NeurIPS 2024).

Every curvature quantity comes from :mod:`common.metrics.curvature` (Jacobians, Gauss-Newton
spectra, the rank rule, the deep-linear closed forms and the Weyl bound, Lanczos); data from
:mod:`common.data` (MNIST / CIFAR-10, average-pool downsampling, ZCA whitening); models from
:mod:`common.models`. This module holds the paper's experiments:

- **Data** (:func:`inputs`): downsampled images with the pixels that are constant on the chosen
  samples removed (their covariance would be singular), optionally ZCA-whitened *exactly*
  (``eps = 0``) on the same samples, so that :math:`\Sigma = I`; or Gaussian inputs with a chosen
  covariance condition number.
- **Linear networks** (:func:`linear_draw`): one draw of a deep linear (or residual) network,
  its Gauss-Newton condition number from the closed form with the analytic rank, and the bound.
- **Nonlinear, BatchNorm** (:func:`one_hidden_kappa`): one-hidden-layer networks, condition
  number from the torch.func Jacobian (the batch function when BatchNorm is in train mode).
- **Training** (:func:`train_linear`) and **pruning** (:func:`pruned_kappa`).

Deep linear networks have no biases; targets are one-hot (MSE), which the Gauss-Newton matrix
does not depend on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from common.data import avg_pool_downsample, load_mnist, zca_whiten
from common.experiment import Config, derive_seed, param
from common.metrics import curvature as cv
from common.models import (
    MLP,
    DeepLinear,
    ResidualLinear,
    apply_masks,
    init_gaussian_,
    magnitude_masks,
    resnet20,
)

__all__ = ["DATASETS", "SPECTRA", "inputs", "labels", "LinearDraw", "linear_draw",
           "cell_table", "monotone_steps", "ACTIVATIONS", "NORMS", "one_hidden", "gn_kappa",
           "one_hidden_kappa", "mse", "train_mse", "TrainRun", "train_linear", "PruneRun",
           "KAPPA_PATHS", "pruned_kappa", "rank_sensitivity_run", "LinearStudy", "linear_grid",
           "residual_grid", "NonlinearStudy", "TrainingStudy"]

DT = torch.float64
DATASETS = ("synthetic", "mnist", "cifar10")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def _images(dataset: str, split: str = "train"):
    """(images float in [0, 1] with shape (N, C, H, W), labels int64)."""
    if dataset == "mnist":
        imgs, y = load_mnist(split)
        return torch.from_numpy(np.array(imgs, dtype=np.float64) / 255.0)[:, None], y
    if dataset == "cifar10":
        from common.data.cifar import load_cifar10  # the common CIFAR-10 loader (sha256, offline)

        imgs, y = load_cifar10(split=split)
        return torch.as_tensor(np.asarray(imgs), dtype=DT), np.asarray(y)
    raise ValueError(f"dataset={dataset!r}: allowed are {DATASETS[1:]} for images")


@functools.lru_cache(maxsize=16)
def _image_inputs(dataset: str, n: int, size: int, grayscale: bool, seed: int):
    imgs, y = _images(dataset)
    if n > len(imgs):
        raise ValueError(f"n={n}: {dataset} has {len(imgs)} training images")
    idx = np.random.default_rng(seed).permutation(len(imgs))[:n]
    x = imgs[torch.as_tensor(idx)]
    if grayscale:
        x = x.mean(1, keepdim=True)
    X = avg_pool_downsample(x, size).reshape(n, -1)
    return X[:, X.std(0) > 0], torch.as_tensor(np.asarray(y)[idx], dtype=torch.int64)


@functools.lru_cache(maxsize=16)
def _synthetic_inputs(n: int, d: int, kappa_sigma: float, seed: int) -> torch.Tensor:
    """Gaussian rows with covariance eigenvalues log-spaced from 1 to ``kappa_sigma``."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, d, generator=g, dtype=DT)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=DT))
    scales = torch.logspace(0, 0.5 * math.log10(kappa_sigma), d, dtype=DT)
    return (Z * scales) @ Q.T


def inputs(dataset: str, n: int, *, whiten: bool, d: int = 16, size: int = 8,
           grayscale: bool = True, kappa_sigma: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Float64 inputs ``(n, d)``: images downsampled to ``size x size`` (constant pixels
    removed) or Gaussian (``d`` features, covariance condition number ``kappa_sigma``);
    ``whiten``: exact ZCA (eps = 0, centred) on these samples, so X^T X / n = I."""
    if dataset == "synthetic":
        X = _synthetic_inputs(n, d, float(kappa_sigma), seed)
    else:
        X = _image_inputs(dataset, n, size, grayscale, seed)[0]
    return zca_whiten(X, 0.0) if whiten else X


def labels(dataset: str, n: int, *, size: int = 8, grayscale: bool = True, seed: int = 0):
    """The labels of :func:`inputs`' samples (image datasets)."""
    return _image_inputs(dataset, n, size, grayscale, seed)[1]


# ---------------------------------------------------------------------------------------------
# Deep linear networks
# ---------------------------------------------------------------------------------------------

#: How a draw's nonzero spectrum is computed: the Kronecker form's eigenvalues (fast; absolute
#: accuracy 1e-16 lambda_max) or its singular-value factor (resolves kappa far beyond 1e12).
SPECTRA = {
    "eig": cv.linear_gn_eigenvalues,
    "svd": lambda weights, X: cv.linear_gn_singular_values(weights, X) ** 2,
}


@dataclass(frozen=True)
class LinearDraw(Config):
    """One draw of a deep linear network on one data set."""

    dataset: str = param("synthetic", choices=DATASETS, doc="input data")
    whiten: bool = param(True, doc="exact ZCA whitening on the samples used")
    n: int = param(2000, ge=2, doc="samples")
    d: int = param(16, ge=1, doc="synthetic input dimension")
    kappa_sigma: float = param(1.0, ge=1, doc="synthetic covariance condition number")
    size: int = param(8, ge=1, doc="image side after average pooling")
    grayscale: bool = param(True, doc="average the colour channels (CIFAR-10)")
    k: int = param(4, ge=1, doc="outputs")
    depth: int = param(2, ge=1, doc="number of layers L")
    width: int = param(64, ge=1, doc="hidden width m")
    arch: str = param("plain", choices=("plain", "residual"), doc="plain or residual layers")
    gain: float = param(2.0, gt=0, doc="weight variance gain / fan_in (2: Kaiming normal)")
    spectrum: str = param("eig", choices=tuple(SPECTRA), doc="closed-form spectrum path")
    seed: int = param(0, ge=0, doc="network draw")
    data_seed: int = param(0, ge=0, doc="sample selection / synthetic data")
    device: str = param("cpu", doc="torch device of the closed forms ('auto': a GPU if any)")


def _network_weights(c: LinearDraw, d: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(derive_seed(c.seed, "linear-net", c.depth, c.width))
    if c.arch == "residual":
        if not (d == c.width == c.k):
            raise ValueError(f"a residual linear network is square: d = width = k, got d={d}, "
                             f"width={c.width}, k={c.k}")
        return ResidualLinear(d, c.depth, gain=c.gain, generator=g, dtype=DT).effective_weights()
    net = DeepLinear(d, (c.width,) * (c.depth - 1), c.k, gain=c.gain, generator=g, dtype=DT)
    return net.weights()


def linear_draw(c: LinearDraw) -> dict:
    """kappa(G_O) (closed form, analytic rank), the bound, the loose bound, and the measured
    kappa(Sigma) (``cov_kappa``; the config field ``kappa_sigma`` is the synthetic target)."""
    from common.experiment.device import resolve_device

    dev = resolve_device(c.device)
    X = inputs(c.dataset, c.n, whiten=c.whiten, d=c.d, size=c.size, grayscale=c.grayscale,
               kappa_sigma=c.kappa_sigma, seed=c.data_seed)
    weights = _network_weights(c, X.shape[1])
    X, weights = X.to(dev), [w.to(dev) for w in weights]
    widths = [w.shape[0] for w in weights[:-1]]
    rank = cv.linear_gn_rank(X.shape[1], widths, c.k)
    ev = SPECTRA[c.spectrum](weights, X)
    kappa = cv.pseudo_condition_number(ev, rank=rank)
    b = cv.weyl_bound(weights, X)
    return {"kappa": kappa, "bound": b.bound, "loose": b.loose, "cov_kappa": b.kappa_sigma,
            "rank": rank, "input_dim": int(X.shape[1]), "lambda_max": float(ev[0]),
            "lambda_min": float(ev[rank - 1])}


def cell_table(df, value: str, index: str = "depth", columns: str = "width", agg: str = "mean"):
    """A pivot of ``value`` over the grid (one row per depth, one column per width)."""
    return df.pivot_table(index=index, columns=columns, values=value, aggfunc=agg)


def monotone_steps(values, increasing: bool = True) -> float:
    """The smallest ratio between consecutive values (increasing: v[i+1] / v[i]; decreasing:
    v[i] / v[i+1]); above 1 means strictly monotone."""
    v = np.asarray(values, dtype=float)
    r = v[1:] / v[:-1] if increasing else v[:-1] / v[1:]
    return float(r.min())


# ---------------------------------------------------------------------------------------------
# One hidden layer: activations and BatchNorm (the Jacobian from torch.func)
# ---------------------------------------------------------------------------------------------

#: The hidden nonlinearity by name (leaky ReLU with slope 0.1, as in our notes).
ACTIVATIONS = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": functools.partial(nn.LeakyReLU, 0.1),
}
#: How the hidden layer is normalised: not at all, BatchNorm with batch statistics (train
#: mode: the Jacobian is that of the batch function), or BatchNorm frozen at its initial
#: running statistics (eval mode: the batch coupling removed, the negative control).
NORMS = ("none", "batchnorm", "batchnorm_eval")


def one_hidden(d: int, width: int, k: int, *, activation: str = "linear", norm: str = "none",
               seed: int = 0) -> nn.Module:
    """``d -> width -> k`` without biases, N(0, 2/fan_in) weights, optionally BatchNorm (with its
    affine parameters) before the activation."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r}: allowed are {sorted(ACTIVATIONS)}")
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r}: allowed are {NORMS}")
    layers = [nn.Linear(d, width, bias=False)]
    if norm != "none":
        layers.append(nn.BatchNorm1d(width))
    layers += [ACTIVATIONS[activation](), nn.Linear(width, k, bias=False)]
    model = nn.Sequential(*layers).to(DT)
    g = torch.Generator().manual_seed(derive_seed(seed, "one-hidden", width))
    init_gaussian_(model, sigma_w2=2.0, generator=g)
    return model.train(norm != "batchnorm_eval")


def gn_kappa(model: nn.Module, X: torch.Tensor, *, rtol: float = cv.DEFAULT_RTOL,
             mask: torch.Tensor | None = None) -> dict:
    """kappa(G_O) from the torch.func Jacobian (the batch function: valid with BatchNorm) with
    the relative rank rule; ``mask`` (a 0/1 vector over the parameters) drops pruned columns."""
    J = cv.batch_jacobian(model, X)
    if mask is not None:
        J = J[:, mask.bool()]
    ev = cv.gn_eigenvalues(J, X.shape[0])
    return {"kappa": cv.pseudo_condition_number(ev, rtol=rtol),
            "rank": cv.numerical_rank(ev, rtol), "eigenvalues": ev}


def one_hidden_kappa(X: torch.Tensor, width: int, *, activation: str = "linear",
                     norm: str = "none", seed: int = 0, k: int = 10,
                     rtol: float = cv.DEFAULT_RTOL) -> dict:
    """kappa and numerical rank of one draw of :func:`one_hidden` on ``X``."""
    model = one_hidden(X.shape[1], width, k, activation=activation, norm=norm, seed=seed)
    out = gn_kappa(model, X, rtol=rtol)
    return {"kappa": out["kappa"], "rank": out["rank"]}


# ---------------------------------------------------------------------------------------------
# Training (MSE on one-hot targets) with checkpoints
# ---------------------------------------------------------------------------------------------

def mse(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """:math:`\\frac{1}{2n}\\sum_i \\|f(x_i) - y_i\\|^2`, the loss whose Gauss-Newton matrix is
    :math:`G_O`."""
    return 0.5 * (model(X) - Y).pow(2).sum(1).mean()


def train_mse(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *, lr: float, num_steps: int,
              batch_size: int, seed: int, every: int = 0, on_checkpoint=None,
              masks: dict | None = None) -> dict:
    """Plain SGD (``torch.optim.SGD``, constant ``lr``) on :func:`mse`; mini-batches drawn
    without replacement within an epoch from ``seed`` (``batch_size = n``: gradient descent).

    Every ``every`` steps (and at step 0 and the end) ``on_checkpoint(step)`` is called and the
    full-batch loss recorded; pruning ``masks`` are re-applied after each step. Stops early with
    ``diverged=True`` when the loss is not finite.
    """
    n = X.shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    steps, losses, extra, perm, pos = [], [], [], torch.randperm(n, generator=g), 0

    def checkpoint(step):
        with torch.no_grad():
            loss = float(mse(model, X, Y))
        steps.append(step)
        losses.append(loss)
        if on_checkpoint is not None and math.isfinite(loss):
            extra.append(on_checkpoint(step))
        return math.isfinite(loss)

    ok = checkpoint(0)
    for step in range(1, num_steps + 1):
        if not ok:
            break
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        opt.zero_grad()
        mse(model, X[idx], Y[idx]).backward()
        opt.step()
        if masks:
            apply_masks(model, masks)
        if (every and step % every == 0) or step == num_steps:
            ok = checkpoint(step)
    return {"steps": steps, "loss": losses, "checkpoints": extra, "diverged": not ok}


@dataclass(frozen=True)
class TrainRun(Config):
    """Training a deep linear network, kappa and the bound at checkpoints (closed forms)."""

    width: int = param(128, ge=1, doc="hidden width m")
    depth: int = param(3, ge=2, doc="layers L")
    gain: float = param(1.0, gt=0, doc="weight variance gain / fan_in")
    lr: float = param(0.2, gt=0, doc="SGD step size")
    batch_size: int = param(1000, ge=1, doc="mini-batch size (n: gradient descent)")
    num_steps: int = param(300, ge=1, doc="SGD steps")
    every: int = param(25, ge=1, doc="steps between checkpoints")
    dataset: str = param("mnist", choices=DATASETS[1:], doc="images")
    n: int = param(1000, ge=2, doc="training samples")
    size: int = param(8, ge=1, doc="image side after pooling")
    grayscale: bool = param(True, doc="average colour channels (CIFAR-10)")
    seed: int = param(0, ge=0, doc="initialisation and batch order")
    device: str = param("cpu", doc="torch device ('auto': a GPU if any)")


def train_linear(c: TrainRun) -> dict:
    """Train :class:`~common.models.DeepLinear` on whitened images with one-hot MSE; at every
    checkpoint record kappa (closed form, analytic rank), the bound and the loss."""
    from common.experiment.device import resolve_device

    dev = resolve_device(c.device)
    X = inputs(c.dataset, c.n, whiten=True, size=c.size, grayscale=c.grayscale).to(dev)
    y = labels(c.dataset, c.n, size=c.size, grayscale=c.grayscale)
    Y = nn.functional.one_hot(y, 10).to(DT).to(dev)
    widths = (c.width,) * (c.depth - 1)
    g = torch.Generator().manual_seed(derive_seed(c.seed, "train-linear"))
    net = DeepLinear(X.shape[1], widths, 10, gain=c.gain, generator=g, dtype=DT).to(dev)
    rank = cv.linear_gn_rank(X.shape[1], widths, 10)

    def measure(step):
        ev = cv.linear_gn_eigenvalues(net.weights(), X)
        return {"kappa": cv.pseudo_condition_number(ev, rank=rank),
                "bound": cv.weyl_bound(net.weights(), X).bound}

    out = train_mse(net, X, Y, lr=c.lr, num_steps=c.num_steps, batch_size=c.batch_size,
                    seed=c.seed, every=c.every, on_checkpoint=measure)
    return {"steps": out["steps"], "loss": out["loss"], "diverged": out["diverged"],
            "kappa": [m["kappa"] for m in out["checkpoints"]],
            "bound": [m["bound"] for m in out["checkpoints"]]}


# ---------------------------------------------------------------------------------------------
# Pruning at initialisation
# ---------------------------------------------------------------------------------------------

def _mlp(d: int, hidden, k: int, seed: int) -> nn.Module:
    model = MLP(d, tuple(hidden), k).to(DT)
    return init_gaussian_(model, sigma_w2=2.0,
                          generator=torch.Generator().manual_seed(derive_seed(seed, "mlp")))


def _resnet(seed: int) -> nn.Module:
    torch.manual_seed(derive_seed(seed, "resnet"))
    return resnet20().to(DT)


@dataclass(frozen=True)
class PruneRun(Config):
    """A network magnitude-pruned at initialisation: kappa at init, then training."""

    model: str = param("mlp", choices=("mlp", "resnet20"), doc="MLP on pooled images or ResNet-20")
    hidden: tuple[int, ...] = param((128, 128), ge=1, doc="MLP hidden widths")
    ratio: float = param(0.0, ge=0, lt=1, doc="fraction of each layer's weights removed")
    dataset: str = param("mnist", choices=DATASETS[1:], doc="images")
    n_train: int = param(1000, ge=2, doc="training samples")
    n_gn: int = param(100, ge=2, doc="samples of the Gauss-Newton matrix (the first n_gn)")
    size: int = param(8, ge=1, doc="MLP: image side after pooling")
    lr: float = param(0.05, gt=0, doc="SGD step size")
    batch_size: int = param(1000, ge=1, doc="mini-batch size")
    num_steps: int = param(300, ge=0, doc="training steps")
    every: int = param(50, ge=1, doc="steps between loss records")
    kappa_path: str = param("dense", choices=("dense", "lanczos"), doc="how kappa is computed")
    rtol: float = param(1e-10, gt=0, lt=1, doc="relative rank cut-off")
    num_smallest: int = param(20, ge=1, doc="Lanczos: smallest eigenvalues requested")
    seed: int = param(0, ge=0, doc="initialisation and batch order")
    device: str = param("cpu", doc="torch device ('auto': a GPU if any)")


def _prune_data(c: PruneRun):
    if c.model == "mlp":
        X = inputs(c.dataset, c.n_train, whiten=True, size=c.size)
        y = labels(c.dataset, c.n_train, size=c.size)
        return X, y
    imgs, y = _images(c.dataset)
    idx = np.random.default_rng(0).permutation(len(imgs))[:c.n_train]
    x = imgs[torch.as_tensor(idx)]
    x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)
    return x, torch.as_tensor(np.asarray(y)[idx], dtype=torch.int64)


def _kappa_dense(model, X, masks, c: PruneRun) -> dict:
    keep = torch.cat([masks.get(name, torch.ones_like(p)).reshape(-1)
                      for name, p in model.named_parameters()])
    out = gn_kappa(model, X, rtol=c.rtol, mask=keep)
    return {"kappa": out["kappa"], "rank": out["rank"], "lambda_max": float(out["eigenvalues"][0])}


def _kappa_lanczos(model, X, masks, c: PruneRun) -> dict:
    ops = cv.gn_operators(model, X, param_mask=masks)
    lk = cv.lanczos_condition_number(ops, num_smallest=c.num_smallest, rtol=c.rtol,
                                     device=X.device)
    return {"kappa": lk.kappa, "rank": None, "lambda_max": lk.lambda_max,
            "below_cut": lk.below_cut}


#: kappa of a pruned model: the dense Gram (CPU scale) or Lanczos on GN-vector products.
KAPPA_PATHS = {"dense": _kappa_dense, "lanczos": _kappa_lanczos}


def pruned_kappa(c: PruneRun) -> dict:
    """Prune at init, measure kappa on the first ``n_gn`` samples, train with MSE, record the
    loss (the paper's Fig. 1: more pruning, higher kappa, slower loss decrease)."""
    from common.experiment.device import resolve_device

    dev = resolve_device(c.device)
    X, y = _prune_data(c)
    X, Y = X.to(dev), nn.functional.one_hot(y, 10).to(DT).to(dev)
    model = (_mlp(X.shape[1], c.hidden, 10, c.seed) if c.model == "mlp"
             else _resnet(c.seed)).to(dev)
    masks = magnitude_masks(model, c.ratio)
    apply_masks(model, masks)
    res = KAPPA_PATHS[c.kappa_path](model, X[:c.n_gn], masks, c)
    train = train_mse(model, X, Y, lr=c.lr, num_steps=c.num_steps, batch_size=c.batch_size,
                      seed=c.seed, every=c.every, masks=masks)
    return {**res, "steps": train["steps"], "loss": train["loss"], "diverged": train["diverged"]}


def rank_sensitivity_run(X: torch.Tensor, Y: torch.Tensor, *, width: int, n_gn: int, lr: float,
                         num_steps: int, rtols, seed: int) -> dict:
    """kappa against the rank cut-off for a one-hidden-layer ReLU MLP (with biases), at
    initialisation and after ``num_steps`` of gradient descent on MSE."""
    model = _mlp(X.shape[1], (width,), Y.shape[1], seed)
    before = cv.rank_sensitivity(gn_kappa(model, X[:n_gn])["eigenvalues"], rtols)
    train = train_mse(model, X, Y, lr=lr, num_steps=num_steps, batch_size=X.shape[0], seed=seed)
    after = cv.rank_sensitivity(gn_kappa(model, X[:n_gn])["eigenvalues"], rtols)
    return {"rtols": list(rtols), "rank_init": before[:, 0].tolist(),
            "kappa_init": before[:, 1].tolist(), "rank_trained": after[:, 0].tolist(),
            "kappa_trained": after[:, 1].tolist(), "final_loss": train["loss"][-1],
            "p": cv.num_params(model)}


# ---------------------------------------------------------------------------------------------
# Notebook configs and grids
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinearStudy(Config):
    """01_linear_bounds: the grid of deep linear networks and the residual comparison."""

    seeds: int = param(20, ge=2, doc="network draws per (data, depth, width) cell")
    depths: tuple[int, ...] = param((1, 2, 3, 4, 6, 8), ge=1, doc="depths L")
    widths: tuple[int, ...] = param((16, 64, 256), ge=1, doc="hidden widths m")
    synthetic_n: int = param(2000, ge=2, doc="synthetic samples")
    synthetic_d: int = param(16, ge=1, doc="synthetic input dimension")
    synthetic_k: int = param(4, ge=1, doc="synthetic outputs")
    unwhitened_kappa_sigma: float = param(10.0, gt=1, doc="kappa(Sigma) of the unwhitened inputs")
    image_dataset: str = param("mnist", choices=DATASETS[1:], doc="image data set")
    image_n: int = param(1000, ge=2, doc="images")
    image_size: int = param(8, ge=1, doc="image side after average pooling")
    image_grayscale: bool = param(True, doc="average colour channels (CIFAR-10)")
    image_k: int = param(10, ge=1, doc="outputs (one-hot classes)")
    residual_dim: int = param(16, ge=1, doc="d = m = k of the residual comparison")
    residual_depths: tuple[int, ...] = param((1, 2, 4, 8), ge=1, doc="residual depths")
    residual_draws: int = param(20, ge=2, doc="draws per residual depth")
    prop_from: tuple[int, ...] = param((2, 64), ge=1, doc="(depth, width) where m ∝ L starts")
    prop_to: tuple[int, ...] = param((8, 256), ge=1, doc="(depth, width) where m ∝ L ends")
    device: str = param("cpu", doc="torch device of the closed forms")
    seed: int = param(0, ge=0, doc="base seed of every draw")

    def __post_init__(self):
        super().__post_init__()
        from common.experiment import ConfigError

        if 1 not in self.residual_depths:
            raise ConfigError("residual_depths must contain 1 (the negative control)")
        for name in ("prop_from", "prop_to"):
            L, m = getattr(self, name)
            if L not in self.depths or m not in self.widths:
                raise ConfigError(f"{name}={getattr(self, name)}: (depth, width) must be in "
                                  f"depths={self.depths} and widths={self.widths}")


def linear_grid(s: LinearStudy) -> list[LinearDraw]:
    """Every (data, whitening, depth, width, seed) draw of the grid."""
    data = [dict(dataset="synthetic", n=s.synthetic_n, d=s.synthetic_d, k=s.synthetic_k),
            dict(dataset=s.image_dataset, n=s.image_n, size=s.image_size,
                 grayscale=s.image_grayscale, k=s.image_k)]
    out = []
    for kw in data:
        for whiten in (True, False):
            extra = ({"kappa_sigma": s.unwhitened_kappa_sigma}
                     if kw["dataset"] == "synthetic" and not whiten else {})
            for L in s.depths:
                for m in s.widths:
                    for r in range(s.seeds):
                        out.append(LinearDraw(whiten=whiten, depth=L, width=m,
                                              seed=derive_seed(s.seed, "draw", r),
                                              data_seed=s.seed, device=s.device, **kw, **extra))
    return out


def residual_grid(s: LinearStudy) -> list[LinearDraw]:
    """Square plain and residual networks, N(0, 1/m) weights, log-space spectra."""
    return [LinearDraw(dataset="synthetic", n=s.synthetic_n, d=s.residual_dim, k=s.residual_dim,
                       width=s.residual_dim, depth=L, arch=arch, gain=1.0, spectrum="svd",
                       seed=derive_seed(s.seed, "residual", r), data_seed=s.seed,
                       device=s.device)
            for L in s.residual_depths for r in range(s.residual_draws)
            for arch in ("plain", "residual")]


@dataclass(frozen=True)
class NonlinearStudy(Config):
    """02_relu_batchnorm: one hidden layer, activations and BatchNorm."""

    widths: tuple[int, ...] = param((32, 64, 128), ge=1, doc="hidden widths m")
    activation_seeds: int = param(5, ge=2, doc="draws per (activation, width)")
    bn_seeds: int = param(5, ge=2, doc="draws per (normalisation, width)")
    dataset: str = param("mnist", choices=DATASETS[1:], doc="image data set")
    n: int = param(100, ge=2, doc="samples of the Gauss-Newton matrix")
    size: int = param(8, ge=1, doc="image side after average pooling")
    grayscale: bool = param(True, doc="average colour channels (CIFAR-10)")
    rtol: float = param(1e-10, gt=0, lt=1, doc="relative rank cut-off")
    lanczos_width: int = param(64, ge=1, doc="width of the Lanczos-vs-dense check")
    seed: int = param(0, ge=0, doc="base seed")


@dataclass(frozen=True)
class TrainingStudy(Config):
    """03_training_pruning: training, pruning at init, rank sensitivity."""

    train_width: int = param(128, ge=1, doc="width of the 3-layer linear network")
    train_depth: int = param(3, ge=2, doc="its depth")
    train_gain: float = param(1.0, gt=0, doc="its init variance gain / fan_in")
    train_lr: float = param(0.2, gt=0, doc="step size (gradient descent)")
    train_steps: int = param(300, ge=1, doc="steps")
    train_every: int = param(25, ge=1, doc="steps between checkpoints")
    train_seeds: int = param(3, ge=1, doc="initialisations")
    sgd_batch_size: int = param(100, ge=1, doc="mini-batch of the SGD variant")
    sgd_lr: float = param(0.02, gt=0, doc="step size of the SGD variant")
    dataset: str = param("mnist", choices=DATASETS[1:], doc="image data set")
    n: int = param(1000, ge=2, doc="training samples")
    size: int = param(8, ge=1, doc="image side after average pooling")
    grayscale: bool = param(True, doc="average colour channels (CIFAR-10)")
    prune_model: str = param("mlp", choices=("mlp", "resnet20"), doc="pruned model")
    prune_hidden: tuple[int, ...] = param((128, 128), ge=1, doc="MLP hidden widths")
    prune_ratios: tuple[float, ...] = param((0.0, 0.2, 0.4, 0.6, 0.8), ge=0, lt=1,
                                            doc="pruning ratios")
    prune_seeds: int = param(3, ge=2, doc="initialisations per ratio")
    prune_n_gn: int = param(100, ge=2, doc="samples of the Gauss-Newton matrix")
    prune_lr: float = param(0.05, gt=0, doc="step size (gradient descent)")
    prune_steps: int = param(300, ge=0, doc="training steps")
    prune_batch_size: int = param(1000, ge=1, doc="mini-batch size")
    kappa_path: str = param("dense", choices=("dense", "lanczos"), doc="kappa of pruned models")
    num_smallest: int = param(20, ge=1, doc="Lanczos: smallest eigenvalues requested")
    rank_width: int = param(16, ge=1, doc="width of the rank-sensitivity MLP")
    rank_n_gn: int = param(200, ge=2, doc="its Gauss-Newton samples")
    rank_steps: int = param(1000, ge=1, doc="its training steps")
    rank_lr: float = param(0.05, gt=0, doc="its step size")
    rank_seeds: int = param(2, ge=1, doc="its initialisations")
    rtols: tuple[float, ...] = param((1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4), gt=0, lt=1,
                                     doc="rank cut-offs")
    device: str = param("cpu", doc="torch device ('auto': a GPU if any)")
    seed: int = param(0, ge=0, doc="base seed")

    def train_runs(self) -> list[TrainRun]:
        """Gradient descent (the hard check) and mini-batch SGD (reported), per seed."""
        common = dict(width=self.train_width, depth=self.train_depth, gain=self.train_gain,
                      num_steps=self.train_steps, every=self.train_every, dataset=self.dataset,
                      n=self.n, size=self.size, grayscale=self.grayscale, device=self.device)
        return [TrainRun(lr=lr, batch_size=bs, seed=derive_seed(self.seed, "train", r), **common)
                for lr, bs in ((self.train_lr, self.n), (self.sgd_lr, self.sgd_batch_size))
                for r in range(self.train_seeds)]

    def prune_runs(self) -> list[PruneRun]:
        return [PruneRun(model=self.prune_model, hidden=self.prune_hidden, ratio=ratio,
                         dataset=self.dataset, n_train=self.n, n_gn=self.prune_n_gn,
                         size=self.size, lr=self.prune_lr, batch_size=self.prune_batch_size,
                         num_steps=self.prune_steps, kappa_path=self.kappa_path,
                         num_smallest=self.num_smallest, seed=derive_seed(self.seed, "prune", r),
                         device=self.device)
                for ratio in self.prune_ratios for r in range(self.prune_seeds)]
