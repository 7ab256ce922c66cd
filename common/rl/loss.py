"""The clipped GRPO token loss (asymmetric clipping, token-mean aggregation), the low-variance KL.

Per token ``t`` of rollout ``i``, with the ratio ``r = pi_theta / pi_old`` of the sampling
policy's probabilities and the sequence's advantage ``A_i`` (MT-GRPO App. B eq. 13,
arXiv 2602.05547; PPO, arXiv 1707.06347; clip-higher from DAPO, arXiv 2503.14476)::

    l_{i,t} = max( -A_i r_{i,t},  -A_i clip(r_{i,t}, 1 - eps_low, 1 + eps_high) )

and the loss is an :data:`AGGREGATIONS` of the ``l_{i,t}`` over the response tokens of the
minibatch. MT-GRPO and DAPO use ``eps_high = 0.28``, the GRPO baseline ``0.2``; every method in
the paper uses ``token_mean`` (the sum over every response token of the minibatch divided by
their number), so long responses weigh more than in GRPO's original per-sequence mean.

The KL penalty ``beta * f(u)``, ``u = pi_ref / pi_theta`` (Schulman's k3 estimator,
"low_var_kl" in verl, the default of TRL)::

    f(u) = u - log u - 1  >= 0,

is added per token before aggregation. Its coefficient is 0 in every run of the paper; the term is
here because GRPO defines it (Shao et al. 2024, arXiv 2402.03300).

Departures from verl (the official code's library): verl's "dual clip" bound (``-A * 3`` for
negative advantages, only active when ``r > 3``) is not applied (TRL does not apply it either;
with one PPO epoch the ratio stays near 1); verl clamps ``f`` to ``[-10, 10]``, which
:func:`low_var_kl` does with ``clamp=10.0``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["clipped_token_loss", "low_var_kl", "AGGREGATIONS", "token_mean",
           "seq_mean_token_mean", "seq_mean_token_sum"]


def token_mean(loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over every unmasked token divided by their number (DAPO; the paper's choice)."""
    return (loss * mask).sum() / mask.sum().clamp_min(1)


def seq_mean_token_mean(loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of each sequence's token mean (GRPO's original aggregation)."""
    per_seq = (loss * mask).sum(-1) / mask.sum(-1).clamp_min(1)
    return per_seq.mean()


def seq_mean_token_sum(loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of each sequence's token sum (Dr. GRPO without the constant)."""
    return (loss * mask).sum(-1).mean()


#: Aggregations of per-token losses ``(B, T)`` under a mask ``(B, T)`` into a scalar.
AGGREGATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "token_mean": token_mean,
    "seq_mean_token_mean": seq_mean_token_mean,
    "seq_mean_token_sum": seq_mean_token_sum,
}


def low_var_kl(logp: torch.Tensor, ref_logp: torch.Tensor, *, clamp: float | None = None
               ) -> torch.Tensor:
    """Per-token ``f(u) = u - log u - 1`` with ``u = exp(ref_logp - logp)``; ``>= 0``.

    An unbiased, non-negative estimator of ``KL(pi_theta || pi_ref)`` from samples of
    ``pi_theta`` (its mean over ``y ~ pi_theta`` is the KL). ``clamp`` bounds the result to
    ``[-clamp, clamp]`` as verl does (10); TRL does not clamp.
    """
    d = ref_logp - logp
    kl = torch.exp(d) - d - 1
    if clamp is not None:
        if not clamp > 0:
            raise ValueError(f"clamp={clamp}: must be > 0 or None")
        kl = kl.clamp(-clamp, clamp)
    return kl


def clipped_token_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                       mask: torch.Tensor, *, eps_low: float = 0.2, eps_high: float = 0.2,
                       aggregation: str = "token_mean", ref_logp: torch.Tensor | None = None,
                       kl_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped surrogate loss of one minibatch and its per-token terms.

    Args:
        logp: ``(B, T)`` log-probabilities of the sampled tokens under the current policy (with
            gradient).
        old_logp: ``(B, T)`` the same under the policy that sampled them (no gradient).
        advantages: ``(B,)`` one per sequence, or ``(B, T)`` per token.
        mask: ``(B, T)`` 1 for response tokens (up to and including EOS), 0 for padding.
        eps_low, eps_high: the ratio is clipped to ``[1 - eps_low, 1 + eps_high]``.
        aggregation: a key of :data:`AGGREGATIONS`.
        ref_logp, kl_coef: the reference policy's log-probabilities and the KL coefficient
            ``beta`` (the term is added only when ``kl_coef > 0``).

    Returns:
        ``(loss, info)``; ``info`` holds ``per_token`` ``(B, T)`` (the unaggregated loss, zero on
        padding), ``ratio``, ``clip_frac`` (fraction of response tokens where the clipped
        branch is active) and ``kl`` (token-mean, 0 without the term).
    """
    if logp.shape != old_logp.shape or logp.shape != mask.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, old_logp {tuple(old_logp.shape)} and mask "
                         f"{tuple(mask.shape)} must have the same shape (B, T)")
    if not (0 <= eps_low < 1 and eps_high >= 0):
        raise ValueError(f"eps_low={eps_low} must be in [0, 1) and eps_high={eps_high} >= 0")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation={aggregation!r}: allowed are {sorted(AGGREGATIONS)}")
    if kl_coef < 0:
        raise ValueError(f"kl_coef={kl_coef}: must be >= 0")
    mask = mask.to(logp.dtype)
    adv = advantages.to(logp.dtype)
    if adv.ndim == 1:
        adv = adv.unsqueeze(-1)
    ratio = torch.exp(logp - old_logp)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    per_token = torch.maximum(unclipped, clipped)
    kl = torch.zeros((), dtype=logp.dtype)
    if kl_coef > 0:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs ref_logp")
        kl_tok = low_var_kl(logp, ref_logp)
        per_token = per_token + kl_coef * kl_tok
        kl = token_mean(kl_tok.detach(), mask)
    per_token = per_token * mask
    loss = AGGREGATIONS[aggregation](per_token, mask)
    clip_frac = token_mean((clipped > unclipped).to(logp.dtype).detach(), mask)
    return loss, {"per_token": per_token, "ratio": ratio.detach(), "clip_frac": clip_frac,
                  "kl": kl}
