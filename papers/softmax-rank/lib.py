"""Code only the softmax-rank reproduction needs: its runs and the Prop. 3.2 construction.

One run (:class:`TempRun`) trains a classifier with the tempered cross-entropy
``CE(z / T, y)`` (:func:`common.models.temperature_cross_entropy`) on one dataset and measures,
with :mod:`common.metrics`, the numerical ranks of its penultimate features and logits at the
relative thresholds :data:`RTOLS`, the mean raw and effective logits norms during training,
train and test accuracy, the test accuracy of the classifier on features compressed to their top
``r`` principal components for every ``r``, and (optionally) a linear probe and the NECO score on
an out-of-distribution dataset. Every run goes through :func:`common.experiment.sweep` (in
process at cpu scale; worker processes or SLURM at paper scale, resumable).

The rank-2 construction of Prop. 3.2 (:func:`circle_logits`) and the random logits of the
Prop. 3.1 check (:func:`random_logits`) are the paper's own statements, reconstructed (see the
chapter), so they live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import (
    DEVICE_CHOICES,
    Config,
    derive,
    derive_seed,
    param,
    resolve_device,
    sweep,
)
from common.metrics import (
    auroc,
    effective_rank,
    last_linear,
    logistic_probe,
    neco_score,
    pca_basis,
    penultimate_features,
    singular_value_rank,
    softmax_tail_bound,
)
from common.models import MLP, VGG9, ResNet18, TemperatureCrossEntropy, init_gaussian_, pad_to_32
from common.optim.training import train_epochs

__all__ = ["RTOLS", "DATASETS", "ARCHS", "TempRun", "StudyConfig", "SyntheticStudy", "OODStudy",
           "load_split", "build_model", "train_run",
           "temperature_sweep", "rank_row", "circle_logits", "rank1_best_accuracy",
           "random_logits", "bound_rows"]

#: The relative rank thresholds reported everywhere (``s_i > rtol * s_1``).
RTOLS = (1e-3, 1e-2, 1e-1)
DATASETS = ("gmm", "mnist", "fashion_mnist", "cifar10", "cifar100")
ARCHS = ("mlp", "resnet18", "vgg9")


#: Fields every run and every study share (one declaration; the study passes them to its runs).
_RUN_FIELDS = dict(
    dataset=param("mnist", choices=DATASETS, doc="training set"),
    arch=param("mlp", choices=ARCHS, doc="network"),
    hidden=param((256, 256, 256), ge=1, doc="MLP hidden widths"),
    width=param(64, ge=1, doc="ResNet-18 / VGG9 base width"),
    per_class=param(1000, ge=1, doc="training examples per class"),
    num_classes=param(64, ge=2, doc="gmm: number of classes C"),
    dim=param(128, ge=1, doc="gmm: input dimension"),
    separation=param(6.0, gt=0, doc="gmm: typical distance between class means"),
    epochs=param(30, ge=1, doc="passes over the training set"),
    batch_size=param(128, ge=1, doc="mini-batch size"),
    optimizer=param("adam", choices=("adam", "sgd"), doc="Adam or SGD with momentum"),
    lr=param(1e-3, gt=0, doc="learning rate"),
    momentum=param(0.9, ge=0, lt=1, doc="SGD momentum / Adam beta1"),
    rank_samples=param(2000, ge=2, doc="training examples the ranks are measured on"),
    device=param("cpu", choices=DEVICE_CHOICES, doc="torch device"),
)


@dataclass(frozen=True)
class TempRun(Config):
    """One training run at one temperature (defaults: the MNIST cpu scale)."""

    temperature: float = param(1.0, gt=0, doc="softmax temperature T of the training loss")
    seed: int = param(0, ge=0, doc="initialisation, data subset and data order")
    dataset: str = _RUN_FIELDS["dataset"]
    arch: str = _RUN_FIELDS["arch"]
    hidden: tuple[int, ...] = _RUN_FIELDS["hidden"]
    width: int = _RUN_FIELDS["width"]
    per_class: int = _RUN_FIELDS["per_class"]
    test_size: int = param(5000, ge=1, doc="test examples (gmm: per class x classes)")
    num_classes: int = _RUN_FIELDS["num_classes"]
    dim: int = _RUN_FIELDS["dim"]
    separation: float = _RUN_FIELDS["separation"]
    epochs: int = _RUN_FIELDS["epochs"]
    batch_size: int = _RUN_FIELDS["batch_size"]
    optimizer: str = _RUN_FIELDS["optimizer"]
    lr: float = _RUN_FIELDS["lr"]
    momentum: float = _RUN_FIELDS["momentum"]
    weight_decay: float = param(0.0, ge=0, doc="coupled weight decay (paper scale: 5e-4)")
    rank_samples: int = _RUN_FIELDS["rank_samples"]
    ood_dataset: str = param("", choices=("", "fashion_mnist"), doc="OOD set ('' = none)")
    ood_train: int = param(5000, ge=10, doc="OOD examples the linear probe is fitted on")
    ood_test: int = param(2000, ge=10, doc="OOD test examples (probe and NECO)")
    neco_k: int = param(9, ge=1, doc="NECO: principal directions of the ID features kept")
    device: str = _RUN_FIELDS["device"]


@dataclass(frozen=True)
class StudyConfig(Config):
    """A notebook's sweep: every temperature on every seed, the other fields shared by the runs
    (their meaning is :class:`TempRun`'s)."""

    temperatures: tuple[float, ...] = param((1.0, 10.0, 100.0), gt=0, doc="temperatures T")
    seeds: tuple[int, ...] = param((0,), ge=0, doc="seeds (every temperature runs on each)")
    dataset: str = _RUN_FIELDS["dataset"]
    arch: str = _RUN_FIELDS["arch"]
    hidden: tuple[int, ...] = _RUN_FIELDS["hidden"]
    width: int = _RUN_FIELDS["width"]
    per_class: int = _RUN_FIELDS["per_class"]
    test_size: int = param(5000, ge=1, doc="test examples")
    num_classes: int = _RUN_FIELDS["num_classes"]
    dim: int = _RUN_FIELDS["dim"]
    separation: float = _RUN_FIELDS["separation"]
    epochs: int = _RUN_FIELDS["epochs"]
    batch_size: int = _RUN_FIELDS["batch_size"]
    optimizer: str = _RUN_FIELDS["optimizer"]
    lr: float = _RUN_FIELDS["lr"]
    momentum: float = _RUN_FIELDS["momentum"]
    weight_decay: float = param(0.0, ge=0, doc="coupled weight decay")
    rank_samples: int = _RUN_FIELDS["rank_samples"]
    device: str = _RUN_FIELDS["device"]

    def runs(self) -> list:
        """One :class:`TempRun` per (seed, temperature), in that nesting order."""
        return [derive(TempRun, self, temperature=T, seed=s)
                for s in self.seeds for T in self.temperatures]


@dataclass(frozen=True)
class SyntheticStudy(StudyConfig):
    """Notebook 01: the Gaussian-mixture sweep plus the random logits of the Prop. 3.1 check."""

    random_n: int = param(2000, ge=2, doc="rows of the random logits (Prop. 3.1 check)")


@dataclass(frozen=True)
class OODStudy(StudyConfig):
    """Notebook 03: the sweep plus the out-of-distribution measurements."""

    ood_dataset: str = param("fashion_mnist", choices=("fashion_mnist",), doc="OOD set")
    ood_train: int = param(5000, ge=10, doc="OOD examples the linear probe is fitted on")
    ood_test: int = param(2000, ge=10, doc="OOD test examples (probe and NECO)")
    neco_k: int = param(9, ge=1, doc="NECO: principal directions of the ID features kept")


# ---- data and models ----------------------------------------------------------------------

@lru_cache(maxsize=8)
def _arrays(dataset: str, split: str, data_seed: int, num_classes: int, dim: int,
            per_class: int, separation: float):
    """Images ``(N, C, H, W)`` (or gmm vectors) and labels as CPU tensors."""
    if dataset == "gmm":
        from common.data import gaussian_blobs

        # one mixture (means) per data seed: train and test are disjoint draws from it
        X, y = gaussian_blobs(num_classes * per_class, dim, num_classes,
                              separation=separation, seed=data_seed)
        return torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    if dataset in ("mnist", "fashion_mnist"):
        from common.data import load_fashion_mnist, load_mnist, to_tensors

        load = load_mnist if dataset == "mnist" else load_fashion_mnist
        # both through MNIST's normalisation: the OOD set reaches the backbone as MNIST would
        return to_tensors(*load(split), flatten=False)
    from common.data import load_cifar10, load_cifar100

    return (load_cifar10 if dataset == "cifar10" else load_cifar100)(split)


def load_split(run: TempRun, split: str, dataset: str | None = None,
               size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` of ``split`` ("train" or "test"): a balanced training subset of
    ``run.per_class`` per class, or the first ``size`` (default ``run.test_size``) test
    examples. gmm: train and test come from one mixture, per_class and test_size / C per class
    drawn apart."""
    dataset = run.dataset if dataset is None else dataset
    if dataset == "gmm":
        C = run.num_classes
        n_test = max(1, run.test_size // C)
        X, y = _arrays("gmm", "all", derive_seed(run.seed, "mixture"), C, run.dim,
                       run.per_class + n_test, run.separation)
        cut = run.per_class * C
        return (X[:cut], y[:cut]) if split == "train" else (X[cut:], y[cut:])
    X, y = _arrays(dataset, split, 0, 0, 0, 0, 0.0)
    if split == "train" and size is None:
        from common.data import balanced_subset

        idx = balanced_subset(y.numpy(), run.per_class, seed=derive_seed(run.seed, "subset"))
        return X[idx], y[idx]
    n = run.test_size if size is None else size
    idx = np.random.default_rng(derive_seed(run.seed, f"{dataset}-{split}")).permutation(
        len(X))[:n] if split == "train" else np.arange(min(n, len(X)))
    return X[idx], y[idx]


class _Pad32(torch.nn.Module):
    def forward(self, x):
        return pad_to_32(x)


def build_model(run: TempRun, in_shape: tuple[int, ...], num_classes: int) -> torch.nn.Module:
    """The network of ``run.arch``: a He-initialised ReLU MLP (``N(0, 2 / fan_in)`` weights,
    zero biases) on flattened inputs, or ResNet-18 / VGG9 with BatchNorm (28 x 28 images padded
    to 32 x 32)."""
    if run.arch == "mlp":
        net = MLP(int(np.prod(in_shape)), tuple(run.hidden), num_classes)
        return init_gaussian_(net, 2.0, 0.0)
    c = in_shape[0]
    net = (ResNet18(num_classes, c, run.width) if run.arch == "resnet18"
           else VGG9(c, num_classes, run.width))
    return torch.nn.Sequential(_Pad32(), net) if in_shape[-1] == 28 else net


# ---- one run ------------------------------------------------------------------------------

def rank_row(A: np.ndarray, prefix: str, center: bool = False) -> dict:
    """``{prefix_rank_1e-03: ..., prefix_rank_1e-02, prefix_rank_1e-01, prefix_erank}``."""
    row = {f"{prefix}_rank_{t:.0e}": singular_value_rank(A, t, center=center) for t in RTOLS}
    row[f"{prefix}_erank"] = effective_rank(A, center=center)
    return row


def _logits_norms(model, X, T: float) -> tuple[float, float]:
    _, Z = penultimate_features(model, X, batch_size=1024)
    n = Z.double().norm(dim=1).mean().item()
    return n, n / T


def _compression_curve(W: np.ndarray, b: np.ndarray, basis, H_test: np.ndarray,
                       y_test: np.ndarray) -> list[float]:
    """Test accuracy of the classifier on ``basis.truncate(H_test, r)`` for ``r = 0..rank``,
    in one pass: the logits of the truncation are ``W mu + b + sum_{i <= r} c_i (W v_i)``."""
    coords = basis.coordinates(H_test)                      # (N, rank)
    WV = basis.components.T @ W.T                           # (rank, K)
    logits = np.broadcast_to(basis.mean @ W.T + b, (len(H_test), W.shape[0])).copy()
    acc = [float(np.mean(logits.argmax(1) == y_test))]
    for i in range(basis.rank):
        logits += np.outer(coords[:, i], WV[i])
        acc.append(float(np.mean(logits.argmax(1) == y_test)))
    return acc


def train_run(run: TempRun) -> dict:
    """Train one network at ``run.temperature`` with Adam or SGD (coupled weight decay) and
    measure it (module docstring). Returns JSON-able scalars and lists."""
    device = resolve_device(run.device)
    X, y = load_split(run, "train")
    Xt, yt = load_split(run, "test")
    K = int(y.max()) + 1
    X, y, Xt, yt = X.to(device), y.to(device), Xt.to(device), yt.to(device)
    torch.manual_seed(derive_seed(run.seed, "init"))
    model = build_model(run, tuple(X.shape[1:]), K).to(device)
    sub = torch.from_numpy(np.random.default_rng(derive_seed(run.seed, "rank-subset"))
                           .permutation(len(X))[:run.rank_samples]).to(device)
    norms = [_logits_norms(model, X[sub], run.temperature)]
    opt = (torch.optim.Adam(model.parameters(), lr=run.lr, betas=(run.momentum, 0.999),
                            weight_decay=run.weight_decay) if run.optimizer == "adam" else
           torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum,
                           weight_decay=run.weight_decay))
    out = train_epochs(model, opt, X, y, epochs=run.epochs, batch_size=run.batch_size,
                       seed=run.seed, loss_fn=TemperatureCrossEntropy(run.temperature),
                       on_epoch=lambda e, m: norms.append(_logits_norms(m, X[sub],
                                                                         run.temperature)))
    H, Z = (a.cpu().double().numpy() for a in penultimate_features(model, X[sub]))
    Ht, Zt = (a.cpu().double().numpy() for a in penultimate_features(model, Xt))
    _, Zall = penultimate_features(model, X)
    ys, ytn = y[sub].cpu().numpy(), yt.cpu().numpy()
    rec = {"train_acc": float((Zall.argmax(1) == y).double().mean()),
           "test_acc": float(np.mean(Zt.argmax(1) == ytn)),
           "final_loss": out["epoch_loss"][-1],
           "logits_norm": [n for n, _ in norms], "eff_logits_norm": [e for _, e in norms],
           **rank_row(H, "feat"), **rank_row(H, "feat_c", center=True),
           **rank_row(Z, "logits"), **rank_row(Z, "logits_c", center=True)}
    rec["bound"] = softmax_tail_bound(Z, run.temperature)
    lin = last_linear(model)
    W = lin.weight.detach().cpu().double().numpy()
    b = lin.bias.detach().cpu().double().numpy()
    basis = pca_basis(H)
    rec["compression_acc"] = _compression_curve(W, b, basis, Ht, ytn)
    if run.ood_dataset:
        rec.update(_ood(run, model, (H, ys), (Ht, ytn), basis, device))
    return rec


def _ood(run: TempRun, model, train, test, basis, device) -> dict:
    """Linear-probe transfer to the OOD set and the NECO AUROC (ID test vs OOD test)."""
    Xo, yo = load_split(run, "train", run.ood_dataset, run.ood_train)
    Xot, yot = load_split(run, "test", run.ood_dataset, run.ood_test)
    Ho = penultimate_features(model, Xo.to(device))[0].cpu().double().numpy()
    Hot = penultimate_features(model, Xot.to(device))[0].cpu().double().numpy()
    probe = logistic_probe(Ho, yo.numpy(), reg=1e-3)
    k = min(run.neco_k, basis.rank)
    (H, ys), (Ht, yt) = train, test
    return {"ood_probe_acc": probe.accuracy(Hot, yot.numpy()),
            "ood_probe_train_acc": probe.accuracy(Ho, yo.numpy()),
            "neco_auroc": auroc(neco_score(Ht, basis, k), neco_score(Hot, basis, k)),
            "neco_k": k, "id_probe_acc": logistic_probe(H, ys, reg=1e-3).accuracy(Ht, yt)}


def temperature_sweep(runs: list[TempRun], *, store_dir, executor: str = "debug",
                      resume: bool = False, progress: bool = False) -> list[dict]:
    """Every run through :func:`common.experiment.sweep`; one record per run (its temperature
    and seed, then :func:`train_run`'s results). Raises if a run failed."""
    result = sweep(train_run, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress).raise_for_failures()
    return [{"temperature": r.temperature, "seed": r.seed, **out}
            for r, out in zip(runs, result.results())]


# ---- Prop. 3.2 and Prop. 3.1 --------------------------------------------------------------

def circle_logits(y: np.ndarray, num_classes: int, scale: float = 1.0) -> np.ndarray:
    """Rank-2 logits that classify any labels ``y`` correctly (Prop. 3.2, our construction):
    class ``k`` gets the unit vector ``u_k = (cos 2 pi k / C, sin 2 pi k / C)`` and sample ``n``
    the feature ``a_n = u_{y_n}``, so ``z_nk = scale <a_n, u_k>`` is ``N x 2`` times ``2 x C``
    and its row maximum is at ``k = y_n`` with margin ``scale (1 - cos 2 pi / C)``."""
    y = np.asarray(y)
    if num_classes < 2 or y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"num_classes={num_classes}: at least 2 and above every label")
    angles = 2 * np.pi * np.arange(num_classes) / num_classes
    U = np.stack([np.cos(angles), np.sin(angles)], axis=1)   # (C, 2)
    return scale * U[y] @ U.T


def rank1_best_accuracy(y: np.ndarray, num_classes: int) -> float:
    """An upper bound on the accuracy of any rank-1 logits ``z_nk = a_n c_k`` (no bias): the
    row maximum is at ``argmax c`` or ``argmin c``, so at most two classes are ever
    predicted; the bound is the share of the two most frequent labels."""
    counts = np.sort(np.bincount(np.asarray(y), minlength=num_classes))[::-1]
    return float(counts[:2].sum() / counts.sum())


def random_logits(n: int, num_classes: int, scale: float, seed: int) -> np.ndarray:
    """Gaussian logits ``N(0, scale^2)`` (``n x C``), a fixed draw per seed."""
    return scale * np.random.default_rng(seed).standard_normal((n, num_classes))


def bound_rows(cases: dict[str, tuple[np.ndarray, float]]) -> list[dict]:
    """:func:`common.metrics.softmax_tail_bound` for every ``name: (logits, T)``, with the two
    ratios ``tail / column_dispersion`` and ``column_dispersion / logits_bound`` (each <= 1)."""
    rows = []
    for name, (Z, T) in cases.items():
        b = softmax_tail_bound(Z, T)
        rows.append({"case": name, "T": T, **b,
                     "ratio_tail": b["tail"] / b["column_dispersion"],
                     "ratio_logits": b["column_dispersion"] / b["logits_bound"],
                     **{f"softmax_rank_{t:.0e}": singular_value_rank(_softmax(Z, T), t)
                        for t in RTOLS}})
    return rows


def _softmax(Z: np.ndarray, T: float) -> np.ndarray:
    E = Z / T - (Z / T).max(axis=1, keepdims=True)
    S = np.exp(E)
    return S / S.sum(axis=1, keepdims=True)
