"""Code only the Scion batch-size reproduction needs (arXiv 2603.21191): its experiments.

Notebook 01 (theory-sized): constrained Scion (Algorithm 1, :func:`common.optim.scion_update`)
with the spectral LMO (Newton-Schulz in float64, as the paper's NS5; the dual norm is exact) on
multinomial logistic regression over scikit-learn's digits, ``W`` in R^{10 x 64}; every
(step size, seed) pair of a batch size is one slice of a batched run (``batch_dims=1``), the
copies of one seed sharing their per-sample mini-batches.

Notebooks 02 and 03: a tiny modded-nanogpt-style GPT (:func:`common.models.scion_gpt_config`)
trained with :class:`common.optim.Scion` (Spectral on hidden matrices, Sign on the tied
embedding) under the warmup-stable-decay schedule with a 28 % warm-down; one run per config
(:class:`GPTRun`, :func:`train_gpt`), mapped by :func:`common.experiment.sweep`. A run may have
two stages (the restart of §5.3): ``(tokens, batch_size, lr)`` per stage, the momentum carried
over, the schedule's warm-down at the end of the whole run.

Names: ``lr`` is beta (the step), ``scale`` is eta (the radius), ``momentum`` is alpha = 1 - the
usual momentum (``momentum=0.1`` is the usual 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common.experiment import (
    DEVICE_CHOICES,
    Config,
    ConfigError,
    derive,
    derive_seed,
    param,
    resolve_device,
    sweep,
)
from common.optim import scion_init, scion_update
from common.optim.schedules import WarmupStableDecay

# ---------------------------------------------------------------------------------------------
# Notebook 01: multinomial logistic regression with the spectral LMO
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRegConfig(Config):
    """Settings of ``01_logreg_spectral`` (defaults: cpu scale)."""

    budget: int = param(4096, ge=64, doc="T, the small sample budget (per-sample gradients)")
    budget_factor: int = param(8, ge=2, doc="the large budget is budget_factor * T")
    batch_sizes_small: tuple[int, ...] = param((2, 4, 8, 16, 32, 64, 128, 256, 512), ge=1,
                                               doc="batch grid at the small budget")
    batch_sizes_large: tuple[int, ...] = param((16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                                               ge=1, doc="batch grid at the large budget")
    step_constants: tuple[float, ...] = param((1.0, 1.41, 2.0, 2.83, 4.0, 5.66, 8.0), gt=0,
                                              doc="c of the step beta = c B / T = c / K")
    radius: float = param(20.0, gt=0, doc="eta, the radius of the spectral ball")
    momentum: float = param(0.1, gt=0, le=1, doc="alpha = 1 - usual momentum")
    seeds: tuple[int, ...] = param((0, 1, 2), ge=0, doc="seeds (mini-batch draws)")
    variance_batches: tuple[int, ...] = param((1, 2, 4, 8, 16, 32, 64), ge=1,
                                              doc="batch sizes of the variance measurement")
    variance_draws: int = param(400, ge=10, doc="mini-batches drawn per variance batch size")
    log_every: int = param(4, ge=1, doc="steps between (loss, dual norm) records of the traced run")

    def __post_init__(self):
        super().__post_init__()
        for name in ("batch_sizes_small", "batch_sizes_large"):
            grid = getattr(self, name)
            if len(grid) < 3 or list(grid) != sorted(set(grid)):
                raise ConfigError(f"{name}={grid}: at least 3 increasing batch sizes")
        if max(self.batch_sizes_small) > self.budget:
            raise ConfigError(f"batch_sizes_small: {max(self.batch_sizes_small)} exceeds budget="
                              f"{self.budget} (at least one step per run)")
        if max(self.batch_sizes_large) > self.budget * self.budget_factor:
            raise ConfigError("batch_sizes_large: exceeds budget * budget_factor")


@lru_cache(maxsize=1)
def digits_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)``: scikit-learn's digits, pixels / 16 (float64, 1797 x 64), labels 0..9."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data / 16.0), torch.tensor(d.target, dtype=torch.long)


def _spectral():
    """The spectral LMO of notebook 01 (Newton-Schulz; ``Spectral(method="svd")`` is exact)."""
    from common.optim.lmo import Spectral

    return Spectral()


def logreg_loss(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``softmax(X W^T)`` for every leading index of ``W`` (..., 10, 64)."""
    logp = torch.log_softmax(torch.einsum("ni,...ki->...nk", X, W), -1)
    return -logp.gather(-1, y.expand(logp.shape[:-1]).unsqueeze(-1)).squeeze(-1).mean(-1)


