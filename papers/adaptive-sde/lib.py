"""Code only the adaptive-sde reproduction needs (Compagnoni et al., arXiv 2411.15958).

The optimizers, their SDEs, the noise models, the closed forms and the scaling rules are
:mod:`common.sde`; this module holds what the three notebooks add on top:

- the notebooks' configs (:class:`QuadraticConfig`, :class:`AdamWConfig`, :class:`NetworkConfig`);
- sweeps run as one compiled program each (:func:`common.sde.simulate_grid`), their statistics
  come from :mod:`common.metrics.trajectory` (Monte Carlo windows, relative errors);
- the two phase laws of SignSGD (notes s.3, Lemma 3.4 [secondary thresholds]) as closed forms:
  the SignGD ODE of phase 1 (:func:`signgd_ode_loss`) and the Ornstein-Uhlenbeck process of the
  phase-3 linearisation (:func:`phase3_ou_loss`), and the mean-field phase map
  (:func:`mean_field_phases`);
- the AdamW hyperparameters of the batch-size scaling test (:func:`scaling_variants`);
- the networks of notebook 03 as losses of one flat parameter vector (:class:`FlatNet`: an MLP,
  a small CNN and a one-block character transformer), for :class:`common.sde.Objective`.

Every SDE and closed form used here is the notes' reconstruction ([derived]: only the paper's
abstract and secondary sources were read); ``index.md`` says which equations are reconstructed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import erf

from common import sde
from common.experiment import (
    Config,
    ConfigError,
    derive_seed,
    param,
    require_at_most,
    require_multiples,
    require_range,
)

__all__ = ["QuadraticConfig", "AdamWConfig", "NetworkConfig", "NETWORKS", "linspace",
           "signgd_ode_loss", "phase3_ou_loss", "mean_field_phases", "shade_phases",
           "scaling_variants", "FlatNet", "network_problem", "NETWORK_PROCESSES",
           "network_processes"]


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuadraticConfig(Config):
    """Settings of ``01_signsgd_sde_quadratic`` (defaults: cpu scale, the notes' A-01)."""

    seed: int = param(0, ge=0, doc="base seed of every simulation")
    dim: int = param(10, ge=1, doc="dimension d of the diagonal quadratic")
    h_range: tuple[float, ...] = param((0.5, 5.0), gt=0, doc="curvatures h_j, linspace")
    sigma_range: tuple[float, ...] = param((0.5, 2.0), gt=0, doc="noise scales sigma_j, linspace")
    lr: float = param(0.01, gt=0, le=0.1, doc="step size eta (SDE time step)")
    x0: float = param(2.0, doc="starting point, every coordinate")
    num_steps: int = param(3000, ge=10, doc="steps of the Gaussian runs")
    num_paths: int = param(512, ge=2, doc="paths of the Gaussian runs")
    record_every: int = param(10, ge=1, doc="steps between records")
    stationary_window: int = param(1000, ge=1, doc="final steps averaged into a stationary level")
    noise_factor: float = param(4.0, gt=1, doc="factor on sigma for the noise-scaling test")
    phase1_noise: float = param(0.02, gt=0, lt=1, doc="factor on sigma for the phase-1 run")
    phase3_x0: float = param(0.15, gt=0, doc="start of the phase-3 run (every |Y_j| < 1)")
    phase_steps: int = param(1000, ge=10, doc="steps of the phase runs")
    phase_paths: int = param(256, ge=2, doc="paths of the phase runs")
    nus: tuple[float, ...] = param((1.0, 1.5, 3.0), gt=0, doc="Student-t degrees of freedom")
    t_steps: int = param(2000, ge=10, doc="steps of the Student-t runs")
    t_paths: int = param(256, ge=2, doc="paths of the Student-t runs")
    t_window: int = param(1000, ge=1, doc="final steps averaged in the Student-t runs")
    t_sde_nu: float = param(1.5, gt=0, doc="nu of the Student-t SDE simulation")
    t_sde_paths: int = param(128, ge=2, doc="paths of the Student-t SDE")
    rate_steps: int = param(400, ge=10, doc="steps of the rate runs (recorded every step)")
    rate_paths: int = param(4096, ge=4, doc="paths of the rate runs")
    rate_batches: int = param(16, ge=2, doc="independent batches of paths (one half-life each)")

    def __post_init__(self):
        super().__post_init__()
        require_range("h_range", self.h_range)
        require_range("sigma_range", self.sigma_range)
        require_multiples("record_every", self.record_every, num_steps=self.num_steps,
                          phase_steps=self.phase_steps, t_steps=self.t_steps,
                          stationary_window=self.stationary_window, t_window=self.t_window)
        require_at_most("stationary_window", self.stationary_window, "num_steps", self.num_steps)
        require_at_most("t_window", self.t_window, "t_steps", self.t_steps)
        if self.rate_paths % self.rate_batches:
            raise ConfigError(f"rate_paths={self.rate_paths}: must be a multiple of "
                              f"rate_batches={self.rate_batches} (notebook parameter "
                              "`rate_paths`)")
        if not {1.0, 1.5} <= set(self.nus):
            raise ConfigError(f"nus={self.nus}: must include 1 and 1.5, the notes' heavy-tail "
                              "checks (notebook parameter `nus`)")
        if self.t_sde_nu not in self.nus:
            raise ConfigError(f"t_sde_nu={self.t_sde_nu}: must be one of nus={self.nus} "
                              "(notebook parameter `t_sde_nu`)")
        y = float(np.max(linspace(self.h_range, self.dim) * abs(self.phase3_x0)
                         / (math.sqrt(2) * linspace(self.sigma_range, self.dim))))
        if y >= 1:
            raise ConfigError(f"phase3_x0={self.phase3_x0}: the largest SNR |Y_j| = {y:.3g} must "
                              "be below 1 for a phase-3 start (notebook parameter `phase3_x0`)")


@dataclass(frozen=True)
class AdamWConfig(Config):
    """Settings of ``02_adamw_rmspropw_sde`` (defaults: cpu scale, after the notes' A-02)."""

    seed: int = param(0, ge=0, doc="base seed of every simulation")
    dim: int = param(10, ge=1, doc="dimension d of the diagonal quadratic")
    h_range: tuple[float, ...] = param((0.5, 5.0), gt=0, doc="curvatures h_j, linspace")
    lr: float = param(1e-3, gt=0, le=0.01, doc="step size eta of AdamW and RMSpropW")
    beta1: float = param(0.9, gt=0, lt=1, doc="AdamW beta1")
    beta2: float = param(0.999, gt=0, lt=1, doc="AdamW beta2")
    rms_beta: float = param(0.99, gt=0, lt=1, doc="RMSpropW beta (PyTorch alpha)")
    eps: float = param(1e-8, gt=0, doc="epsilon of AdamW and RMSpropW")
    record_every: int = param(10, ge=1, doc="steps between records")
    track_sigma_range: tuple[float, ...] = param((0.1, 0.5), gt=0, doc="sigma_j, tracking runs")
    track_x0: float = param(1.0, doc="start of the tracking runs")
    track_steps: int = param(4000, ge=10, doc="steps of the tracking runs")
    track_paths: int = param(128, ge=2, doc="paths of the tracking runs")
    transient_steps: int = param(400, ge=1, doc="a fixed early window: the steps below this")
    transient_factor: float = param(100.0, gt=1, doc="gradient-dominated window: AdamW's E f above "
                                    "this x its stationary closed form")
    track_weight_decays: tuple[float, ...] = param((0.0, 1.0), ge=0, doc="theta, tracking runs")
    stat_sigma_range: tuple[float, ...] = param((0.5, 2.0), gt=0, doc="sigma_j, stationary runs")
    stat_factors: tuple[float, ...] = param((1.0, 4.0, 16.0), gt=0, doc="factors on sigma")
    stat_weight_decay: float = param(1.0, gt=0, doc="theta of the bounded-loss test")
    stat_x0: float = param(0.0, doc="start of the stationary runs")
    stat_steps: int = param(8000, ge=10, doc="steps of the stationary runs")
    stat_window: int = param(5000, ge=1, doc="final steps averaged into a stationary level")
    stat_paths: int = param(128, ge=2, doc="paths of the stationary runs")
    kappa: float = param(4.0, gt=1, doc="batch-size factor of the scaling-rule test")
    scale_sigma_range: tuple[float, ...] = param((1.0, 4.0), gt=0, doc="sigma_j at batch B")
    scale_sign_lr: float = param(0.01, gt=0, doc="SignSGD step size at batch B")
    scale_adam_lr: float = param(1e-3, gt=0, doc="AdamW step size at batch B")
    scale_weight_decay: float = param(0.5, gt=0, doc="AdamW theta at batch B")
    scale_sign_x0: float = param(1.0, doc="start of the SignSGD scaling runs")
    scale_adam_x0: float = param(0.5, doc="start of the AdamW scaling runs")
    scale_steps: int = param(8000, ge=10, doc="steps at batch B (kappa x fewer at kappa B)")
    scale_paths: int = param(128, ge=2, doc="paths of the scaling runs")
    scale_window: float = param(0.4, gt=0, le=1, doc="final fraction of the samples compared")

    def __post_init__(self):
        super().__post_init__()
        for name in ("h_range", "track_sigma_range", "stat_sigma_range", "scale_sigma_range"):
            require_range(name, getattr(self, name))
        require_multiples("record_every", self.record_every, track_steps=self.track_steps,
                          stat_steps=self.stat_steps, stat_window=self.stat_window,
                          transient_steps=self.transient_steps)
        require_at_most("transient_steps", self.transient_steps, "track_steps", self.track_steps)
        require_at_most("stat_window", self.stat_window, "stat_steps", self.stat_steps)
        small = self.scale_steps / self.kappa
        if not small.is_integer() or int(small) % self.record_every \
                or self.scale_steps % self.record_every:
            raise ConfigError(f"scale_steps={self.scale_steps}: scale_steps and scale_steps / "
                              f"kappa must be multiples of record_every={self.record_every} "
                              "(notebook parameter `scale_steps`)")
        if len(self.stat_factors) < 2 or tuple(sorted(self.stat_factors)) != self.stat_factors:
            raise ConfigError(f"stat_factors={self.stat_factors}: need at least two noise factors "
                              "in increasing order (notebook parameter `stat_factors`)")


NETWORKS = ("mlp", "cnn", "transformer")


@dataclass(frozen=True)
class NetworkConfig(Config):
    """Settings of ``03_sde_vs_optimizer_mlp`` (defaults: cpu scale)."""

    seed: int = param(0, ge=0, doc="base seed (initialisation, data subset, noise)")
    nets: tuple[str, ...] = param(("mlp",), choices=NETWORKS, doc="networks to run")
    dataset: str = param("mnist", choices=("mnist", "fashion-mnist"), doc="image data set")
    num_images: int = param(1024, ge=16, le=60000, doc="fixed training subset (full batch)")
    pool: int = param(4, choices=(1, 2, 4), doc="average-pooling factor of the 28x28 images")
    hidden: tuple[int, ...] = param((32,), ge=1, doc="MLP hidden widths")
    channels: tuple[int, ...] = param((8, 16), ge=1, doc="CNN channels of its two conv layers")
    context: int = param(32, ge=2, doc="transformer context length (characters)")
    num_windows: int = param(64, ge=1, doc="transformer: fixed windows of Tiny Shakespeare")
    d_model: int = param(32, ge=4, doc="transformer width")
    noise_stds: tuple[float, ...] = param((0.01, 0.03), gt=0, doc="injected noise sigma")
    sign_lr: float = param(2e-3, gt=0, doc="SignSGD step size")
    adam_lr: float = param(2e-3, gt=0, doc="Adam(W) step size")
    beta1: float = param(0.9, gt=0, lt=1, doc="Adam beta1")
    beta2: float = param(0.999, gt=0, lt=1, doc="Adam beta2")
    eps: float = param(1e-8, gt=0, doc="Adam epsilon")
    weight_decay: float = param(0.0, ge=0, doc="AdamW theta (0 is Adam)")
    num_steps: int = param(400, ge=10, doc="optimizer steps (SDE time num_steps x lr)")
    num_paths: int = param(3, ge=2, doc="paths of every optimizer and SDE, per seed")
    record_every: int = param(10, ge=1, doc="steps between records")
    num_seeds: int = param(3, ge=3, doc="independent noise streams (paired seed intervals)")
    control_noise_std: float = param(0.3, gt=0, doc="injected sigma of the C5c negative control")

    def __post_init__(self):
        super().__post_init__()
        require_multiples("record_every", self.record_every, num_steps=self.num_steps)
        if not self.nets:
            raise ConfigError("nets: name at least one network (notebook parameter `nets`)")
        if "cnn" in self.nets and len(self.channels) != 2:
            raise ConfigError(f"channels={self.channels}: the CNN takes two channel counts "
                              "(notebook parameter `channels`)")


# ---------------------------------------------------------------------------------------------
# Simulation helpers
# ---------------------------------------------------------------------------------------------


def linspace(bounds, dim: int) -> np.ndarray:
    """``np.linspace(low, high, dim)`` for a (low, high) pair (float64)."""
    return np.linspace(float(bounds[0]), float(bounds[1]), int(dim))


# ---------------------------------------------------------------------------------------------
# Notebook 01: SignSGD's phases as closed forms
# ---------------------------------------------------------------------------------------------


def signgd_ode_loss(t, h, x0) -> np.ndarray:
    """Phase 1 (|Y| > 3/2): dX = -sign(grad f) dt, so |x_j(t)| = (|x0| - t)_+ and
    E f(t) = 1/2 sum_j h_j (|x0| - t)_+^2 on the diagonal quadratic [derived]."""
    t = np.asarray(t, float)[..., None]
    return 0.5 * np.sum(np.asarray(h) * np.clip(abs(x0) - t, 0.0, None) ** 2, axis=-1)


def phase3_ou_loss(t, h, sigma, lr, x0, slope: float | None = None) -> np.ndarray:
    r"""Phase 3 (|Y| < 1): the linearised SignSGD SDE dX = -slope Sigma^{-1/2} H X dt
    + sqrt(eta) dW is an Ornstein-Uhlenbeck process with rate a_j = slope h_j / sigma_j, so
    E f(t) = 1/2 sum_j h_j (x0^2 e^{-2 a_j t} + eta (1 - e^{-2 a_j t}) / (2 a_j)) [derived].

    ``slope`` = 2 p(0): sqrt(2/pi) for Gaussian noise (the default), 2 p_nu(0) for Student-t
    (:func:`common.sde.closed_forms.sign_slope_at_zero`). The diffusion's
    (2/pi) diag(grad f / sigma)^2 correction is dropped (it is O(|Y|^2)).
    """
    slope = sde.closed_forms.sign_slope_at_zero() if slope is None else slope
    t = np.asarray(t, float)[..., None]
    h, sigma = np.asarray(h, float), np.asarray(sigma, float)
    a = slope * h / sigma
    decay = np.exp(-2.0 * a * t)
    return 0.5 * np.sum(h * (x0**2 * decay + lr * (1.0 - decay) / (2.0 * a)), axis=-1)


def mean_field_phases(num_steps: int, h, sigma, lr, x0) -> np.ndarray:
    """Phase (1, 2 or 3) of every coordinate along the mean-field path of the SignSGD SDE.

    Integrates the drift ODE dx/dt = -erf(h x / (sqrt 2 sigma)) with step ``lr`` (the SDE's
    mean path while the noise term is small) and classifies Y_j = h_j x_j / (sqrt 2 sigma_j) by
    Lemma 3.4's elementwise thresholds (|Y| > 3/2: phase 1; 1 < |Y| <= 3/2: phase 2; else 3).
    Returns an int array of shape (num_steps + 1, d).
    """
    h, sigma = np.asarray(h, float), np.asarray(sigma, float)
    x = np.full(h.shape, float(x0))
    out = np.empty((num_steps + 1, h.size), dtype=int)
    for k in range(num_steps + 1):
        y = np.abs(h * x / (math.sqrt(2) * sigma))
        out[k] = np.where(y > 1.5, 1, np.where(y > 1.0, 2, 3))
        x = x - lr * erf(h * x / (math.sqrt(2) * sigma))
    return out


def shade_phases(ax, phases: np.ndarray, lr: float) -> None:
    """Shade the time axis by the largest phase number over the coordinates of the mean-field
    path: orange while every coordinate is in phase 1, blue while the last one is in phase 2,
    nothing once all are in phase 3."""
    worst = phases.max(axis=1)
    t = np.arange(worst.size) * lr
    for p, color, label in ((1, "#E69F00", "all in phase 1"), (2, "#56B4E9", "some in phase 2")):
        on = worst == p
        if on.any():
            ax.fill_between(t, 0, 1, where=on, transform=ax.get_xaxis_transform(), color=color,
                            alpha=0.25, lw=0, label=label)


# ---------------------------------------------------------------------------------------------
# Notebook 02: the batch-size scaling rules
# ---------------------------------------------------------------------------------------------


def scaling_variants(kappa: float, *, lr: float, beta1: float, beta2: float, eps: float,
                     weight_decay: float, num_steps: int) -> dict[str, dict]:
    """AdamW hyperparameters at batch B and at batch kappa B.

    At kappa B, :data:`common.sde.SCALING_RULES` ``"adamw-sqrt"``: eta -> sqrt(kappa) eta,
    1 - beta_i -> kappa (1 - beta_i), eps -> eps / sqrt(kappa) (Malladi et al.'s square-root
    rule) and theta -> sqrt(kappa) theta (the notes' reconstruction [derived]), with kappa times
    fewer steps; and the same rule with theta unchanged, times kappa, or over sqrt(kappa).
    Keys: "batch B", "theta sqrt(kappa)" (the rule), "theta unchanged", "theta kappa",
    "theta / sqrt(kappa)".
    """
    base = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                num_steps=num_steps)
    rule = sde.SCALING_RULES["adamw-sqrt"].apply(kappa, **base)
    rule["num_steps"] = int(round(rule["num_steps"]))
    return {"batch B": base, "theta sqrt(kappa)": rule,
            "theta unchanged": {**rule, "weight_decay": weight_decay},
            "theta kappa": {**rule, "weight_decay": weight_decay * kappa},
            "theta / sqrt(kappa)": {**rule, "weight_decay": weight_decay / math.sqrt(kappa)}}


