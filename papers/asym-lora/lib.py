"""Experiments of asym-lora (Kratsios, Cheng, Lucchi, Sáez de Ocáriz Borde, arXiv 2506.14530):
the generalisation gap of asymmetric LoRA (A random and frozen, B trained from zero).

- :func:`foundation` pretrains the "foundation model" (an MLP 784-256-256-10 on MNIST, Adam) and
  returns its frozen penultimate features of Fashion-MNIST and its MNIST head (W0, b0);
- :func:`concentration_grid` (notebook 01, C1): head-LoRA on those features with clean labels, the
  convex fit of :mod:`common.models.head_lora` for every (N, data subset, r, draw of A);
- :func:`random_label_grid` (notebook 02, C2/C3): the same with labels independent of the inputs,
  the adapted head starting from zero (W0 = 0, the notes' errata), 0-1 gaps;
- :func:`hidden_lora_run` (paper scale): LoRA on the layers of the MLP (hidden layers and head,
  non-convex, Adam for a fixed number of epochs) for one (N, r, arm, A-draw, S-draw), through
  :func:`common.experiment.sweep` over :class:`HiddenLoRARun` configs.

Generic pieces live in ``common``: the LoRA layer (:mod:`common.models.lora`), the fitter, the gap
estimator and slope fits (:mod:`common.metrics.generalization`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.data import load_fashion_mnist, load_mnist, to_tensors
from common.experiment import DEVICE_CHOICES, Config, derive_seed, param, resolve_device
from common.metrics.generalization import risk
from common.models import MLP, apply_lora, fit_head_lora, head_lora_logits, init_lora_A
from common.optim.training import train_classifier

__all__ = ["ConcentrationConfig", "RandomLabelConfig", "Foundation", "foundation",
           "subset_indices", "concentration_grid", "random_label_grid", "HiddenLoRARun",
           "hidden_lora_run", "hidden_lora_sweep", "ARMS", "one_thread", "within_subset_draws"]

#: arms named by the frozen factor (common.models.lora.FREEZE): asymmetric, symmetric, mirrored
ARMS = {"A_rand_B_train": "A", "A_train_B_train": "none", "A_train_B_rand": "B"}


@dataclass(frozen=True)
class ConcentrationConfig(Config):
    """Settings of ``01_lora_gap_concentration`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="seed of pretraining, subsets and A-draws")
    hidden: tuple[int, ...] = param((256, 256), ge=1, doc="hidden widths of the foundation MLP")
    pretrain_epochs: int = param(1, ge=1, doc="Adam epochs of the MNIST pretraining")
    pretrain_lr: float = param(1e-3, gt=0, doc="Adam step of the pretraining")
    batch_size: int = param(128, ge=1, doc="mini-batch of the pretraining")
    sample_sizes: tuple[int, ...] = param((250, 500, 1000, 2000), ge=10, doc="training sizes N")
    num_subsets: int = param(2, ge=1, doc="disjoint data subsets S per N")
    ranks: tuple[int, ...] = param((1, 4, 16), ge=1, doc="LoRA ranks r")
    num_draws: int = param(16, ge=2, doc="draws of the frozen factor A per (N, S, r)")
    a_init: str = param("gauss", choices=("gauss", "orth", "kaiming"), doc="distribution of A")
    weight_decay: float = param(1e-4, gt=0, doc="weight decay lambda of the convex fit")
    gtol: float = param(1e-8, gt=0, doc="gradient tolerance of the Newton fit")
    frozen_head: str = param("zero", choices=("zero", "mnist"),
                             doc="frozen head W0 under the adapter: zero, or the MNIST head")


@dataclass(frozen=True)
class RandomLabelConfig(Config):
    """Settings of ``02_lora_sqrt_rate_noisy_regime`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="seed of pretraining, subsets, labels and A-draws")
    hidden: tuple[int, ...] = param((256, 256), ge=1, doc="hidden widths of the foundation MLP")
    pretrain_epochs: int = param(1, ge=1, doc="Adam epochs of the MNIST pretraining")
    pretrain_lr: float = param(1e-3, gt=0, doc="Adam step of the pretraining")
    batch_size: int = param(128, ge=1, doc="mini-batch of the pretraining")
    sample_sizes: tuple[int, ...] = param((250, 500, 1000, 2000, 4000), ge=10,
                                          doc="training sizes N")
    ranks: tuple[int, ...] = param((1, 4, 16), ge=1, doc="LoRA ranks r")
    num_draws: int = param(8, ge=2, doc="draws of A per (N, r, label draw)")
    num_label_draws: int = param(3, ge=1, doc="draws of the random labels (and subsets)")
    a_init: str = param("gauss", choices=("gauss", "orth", "kaiming"), doc="distribution of A")
    weight_decay: float = param(1e-3, gt=0, doc="weight decay lambda of the convex fit")
    gtol: float = param(1e-8, gt=0, doc="gradient tolerance of the Newton fit")


