r"""Code only the dp-sde reproduction needs (Compagnoni, Stanghellini, Islamov, Lucchi, Koloskova,
"Adaptive Methods Are Preferable in High Privacy Settings: An SDE Perspective", arXiv 2603.03226).

The privatised gradient, as in the DP^2 code the paper reportedly used [secondary]: batch B_k,
per-example *global* L2 clipping at C, sum, the Gaussian mechanism with noise multiplier sigma,
divide by the (expected) batch size B,

.. math::  \tilde g_k = \frac1B\Big[\sum_{i\in B_k} \mathrm{clip}_C(\nabla f_i(x_k))
           + \sigma C \xi_k\Big],\qquad \xi_k \sim N(0, I_d),

then a base optimizer: DP-SGD x <- x - eta g~, DP-SignSGD x <- x - eta sign(g~), DP-Adam (Adam
on g~; beta1 = 0.9, beta2 = 0.999, eps = 1e-8 [unverified]). sigma_DP = sigma C / B is the DP
noise's per-coordinate standard deviation in g~.

Three parts, one per notebook:

- **Quadratic** (``01_sde_quadratic_scaling``): f = 1/2 sum_j h_j x_j^2 in d = 10^4 with Gaussian
  per-example noise, the discrete algorithms and their SDEs from :mod:`common.sde` (DP-SGD =
  ``SGD`` on a :class:`~common.sde.ClippedGaussianDP` mechanism, DP-SignSGD = ``SignSGD`` on
  it; SDEs :class:`~common.sde.DPSGDSDE`, :class:`~common.sde.DPSignSGDSDE`, [derived] in the
  notes, constants unverified). Stationary levels, half-lives, tracking, Phase-1 invariance.
- **Logistic regression** (``02_logreg_protocols_a_b``, ``03_batch_noise_crossover``):
  multinomial (or binary) logistic regression trained by DP-SGD / DP-SignSGD / DP-Adam for a whole
  grid of (noise multiplier, learning rate) at once, with closed-form per-example gradients; the
  noise multipliers come from epsilon through :func:`common.privacy.dp_sgd_noise_multipliers`.
  Each step composes the library: the closed-form clipped per-example gradients
  (:func:`clipped_grad_sums`, clip factors of :mod:`common.privacy.clipping`), the Gaussian
  mechanism (:func:`common.privacy.gaussian_mechanism_shared`), then the base optimizer's pure
  update from :data:`common.optim.OPTIMIZERS` (:data:`BASE_OPTIMIZER`).

The analysis (log-log slopes, half-lives, plateaus, the parabolic best learning rate, crossings)
is :mod:`common.metrics.trajectory`.
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
    geometric_grid,
    param,
    require_multiples,
)
from common.experiment.device import DEVICE_CHOICES, resolve_device
from common.metrics import half_life, stationary_level
from common.optim import OPTIMIZERS, apply_updates
from common.privacy import clip_factors, gaussian_mechanism_shared

__all__ = ["QuadraticStudy", "curvatures", "objective", "phase2_mechanism", "averaged_noise",
           "start_point", "noise_std", "accountant_sigma_dps", "example_norms", "scaling_runs",
           "tracking_runs", "phase1_runs", "METHODS", "BASE_OPTIMIZER", "DATASETS", "logreg_data",
           "clipped_grad_sums", "LogRegTrial", "train_grid", "train_logreg", "method_color",
           "LogRegStudy", "CrossoverStudy", "loss_table"]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def method_color(method: str) -> str:
    """A DP method drawn in the colour of its base optimizer (common.plotting)."""
    from common import plotting

    return plotting.color(method.removeprefix("DP-"))


# ---------------------------------------------------------------------------------------------
# Notebook 01: the quadratic (JAX, common.sde)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuadraticStudy(Config):
    """Settings of ``01_sde_quadratic_scaling`` (defaults: cpu scale). Notes section 5, NB 01."""

    dim: int = param(10_000, ge=1, doc="dimension d")
    h_min: float = param(0.1, gt=0, doc="smallest curvature h_j")
    h_max: float = param(1.0, gt=0, doc="largest curvature h_j")
    batch_size: int = param(64, ge=1, doc="batch size B")
    example_std: float = param(1.0, gt=0, doc="per-example gradient noise std sigma_b")
    sigma_dps: tuple[float, ...] = param((1.0, 2.0, 4.0, 8.0, 16.0), gt=0,
                                         doc="DP noise std sigma_DP (the epsilon proxy)")
    clip: float = param(1e6, gt=0, doc="Phase-2 clip level C (above every per-example norm)")
    lr_sgd: float = param(0.1, gt=0, doc="DP-SGD step size")
    lr_sign: float = param(0.1, gt=0, doc="DP-SignSGD step size")
    x0_snr_sgd: float = param(16.0, gt=0, doc="DP-SGD start |h_j x0_j| / s_min")
    x0_snr_sign: float = param(1.0, gt=0, doc="DP-SignSGD start |h_j x0_j| / s_min")
    steps_sgd: int = param(2000, ge=10, doc="DP-SGD steps per run")
    steps_sign: int = param(10_000, ge=10, doc="DP-SignSGD steps per run")
    record_sgd: int = param(2, ge=1, doc="DP-SGD steps between records")
    record_sign: int = param(10, ge=1, doc="DP-SignSGD steps between records")
    plateau_from: float = param(0.6, gt=0, lt=1, doc="fraction of the run before the plateau")
    num_paths: int = param(2, ge=1, doc="independent runs per point")
    tracking_steps: int = param(500, ge=10, doc="steps of the SDE-vs-discrete comparison")
    tracking_paths: int = param(1, ge=1, doc="runs of the SDE-vs-discrete comparison")
    tracking_checkpoints: int = param(10, ge=2, doc="checkpoints compared")
    phase1_clips: tuple[float, ...] = param((1e-3, 1e-2), gt=0, doc="Phase-1 clip levels")
    phase1_noise_multiplier: float = param(1.0, gt=0, doc="Phase-1 noise multiplier sigma")
    phase1_steps: int = param(100, ge=1, doc="Phase-1 steps")
    accountant_epsilons: tuple[float, ...] = param((0.5, 1.0, 2.0, 4.0, 8.0), gt=0,
                                                   doc="epsilons mapped to sigma_DP (C1)")
    accountant_n_train: int = param(25_000, ge=1, doc="N of the accountant setting (C1)")
    accountant_batch_size: int = param(64, ge=1, doc="expected batch B of that setting")
    accountant_steps: int = param(39_063, ge=1, doc="steps T of that setting")
    accountant_delta: float = param(1e-5, gt=0, lt=1, doc="delta of that setting")
    seed: int = param(0, ge=0, doc="seed")

    def __post_init__(self):
        super().__post_init__()
        if not self.accountant_batch_size <= self.accountant_n_train:
            raise ConfigError(f"accountant_batch_size={self.accountant_batch_size} must be <= "
                              f"accountant_n_train={self.accountant_n_train}")
        if len(self.accountant_epsilons) < 2:
            raise ConfigError("accountant_epsilons needs >= 2 values")
        if not self.h_min < self.h_max:
            raise ConfigError(f"h_min={self.h_min} must be < h_max={self.h_max}")
        require_multiples("record_sgd", self.record_sgd, steps_sgd=self.steps_sgd)
        require_multiples("record_sign", self.record_sign, steps_sign=self.steps_sign)
        require_multiples("tracking_checkpoints", self.tracking_checkpoints,
                          tracking_steps=self.tracking_steps)
        if len(self.sigma_dps) < 2 or len(self.phase1_clips) != 2:
            raise ConfigError("sigma_dps needs >= 2 values and phase1_clips exactly 2")


def curvatures(cfg: QuadraticStudy) -> np.ndarray:
    """h_j log-uniform in [h_min, h_max] (deterministic: a geometric grid of d values)."""
    return np.geomspace(cfg.h_min, cfg.h_max, cfg.dim)


def objective(cfg: QuadraticStudy):
    from common.sde import DiagQuadratic

    return DiagQuadratic(curvatures(cfg))


def noise_std(cfg: QuadraticStudy, sigma_dp: float) -> float:
    """s = sqrt(sigma_b^2 / B + sigma_DP^2): per-coordinate noise std of g~ in Phase 2."""
    return math.sqrt(cfg.example_std**2 / cfg.batch_size + sigma_dp**2)


def phase2_mechanism(cfg: QuadraticStudy, sigma_dp: float):
    """Per-example clipping at ``clip`` plus the Gaussian mechanism with sigma C / B = sigma_dp
    (:class:`common.sde.ClippedGaussianDP`, Gaussian per-example noise of std sigma_b)."""
    import jax.numpy as jnp

    from common.sde import ClippedGaussianDP, Gaussian

    return ClippedGaussianDP(Gaussian(jnp.full(cfg.dim, cfg.example_std)), clip=cfg.clip,
                             noise_multiplier=sigma_dp * cfg.batch_size / cfg.clip,
                             batch_size=cfg.batch_size)


def averaged_noise(cfg: QuadraticStudy, sigma_dp: float):
    """The law of g~ - grad f when no example is clipped: N(0, s^2 I), s = :func:`noise_std`.

    In Phase 2 clipping is the identity, so g~ = grad f + mean_i Z_i + sigma_DP xi exactly, and
    the mean of B independent N(0, sigma_b^2 I) plus an independent N(0, sigma_DP^2 I) is
    N(0, s^2 I): equal in law to :func:`phase2_mechanism` (tests compare the two), at 1/B of the
    cost (one draw per coordinate instead of B).
    """
    import jax.numpy as jnp

    from common.sde import Gaussian

    return Gaussian(jnp.full(cfg.dim, noise_std(cfg, sigma_dp)))


def start_point(cfg: QuadraticStudy, snr: float) -> np.ndarray:
    """x0_j = snr * s_min / h_j: every coordinate starts at gradient-to-noise ratio ``snr`` for
    the smallest noise s_min (the notes' |h x0| <~ s for DP-SignSGD's small-SNR start)."""
    return snr * noise_std(cfg, min(cfg.sigma_dps)) / curvatures(cfg)


def accountant_sigma_dps(cfg: QuadraticStudy) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma, sigma_DP)`` for each of ``accountant_epsilons``: the noise multiplier sigma the
    RDP accountant certifies for T = ``accountant_steps`` Poisson-subsampled Gaussian steps at
    rate q = B / N (:func:`common.privacy.dp_sgd_noise_multipliers`), and the quadratic's
    sigma_DP = sigma C / B with C / B fixed so that the largest epsilon gets the smallest
    sigma_DP of the study's grid (the DP noise then dominates the batch noise at every epsilon).
    Only the shape sigma(epsilon) matters for C1's slopes: C / B cancels in them."""
    from common.privacy import dp_sgd_noise_multipliers

    eps = np.asarray(cfg.accountant_epsilons, float)
    sigma = np.asarray(dp_sgd_noise_multipliers(
        eps, cfg.accountant_delta, cfg.accountant_batch_size / cfg.accountant_n_train,
        cfg.accountant_steps), float)
    return sigma, min(cfg.sigma_dps) * sigma / sigma[np.argmax(eps)]


