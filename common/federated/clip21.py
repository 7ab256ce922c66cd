r"""Clipped federated optimizers with error feedback and double momentum, one code path.

**Byz-Clip21-SGD2M** (Islamov, Malinovsky, Gaponov, Lucchi, Richtarik, Gorbunov, arXiv 2603.23472,
Algorithm 1, read in the paper). With n clients, server model x, client momenta v_i, EF21
estimates g_i, server-side accumulators m_i and direction g:

.. math::
    x^{t+1} &= x^t - \gamma g^t \\
    v_i^{t+1} &= (1-\beta) v_i^t + \beta \nabla f_i(x^{t+1}; \xi_i^{t+1}) \\
    \Delta_i &= \mathrm{clip}_\tau(v_i^{t+1} - g_i^t), \qquad
        g_i^{t+1} = g_i^t + \hat\beta \Delta_i \\
    c_i &= \Delta_i + \omega_i, \qquad \omega_i \sim \mathcal N(0, \sigma_\omega^2 I)
        \quad\text{(local DP: noise only on the message)} \\
    m_i^{t+1} &= m_i^t + \hat\beta c_i, \qquad g^{t+1} = \mathrm{RAgg}(m_1^{t+1}, \dots, m_n^{t+1})

Byzantine clients send arbitrary ``c_i`` (an ``attack`` of the honest messages). Special cases,
all the same function with other arguments:

- **Clip21-SGD2M** (Islamov, Horvath, Lucchi, Richtarik, Gorbunov, arXiv 2502.11682): RAgg = mean,
  no Byzantine clients; then ``g^{t+1} = g^t + (beta_hat/n) sum_i c_i``.
- **Clip21-SGD** (Khirirat et al. 2023): ``beta = beta_hat = 1``; with full gradients Clip21-GD.
- **Byz-SGDM** (Karimireddy et al. 2021; Algorithm 2): ``tau = inf``, ``beta_hat = 1``.

Zero initial states reproduce the authors' code's initialisation ("zero init plus one step":
``v_i = beta grad f_i(x^0)``, ``g_i = beta_hat clip(v_i)``, since ``x^1 = x^0`` when ``g^0 = 0``).

The baselines without error feedback (:func:`clip_sgd_step`, Algorithm 3, Byz-Clip-SGD: a
DP-SGD-like step with a robust aggregator; :func:`safe_dshb_step`, Algorithm 4, Safe-DSHB with
the mini-batch gradient clipped as the paper's modified version) share the state record.

Attacks act on messages by default, as in the paper (``m_B += beta_hat * attack(c_honest)``);
``attack_level="state"`` reproduces the authors' code, which overwrites the Byzantine
accumulators ``m_B = attack(m_honest)`` instead (see the byz-clip21-sgd2m notes, section 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from common.privacy.clipping import clip_rows
from common.robust.mean import mean as mean_aggregator

__all__ = ["FedState", "fed_init", "clip21_sgd2m_step", "clip_sgd_step", "safe_dshb_step",
           "Byzantine"]


class FedState(NamedTuple):
    """Server model ``x`` (d,), direction ``g`` (d,); per client (n, d): momentum ``v``, EF21
    estimate ``g_local``, server-side accumulator ``m``; and the step count ``t``."""

    x: torch.Tensor
    g: torch.Tensor
    v: torch.Tensor
    g_local: torch.Tensor
    m: torch.Tensor
    t: int


def fed_init(x0: torch.Tensor, num_clients: int) -> FedState:
    """Zero states for ``num_clients`` clients (honest and Byzantine) at the model ``x0``."""
    if x0.ndim != 1:
        raise ValueError(f"x0 must be a flat (d,) vector; got shape {tuple(x0.shape)}")
    if num_clients < 1:
        raise ValueError(f"num_clients={num_clients}: must be >= 1")
    z = torch.zeros(num_clients, x0.numel(), dtype=x0.dtype, device=x0.device)
    return FedState(x0.clone(), torch.zeros_like(x0), z, z.clone(), z.clone(), 0)


@dataclass(frozen=True)
class Byzantine:
    """The last ``count`` clients are Byzantine; ``attack(honest, own, generator=)`` gives their
    messages (``None``: they follow the protocol, e.g. a data attack such as label flipping)."""

    count: int = 0
    attack: Callable | None = None
    level: str = "message"

    def __post_init__(self):
        if self.count < 0:
            raise ValueError(f"count={self.count}: must be >= 0")
        if self.level not in ("message", "state"):
            raise ValueError(f"level={self.level!r}: allowed values are 'message' and 'state'")


def _check(lr, beta, beta_hat, tau, sigma):
    if not lr > 0:
        raise ValueError(f"lr={lr}: the step size gamma must be > 0")
    for name, value in (("beta", beta), ("beta_hat", beta_hat)):
        if not 0 < value <= 1:
            raise ValueError(f"{name}={value}: must be in (0, 1]")
    if not tau > 0:
        raise ValueError(f"tau={tau}: the clipping threshold must be > 0 (inf: no clipping)")
    if not sigma >= 0:
        raise ValueError(f"sigma={sigma}: the DP noise std must be >= 0")


def _clip(u: torch.Tensor, tau: float) -> torch.Tensor:
    return u if tau == float("inf") else clip_rows(u, tau)


def _noise(shape, sigma, like, generator):
    if sigma == 0:
        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    return sigma * torch.randn(shape, generator=generator, dtype=like.dtype,
                               device="cpu").to(like.device)


def _attack(c: torch.Tensor, byz: Byzantine, generator) -> torch.Tensor:
    """Replace the Byzantine rows of the message matrix (message-level attack)."""
    if byz.count == 0 or byz.attack is None:
        return c
    h = c.shape[0] - byz.count
    out = c.clone()
    out[h:] = byz.attack(c[:h], c[h:], generator=generator)
    return out


def clip21_sgd2m_step(state: FedState, grad_fn: Callable[[torch.Tensor], torch.Tensor], *,
                      lr: float, beta: float, beta_hat: float, tau: float, sigma: float = 0.0,
                      aggregator: Callable = mean_aggregator, byzantine: Byzantine = Byzantine(),
                      generator: torch.Generator | None = None) -> tuple[FedState, dict]:
    """One round of (Byz-)Clip21-SGD2M (module docstring). Pure: ``state`` is not modified.

    Args:
        grad_fn: ``grad_fn(x) -> (n, d)`` stochastic gradients of every client at ``x``
            (Byzantine clients included: their rows feed data attacks, or an attack's ``own``).
        lr, beta, beta_hat, tau, sigma: gamma, client momentum, EF/server momentum, clipping
            threshold (``inf`` disables clipping) and DP noise std per message coordinate.
        aggregator: ``agg(m, f=...) -> (d,)``; the mean for Clip21-SGD2M.
        byzantine: which clients are Byzantine and how they attack.

    Returns ``(new_state, info)``; ``info["messages"]`` holds the transmitted ``c`` (n, d).
    """
    _check(lr, beta, beta_hat, tau, sigma)
    x = state.x - lr * state.g
    grads = grad_fn(x)
    if grads.shape != state.v.shape:
        raise ValueError(f"grad_fn returned shape {tuple(grads.shape)}, expected "
                         f"{tuple(state.v.shape)} (n_clients, d)")
    v = (1 - beta) * state.v + beta * grads
    delta = _clip(v - state.g_local, tau)
    g_local = state.g_local + beta_hat * delta
    c = delta + _noise(delta.shape, sigma, delta, generator)
    if byzantine.level == "message":
        c = _attack(c, byzantine, generator)
        m = state.m + beta_hat * c
    else:
        m = state.m + beta_hat * c
        m = _attack(m, byzantine, generator)
    g = aggregator(m, f=byzantine.count)
    return FedState(x, g, v, g_local, m, state.t + 1), {"messages": c}


def clip_sgd_step(state: FedState, grad_fn: Callable, *, lr: float, tau: float,
                  sigma: float = 0.0, aggregator: Callable = mean_aggregator,
                  byzantine: Byzantine = Byzantine(), generator=None) -> tuple[FedState, dict]:
    """Byz-Clip-SGD (Algorithm 3; with the mean: distributed Clip-SGD / DP-SGD-style):
    ``m_i = clip_tau(grad f_i(x^{t+1})) + omega_i``, ``g = RAgg(m)``."""
    _check(lr, 1.0, 1.0, tau, sigma)
    x = state.x - lr * state.g
    grads = grad_fn(x)
    c = _clip(grads, tau)
    c = _attack(c + _noise(c.shape, sigma, c, generator), byzantine, generator)
    g = aggregator(c, f=byzantine.count)
    return FedState(x, g, grads, state.g_local, c, state.t + 1), {"messages": c}


def safe_dshb_step(state: FedState, grad_fn: Callable, *, lr: float, beta: float, tau: float,
                   sigma: float = 0.0, aggregator: Callable = mean_aggregator,
                   byzantine: Byzantine = Byzantine(), generator=None) -> tuple[FedState, dict]:
    """Safe-DSHB as modified in Byz-Clip21-SGD2M (Algorithm 4): mini-batch gradient clipped,
    ``m_i = (1 - beta) m_i + beta (clip_tau(grad f_i) + omega_i)``, ``g = RAgg(m)``.
    The clients transmit their momenta ``m_i``, so attacks replace the Byzantine rows of ``m``."""
    _check(lr, beta, 1.0, tau, sigma)
    x = state.x - lr * state.g
    grads = grad_fn(x)
    c = _clip(grads, tau)
    m = (1 - beta) * state.m + beta * (c + _noise(c.shape, sigma, c, generator))
    m = _attack(m, byzantine, generator)
    g = aggregator(m, f=byzantine.count)
    return FedState(x, g, grads, state.g_local, m, state.t + 1), {"messages": m}