# ---------------------------------------------------------------------------------------------
# Notebook 03: networks as losses of one flat parameter vector (JAX)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatNet:
    """A network as ``loss(w, data)`` of one flat parameter vector ``w`` (hashable, so that
    :class:`common.sde.Objective` compiles it once per architecture).

    ``kind``: ``"mlp"`` (tanh hidden layers; ``sizes`` = input, hidden..., classes), ``"cnn"``
    (two 3x3 stride-2 convolutions with ReLU, global average pooling, a linear head; ``sizes`` =
    image side, channels 1, channels 2, classes) or ``"transformer"`` (one pre-LayerNorm
    single-head causal attention block and one GELU MLP block on characters; ``sizes`` =
    vocabulary, context, width). The loss is the mean cross-entropy over the data set (for the
    transformer: over every position of every window).
    """

    kind: str
    sizes: tuple[int, ...]

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        s = self.sizes
        if self.kind == "mlp":
            return tuple(shape for a, b in zip(s[:-1], s[1:]) for shape in ((a, b), (b,)))
        if self.kind == "cnn":
            _, c1, c2, k = s
            return ((3, 3, 1, c1), (c1,), (3, 3, c1, c2), (c2,), (c2, k), (k,))
        if self.kind == "transformer":
            v, t, d = s
            return ((v, d), (t, d), (d,), (d,), (d, 3 * d), (d, d), (d,),   # embeddings, attention
                    (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,),     # MLP block
                    (d,), (d,), (d, v))                                     # final norm, head
        raise ValueError(f"kind={self.kind!r}: must be one of {NETWORKS}")

    @property
    def dim(self) -> int:
        return int(sum(math.prod(shape) for shape in self.shapes))

    def unflatten(self, w) -> list:
        out, i = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            out.append(w[i:i + n].reshape(shape))
            i += n
        return out

    def init(self, seed: int) -> np.ndarray:
        """PyTorch-style uniform(+-1/sqrt(fan_in)) weights (N(0, 0.02^2) embeddings), zero
        biases, unit LayerNorm gains; float32."""
        rng = np.random.default_rng(seed)
        gains = (2, 7, 13) if self.kind == "transformer" else ()
        parts = []
        for i, shape in enumerate(self.shapes):
            if len(shape) == 1:
                parts.append(np.full(shape, 1.0 if i in gains else 0.0))
            elif self.kind == "transformer" and i in (0, 1):
                parts.append(0.02 * rng.standard_normal(shape))
            else:
                parts.append(rng.uniform(-1, 1, shape) / math.sqrt(math.prod(shape[:-1])))
        return np.concatenate([p.ravel() for p in parts]).astype(np.float32)

    def logits(self, w, x):
        p = self.unflatten(w)
        if self.kind == "mlp":
            h = x
            for j in range(0, len(p), 2):
                h = h @ p[j] + p[j + 1]
                if j + 2 < len(p):
                    h = jnp.tanh(h)
            return h
        if self.kind == "cnn":
            side = self.sizes[0]
            h = x.reshape(x.shape[0], side, side, 1)
            for j in (0, 2):
                h = jax.lax.conv_general_dilated(h, p[j], (2, 2), "SAME",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
                h = jax.nn.relu(h + p[j + 1])
            return jnp.mean(h, axis=(1, 2)) @ p[4] + p[5]
        return _transformer_logits(p, x)

    def __call__(self, w, data):
        x, y = data
        logp = jax.nn.log_softmax(self.logits(w, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1))


def _layer_norm(h, gain, bias):
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.var(h, axis=-1, keepdims=True)
    return (h - mu) / jnp.sqrt(var + 1e-5) * gain + bias


def _transformer_logits(p, ids):
    emb, pos, g1, b1, qkv, proj, bp, g2, b2, w1, c1, w2, c2, g3, b3, head = p
    t, d = ids.shape[-1], emb.shape[1]
    h = emb[ids] + pos[:t]
    q, k, v = jnp.split(_layer_norm(h, g1, b1) @ qkv, 3, axis=-1)
    att = q @ jnp.swapaxes(k, -1, -2) / math.sqrt(d)
    att = jnp.where(jnp.tril(jnp.ones((t, t), bool)), att, -jnp.inf)
    h = h + jax.nn.softmax(att, axis=-1) @ v @ proj + bp
    h = h + jax.nn.gelu(_layer_norm(h, g2, b2) @ w1 + c1) @ w2 + c2
    return _layer_norm(h, g3, b3) @ head


@lru_cache(maxsize=4)
def _image_subset(dataset: str, num_images: int, pool: int, seed: int):
    from common.data import load_fashion_mnist, load_mnist, pooled

    images, labels = (load_mnist if dataset == "mnist" else load_fashion_mnist)("train")
    idx = np.sort(np.random.default_rng(derive_seed(seed, "subset")).choice(
        len(images), num_images, replace=False))
    x = pooled(images[idx], pool).numpy()
    x = (x - x.mean()) / x.std()
    return x.astype(np.float32), np.asarray(labels[idx], dtype=np.int32)


@lru_cache(maxsize=2)
def _char_windows(num_windows: int, context: int, seed: int):
    from common.data import char_dataset

    tok, train_ids, _ = char_dataset()
    rng = np.random.default_rng(derive_seed(seed, "windows"))
    starts = rng.integers(0, len(train_ids) - context - 1, num_windows)
    win = np.stack([train_ids[s:s + context + 1] for s in starts]).astype(np.int32)
    return win[:, :-1], win[:, 1:], tok.vocab_size


def network_problem(cfg: NetworkConfig, net: str):
    """``(FlatNet, data, w0)`` of one network of notebook 03: the loss, its full batch (a fixed
    subset: every gradient is the full-batch gradient, the paper's protocol) and the start."""
    if net == "transformer":
        x, y, vocab = _char_windows(cfg.num_windows, cfg.context, cfg.seed)
        model = FlatNet("transformer", (vocab, cfg.context, cfg.d_model))
    else:
        x, y = _image_subset(cfg.dataset, cfg.num_images, cfg.pool, cfg.seed)
        sizes = ((x.shape[1], *cfg.hidden, 10) if net == "mlp"
                 else (28 // cfg.pool, *cfg.channels, 10))
        model = FlatNet(net, sizes)
    w0 = model.init(derive_seed(cfg.seed, "init", net))
    return model, (jnp.asarray(x), jnp.asarray(y)), jnp.asarray(w0)


#: notebook 03's processes, in this order: the two optimizers and the SDEs that model them
NETWORK_PROCESSES = ("SignSGD", "SignSGD SDE", "Adam", "Adam SDE (new)",
                     "Adam SDE (Malladi-style)")


def network_processes(objective, noise, cfg: NetworkConfig) -> tuple:
    """SignSGD, its SDE, Adam(W), its new SDE and the Malladi-style SDE on one objective and
    one injected-noise model (the order of :data:`NETWORK_PROCESSES`)."""
    sign_opt, sign_sde = sde.make("SignSGD", objective, noise, cfg.sign_lr)
    hyper = dict(beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    adam_opt, adam_sde = sde.make("AdamW", objective, noise, cfg.adam_lr, **hyper)
    malladi = sde.AdamWMalladiSDE(objective, noise, cfg.adam_lr, **hyper)
    return sign_opt, sign_sde, adam_opt, adam_sde, malladi