@dataclass(frozen=True)
class Foundation:
    """Frozen features of Fashion-MNIST (train ``H``, ``y``; test ``H_test``, ``y_test``), the
    pretrained MNIST head ``W0`` (K x d), ``b0`` and the MNIST test accuracy."""

    H: np.ndarray
    y: np.ndarray
    H_test: np.ndarray
    y_test: np.ndarray
    W0: np.ndarray
    b0: np.ndarray
    mnist_test_accuracy: float


def _pretrained_mlp(seed: int, hidden: tuple[int, ...], epochs: int, lr: float,
                    batch_size: int, max_train: int | None = None) -> tuple[MLP, float]:
    torch.manual_seed(derive_seed(seed, "foundation-init"))
    X, y = to_tensors(*load_mnist("train"))
    if max_train is not None:
        X, y = X[:max_train], y[:max_train]
    model = MLP(784, tuple(hidden), 10)
    out = train_classifier(model, "Adam", lr, X, y, epochs=epochs, batch_size=batch_size,
                           seed=derive_seed(seed, "foundation-order"))
    if out["diverged"]:
        raise RuntimeError("pretraining diverged: lower pretrain_lr")
    Xt, yt = to_tensors(*load_mnist("test"))
    with torch.no_grad():
        acc = float((model(Xt).argmax(1) == yt).double().mean())
    return model, acc


def foundation(seed: int, hidden: tuple[int, ...], epochs: int, lr: float,
               batch_size: int) -> Foundation:
    """Pretrain the MLP on MNIST and return its frozen features of Fashion-MNIST (float64)."""
    model, acc = _pretrained_mlp(seed, hidden, epochs, lr, batch_size)
    body, head = torch.nn.Sequential(*list(model)[:-1]), model[-1]
    out = []
    with torch.no_grad():
        for split in ("train", "test"):
            X, y = to_tensors(*load_fashion_mnist(split))
            out += [body(X).double().numpy(), y.numpy()]
    return Foundation(*out, head.weight.detach().double().numpy(),
                      head.bias.detach().double().numpy(), acc)


def subset_indices(num_rows: int, sizes, num_subsets: int, seed: int) -> dict:
    """``{(N, s): indices}``: ``num_subsets`` disjoint blocks of ``max(sizes)`` rows of one random
    permutation; the subset of size ``N`` is the first ``N`` rows of block ``s`` (nested in N)."""
    n_max = max(sizes)
    if num_subsets * n_max > num_rows:
        raise ValueError(f"num_subsets * max(sample_sizes) = {num_subsets * n_max} exceeds the "
                         f"{num_rows} rows")
    perm = np.random.default_rng(derive_seed(seed, "subsets")).permutation(num_rows)
    return {(N, s): perm[s * n_max: s * n_max + N] for N in sizes for s in range(num_subsets)}


def _fit_gaps(H, y, Ht, yt, A, W0, b0, weight_decay, gtol, K=10):
    fit = fit_head_lora(H, y, A, W0, b0, num_classes=K, weight_decay=weight_decay, gtol=gtol)
    tr = head_lora_logits(H, A, fit.B, W0, b0)
    te = head_lora_logits(Ht, A, fit.B, W0, b0)
    return ({loss: (risk(tr, y, loss), risk(te, yt, loss)) for loss in ("ce", "01")},
            fit.converged, fit.grad_norm)


def one_thread(fn):
    """Run ``fn`` with the BLAS pools limited to one thread (bit-stable, no spinning threads)."""
    from functools import wraps

    from threadpoolctl import threadpool_limits

    @wraps(fn)
    def wrapped(*args, **kwargs):
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)
    return wrapped


def within_subset_draws(G: np.ndarray) -> np.ndarray:
    """``(P, S, D)`` per-(point, subset, draw) values -> ``(P, S * D)`` values centred on each
    subset's mean over draws: their spread over the last axis is the across-A spread pooled over
    the data subsets, ready for :func:`common.metrics.generalization.slope_over_draws`."""
    G = np.asarray(G, dtype=np.float64)
    P, S, D = G.shape
    c = G - G.mean(axis=2, keepdims=True)
    # std(ddof=1) over the S * D centred values equals the pooled within-subset std
    return c.reshape(P, -1) * np.sqrt((S * D - 1) / (S * (D - 1)))