def example_norms(cfg: QuadraticStudy, x, seed: int, num: int = 4096) -> np.ndarray:
    """``num`` per-example gradient norms ||h x + Z_i|| at x (what clipping compares with C)."""
    import jax
    import jax.numpy as jnp

    from common.experiment import jax_key

    key = jax_key(derive_seed(seed, "example-norms"))
    grad = jnp.asarray(curvatures(cfg) * np.asarray(x), jnp.float32)
    out = []
    for k in jax.random.split(key, max(1, num // 256)):
        z = cfg.example_std * jax.random.normal(k, (256, cfg.dim))
        out.append(np.asarray(jnp.linalg.norm(grad + z, axis=-1)))
    return np.concatenate(out)


#: each quadratic method's settings in QuadraticStudy: the fields ``lr_<s>``, ``steps_<s>``,
#: ``record_<s>``, ``x0_snr_<s>`` for its suffix s; the discrete optimizer is the base optimizer
#: of ``common.sde.SDES[method]`` (SGD or SignSGD on the DP mechanism)
_QUADRATIC_FIELDS = {"DP-SGD": "sgd", "DP-SignSGD": "sign"}


def _method_settings(cfg: QuadraticStudy, method: str) -> tuple[float, int, int, float]:
    s = _QUADRATIC_FIELDS[method]
    return tuple(getattr(cfg, f"{name}_{s}") for name in ("lr", "steps", "record", "x0_snr"))


def _record(traj) -> dict:
    return {"steps": np.asarray(traj.steps), "mean": np.asarray(traj.mean, float)}


def scaling_runs(cfg: QuadraticStudy, method: str, sigma_dps=None, label: str = "scaling") -> dict:
    """The discrete algorithm at every sigma_DP of ``sigma_dps`` (default: the study's grid;
    Protocol A: fixed lr), Phase 2.

    Noise drawn from :func:`averaged_noise` (the exact law of the Phase-2 mechanism); ``label``
    names the random streams (a second grid gets its own). Returns
    ``{"steps": (T,), "mean": (S, T), "level": (S,), "half_life": (S,)}``: mean loss over
    ``num_paths`` runs, plateau level and half-life of the excess loss for each sigma_DP.
    """
    import jax.numpy as jnp

    from common import sde
    from common.experiment import jax_key

    if method not in _QUADRATIC_FIELDS:
        raise ValueError(f"method={method!r}: allowed values are {tuple(_QUADRATIC_FIELDS)}")
    lr, steps, rec, snr = _method_settings(cfg, method)
    x0 = jnp.asarray(start_point(cfg, snr), jnp.float32)
    f = objective(cfg)
    runs = []
    for i, s in enumerate(cfg.sigma_dps if sigma_dps is None else sigma_dps):
        opt = sde.get(method).optimizer(f, averaged_noise(cfg, s), lr)
        key = jax_key(derive_seed(cfg.seed, label, method, i))
        runs.append(_record(sde.simulate(opt, x0, key, num_steps=steps, num_paths=cfg.num_paths,
                                         record_every=rec)))
    out = {"steps": runs[0]["steps"], "mean": np.stack([r["mean"] for r in runs])}
    start = int(cfg.plateau_from * steps)
    out["level"] = np.array([stationary_level(out["steps"], m, start) for m in out["mean"]])
    out["half_life"] = np.array([half_life(out["steps"], m, lv)
                                 for m, lv in zip(out["mean"], out["level"])])
    return out


def tracking_runs(cfg: QuadraticStudy, sigma_dp: float) -> dict:
    """Discrete DP-SGD / DP-SignSGD on the per-example mechanism (B clipped examples and the
    Gaussian mechanism each step) next to their SDEs, Euler-Maruyama with dt = lr, same x0.

    Returns ``{method: {"steps", "discrete", "sde"}}`` (mean loss over ``tracking_paths`` runs at
    ``tracking_checkpoints`` checkpoints after step 0).
    """
    import jax.numpy as jnp

    from common import sde
    from common.experiment import jax_key

    f = objective(cfg)
    mech = phase2_mechanism(cfg, sigma_dp)
    rec = cfg.tracking_steps // cfg.tracking_checkpoints
    out = {}
    for method in _QUADRATIC_FIELDS:
        lr, _, _, snr = _method_settings(cfg, method)
        opt, model = sde.make(method, f, mech, lr)
        x0 = jnp.asarray(start_point(cfg, snr), jnp.float32)
        keys = (jax_key(derive_seed(cfg.seed, "track", method, "discrete")),
                jax_key(derive_seed(cfg.seed, "track", method, "sde")))
        d, s = sde.simulate_many((opt, model), x0, keys, num_steps=cfg.tracking_steps,
                                 num_paths=cfg.tracking_paths, record_every=rec)
        out[method] = {"steps": np.asarray(d.steps)[1:], "discrete": np.asarray(d.mean)[1:],
                       "sde": np.asarray(s.mean)[1:]}
    return out


def phase1_runs(cfg: QuadraticStudy) -> dict:
    """Phase 1 (every example clipped): the two clip levels of ``phase1_clips`` with the same
    random stream. DP-SignSGD from the small-SNR start; DP-SGD from the minimiser x = 0, where
    its loss curve is the accumulated noise, ~ (lr C / B)^2 [derived].

    Returns the final DP-SignSGD iterates and loss records for both C, the DP-SGD loss records,
    and the smallest sampled per-example norm at the start and the end (to check clipping).
    """
    import jax.numpy as jnp

    from common.experiment import jax_key
    from common.sde import SGD, ClippedGaussianDP, Gaussian, SignSGD, simulate

    f = objective(cfg)
    x_sign = jnp.asarray(start_point(cfg, cfg.x0_snr_sign), jnp.float32)
    x_sgd = jnp.zeros(cfg.dim, jnp.float32)
    rec = max(1, cfg.phase1_steps // 10)
    out = {"sign_final": [], "sign_loss": [], "sgd_loss": [], "steps": None}
    for C in cfg.phase1_clips:
        mech = ClippedGaussianDP(Gaussian(jnp.full(cfg.dim, cfg.example_std)), clip=C,
                                 noise_multiplier=cfg.phase1_noise_multiplier,
                                 batch_size=cfg.batch_size)
        for name, opt, x0, lr in (("sign", SignSGD, x_sign, cfg.lr_sign),
                                  ("sgd", SGD, x_sgd, cfg.lr_sgd)):
            key = jax_key(derive_seed(cfg.seed, "phase1", name))  # the same for both C
            t = simulate(opt(f, mech, lr), x0, key, num_steps=cfg.phase1_steps, num_paths=1,
                         record_every=rec)
            out[f"{name}_loss"].append(np.asarray(t.mean, float))
            if name == "sign":
                out["sign_final"].append(np.asarray(t.final_state.x[0]))
        out["steps"] = np.asarray(t.steps)
    norms = [example_norms(cfg, x, cfg.seed, 1024).min()
             for x in (np.asarray(x_sign), out["sign_final"][-1], np.zeros(cfg.dim))]
    out["min_norm"] = float(min(norms))
    return out


# ---------------------------------------------------------------------------------------------
# Notebooks 02-03: logistic regression, a whole grid of runs at once (torch)
# ---------------------------------------------------------------------------------------------

METHODS = ("DP-SGD", "DP-SignSGD", "DP-Adam")
DATASETS = ("mnist", "fashion-mnist", "imdb")


@lru_cache(maxsize=4)
def logreg_data(dataset: str, n_train: int, seed: int = 0):
    """``(X, y, num_classes)``: the first ``n_train`` training examples after a seeded shuffle.

    X (float32, N x D) ends with a constant 1 (the bias). MNIST / Fashion-MNIST: pixels / 255,
    D = 785, 10 classes. IMDB: binary bag of words of the 10,000 most frequent training words
    (:func:`common.data.load_imdb`), D = 10,001, 2 classes.
    """
    if dataset in ("mnist", "fashion-mnist"):
        from common.data import load_fashion_mnist, load_mnist

        images, labels = (load_mnist if dataset == "mnist" else load_fashion_mnist)("train")
        feats, k = images.reshape(len(images), -1).astype(np.float32) / 255.0, 10
    elif dataset == "imdb":
        from common.data import load_imdb

        feats, labels, _ = load_imdb("train")
        k = 2
    else:
        raise ValueError(f"dataset={dataset!r}: allowed values are {DATASETS}")
    if not 1 <= n_train <= len(labels):
        raise ValueError(f"n_train={n_train}: must be in [1, {len(labels)}] for {dataset}")
    idx = np.random.default_rng(derive_seed(seed, "logreg-subset", dataset)).permutation(
        len(labels))[:n_train]
    X = np.concatenate([feats[idx].astype(np.float32), np.ones((n_train, 1), np.float32)], 1)
    return torch.from_numpy(X), torch.from_numpy(np.asarray(labels)[idx].astype(np.int64)), k


def _logits(X, W, num_classes: int):
    """Logits (n, k, R) for weights W (D, m, R); binary (k = 2, m = 1): class 0's logit is 0."""
    n, (D, m, R) = X.shape[0], W.shape
    Z = (X @ W.reshape(D, m * R)).view(n, m, R)
    if m == num_classes:
        return Z
    return torch.cat([Z.new_zeros(n, 1, R), Z], 1)


def clipped_grad_sums(X, y, W, clip: float, num_classes: int, x_norms=None):
    r"""Per-example gradients of the cross-entropy, clipped at ``clip`` and summed, for R models.

    For logistic regression the per-example gradient is an outer product,
    grad_W l_i = x_i (p_i - e_{y_i})^T (free classes only), so its norm is
    ||x_i|| ||p_i - e_{y_i}|| and the clipped sum is X^T diag(c) (P - Y) with
    c_i = min(1, C / ||grad_i||): no per-example gradient is materialised.

    Args:
        X: (n, D) features; y: (n,) labels; W: (D, m, R) weights of R models (m = k, or m = 1
        for binary); clip: C > 0; num_classes: k; x_norms: the rows' norms ||x_i|| if known.

    Returns:
        ``(G, norms)``: G (D, m, R) the clipped sums, norms (n, R) the per-example norms.
    """
    n, (D, m, R) = X.shape[0], W.shape
    P = torch.softmax(_logits(X, W, num_classes), dim=1)
    P[torch.arange(n), y] -= 1.0  # P - Y
    E = P[:, num_classes - m:, :]  # the free classes
    if x_norms is None:
        x_norms = torch.linalg.vector_norm(X, dim=1)
    norms = x_norms[:, None] * (E * E).sum(1).sqrt()
    c = clip_factors(norms, clip)
    G = X.T @ (E * c[:, None, :]).reshape(n, m * R)
    return G.view(D, m, R), norms


def _losses(X, y, W, num_classes: int, chunk: int = 4096):
    """Mean cross-entropy and accuracy of each of the R models on (X, y)."""
    total = torch.zeros(W.shape[2], dtype=torch.float64)
    correct = torch.zeros(W.shape[2], dtype=torch.float64)
    for a in range(0, X.shape[0], chunk):
        Z = _logits(X[a:a + chunk], W, num_classes)
        yy = y[a:a + chunk]
        picked = Z[torch.arange(len(yy)), yy]
        total += (torch.logsumexp(Z, dim=1) - picked).double().sum(0).cpu()
        correct += (Z.argmax(dim=1) == yy[:, None]).double().sum(0).cpu()
    return total / X.shape[0], correct / X.shape[0]


#: the base optimizer of each DP method: its pure update in :data:`common.optim.OPTIMIZERS`
#: (plain SGD; SignSGD; Adam with beta1 = 0.9, beta2 = 0.999, eps = 1e-8 [unverified])
BASE_OPTIMIZER = {"DP-SGD": "SGD", "DP-SignSGD": "SignSGD", "DP-Adam": "Adam"}


@dataclass(frozen=True)
class LogRegTrial(Config):
    """A grid of private logistic-regression runs that share data, batches and noise draws.

    Runs: every (noise multiplier, lr) pair, run r = i * len(lrs) + j. All runs of a trial see
    the same Poisson batches and the same standard normal draw xi_k at each step (scaled by their
    own sigma C): common random numbers across the grid, as in a paired comparison; each run on
    its own is exactly DP-SGD / DP-SignSGD / DP-Adam. The random stream depends on (seed,
    dataset, n_train) only, so the methods are paired too.
    """

    dataset: str = param("mnist", choices=DATASETS)
    n_train: int = param(6000, ge=1, doc="training examples N")
    method: str = param("DP-SGD", choices=METHODS)
    lrs: tuple[float, ...] = param((1.0,), gt=0, doc="learning rates")
    noise_multipliers: tuple[float, ...] = param((1.0,), ge=0, doc="sigma (0: no noise)")
    clip: float = param(1.0, gt=0, doc="per-example clip level C")
    batch_size: int = param(256, ge=1, doc="expected batch size B (Poisson, q = B / N)")
    num_steps: int = param(470, ge=1, doc="steps T")
    eval_size: int = param(10_000, ge=1, doc="training examples the final loss is measured on")
    seed: int = param(0, ge=0, doc="seed of the batches and the noise")
    device: str = param("cpu", choices=DEVICE_CHOICES)

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size > self.n_train:
            raise ConfigError(f"batch_size={self.batch_size} must be <= n_train={self.n_train}")


def train_grid(trial: LogRegTrial):
    """The trial's runs from W = 0: ``(W, X, y, num_classes, clipped_fraction)`` with the final
    weights W (D, m, S * L) (used by :func:`train_logreg`; tests read W directly)."""
    dev = resolve_device(trial.device)
    X, y, k = logreg_data(trial.dataset, trial.n_train)
    X, y = X.to(dev), y.to(dev)
    N, D = X.shape
    m = 1 if k == 2 else k
    S, L = len(trial.noise_multipliers), len(trial.lrs)
    lr = torch.tensor(trial.lrs, dtype=torch.float32, device=dev).repeat(S)
    sigmas = (torch.tensor(trial.noise_multipliers, dtype=torch.float32, device=dev)
              .repeat_interleave(L))
    W = torch.zeros(D, m, S * L, device=dev)
    gen = torch.Generator(device=dev).manual_seed(
        derive_seed(trial.seed, "dp-sde-logreg", trial.dataset, trial.n_train))
    q, base = trial.batch_size / N, OPTIMIZERS[BASE_OPTIMIZER[trial.method]]
    state = base.init((W,))
    x_norms = torch.linalg.vector_norm(X, dim=1)
    clipped, examples = torch.zeros((), dtype=torch.int64, device=dev), 0
    for _ in range(trial.num_steps):
        batch = torch.rand(N, generator=gen, device=dev) < q  # Poisson sampling
        # per-example clipping, summed (sensitivity C) ...
        G, norms = clipped_grad_sums(X[batch], y[batch], W, trial.clip, k, x_norms[batch])
        # ... the Gaussian mechanism, one draw xi shared by the grid: G + sigma C xi ...
        noisy, _ = gaussian_mechanism_shared(G, sensitivity=trial.clip,
                                             noise_multipliers=sigmas, generator=gen)
        # ... divided by the expected batch size, then the base optimizer's pure update
        updates, state, _ = base.functional_update((noisy / trial.batch_size,), state, None,
                                                   (W,), lr)
        (W,) = apply_updates((W,), updates)
        clipped += (norms > trial.clip).sum()
        examples += norms.numel()
    return W, X, y, k, int(clipped) / max(examples, 1)


def train_logreg(trial: LogRegTrial) -> dict:
    """Run every (noise multiplier, lr) of the trial from W = 0; final training loss and accuracy.

    Returns ``{"loss": (S, L), "accuracy": (S, L), "clipped_fraction": float}`` (lists): S noise
    multipliers x L learning rates, measured on the first ``eval_size`` training examples;
    ``clipped_fraction`` is the fraction of clipped examples over the whole grid and run.
    """
    W, X, y, k, clipped = train_grid(trial)
    S, L = len(trial.noise_multipliers), len(trial.lrs)
    n_eval = min(trial.eval_size, X.shape[0])
    loss, acc = _losses(X[:n_eval], y[:n_eval], W, k)
    loss = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, math.inf))
    return {"loss": loss.view(S, L).tolist(), "accuracy": acc.view(S, L).tolist(),
            "clipped_fraction": clipped}


def loss_table(trials: list[LogRegTrial], results: list[dict]):
    """Long-form pandas table: one row per (trial, noise multiplier, lr) with loss, accuracy and
    the trial's fraction of clipped examples."""
    import pandas as pd

    rows = []
    for t, r in zip(trials, results):
        for i, s in enumerate(t.noise_multipliers):
            for j, lr in enumerate(t.lrs):
                rows.append({"method": t.method, "seed": t.seed, "batch_size": t.batch_size,
                             "noise_multiplier": s, "lr": lr, "loss": r["loss"][i][j],
                             "accuracy": r["accuracy"][i][j],
                             "clipped_fraction": r["clipped_fraction"]})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LogRegStudy(Config):
    """Settings of ``02_logreg_protocols_a_b`` (defaults: cpu scale; notes section 5, NB 02)."""

    dataset: str = param("mnist", choices=DATASETS)
    n_train: int = param(6000, ge=1, doc="training examples N")
    batch_size: int = param(256, ge=1, doc="expected batch size B")
    num_steps: int = param(470, ge=1, doc="steps T")
    clip: float = param(1.0, gt=0, doc="clip level C")
    delta: float = param(1e-5, gt=0, lt=1, doc="delta")
    epsilons: tuple[float, ...] = param((0.5, 1.0, 2.0, 4.0, 8.0), gt=0, doc="epsilons")
    accountant: str = param("rdp", choices=("rdp", "pld"))
    lr_centers: tuple[float, ...] = param((1.0, 4e-3, 5e-3), gt=0,
                                          doc="grid centre per method (SGD, SignSGD, Adam)")
    lr_points: int = param(15, ge=3, doc="learning rates per method (odd)")
    lr_factor: float = param(math.sqrt(2.0), gt=1, doc="ratio of neighbouring learning rates")
    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="seeds")
    eval_size: int = param(10_000, ge=1, doc="examples the training loss is measured on")
    device: str = param("cpu", choices=DEVICE_CHOICES)

    def __post_init__(self):
        super().__post_init__()
        if len(self.lr_centers) != len(METHODS):
            raise ConfigError(f"lr_centers needs one centre per method {METHODS}")
        if self.lr_points % 2 == 0:
            raise ConfigError(f"lr_points={self.lr_points} must be odd")
        if len(self.epsilons) < 2 or list(self.epsilons) != sorted(set(self.epsilons)):
            raise ConfigError("epsilons must be increasing, with at least 2 values")
        if self.batch_size > self.n_train:
            raise ConfigError(f"batch_size={self.batch_size} must be <= n_train={self.n_train}")

    @property
    def sampling_probability(self) -> float:
        return self.batch_size / self.n_train

    def lrs(self, method: str) -> tuple[float, ...]:
        return geometric_grid(self.lr_centers[METHODS.index(method)], self.lr_points,
                              self.lr_factor)

    def grid(self, sigmas) -> list[LogRegTrial]:
        """Protocol A and B: every method x seed, each over every (sigma, lr)."""
        return [derive(LogRegTrial, self, method=mth, seed=s, lrs=self.lrs(mth),
                       noise_multipliers=tuple(sigmas))
                for mth in METHODS for s in self.seeds]

    def non_private(self, chosen_lrs: dict[str, float]) -> list[LogRegTrial]:
        """Each method at its Protocol-A lr without noise (same batches and clipping)."""
        return [derive(LogRegTrial, self, method=mth, seed=s, lrs=(chosen_lrs[mth],),
                       noise_multipliers=(0.0,))
                for mth in METHODS for s in self.seeds]


