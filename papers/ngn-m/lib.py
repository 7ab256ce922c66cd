"""Code only the NGN-M reproduction needs: its experiments' configs and runs.

Toy problems (notebook 01): each method's step-size grid is one batched run
(:func:`common.optim.batched.batched_sweep`: K copies of the iterate in one ``(K, dim)`` tensor,
every copy on the same mini-batches).

Networks (notebooks 02 and 03): every (method, step size, seed) run is one small config
(:class:`MLPRun`, :class:`LMRun`) executed by :func:`common.experiment.sweep`, in-process at cpu
scale and in worker processes or on SLURM at paper scale; each finished run is stored, so an
interrupted paper-scale grid resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.data import load_diabetes_standardized, shifted_wishart_quadratic
from common.experiment import (
    DEVICE_CHOICES,
    Config,
    ConfigError,
    SweepResult,
    derive,
    derive_seed,
    param,
    resolve_device,
    sweep,
)
from common.metrics import DIVERGENCE_THRESHOLD
from common.models import LeastSquares, Quadratic, Quartic, Rosenbrock
from common.optim import OPTIMIZERS, make_torch
from common.optim.batched import BatchedSweep, batched_sweep
from common.optim.training import train_classifier

__all__ = ["ToyConfig", "rosenbrock_experiment",
           "quartic_experiment", "momentum_condition_experiment", "regression_experiment",
           "quadratic_experiment",
           "MLPConfig", "MLPRun", "mnist_data",
           "train_mlp", "mlp_sweep", "LMConfig", "LMRun",
           "shakespeare_data", "train_char_lm", "lm_sweep"]


# ---------------------------------------------------------------------------------------------
# Notebook 01: toy problems
# ---------------------------------------------------------------------------------------------

_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


@dataclass(frozen=True)
class ToyConfig(Config):
    """Settings of ``01_toy_stability`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="base seed of the mini-batch streams")
    rosenbrock_steps: int = param(20_000, ge=1, doc="iterations on Rosenbrock")
    rosenbrock_grid: tuple[float, ...] = param(_GRID, gt=0, doc="c (NGN family) / lr (SGDM)")
    quartic_max_steps: int = param(100_000, ge=1, doc="iteration budget on x^2 + x^4")
    quartic_target: float = param(1e-15, gt=0, doc="stopping threshold f <= target")
    quartic_x0: float = param(2.0, doc="starting point on x^2 + x^4 (nonzero)")
    quartic_grid: tuple[float, ...] = param((1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4), gt=0,
                                            doc="step sizes on x^2 + x^4")
    regression_steps: int = param(3000, ge=1, doc="iterations on diabetes regression")
    regression_batch_size: int = param(16, ge=1, le=442, doc="mini-batch size")
    regression_seeds: int = param(5, ge=1, doc="independent mini-batch streams")
    regression_tail: int = param(500, ge=1, doc="final iterations averaged into the loss")
    regression_grid: tuple[float, ...] = param(_GRID[1:], gt=0, doc="c / lr on regression")
    quadratic_dim: int = param(400, ge=2, doc="size of the least-squares matrix")
    quadratic_kappas: tuple[float, ...] = param((1e2, 1e3, 1e4), gt=1, doc="condition numbers")
    quadratic_steps: int = param(2000, ge=1, doc="iterations K on the quadratic")
    e6_grid: tuple[float, ...] = param((0.5, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6), gt=0,
                                       doc="c on x^2 + x^4 for Remark E.6 (all at least 1/2)")
    e6_betas: tuple[float, ...] = param((0.0, 0.1, 0.2, 0.36, 0.5, 0.7, 0.9, 0.99), ge=0, lt=1,
                                        doc="NGN-M momenta for Remark E.6 (beta >= 9/25)")

    def __post_init__(self):
        super().__post_init__()
        if self.regression_tail > self.regression_steps:
            raise ConfigError(f"regression_tail={self.regression_tail} exceeds "
                              f"regression_steps={self.regression_steps}")
        if self.quartic_x0 == 0:
            raise ConfigError("quartic_x0 = 0 is the minimiser: start elsewhere")


def rosenbrock_experiment(cfg: ToyConfig, methods) -> dict[str, BatchedSweep]:
    """Every method over ``rosenbrock_grid`` from (-1.2, 1) (Fig. 1, App. H.2)."""
    return {m: batched_sweep(Rosenbrock(), m, cfg.rosenbrock_grid, (-1.2, 1.0),
                             cfg.rosenbrock_steps) for m in methods}


def quartic_experiment(cfg: ToyConfig, methods) -> dict[str, BatchedSweep]:
    """Iterations to reach ``f <= quartic_target`` on ``x^2 + x^4`` (App. E, Fig. E.1)."""
    return {m: batched_sweep(Quartic(), m, cfg.quartic_grid, (cfg.quartic_x0,),
                         cfg.quartic_max_steps, target=cfg.quartic_target, stop_at_target=True)
            for m in methods}


def momentum_condition_experiment(cfg: ToyConfig) -> dict[float, BatchedSweep]:
    """NGN-M on ``x^2 + x^4 = x^2 (1 + x^2)`` for every momentum ``beta`` of ``e6_betas`` over
    ``e6_grid``, stopped at ``quartic_target`` (Theorem E.5 / Remark E.6 of arXiv 2508.15071: on
    this function NGN-M converges for every ``c >= 1/2`` once ``beta >= 9/25``; a sufficient
    condition, so momenta below 9/25 are run too, to show whether it is also necessary)."""
    return {b: batched_sweep(Quartic(), "NGN-M", cfg.e6_grid, (cfg.quartic_x0,),
                             cfg.quartic_max_steps, target=cfg.quartic_target,
                             stop_at_target=True, hyper={"beta": b})
            for b in cfg.e6_betas}


def regression_experiment(cfg: ToyConfig, methods) -> tuple[dict, float]:
    """Mini-batch least squares on standardised diabetes data (Fig. 1, 1st-2nd panels).

    Every (step size, seed) pair is one row of a batched run; seed ``s`` draws its mini-batches
    from ``derive_seed(cfg.seed, "regression", s)``, the same stream for every method and step
    size. Returns ``({method: excess}, f*)`` with ``excess`` of shape ``(len(grid), seeds)``:
    ``(tail-averaged loss - f*) / f*``, ``inf`` for a diverged run.
    """
    X, y = load_diabetes_standardized()
    obj = LeastSquares(X, y)
    grid, S = np.asarray(cfg.regression_grid), cfg.regression_seeds
    streams = np.stack([
        np.random.default_rng(derive_seed(cfg.seed, "regression", s)).integers(
            0, obj.n, size=(cfg.regression_steps, cfg.regression_batch_size))
        for s in range(S)], axis=1)  # (steps, S, batch)
    # row r of the batched run is (grid value r // S, seed r % S)
    rows = torch.from_numpy(np.tile(streams, (1, len(grid), 1)))
    out = {}
    for m in methods:
        res = batched_sweep(obj, m, np.repeat(grid, S), np.zeros(obj.dim), cfg.regression_steps,
                        sampler=lambda k: rows[k], tail=cfg.regression_tail)
        out[m] = ((res.tail_mean - obj.minimum) / obj.minimum).reshape(len(grid), S)
    return out, obj.minimum


def quadratic_experiment(cfg: ToyConfig) -> dict[float, dict[str, float]]:
    """NGN-M on ``1/2 ||(A + rI) x - y||^2`` with decreasing vs fixed c (App. H.3, Fig. H.4).

    Returns ``{kappa: {schedule: f(x_K) / f(x_0)}}``.
    """
    K = cfg.quadratic_steps
    schedules = {
        "c_k = 1/sqrt(k+1)": (1.0, lambda k: 1.0 / np.sqrt(k + 1.0)),
        "c = 1/sqrt(K)": (1.0 / np.sqrt(K), None),
        "c = 1e-3": (1e-3, None),
        "c = 1e-4": (1e-4, None),
    }
    out = {}
    for i, kappa in enumerate(cfg.quadratic_kappas):
        M, y, _ = shifted_wishart_quadratic(cfg.quadratic_dim, kappa,
                                            seed=derive_seed(cfg.seed, "quadratic", i))
        obj = Quadratic(M, y)
        f0 = 0.5 * float(np.sum(y**2))
        out[kappa] = {
            name: float(batched_sweep(obj, "NGN-M", [c], np.zeros(obj.dim), K,
                                  step_schedule=sched).final_loss[0]) / f0
            for name, (c, sched) in schedules.items()}
    return out


# ---------------------------------------------------------------------------------------------
# Notebook 02: MLP on MNIST
# ---------------------------------------------------------------------------------------------

_METHODS = tuple(name for name, spec in OPTIMIZERS.items() if spec.torch_factory is not None)


@dataclass(frozen=True)
class MLPConfig(Config):
    """Settings of ``02_mlp_mnist`` (defaults: cpu scale)."""

    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="seeds (initialisation and data order)")
    epochs: int = param(1, ge=1, doc="passes over the training subset")
    train_size: int = param(60_000, ge=128, le=60_000, doc="training images used")
    batch_size: int = param(128, ge=1, doc="mini-batch size")
    grid: tuple[float, ...] = param((1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0), gt=0,
                                    doc="lr (SGDM, Adam) and c (NGN family)")
    methods: tuple[str, ...] = param(("SGDM", "NGN", "NGN-M", "Adam", "NGN-MDv1"),
                                     choices=_METHODS, doc="optimizers compared")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")

    def runs(self) -> list[MLPRun]:
        """The grid, one config per (seed, method, step size), in that nesting order."""
        return [derive(MLPRun, self, method=method, step=step, seed=seed)
                for seed in self.seeds for method in self.methods for step in self.grid]


@dataclass(frozen=True)
class MLPRun(Config):
    """One run of the MLP sweep: a method at one step size and seed, with the shared settings."""

    method: str = param("NGN-M", choices=_METHODS, doc="optimizer")
    step: float = param(1.0, gt=0, doc="lr (SGDM, Adam) or c (NGN family)")
    seed: int = param(0, ge=0, doc="initialisation and data order")
    epochs: int = param(1, ge=1, doc="passes over the training subset")
    train_size: int = param(60_000, ge=128, le=60_000, doc="training images used")
    batch_size: int = param(128, ge=1, doc="mini-batch size")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")


@lru_cache(maxsize=1)
def mnist_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X, y, X_test, y_test)`` of MNIST as standardised CPU tensors, loaded once per process."""
    from common.data import load_mnist, to_tensors

    return (*to_tensors(*load_mnist("train")), *to_tensors(*load_mnist("test")))


@lru_cache(maxsize=2)
def _mnist_on(device: str):
    return tuple(t.to(device) for t in mnist_data())


@torch.no_grad()
def _evaluate(model, X, y) -> tuple[float, float]:
    logits = model(X)
    loss = torch.nn.functional.cross_entropy(logits, y).item()
    acc = (logits.argmax(1) == y).double().mean().item()
    return loss, acc


def train_mlp(run: MLPRun) -> dict:
    """One run: an MLP (784-100-100-10) trained on the first ``train_size`` MNIST images.

    Every run of one seed starts from the same initialisation and sees the same data order.
    Returns test accuracy and loss, the last epoch's mean training loss, the divergence flag and
    the effective step sizes ``gamma_k`` per iteration (empty for SGDM and Adam).
    """
    from common.models import MLP

    device = resolve_device(run.device)
    X, y, Xt, yt = _mnist_on(str(device))
    X, y = X[:run.train_size], y[:run.train_size]
    torch.manual_seed(derive_seed(run.seed, "mlp-init"))
    model = MLP(X.shape[1], (100, 100), 10).to(device)
    out = train_classifier(model, run.method, run.step, X, y, epochs=run.epochs,
                           batch_size=run.batch_size, seed=run.seed)
    test_loss, test_acc = _evaluate(model, Xt, yt)
    return {"test_acc": test_acc, "test_loss": test_loss, "train_loss": out["train_loss"],
            "diverged": out["diverged"], "step_sizes": out["step_sizes"]}


def mlp_sweep(cfg: MLPConfig, *, store_dir, executor="debug", resume: bool = False,
              progress: bool = True) -> tuple[list[dict], dict, SweepResult]:
    """The grid of ``cfg`` through :func:`common.experiment.sweep` (see :meth:`MLPConfig.runs`).

    Returns one record per run (method, step, seed and its metrics) in grid order, NGN-M's
    effective steps per c (first seed), and the sweep's result (its ``summary()``). Raises
    :class:`common.experiment.SweepError` if a run failed: its traceback is stored and a rerun
    retries it.
    """
    runs = cfg.runs()
    result = sweep(train_mlp, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress).raise_for_failures()
    records, trace = [], {}
    for run, out in zip(runs, result.results()):
        records.append({"method": run.method, "step": run.step, "seed": run.seed,
                        **{k: out[k] for k in ("test_acc", "test_loss", "train_loss",
                                               "diverged")}})
        if run.method == "NGN-M" and run.seed == cfg.seeds[0]:
            trace[run.step] = out["step_sizes"]
    return records, trace, result


# ---------------------------------------------------------------------------------------------
# Notebook 03: tiny character-level GPT on Tiny Shakespeare
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LMConfig(Config):
    """Settings of ``03_tiny_shakespeare`` (defaults: cpu scale)."""

    seeds: tuple[int, ...] = param((0,), ge=0, doc="seeds (initialisation and batches)")
    iterations: int = param(200, ge=1, doc="training iterations")
    batch_size: int = param(16, ge=1, doc="sequences per batch")
    context: int = param(64, ge=2, doc="characters per sequence")
    n_layer: int = param(2, ge=1, doc="Transformer blocks")
    n_head: int = param(4, ge=1, doc="attention heads")
    d_model: int = param(64, ge=8, doc="model width")
    adaptive_grid: tuple[float, ...] = param((1e-4, 1e-3, 1e-2, 1e-1), gt=0,
                                             doc="Adam lr, NGN-MDv1 c")
    momentum_grid: tuple[float, ...] = param((1e-2, 1e-1, 1.0, 10.0), gt=0,
                                             doc="SGDM lr, NGN-M c")
    eval_batches: int = param(8, ge=1, doc="validation batches of 64 sequences")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")

    def __post_init__(self):
        super().__post_init__()
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} must be divisible by "
                              f"n_head={self.n_head}")

    def runs(self) -> list[LMRun]:
        """Adam and NGN-MDv1 over ``adaptive_grid``, SGDM and NGN-M over ``momentum_grid``, for
        every seed: one config per run, seeds outermost."""
        plan = [("Adam", self.adaptive_grid), ("NGN-MDv1", self.adaptive_grid),
                ("SGDM", self.momentum_grid), ("NGN-M", self.momentum_grid)]
        return [derive(LMRun, self, method=method, step=step, seed=seed)
                for seed in self.seeds for method, grid in plan for step in grid]


@dataclass(frozen=True)
class LMRun(Config):
    """One run of the language-model sweep: a method at one step size and seed."""

    method: str = param("NGN-M", choices=_METHODS, doc="optimizer")
    step: float = param(1.0, gt=0, doc="lr (SGDM, Adam) or c (NGN family)")
    seed: int = param(0, ge=0, doc="initialisation and batches")
    iterations: int = param(200, ge=1, doc="training iterations")
    batch_size: int = param(16, ge=1, doc="sequences per batch")
    context: int = param(64, ge=2, doc="characters per sequence")
    n_layer: int = param(2, ge=1, doc="Transformer blocks")
    n_head: int = param(4, ge=1, doc="attention heads")
    d_model: int = param(64, ge=8, doc="model width")
    eval_batches: int = param(8, ge=1, doc="validation batches of 64 sequences")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")

    def __post_init__(self):
        super().__post_init__()
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} must be divisible by "
                              f"n_head={self.n_head}")


@lru_cache(maxsize=1)
def shakespeare_data():
    """``(tokenizer, train_ids, val_ids)`` of Tiny Shakespeare, loaded once per process."""
    from common.data import char_dataset

    return char_dataset()


def train_char_lm(run: LMRun) -> dict:
    """Train a tiny GPT; return its validation loss (inf if it diverged) and train loss."""
    from common.data import sample_batch
    from common.models import GPT, GPTConfig

    tok, train_ids, val_ids = shakespeare_data()
    device = resolve_device(run.device)
    torch.manual_seed(derive_seed(run.seed, "gpt-init"))
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context=run.context, n_layer=run.n_layer,
                          n_head=run.n_head, d_model=run.d_model)).to(device)
    opt = make_torch(run.method, model.parameters(), run.step)
    rng = np.random.default_rng(derive_seed(run.seed, "gpt-batches"))
    loss = float("nan")
    for _ in range(run.iterations):
        xb, yb = (torch.from_numpy(a).to(device)
                  for a in sample_batch(train_ids, run.batch_size, run.context, rng))

        def closure(xb=xb, yb=yb):
            opt.zero_grad(set_to_none=True)
            _, loss = model(xb, yb)
            loss.backward()
            return loss

        loss = opt.step(closure).item()
        if not np.isfinite(loss) or loss > DIVERGENCE_THRESHOLD:
            return {"val_loss": float("inf"), "train_loss": float("inf"), "diverged": True}
    val_rng = np.random.default_rng(derive_seed(0, "gpt-validation"))  # same batches for all
    with torch.no_grad():
        vals = [model(*(torch.from_numpy(a).to(device)
                        for a in sample_batch(val_ids, 64, run.context, val_rng)))[1].item()
                for _ in range(run.eval_batches)]
    val = float(np.mean(vals))
    return {"val_loss": val if np.isfinite(val) else float("inf"), "train_loss": loss,
            "diverged": not np.isfinite(val)}


def lm_sweep(cfg: LMConfig, *, store_dir, executor="debug", resume: bool = False,
             progress: bool = True) -> tuple[list[dict], SweepResult]:
    """The grid of ``cfg`` through :func:`common.experiment.sweep` (see :meth:`LMConfig.runs`).

    Returns one record per run (method, step, seed, validation and training loss, divergence)
    in grid order, and the sweep's result. Raises :class:`common.experiment.SweepError` if a run
    failed.
    """
    runs = cfg.runs()
    result = sweep(train_char_lm, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress).raise_for_failures()
    records = [{"method": run.method, "step": run.step, "seed": run.seed, **out}
               for run, out in zip(runs, result.results())]
    return records, result