@one_thread
def concentration_grid(cfg: ConcentrationConfig, F: Foundation) -> dict:
    """Clean-label head-LoRA fits over (N, S, r, draw); A is shared across N and S (paired).

    Returns arrays of shape ``(len(sizes), num_subsets, len(ranks), num_draws)``: ``train`` and
    ``test`` risks per loss (``"ce"``, ``"01"``), ``gap`` = test - train, and the fraction of
    fits that L-BFGS reported converged with the largest final gradient norm.
    """
    subsets = subset_indices(len(F.y), cfg.sample_sizes, cfg.num_subsets, cfg.seed)
    shape = (len(cfg.sample_sizes), cfg.num_subsets, len(cfg.ranks), cfg.num_draws)
    out = {f"{k}_{loss}": np.zeros(shape) for k in ("train", "test") for loss in ("ce", "01")}
    conv, gmax = [], 0.0
    d = F.H.shape[1]
    W0, b0 = (F.W0, F.b0) if cfg.frozen_head == "mnist" else (None, None)
    for k, r in enumerate(cfg.ranks):
        for j in range(cfg.num_draws):
            A = init_lora_A(r, d, cfg.a_init, seed=derive_seed(cfg.seed, "A", r, j),
                            dtype=torch.float64).numpy()
            for i, N in enumerate(cfg.sample_sizes):
                for s in range(cfg.num_subsets):
                    idx = subsets[(N, s)]
                    res, c, g = _fit_gaps(F.H[idx], F.y[idx], F.H_test, F.y_test, A, W0, b0,
                                          cfg.weight_decay, cfg.gtol)
                    conv.append(c)
                    gmax = max(gmax, g)
                    for loss, (tr, te) in res.items():
                        out[f"train_{loss}"][i, s, k, j] = tr
                        out[f"test_{loss}"][i, s, k, j] = te
    for loss in ("ce", "01"):
        out[f"gap_{loss}"] = out[f"test_{loss}"] - out[f"train_{loss}"]
    out["converged"] = float(np.mean(conv))
    out["max_grad_norm"] = gmax
    return out


@one_thread
def random_label_grid(cfg: RandomLabelConfig, F: Foundation) -> dict:
    """Head-LoRA fits on labels drawn uniformly at random, independently of the inputs (train
    and the shared test set), with the adapted head starting from zero (W0 = 0, b0 = 0).

    Label draw ``l`` also draws its own nested training subsets. Arrays of shape
    ``(len(sizes), len(ranks), num_label_draws, num_draws)``: ``train_01``, ``test_01``,
    ``gap_01`` (test-set estimate) and ``gap_01_exact`` = ``1 - 1/K - train_01`` (the population
    0-1 risk of any predictor is exactly ``1 - 1/K`` here).
    """
    K, d = 10, F.H.shape[1]
    shape = (len(cfg.sample_sizes), len(cfg.ranks), cfg.num_label_draws, cfg.num_draws)
    train, test = np.zeros(shape), np.zeros(shape)
    conv = []
    for l_ in range(cfg.num_label_draws):
        rng = np.random.default_rng(derive_seed(cfg.seed, "labels", l_))
        y = rng.integers(0, K, size=len(F.y))
        yt = rng.integers(0, K, size=len(F.y_test))
        subsets = subset_indices(len(F.y), cfg.sample_sizes, 1, derive_seed(cfg.seed, l_))
        for k, r in enumerate(cfg.ranks):
            for j in range(cfg.num_draws):
                A = init_lora_A(r, d, cfg.a_init, seed=derive_seed(cfg.seed, "A", r, j),
                                dtype=torch.float64).numpy()
                for i, N in enumerate(cfg.sample_sizes):
                    idx = subsets[(N, 0)]
                    fit = fit_head_lora(F.H[idx], y[idx], A, num_classes=K,
                                        weight_decay=cfg.weight_decay, gtol=cfg.gtol)
                    conv.append(fit.converged)
                    train[i, k, l_, j] = risk(head_lora_logits(F.H[idx], A, fit.B), y[idx], "01")
                    test[i, k, l_, j] = risk(head_lora_logits(F.H_test, A, fit.B), yt, "01")
    return {"train_01": train, "test_01": test, "gap_01": test - train,
            "gap_01_exact": (1 - 1 / K) - train, "converged": float(np.mean(conv))}


# ---- paper scale: LoRA on the layers of the MLP ------------------------------------------------

