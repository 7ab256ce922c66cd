r"""DP-SGD as a composition: clip per sample, sum, add Gaussian noise, then *any* optimizer.

:class:`DPGradient` computes the privatised gradient of a batch and writes it into ``p.grad``;
the optimizer is whatever ``torch.optim`` optimizer you step afterwards (SGD gives DP-SGD, Adam
gives DP-Adam; DP-SignSGD applies ``sign`` to it). There is no ``use_dp`` flag anywhere. Per step,
with per-sample gradients ``g_b``, clip level ``C`` and noise multiplier ``s`` (Abadi et al. 2016,
arXiv 1607.00133):

.. math::  \tilde g = \frac{1}{B_{\mathrm{norm}}}\Big(\sum_{b} \min(1, C/\|g_b\|)\, g_b
           + \mathcal N(0, s^2 C^2 I)\Big),

with ``B_norm`` the expected batch size (Poisson sampling) or the batch size. The sum of clipped
gradients has sensitivity ``C`` under add/remove-one adjacency, so each step is the event
``PoissonSampledEvent(q, GaussianEvent(s))`` (or ``GaussianEvent(s)`` without sampling); the
object counts steps and returns the composed event for any accountant.

``method``: ``"bookkeeping"`` (:mod:`common.privacy.bookkeeping`, Linear and Conv2d models, no
materialised per-sample gradients), ``"functorch"`` (:mod:`common.privacy.per_sample`, any model
without batch coupling), or ``"auto"`` (book-keeping when the model allows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from common import kernels
from common.privacy.bookkeeping import BookKeeping
from common.privacy.clipping import check_max_norm
from common.privacy.events import DpEvent, GaussianEvent, PoissonSampledEvent, SelfComposedEvent
from common.privacy.mechanisms import gaussian_noise_like
from common.privacy.per_sample import check_per_sample_loss, flatten_per_sample, per_sample_grads
from common.privacy.validate import UnsupportedModuleError

__all__ = ["DPGradient", "DPStepInfo", "clipped_grad_sum"]


@dataclass(frozen=True)
class DPStepInfo:
    """What one private step saw (for logging; not private itself)."""

    loss: float
    clipped_fraction: float
    median_norm: float


def clipped_grad_sum(model: nn.Module, loss_fn, X, y, max_norm: float, *, method: str = "auto",
                     chunk_size: int | None = None):
    """``({name: sum_b clip_C(g_b)}, per-sample losses, per-sample norms)`` without noise."""
    check_max_norm(max_norm)
    if method not in ("auto", "bookkeeping", "functorch"):
        raise ValueError(f"method={method!r}: allowed values are 'auto', 'bookkeeping', "
                         "'functorch'")
    if method == "bookkeeping" or (method == "auto" and BookKeeping.supports(model)):
        return BookKeeping(model).clipped_sum(loss_fn, X, y, max_norm)
    grads = per_sample_grads(model, loss_fn, X, y, chunk_size=chunk_size)
    # one (B, d) matrix through the fused clipping kernel (Triton on CUDA, torch otherwise)
    flat, norms = kernels.clipped_sum(flatten_per_sample(grads), max_norm)
    summed, start = {}, 0
    for k, g in grads.items():
        size = g[0].numel()
        summed[k] = flat[start:start + size].reshape(g.shape[1:])
        start += size
    with torch.no_grad():
        losses = loss_fn(model(X), y)
    check_per_sample_loss(losses, X.shape[0])
    return summed, losses, norms


class DPGradient:
    """Privatised gradients for ``model``: ``info = dp(X, y)`` fills ``p.grad``, then step.

    Args:
        model: the model (its parameters receive ``.grad``).
        loss_fn: per-sample losses ``loss_fn(output, target) -> (B,)`` (reduction="none").
        max_norm: clipping level C > 0.
        noise_multiplier: s >= 0 (0 gives non-private clipped SGD and records no event).
        sampling_probability: q of Poisson sampling, for the event (None: no amplification).
        expected_batch_size: divisor of the noisy sum (default: the batch's size).
        method: "auto", "bookkeeping" or "functorch".

    Example::

        dp = DPGradient(model, nn.CrossEntropyLoss(reduction="none"), max_norm=1.0,
                        noise_multiplier=1.1, sampling_probability=256 / 60000)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for X, y in batches:
            dp(X, y, generator=g)
            opt.step()
        eps = RDPAccountant().epsilon(dp.event(), delta=1e-5)
    """

    def __init__(self, model: nn.Module, loss_fn, *, max_norm: float, noise_multiplier: float,
                 sampling_probability: float | None = None,
                 expected_batch_size: float | None = None, method: str = "auto",
                 chunk_size: int | None = None):
        self.model, self.loss_fn = model, loss_fn
        self.max_norm = check_max_norm(max_norm)
        if not noise_multiplier >= 0:
            raise ValueError(f"noise_multiplier={noise_multiplier}: must be >= 0")
        if sampling_probability is not None and not 0 < sampling_probability <= 1:
            raise ValueError(f"sampling_probability={sampling_probability}: must be in (0, 1]")
        if expected_batch_size is not None and not expected_batch_size > 0:
            raise ValueError(f"expected_batch_size={expected_batch_size}: must be > 0")
        self.noise_multiplier = float(noise_multiplier)
        self.sampling_probability = sampling_probability
        self.expected_batch_size = expected_batch_size
        if method not in ("auto", "bookkeeping", "functorch"):
            raise ValueError(f"method={method!r}: allowed values are 'auto', 'bookkeeping', "
                             "'functorch'")
        self.method, self.chunk_size = method, chunk_size
        self.steps = 0
        self._bk_key, self._bk = None, None

    def _bookkeeping(self) -> BookKeeping | None:
        """The model's book-keeping layer map (None: the torch.func path), built once and
        rebuilt when the model's modules or trainable parameters change."""
        if self.method == "functorch":
            return None
        key = (tuple(map(id, self.model.modules())),
               tuple((id(p), p.requires_grad) for p in self.model.parameters()))
        if key != self._bk_key:
            try:
                self._bk = BookKeeping(self.model)
            except UnsupportedModuleError:
                if self.method == "bookkeeping":
                    raise
                self._bk = None
            self._bk_key = key
        return self._bk

    def __call__(self, X: torch.Tensor, y: torch.Tensor, *,
                 generator: torch.Generator | None = None) -> DPStepInfo:
        denom = self.expected_batch_size or X.shape[0]
        std = self.noise_multiplier * self.max_norm
        bk = self._bookkeeping()
        flat = None
        if bk is not None:
            grads, flat, losses, norms = bk.clipped_sum_flat(self.loss_fn, X, y, self.max_norm)
        else:
            grads, losses, norms = clipped_grad_sum(self.model, self.loss_fn, X, y,
                                                    self.max_norm, method="functorch",
                                                    chunk_size=self.chunk_size)
        if flat is not None:
            # One buffer for all parameters: the noise is drawn per parameter tensor into its
            # slice (the same draws, in the same order, as one randn per tensor), then scaled,
            # added and normalised with one operation each; the values are those of the
            # per-tensor loop below bit for bit (elementwise operations).
            if std > 0:
                noise = torch.empty_like(flat)
                start = 0
                for g in grads.values():  # named_parameters order
                    noise[start:start + g.numel()].normal_(generator=generator)
                    start += g.numel()
                flat.add_(noise.mul_(std))
            flat.div_(denom)
            for name, p in self.model.named_parameters():
                if name in grads:
                    p.grad = grads[name].to(p.dtype)
        else:
            for name, p in self.model.named_parameters():
                if name not in grads:
                    continue
                g = grads[name]
                if std > 0:
                    g = g + gaussian_noise_like(g, std, generator)
                p.grad = (g / denom).to(p.dtype)
        self.steps += 1
        return DPStepInfo(loss=float(losses.mean()),
                          clipped_fraction=float((norms > self.max_norm).float().mean()),
                          median_norm=float(norms.median()))

    def step_event(self) -> DpEvent | None:
        """The event of one step (None when no noise is added: no privacy is claimed)."""
        if self.noise_multiplier == 0:
            return None
        event = GaussianEvent(self.noise_multiplier)
        if self.sampling_probability is not None and self.sampling_probability < 1:
            event = PoissonSampledEvent(self.sampling_probability, event)
        return event

    def event(self) -> DpEvent:
        """All steps so far as one event (for an accountant)."""
        step = self.step_event()
        if step is None or self.steps == 0:
            raise ValueError("no private step has been taken (or noise_multiplier = 0)")
        return SelfComposedEvent(step, self.steps)
