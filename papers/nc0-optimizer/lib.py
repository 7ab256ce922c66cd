"""Code only the nc0-optimizer reproduction needs: its experiments' configs and runs.

Notebook 01 (theory, float64): the closed-form SignGD trajectories on the unconstrained features
model with fixed ETF features (Thms 3.3-3.4), and the row sum ``W^T 1`` of a real network's last
layer under SGD / SGDW with momentum (Thms 3.1-3.2, Lemma E.5).

Notebook 02 (networks): one run trains a classifier with one optimizer setting (:class:`NCRun`)
and measures the neural-collapse metrics of :mod:`common.metrics.representation` at
initialisation and at the end. Every run goes through :func:`common.experiment.sweep` (in
process at cpu scale, in worker processes or on SLURM at paper scale), so an interrupted
paper-scale grid resumes where it stopped. The optimizers are a table (:data:`OPTIMIZER_TABLE`):
the paper's six names and the coupled/decoupled interpolation ``AdamCD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import (
    DEVICE_CHOICES,
    Config,
    SweepResult,
    derive,
    derive_seed,
    param,
    resolve_device,
    sweep,
)
from common.metrics import last_linear, nc0, nc_metrics, penultimate_features
from common.models import MLP, UFM, VGG9, ResNet9, etf, pad_to_32
from common.optim import SGDW, AdamCD, Signum, SignumW, make_schedule
from common.optim.training import train_epochs

__all__ = ["OPTIMIZER_TABLE", "make_optimizer", "TheoryConfig", "signgd_etf_alpha",
           "signgd_dwd_closed_form", "row_sum_trajectory", "coupled_sgd_row_sum", "NCConfig",
           "parse_setting", "NCRun", "load_images", "build_model", "train_nc", "nc_sweep",
           "UFMConfig", "train_ufm"]


# ---------------------------------------------------------------------------------------------
# The optimizers of the paper as a table: name -> factory(params, lr, momentum, wd, wd2)
# ---------------------------------------------------------------------------------------------

#: The paper's optimizers (Table 1, App. D.1) by name. ``momentum`` is SGD's heavy-ball
#: coefficient, Adam's beta1 and Signum's beta; ``wd`` is the weight decay, coupled (inside the
#: gradient) for SGD, Adam and Signum and decoupled (scaled by ``lr``, as PyTorch does) for SGDW,
#: AdamW and SignumW. ``AdamCD`` has a coupled part ``wd`` and a decoupled part ``wd2`` (Sec. 3.4).
OPTIMIZER_TABLE = {
    "SGD": lambda p, lr, m, wd, wd2: torch.optim.SGD(p, lr=lr, momentum=m, weight_decay=wd),
    "SGDW": lambda p, lr, m, wd, wd2: SGDW(p, lr=lr, momentum=m, weight_decay=wd),
    "Adam": lambda p, lr, m, wd, wd2: torch.optim.Adam(p, lr=lr, betas=(m, 0.999),
                                                        weight_decay=wd),
    "AdamW": lambda p, lr, m, wd, wd2: torch.optim.AdamW(p, lr=lr, betas=(m, 0.999),
                                                          weight_decay=wd),
    "Signum": lambda p, lr, m, wd, wd2: Signum(p, lr=lr, beta=m, weight_decay=wd),
    "SignumW": lambda p, lr, m, wd, wd2: SignumW(p, lr=lr, beta=m, weight_decay=wd),
    "AdamCD": lambda p, lr, m, wd, wd2: AdamCD(p, lr=lr, betas=(m, 0.999),
                                               coupled_weight_decay=wd,
                                               decoupled_weight_decay=wd2),
}


def make_optimizer(name: str, params, *, lr: float, momentum: float, weight_decay: float,
                   decoupled_weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimizer ``name`` of :data:`OPTIMIZER_TABLE` over ``params``."""
    if name not in OPTIMIZER_TABLE:
        raise ValueError(f"optimizer={name!r}: allowed are {sorted(OPTIMIZER_TABLE)}")
    return OPTIMIZER_TABLE[name](params, lr, momentum, weight_decay, decoupled_weight_decay)