@dataclass(frozen=True)
class HiddenLoRARun(Config):
    """One paper-scale run: LoRA (rank ``r``, arm ``arm``) on the layers ``targets`` of the
    MNIST-pretrained MLP, fine-tuned with Adam on ``N`` Fashion-MNIST images (data draw
    ``data_seed``, A-draw ``lora_seed``); gaps on the full Fashion-MNIST test set."""

    N: int = param(1000, ge=1, doc="training sample size")
    r: int = param(4, ge=1, doc="LoRA rank")
    arm: str = param("A_rand_B_train", choices=tuple(ARMS), doc="which factor is frozen")
    a_init: str = param("gauss", choices=("gauss", "orth", "kaiming"), doc="distribution of A")
    targets: tuple[str, ...] = param(("0", "2", "4"), doc="nn.Linear layers adapted")
    lora_seed: int = param(0, ge=0, doc="draw of the frozen random factor")
    data_seed: int = param(0, ge=0, doc="draw of the training subset")
    seed: int = param(0, ge=0, doc="seed of the foundation pretraining")
    hidden: tuple[int, ...] = param((256, 256), ge=1, doc="hidden widths of the MLP")
    pretrain_epochs: int = param(1, ge=1, doc="Adam epochs of the MNIST pretraining")
    pretrain_max: int = param(60_000, ge=10, doc="MNIST images used for pretraining")
    lr: float = param(1e-3, gt=0, doc="Adam step of the LoRA fine-tuning")
    epochs: int = param(50, ge=1, doc="fine-tuning epochs")
    batch_size: int = param(128, ge=1, doc="fine-tuning mini-batch")
    max_test: int = param(10_000, ge=1, doc="test images used for the gap")
    device: str = param("auto", choices=DEVICE_CHOICES, doc="torch device")


@lru_cache(maxsize=2)
def _cached_foundation(seed, hidden, epochs, max_train):
    return _pretrained_mlp(seed, hidden, epochs, 1e-3, 128, max_train)[0]


def hidden_lora_run(cfg: HiddenLoRARun) -> dict:
    """Fine-tune one LoRA arm on the hidden layers; CE and 0-1 train/test risks and gaps."""
    import copy

    device = resolve_device(cfg.device)
    base = _cached_foundation(cfg.seed, tuple(cfg.hidden), cfg.pretrain_epochs, cfg.pretrain_max)
    model = apply_lora(copy.deepcopy(base), list(cfg.targets), cfg.r, freeze=ARMS[cfg.arm],
                       init=cfg.a_init, seed=derive_seed(cfg.lora_seed, "lora"))
    model = model.to(device)
    X, y = to_tensors(*load_fashion_mnist("train"))
    idx = torch.from_numpy(np.random.default_rng(derive_seed(cfg.data_seed, "subset"))
                           .permutation(len(y))[:cfg.N])
    X, y = X[idx].to(device), y[idx].to(device)
    Xt, yt = to_tensors(*load_fashion_mnist("test"))
    Xt, yt = Xt[:cfg.max_test].to(device), yt[:cfg.max_test].to(device)
    out = train_classifier(model, "Adam", cfg.lr, X, y, epochs=cfg.epochs,
                           batch_size=min(cfg.batch_size, cfg.N),
                           seed=derive_seed(cfg.data_seed, cfg.lora_seed, "order"))
    with torch.no_grad():
        tr, te = model(X).double().cpu().numpy(), model(Xt).double().cpu().numpy()
    y_, yt_ = y.cpu().numpy(), yt.cpu().numpy()
    res = {"diverged": bool(out["diverged"])}
    for loss in ("ce", "01"):
        res[f"train_{loss}"], res[f"test_{loss}"] = risk(tr, y_, loss), risk(te, yt_, loss)
        res[f"gap_{loss}"] = res[f"test_{loss}"] - res[f"train_{loss}"]
    return res


def hidden_lora_sweep(store_dir, *, sample_sizes=(1000, 4000, 16000, 60000),
                      ranks=(1, 4, 16, 64), arms=tuple(ARMS), num_lora_draws: int = 50,
                      num_data_draws: int = 5, executor="local", **overrides):
    """The paper-scale grid of :func:`hidden_lora_run` through :func:`common.experiment.sweep`:
    every (N, r, arm, A-draw, S-draw); ``overrides`` are passed to every :class:`HiddenLoRARun`
    (e.g. ``epochs``, ``device``). Returns the :class:`common.experiment.SweepResult`."""
    from common.experiment import sweep

    configs = [HiddenLoRARun(N=N, r=r, arm=arm, lora_seed=j, data_seed=s, **overrides)
               for N in sample_sizes for r in ranks for arm in arms
               for j in range(num_lora_draws) for s in range(num_data_draws)]
    return sweep(hidden_lora_run, configs, store_dir=store_dir, executor=executor,
                 desc="hidden-layer LoRA")