@dataclass(frozen=True)
class CrossoverStudy(Config):
    """Settings of ``03_batch_noise_crossover`` (defaults: cpu scale; notes section 5, NB 03)."""

    dataset: str = param("mnist", choices=DATASETS)
    n_train: int = param(6000, ge=1, doc="training examples N")
    batch_sizes: tuple[int, ...] = param((48, 64, 80), ge=1, doc="batch sizes B")
    epochs: int = param(20, ge=1, doc="epochs (T = epochs N / B)")
    clip: float = param(1.0, gt=0, doc="clip level C")
    delta: float = param(1e-5, gt=0, lt=1, doc="delta")
    epsilons: tuple[float, ...] = param((0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0), gt=0,
                                        doc="epsilons")
    tune_epsilon: float = param(8.0, gt=0, doc="epsilon at which each lr is tuned")
    tune_batch_size: int = param(64, ge=1, doc="batch size at which each lr is tuned")
    lr_centers: tuple[float, ...] = param((0.5, 4e-3), gt=0, doc="grid centres (SGD, SignSGD)")
    lr_points: int = param(9, ge=3, doc="learning rates tried per method (odd)")
    lr_factor: float = param(math.sqrt(2.0), gt=1, doc="ratio of neighbouring learning rates")
    seeds: tuple[int, ...] = param((0, 1), ge=0, doc="seeds")
    eval_size: int = param(10_000, ge=1, doc="examples the training loss is measured on")
    device: str = param("cpu", choices=DEVICE_CHOICES)

    def __post_init__(self):
        super().__post_init__()
        if len(self.lr_centers) != 2 or self.lr_points % 2 == 0:
            raise ConfigError("lr_centers needs 2 values (DP-SGD, DP-SignSGD); lr_points odd")
        if list(self.epsilons) != sorted(set(self.epsilons)) or len(self.epsilons) < 2:
            raise ConfigError("epsilons must be increasing, with at least 2 values")
        if max(self.batch_sizes + (self.tune_batch_size,)) > self.n_train:
            raise ConfigError("every batch size must be <= n_train")

    def num_steps(self, batch_size: int) -> int:
        return int(round(self.epochs * self.n_train / batch_size))

    def trial(self, method: str, batch_size: int, **kw) -> LogRegTrial:
        """The run of ``method`` at ``batch_size`` for ``epochs`` epochs (T = epochs N / B)."""
        return derive(LogRegTrial, self, method=method, batch_size=batch_size,
                      num_steps=self.num_steps(batch_size), **kw)

    def lrs(self, method: str) -> tuple[float, ...]:
        return geometric_grid(self.lr_centers[METHODS.index(method)], self.lr_points,
                              self.lr_factor)