# ---------------------------------------------------------------------------------------------
# Notebook 01: theory
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TheoryConfig(Config):
    """Settings of ``01_theory`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="initialisation and mini-batches of the digits MLP")
    num_classes: int = param(10, ge=3, doc="K of the ETF model")
    sign_lr: float = param(0.01, gt=0, doc="SignGD step size")
    sign_weight_decay: float = param(0.1, gt=0, doc="SignGD weight decay")
    sign_steps: int = param(3000, ge=3, doc="SignGD steps")
    mlp_lr: float = param(0.01, gt=0, doc="SGD / SGDW learning rate on digits")
    mlp_weight_decay: float = param(0.1, gt=0, doc="SGD / SGDW weight decay on digits")
    mlp_steps: int = param(1000, ge=3, doc="mini-batch steps on digits")
    batch_size: int = param(128, ge=1, doc="digits mini-batch size")


def signgd_etf_alpha(num_classes: int, lr: float, weight_decay: float, num_steps: int, *,
                     decoupled: bool, schedule: str = "constant") -> np.ndarray:
    """``alpha_t = (1/K) ||W_t^T 1||^2`` for ``t = 0..num_steps`` of SignGD on the UFM with fixed
    features ``H = M*`` (one sample per class), ``W_0 = 0`` and the cross-entropy **summed** over
    the K samples, in float64 (Thm 3.3 with ``decoupled=True``: SignSGDW; Thm 3.4 with
    ``decoupled=False``: SignSGD with coupled decay). ``schedule`` is a
    :func:`common.optim.make_schedule` name ("constant" or "step_thirds") over ``num_steps``.
    """
    from common.optim import SignSGD, SignSGDW

    model = UFM.from_features(etf(num_classes))
    model.H.requires_grad_(False)
    opt = (SignSGDW if decoupled else SignSGD)([model.W], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, make_schedule(schedule, num_steps))
    y = model.labels
    alpha = [nc0(model.W.detach().numpy(), normalization="alpha")]
    for _ in range(num_steps):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(), y, reduction="sum").backward()
        opt.step()
        sched.step()
        alpha.append(nc0(model.W.detach().numpy(), normalization="alpha"))
    return np.asarray(alpha)


def signgd_dwd_closed_form(num_classes: int, lr: float, weight_decay: float,
                           num_steps: int) -> np.ndarray:
    """Thm 3.3's trajectory in closed form [derived]: ``sign(grad) = J - 2I`` stays constant, so
    ``W_t = -(1 - (1 - lr wd)^t)(J - 2I)/wd`` and
    ``alpha_t = ((K - 2)^2 / wd^2) (1 - (1 - lr wd)^t)^2``."""
    t = np.arange(num_steps + 1)
    K = num_classes
    return (K - 2) ** 2 / weight_decay**2 * (1 - (1 - lr * weight_decay) ** t) ** 2


@lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    return torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y)


def row_sum_trajectory(optimizer: str, *, lr: float, momentum: float, weight_decay: float,
                       num_steps: int, batch_size: int = 128, seed: int = 0,
                       schedule: str = "constant") -> dict:
    """Train a ReLU MLP (64-64-64-10, float64) on scikit-learn's digits with ``optimizer`` of
    :data:`OPTIMIZER_TABLE` for ``num_steps`` mini-batch steps (cross-entropy) and record the row
    sum ``m_t = W_t^T 1`` of the last layer after every step.

    Returns ``{"m": (num_steps + 1, p) array, "lr": per-step learning rates, "loss": per-step
    mini-batch losses}``.
    """
    X, y = _digits()
    torch.manual_seed(derive_seed(seed, "digits-init"))
    model = MLP(X.shape[1], (64, 64), 10).double()
    W = last_linear(model).weight
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum,
                         weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, make_schedule(schedule, num_steps))
    gen = torch.Generator().manual_seed(derive_seed(seed, "digits-batches"))
    m, lrs, losses = [W.detach().sum(0).numpy().copy()], [], []
    for _ in range(num_steps):
        idx = torch.randint(len(X), (batch_size,), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(loss.item())
        m.append(W.detach().sum(0).numpy().copy())
    return {"m": np.asarray(m), "lr": np.asarray(lrs), "loss": np.asarray(losses)}


def coupled_sgd_row_sum(m0: np.ndarray, *, lr: float, momentum: float, weight_decay: float,
                        num_steps: int) -> np.ndarray:
    """Thm 3.2's linear recursion for ``torch.optim.SGD`` with coupled decay: with ``q = V^T 1``
    the momentum buffer's row sum (the gradient's row sum is 0, Lemma E.5),
    ``q_{t+1} = beta q_t + wd m_t``, ``m_{t+1} = m_t - lr q_{t+1}`` (``q_0 = 0``). Returns
    ``m_t`` for ``t = 0..num_steps``."""
    m, q = np.asarray(m0, dtype=np.float64).copy(), np.zeros_like(m0, dtype=np.float64)
    out = [m.copy()]
    for t in range(num_steps):
        q = momentum * q + weight_decay * m if t > 0 else weight_decay * m
        m = m - lr * q
        out.append(m.copy())
    return np.asarray(out)


# ---------------------------------------------------------------------------------------------
# Notebook 02: networks on (Fashion-)MNIST, the unconstrained features model
# ---------------------------------------------------------------------------------------------

ARCHS = ("mlp", "resnet9", "vgg9")
DATASETS = ("fashion_mnist", "mnist")


@dataclass(frozen=True)
class UFMConfig(Config):
    """A trainable unconstrained features model (App. D.4.2, reduced)."""

    num_classes: int = param(10, ge=2, doc="classes K")
    dim: int = param(64, ge=2, doc="feature dimension p")
    per_class: int = param(100, ge=1, doc="samples per class")
    lr: float = param(0.1, gt=0, doc="learning rate (full batch)")
    momentum: float = param(0.9, ge=0, lt=1, doc="momentum / beta1")
    num_steps: int = param(1000, ge=1, doc="full-batch steps")
    seed: int = param(0, ge=0, doc="initialisation")


@dataclass(frozen=True)
class NCRun(Config):
    """One run: a network trained with one optimizer setting; NC metrics at init and at the end."""

    optimizer: str = param("AdamW", choices=tuple(OPTIMIZER_TABLE), doc="optimizer")
    lr: float = param(1e-3, gt=0, doc="learning rate (divided by 10 at 1/3 and 2/3)")
    momentum: float = param(0.9, ge=0, lt=1, doc="momentum / beta1 / Signum beta")
    weight_decay: float = param(5e-4, ge=0, doc="weight decay (coupled part for AdamCD)")
    decoupled_weight_decay: float = param(0.0, ge=0, doc="AdamCD's decoupled part")
    seed: int = param(0, ge=0, doc="initialisation and data order")
    arch: str = param("mlp", choices=ARCHS, doc="mlp (ReLU, no BatchNorm), resnet9, vgg9")
    hidden: tuple[int, ...] = param((256, 128), ge=1, doc="MLP hidden widths")
    width: int = param(64, ge=1, doc="ResNet9/VGG9 base width")
    dataset: str = param("fashion_mnist", choices=DATASETS, doc="training set")
    per_class: int = param(300, ge=1, le=6000, doc="balanced training subset per class")
    test_size: int = param(2000, ge=1, le=10_000, doc="test images (accuracy, NC4)")
    epochs: int = param(30, ge=1, doc="passes over the training subset")
    batch_size: int = param(128, ge=1, doc="mini-batch size")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")


def parse_setting(text: str) -> dict:
    """``"AdamW 0.001 0.9 5 0"`` -> the optimizer fields of :class:`NCRun` (the decoupled part,
    AdamCD's only, may be left out)."""
    parts = str(text).split()
    try:
        if len(parts) not in (4, 5) or parts[0] not in OPTIMIZER_TABLE:
            raise ValueError
        values = [float(v) for v in parts[1:]] + [0.0] * (5 - len(parts))
    except ValueError:
        raise ValueError(f"settings: {text!r} is not 'optimizer lr momentum weight_decay "
                         f"[decoupled_weight_decay]' with an optimizer of "
                         f"{sorted(OPTIMIZER_TABLE)}") from None
    return dict(zip(("optimizer", "lr", "momentum", "weight_decay", "decoupled_weight_decay"),
                    [parts[0], *values]))


@dataclass(frozen=True)
class NCConfig(Config):
    """Settings of ``02_nc_optimizers`` (defaults: cpu scale)."""

    settings: tuple[str, ...] = param(
        (), doc="one run per entry: 'optimizer lr momentum weight_decay decoupled_weight_decay'")
    seeds: tuple[int, ...] = param((0,), ge=0, doc="seeds (every setting runs on each)")
    arch: str = param("mlp", choices=ARCHS, doc="network")
    hidden: tuple[int, ...] = param((256, 128), ge=1, doc="MLP hidden widths")
    width: int = param(64, ge=1, doc="ResNet9/VGG9 base width")
    dataset: str = param("fashion_mnist", choices=DATASETS, doc="training set")
    per_class: int = param(300, ge=1, le=6000, doc="balanced training subset per class")
    test_size: int = param(2000, ge=1, le=10_000, doc="test images")
    epochs: int = param(30, ge=1, doc="passes over the training subset")
    batch_size: int = param(128, ge=1, doc="mini-batch size")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device")
    ufm_dim: int = param(64, ge=2, doc="UFM feature dimension p")
    ufm_per_class: int = param(100, ge=1, doc="UFM samples per class")
    ufm_lr: float = param(0.1, gt=0, doc="UFM learning rate (full batch)")
    ufm_steps: int = param(1000, ge=1, doc="UFM full-batch steps")
    ufm_weight_decay: float = param(5e-3, ge=0, doc="UFM weight decay")

    def __post_init__(self):
        super().__post_init__()
        for s in self.settings:
            parse_setting(s)

    def runs(self) -> list[NCRun]:
        """One run per (seed, setting), in that nesting order."""
        return [derive(NCRun, self, **parse_setting(s), seed=seed)
                for seed in self.seeds for s in self.settings]

    def ufm(self) -> UFMConfig:
        """The unconstrained features model's settings (first seed)."""
        return UFMConfig(dim=self.ufm_dim, per_class=self.ufm_per_class, lr=self.ufm_lr,
                         num_steps=self.ufm_steps, seed=self.seeds[0])


@lru_cache(maxsize=2)
def load_images(dataset: str) -> tuple[torch.Tensor, ...]:
    """``(X, y, X_test, y_test)``: standardised images ``(N, 1, 28, 28)`` as CPU tensors."""
    from common.data import load_fashion_mnist, load_mnist, to_tensors

    load = {"fashion_mnist": load_fashion_mnist, "mnist": load_mnist}[dataset]
    out = []
    for split in ("train", "test"):
        X, y = to_tensors(*load(split), flatten=False)
        out += [X.reshape(len(X), 1, 28, 28), y]
    return tuple(out)


def build_model(arch: str, width: int = 64, hidden: tuple[int, ...] = (256, 128)
                ) -> torch.nn.Module:
    """The network of ``arch``: a BatchNorm-free ReLU MLP 784-hidden-10 (cpu scale) or the
    paper's ResNet9 / VGG9 with BatchNorm on inputs padded to 32 x 32 (paper scale)."""
    if arch == "mlp":
        return torch.nn.Sequential(torch.nn.Flatten(), MLP(784, tuple(hidden), 10))
    net = {"resnet9": ResNet9, "vgg9": VGG9}[arch](in_channels=1, num_classes=10, width=width)
    return torch.nn.Sequential(_Pad32(), net)


class _Pad32(torch.nn.Module):
    def forward(self, x):
        return pad_to_32(x)


def _measure(model, X, y, Xt, yt) -> dict:
    H, out = penultimate_features(model, X, batch_size=512)
    Ht, out_t = penultimate_features(model, Xt, batch_size=512)
    lin = last_linear(model)
    b = None if lin.bias is None else lin.bias.detach().cpu().double().numpy()
    W = lin.weight.detach().cpu().double().numpy()
    yn, ytn = y.cpu().numpy(), yt.cpu().numpy()
    m = nc_metrics(H.cpu().double().numpy(), yn, W, normalization="eq12", b=b,
                   H_test=Ht.cpu().double().numpy())
    m["NC0_alpha"] = nc0(W, normalization="alpha")
    m["NC0_frobenius"] = nc0(W, normalization="frobenius")
    m["train_acc"] = float((out.argmax(1).cpu().numpy() == yn).mean())
    m["test_acc"] = float((out_t.argmax(1).cpu().numpy() == ytn).mean())
    m["train_loss"] = float(torch.nn.functional.cross_entropy(out.double(), y.to(out.device)))
    return m


def train_nc(run: NCRun) -> dict:
    """One run: train ``run.arch`` on a balanced subset of ``run.dataset`` with the optimizer
    setting of ``run``, the learning rate divided by 10 at 1/3 and 2/3 of the epochs (Papyan et
    al.'s protocol, App. D.1). Returns ``{"init": metrics, "final": metrics, "epoch_loss"}``,
    metrics from :func:`common.metrics.nc_metrics` on the training subset (NC0 as eq. 12, plus
    ``NC0_alpha``, ``NC0_frobenius``, ``train_acc``, ``test_acc``, ``train_loss``)."""
    from common.data import balanced_subset

    device = resolve_device(run.device)
    X, y, Xt, yt = load_images(run.dataset)
    idx = balanced_subset(y.numpy(), run.per_class, seed=derive_seed(run.seed, "subset"))
    X, y = X[idx].to(device), y[idx].to(device)
    Xt, yt = Xt[:run.test_size].to(device), yt[:run.test_size].to(device)
    torch.manual_seed(derive_seed(run.seed, "init"))
    model = build_model(run.arch, run.width, run.hidden).to(device)
    init = _measure(model, X, y, Xt, yt)
    opt = make_optimizer(run.optimizer, model.parameters(), lr=run.lr, momentum=run.momentum,
                         weight_decay=run.weight_decay,
                         decoupled_weight_decay=run.decoupled_weight_decay)
    out = train_epochs(model, opt, X, y, epochs=run.epochs, batch_size=run.batch_size,
                       seed=run.seed, schedule=make_schedule("step_thirds", run.epochs))
    return {"init": init, "final": _measure(model, X, y, Xt, yt),
            "epoch_loss": out["epoch_loss"]}


def nc_sweep(cfg: NCConfig, *, store_dir, executor="debug", resume: bool = False,
             progress: bool = True) -> tuple[list[dict], SweepResult]:
    """Every run of ``cfg`` through :func:`common.experiment.sweep`; one flat record per run
    (its setting, seed, and ``init_<metric>`` / ``<metric>`` values). Raises
    :class:`common.experiment.SweepError` if a run failed."""
    runs = cfg.runs()
    result = sweep(train_nc, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress).raise_for_failures()
    records = []
    for run, out in zip(runs, result.results()):
        rec = {"optimizer": run.optimizer, "lr": run.lr, "momentum": run.momentum,
               "weight_decay": run.weight_decay, "decoupled_weight_decay":
               run.decoupled_weight_decay, "seed": run.seed}
        rec.update({f"init_{k}": v for k, v in out["init"].items()})
        rec.update(out["final"])
        rec["final_epoch_loss"] = out["epoch_loss"][-1]
        records.append(rec)
    return records, result


def train_ufm(cfg: UFMConfig, optimizer: str, weight_decay: float) -> dict:
    """Train a UFM (features and classifier, cross-entropy, full batch, float64) with
    ``optimizer`` at ``weight_decay`` on both; NC metrics at init and at the end."""
    model = UFM(cfg.num_classes, cfg.dim, cfg.per_class, seed=cfg.seed, dtype=torch.float64)
    opt = make_optimizer(optimizer, model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                         weight_decay=weight_decay)
    y = model.labels

    def metrics():
        H, W = model.H.detach().numpy(), model.W.detach().numpy()
        out = nc_metrics(H, y.numpy(), W, normalization="eq12")
        with torch.no_grad():
            out["loss"] = torch.nn.functional.cross_entropy(model(), y).item()
        return out

    init = metrics()
    for _ in range(cfg.num_steps):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(), y).backward()
        opt.step()
    return {"init": init, "final": metrics()}