def logreg_grad(W: torch.Tensor, Xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy gradient per problem: ``W`` (P, 10, 64), ``Xb`` (P, B, 64), ``yb``
    (P, B)."""
    p = torch.softmax(torch.einsum("pbi,pki->pbk", Xb, W), -1)
    p = p - torch.nn.functional.one_hot(yb, W.shape[-2]).to(p.dtype)
    return torch.einsum("pbk,pbi->pki", p, Xb) / Xb.shape[1]


def scion_logreg(budget: int, batch_size: int, lrs, seeds, *, radius: float, momentum: float,
                 log_every: int = 0) -> dict:
    """Constrained Scion on digits, one copy per (lr, seed): ``K = budget // batch_size`` steps.

    Every copy starts at ``W = 0`` (so ``2 ||x_0|| <= eta``) with ``m_0 = g(x_0)`` (Theorem 4.1)
    and draws per-sample mini-batches with replacement (seeded by the seed and B; the copies of
    one seed share them).
    Returns the final full-training-set loss ``(len(lrs), len(seeds))``, the final iterates
    ``W`` ``(len(lrs) * len(seeds), 10, 64)`` and, with
    ``log_every``, the (loss, dual gradient norm) trace of every copy.
    """
    X, y = digits_problem()
    lrs = torch.tensor([float(b) for b in lrs for _ in seeds], dtype=torch.float64)
    P, K = len(lrs), budget // batch_size
    if K < 1:
        raise ValueError(f"batch_size={batch_size} exceeds the budget {budget}")
    # every copy of a seed sees the same mini-batches (common random numbers across steps)
    draws = torch.stack([torch.randint(len(X), (K + 1, batch_size), generator=torch.Generator()
                                       .manual_seed(derive_seed(s, f"logreg-B{batch_size}")))
                         for s in seeds], 1)[:, torch.arange(P) % len(seeds)]  # (K+1, P, B)
    n_seeds = len(seeds)

    def draw(k):
        return X[draws[k]], y[draws[k]]

    lmo = _spectral()
    W = torch.zeros(P, 10, X.shape[1], dtype=torch.float64)
    state = scion_init((W,), grads=(logreg_grad(W, *draw(K)),))
    trace = []
    for k in range(K):
        g = logreg_grad(W, *draw(k))
        if log_every and k % log_every == 0:
            trace.append((logreg_loss(W, X, y), radius * lmo.dual_norm(logreg_grad(
                W, X.expand(P, -1, -1), y.expand(P, -1)), batch_dims=1)))
        (u,), state, _ = scion_update((g,), state, (W,), lr=lrs, momentum=momentum, norm=lmo,
                                      scale=radius, batch_dims=1)
        W = W + u
    final = logreg_loss(W, X, y).view(-1, n_seeds).numpy()
    out = {"loss": final, "W": W}
    if log_every:
        out["trace_loss"] = torch.stack([t[0] for t in trace]).numpy()
        out["trace_dual"] = torch.stack([t[1] for t in trace]).numpy()
    return out


# ---------------------------------------------------------------------------------------------
# Notebooks 02 and 03: a tiny GPT trained with Scion
# ---------------------------------------------------------------------------------------------

DATASETS = ("tinyshakespeare", "fineweb")


@dataclass(frozen=True)
class GPTRun(Config):
    """One Scion run of the GPT: up to two stages ``(tokens, batch_size, lr)`` (a restart).

    ``tokens``, ``batch_sizes`` and ``lrs`` have one entry per stage; the token budget of a
    stage is split into ``tokens // (batch_size * context)`` steps. The WSD schedule (constant,
    then a linear warm-down over the last ``decay_fraction`` of all steps) multiplies every
    stage's ``lr``.
    """

    tokens: tuple[int, ...] = param((2**16,), ge=1, doc="tokens per stage")
    batch_sizes: tuple[int, ...] = param((8,), ge=1, doc="sequences per batch, per stage")
    lrs: tuple[float, ...] = param((0.02,), gt=0, le=1, doc="beta per stage")
    momentum: float = param(0.1, gt=0, le=1, doc="alpha = 1 - usual momentum")
    seed: int = param(0, ge=0, doc="initialisation and batches")
    context: int = param(32, ge=2, doc="S, tokens per sequence")
    n_layer: int = param(2, ge=1, doc="Transformer blocks")
    n_head: int = param(2, ge=1, doc="attention heads")
    d_model: int = param(32, ge=8, doc="model width")
    radius_hidden: float = param(50.0, gt=0, doc="eta of the Spectral hidden matrices")
    radius_embed: float = param(3000.0, gt=0, doc="eta of the Sign tied embedding")
    decay_fraction: float = param(0.28, ge=0, le=1, doc="warm-down fraction of the WSD schedule")
    eval_tokens: int = param(2**15, ge=1, doc="validation tokens (fixed windows)")
    log_every: int = param(0, ge=0, doc="log (train loss, dual norm) every n steps; 0: never")
    eval_points: int = param(0, ge=0, doc="validation evaluations during training (0: end only)")
    probe_batch: int = param(0, ge=0, doc="log on a fixed probe batch of this many sequences "
                                          "(0: on the mini-batch)")
    dataset: str = param("tinyshakespeare", choices=DATASETS, doc="corpus")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")

    def __post_init__(self):
        super().__post_init__()
        if not len(self.tokens) == len(self.batch_sizes) == len(self.lrs) or len(self.tokens) > 2:
            raise ConfigError(f"tokens, batch_sizes and lrs need one entry per stage (1 or 2); "
                              f"got {len(self.tokens)}, {len(self.batch_sizes)}, {len(self.lrs)}")
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2:
            raise ConfigError(f"d_model={self.d_model}: must be n_head={self.n_head} times an even "
                              "head dimension (RoPE)")

    @property
    def steps(self) -> tuple[int, ...]:
        """Steps per stage, ``tokens // (B S)`` (at least 1)."""
        return tuple(max(1, t // (b * self.context)) for t, b in zip(self.tokens, self.batch_sizes))


@lru_cache(maxsize=2)
def corpus(dataset: str = "tinyshakespeare"):
    """``(vocab_size, train_ids, val_ids)``: Tiny Shakespeare by characters (90/10 split), or
    user-supplied FineWeb GPT-2 token shards (``<data dir>/fineweb10B``; a clear
    ``DataUnavailableError`` when missing)."""
    if dataset == "tinyshakespeare":
        from common.data import char_dataset

        tok, train, val = char_dataset()
        return tok.vocab_size, train, val
    if dataset == "fineweb":
        from common.data.token_shards import find_shards, read_shard

        # uint16 ids (2 bytes a token): the first 14 shards hold 1.4B tokens, one epoch of T = 1.3B
        train = np.concatenate([read_shard(p) for p in find_shards()[:14]])
        val = np.asarray(read_shard(find_shards("fineweb_val_*.bin")[0]))
        return 50304, train, val
    raise ValueError(f"dataset={dataset!r}: allowed are {DATASETS}")


def scion_gpt(run: GPTRun, vocab_size: int):
    """The GPT of ``run`` and its :class:`common.optim.Scion` (Spectral on hidden matrices, Sign
    on the tied embedding, initialised on their spheres as the reference's ``init()``)."""
    from common.models.gpt import GPT, scion_gpt_config
    from common.optim import Scion

    torch.manual_seed(derive_seed(run.seed, "gpt-init"))
    model = GPT(scion_gpt_config(vocab_size, context=run.context, n_layer=run.n_layer,
                                 n_head=run.n_head, d_model=run.d_model))
    embed = [model.tok.weight]
    hidden = [p for p in model.parameters() if p is not model.tok.weight]
    opt = Scion([{"params": hidden, "norm": "Spectral", "scale": run.radius_hidden},
                 {"params": embed, "norm": "Sign", "scale": run.radius_embed}],
                lr=run.lrs[0], momentum=run.momentum)
    opt.init_parameters(torch.Generator().manual_seed(derive_seed(run.seed, "scion-init")))
    return model, opt


def _val_windows(val_ids, context: int, tokens: int):
    n = max(1, tokens // context)
    starts = np.linspace(0, len(val_ids) - context - 1, n).astype(np.int64)
    off = np.arange(context)
    return (torch.from_numpy(val_ids[starts[:, None] + off].astype(np.int64)),
            torch.from_numpy(val_ids[starts[:, None] + off + 1].astype(np.int64)))


@torch.no_grad()
def evaluate(model, windows, chunk: int = 256) -> float:
    """Mean next-token cross-entropy over fixed validation windows."""
    xs, ys = windows
    total = 0.0
    for i in range(0, len(xs), chunk):
        total += model(xs[i:i + chunk], ys[i:i + chunk])[1].item() * len(xs[i:i + chunk])
    return total / len(xs)


def train_gpt(run: GPTRun) -> dict:
    """Train the GPT of ``run`` with Scion; final validation loss, evaluations, logs.

    Returns ``val_loss`` (final), ``evals`` (``[tokens seen, val loss]`` at ``eval_points``
    evenly spaced steps and at the end), ``log`` (``[step, train loss, dual gradient norm]``
    every ``log_every`` steps; the dual norm is ``sum_l eta_l ||g_l||_*`` of the mini-batch
    gradient, :meth:`common.optim.Scion.dual_norm`, or of a fixed probe batch of
    ``probe_batch`` sequences, before the step), ``steps`` and ``diverged``.
    """
    from common.data import sample_batch

    vocab, train_ids, val_ids = corpus(run.dataset)
    device = resolve_device(run.device)
    model, opt = scion_gpt(run, vocab)
    model.to(device)
    windows = tuple(w.to(device) for w in _val_windows(val_ids, run.context, run.eval_tokens))
    rng = np.random.default_rng(derive_seed(run.seed, "gpt-batches"))
    steps = run.steps
    total = sum(steps)
    schedule = WarmupStableDecay(total, decay_fraction=run.decay_fraction)
    eval_at = (set(np.linspace(0, total, run.eval_points + 2)[1:-1].astype(int))
               if run.eval_points else set())
    probe = None
    if run.probe_batch:
        prng = np.random.default_rng(derive_seed(run.seed, "gpt-probe"))
        probe = tuple(torch.from_numpy(a.astype(np.int64)).to(device)
                      for a in sample_batch(train_ids, run.probe_batch, run.context, prng))
    evals, log, seen, k = [], [], 0, 0
    for n, bs, lr in zip(steps, run.batch_sizes, run.lrs):
        for _ in range(n):
            xb, yb = (torch.from_numpy(a.astype(np.int64)).to(device)
                      for a in sample_batch(train_ids, bs, run.context, rng))
            for group in opt.param_groups:
                group["lr"] = lr * schedule(k)
            if probe is not None and run.log_every and k % run.log_every == 0:
                opt.zero_grad(set_to_none=True)
                probe_loss = model(*probe)[1]
                probe_loss.backward()
                log.append([k, probe_loss.item(), float(opt.dual_norm())])
            opt.zero_grad(set_to_none=True)
            loss = model(xb, yb)[1]
            loss.backward()
            if not torch.isfinite(loss):
                return {"val_loss": float("inf"), "evals": evals, "log": log, "steps": total,
                        "diverged": True}
            if probe is None and run.log_every and k % run.log_every == 0:
                log.append([k, loss.item(), float(opt.dual_norm())])
            opt.step()
            k, seen = k + 1, seen + bs * run.context
            if k in eval_at:
                evals.append([seen, evaluate(model, windows)])
    val = evaluate(model, windows)
    evals.append([seen, val])
    return {"val_loss": val, "evals": evals, "log": log, "steps": total,
            "diverged": not np.isfinite(val)}


def gradient_variance(run: GPTRun, batch_sizes, draws: int, checkpoint_steps: int) -> dict:
    """Mini-batch gradient variance at a checkpoint: ``E ||g_B - G||_2^2`` against ``B``.

    Trains ``run`` (its first stage) for ``checkpoint_steps`` steps at constant ``lr``, then
    draws ``draws`` mini-batches of every size in ``batch_sizes`` (``G`` the full gradient),
    estimated without bias by the draws' own sample variance (``sum_i var_i``, ``ddof = 1``).
    """
    from common.data import sample_batch

    vocab, train_ids, _ = corpus(run.dataset)
    device = resolve_device(run.device)
    model, opt = scion_gpt(run, vocab)
    model.to(device)
    rng = np.random.default_rng(derive_seed(run.seed, "gpt-batches"))
    bs = run.batch_sizes[0]
    for _ in range(checkpoint_steps):
        xb, yb = (torch.from_numpy(a.astype(np.int64)).to(device)
                  for a in sample_batch(train_ids, bs, run.context, rng))
        opt.zero_grad(set_to_none=True)
        model(xb, yb)[1].backward()
        opt.step()
    params = [p for p in model.parameters()]
    vrng = np.random.default_rng(derive_seed(run.seed, "gpt-variance"))
    var = []
    for b in batch_sizes:
        s1 = s2 = 0.0
        for _ in range(draws):
            xb, yb = (torch.from_numpy(a.astype(np.int64)).to(device)
                      for a in sample_batch(train_ids, b, run.context, vrng))
            g = torch.autograd.grad(model(xb, yb)[1], params)
            g = torch.cat([t.reshape(-1) for t in g]).double()
            s1, s2 = s1 + g, s2 + g * g
        var.append(float(((s2 - s1 * s1 / draws) / (draws - 1)).sum()))
    return {"batch_sizes": list(batch_sizes), "variance": var}


def logreg_sweep(cfg: LogRegConfig, budget: int, batch_sizes) -> np.ndarray:
    """Final losses ``(len(batch_sizes), len(step_constants), len(seeds))`` at ``budget``, with
    ``beta = min(1, c / K)``, ``K = budget // B`` for every step constant ``c``."""
    out = []
    for B in batch_sizes:
        K = budget // B
        lrs = [min(1.0, c / K) for c in cfg.step_constants]
        out.append(scion_logreg(budget, B, lrs, cfg.seeds, radius=cfg.radius,
                                momentum=cfg.momentum)["loss"])
    return np.stack(out)


def log_argmin(grid, values) -> float:
    """The minimiser of ``values`` over a geometric ``grid``, refined by the parabola in
    ``log(grid)`` through the smallest value and its two neighbours (the grid point itself at an
    edge of the grid)."""
    grid, values = np.asarray(grid, float), np.asarray(values, float)
    i = int(np.argmin(values))
    if i == 0 or i == len(grid) - 1:
        return float(grid[i])
    x, y = np.log(grid[i - 1:i + 2]), values[i - 1:i + 2]
    a, b, _ = np.polyfit(x, y, 2)
    return float(np.exp(np.clip(-b / (2 * a), x[0], x[2]))) if a > 0 else float(grid[i])


def logreg_gradient_variance(W: torch.Tensor, batch_sizes, draws: int, seed: int) -> np.ndarray:
    """``E ||g_B - grad f||_2^2`` at ``W`` for every ``B`` (with-replacement per-sample draws,
    ``draws`` mini-batches each; ``grad f`` the exact full-batch gradient)."""
    X, y = digits_problem()
    full = logreg_grad(W[None], X[None], y[None])[0]
    gen = torch.Generator().manual_seed(derive_seed(seed, "logreg-variance"))
    out = []
    for B in batch_sizes:
        idx = torch.randint(len(X), (draws, B), generator=gen)
        g = logreg_grad(W.expand(draws, -1, -1), X[idx], y[idx])
        out.append(float(((g - full) ** 2).sum((1, 2)).mean()))
    return np.array(out)


_MODEL_FIELDS = dict(
    momentum=param(0.1, gt=0, le=1, doc="alpha = 1 - usual momentum"),
    context=param(32, ge=2, doc="S, tokens per sequence"),
    n_layer=param(2, ge=1, doc="Transformer blocks"),
    n_head=param(2, ge=1, doc="attention heads"),
    d_model=param(32, ge=8, doc="model width"),
    radius_hidden=param(1.0, gt=0, doc="eta of the Spectral hidden matrices"),
    radius_embed=param(16.0, gt=0, doc="eta of the Sign tied embedding"),
    eval_tokens=param(2**13, ge=1, doc="validation tokens (fixed windows)"),
    dataset=param("tinyshakespeare", choices=DATASETS, doc="corpus"),
    device=param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)"),
)


@dataclass(frozen=True)
class BatchSweepConfig(Config):
    """Settings of ``02_chargpt_batch_sweep`` (defaults: cpu scale)."""

    tokens: int = param(2**15, ge=1, doc="T, the token budget of every run")
    batch_sizes: tuple[int, ...] = param((2, 4, 8, 16, 32, 64, 128), ge=1,
                                         doc="sequences per batch (the grid)")
    lr: float = param(0.02, gt=0, le=1, doc="beta, one row for every batch size")
    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="seeds (initialisation and batches)")
    momentum: float = _MODEL_FIELDS["momentum"]
    context: int = _MODEL_FIELDS["context"]
    n_layer: int = _MODEL_FIELDS["n_layer"]
    n_head: int = _MODEL_FIELDS["n_head"]
    d_model: int = _MODEL_FIELDS["d_model"]
    radius_hidden: float = _MODEL_FIELDS["radius_hidden"]
    radius_embed: float = _MODEL_FIELDS["radius_embed"]
    eval_tokens: int = _MODEL_FIELDS["eval_tokens"]
    log_every: int = param(4, ge=1, doc="steps between the traced run's (probe loss, dual norm)")
    probe_batch: int = param(64, ge=1, doc="sequences of the fixed probe batch of the traced run")
    variance_batches: tuple[int, ...] = param((1, 2, 4, 8, 16), ge=1,
                                              doc="batch sizes of the variance measurement")
    variance_draws: int = param(16, ge=3, doc="mini-batches per variance batch size")
    variance_steps: int = param(64, ge=0, doc="training steps before the variance checkpoint")
    dataset: str = _MODEL_FIELDS["dataset"]
    device: str = _MODEL_FIELDS["device"]

    def __post_init__(self):
        super().__post_init__()
        if len(self.batch_sizes) < 3 or list(self.batch_sizes) != sorted(set(self.batch_sizes)):
            raise ConfigError(f"batch_sizes={self.batch_sizes}: at least 3 increasing sizes")

    def runs(self) -> list[GPTRun]:
        """One single-stage run per (seed, batch size), seeds outermost."""
        return [derive(GPTRun, self, tokens=(self.tokens,), batch_sizes=(b,), lrs=(self.lr,),
                       seed=s, log_every=0, probe_batch=0)
                for s in self.seeds for b in self.batch_sizes]


def run_sweep(runs, *, store_dir, executor="debug", resume=False, progress=False) -> list[dict]:
    """:func:`train_gpt` over ``runs`` through :func:`common.experiment.sweep`; one record per
    run (its stages, seed and momentum, then the results) in order."""
    result = sweep(train_gpt, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress).raise_for_failures()
    return [{"tokens": list(r.tokens), "batch_sizes": list(r.batch_sizes), "lrs": list(r.lrs),
             "seed": r.seed, "momentum": r.momentum, **out}
            for r, out in zip(runs, result.results())]


@dataclass(frozen=True)
class RestartConfig(Config):
    """Settings of ``03_restart`` (defaults: cpu scale)."""

    tokens: int = param(2**15, ge=1, doc="T1, the final token budget")
    budget_ratio: int = param(8, ge=2, doc="T1 / T0: the restart happens after T0 tokens")
    batch_size: int = param(4, ge=1, doc="B0, the small configuration's batch")
    lr_grid: tuple[float, ...] = param((0.01, 0.02, 0.04, 0.08), gt=0, le=1,
                                       doc="beta grid tuned at (T0, B0)")
    momentum_grid: tuple[float, ...] = param((0.05, 0.1, 0.2), gt=0, le=1,
                                             doc="alpha grid of the momentum-transfer report")
    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="seeds (initialisation and batches)")
    eval_points: int = param(8, ge=0, doc="validation evaluations during a run")
    momentum: float = _MODEL_FIELDS["momentum"]
    context: int = _MODEL_FIELDS["context"]
    n_layer: int = _MODEL_FIELDS["n_layer"]
    n_head: int = _MODEL_FIELDS["n_head"]
    d_model: int = _MODEL_FIELDS["d_model"]
    radius_hidden: float = _MODEL_FIELDS["radius_hidden"]
    radius_embed: float = _MODEL_FIELDS["radius_embed"]
    eval_tokens: int = _MODEL_FIELDS["eval_tokens"]
    dataset: str = _MODEL_FIELDS["dataset"]
    device: str = _MODEL_FIELDS["device"]

    @property
    def small_budget(self) -> int:
        """T0 = T1 / budget_ratio."""
        return self.tokens // self.budget_ratio

    def single(self, tokens: int, batch_size: int, lr: float, seed: int, **kw) -> GPTRun:
        """A one-stage run."""
        return derive(GPTRun, self, tokens=(tokens,), batch_sizes=(batch_size,), lrs=(lr,),
                      seed=seed, **kw)

    def restarted(self, lr0: float, rule: str, seed: int) -> GPTRun:
        """Restarted Scion (§5.3): ``(B0, beta0)`` for T0 tokens, then the ``rule``'s
        ``(B1, beta1)`` (:func:`common.optim.scaling.restart_stages`) for the rest."""
        from common.optim.scaling import restart_stages

        (t0, b0, l0), (t1, b1, l1) = restart_stages(self.batch_size, lr0, self.small_budget,
                                                    self.tokens, rule, round_batch=rule == "BST")
        return derive(GPTRun, self, tokens=(t0, t1), batch_sizes=(b0, b1), lrs=(l0, l1),
                      seed=seed)
