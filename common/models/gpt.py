"""A tiny GPT (decoder-only Transformer) for character-level language modelling.

Pre-norm blocks of causal multi-head self-attention and a 4x MLP, the output head tied to the
token embedding (as nanoGPT). Small enough to train on a CPU in seconds at ``d_model = 64``; the
same class scales to the papers' sizes.

The defaults are nanoGPT's: LayerNorm with gain and bias, learned positional embeddings, GELU,
biases in every linear layer. Four options (tables below, one entry per choice) give the
modded-nanogpt model that the Scion papers train (Pethick et al., arXiv 2502.07529; Islamov et al.,
arXiv 2603.21191, App. A): ``norm="rms"`` (parameter-free RMSNorm, ``x / sqrt(mean(x^2) + eps)``),
``position="rope"`` (rotary embeddings on queries and keys, Su et al., arXiv 2104.09864, base
10000, the two halves of each head rotated as pairs), ``activation="relu2"`` (``max(x, 0)^2``) and
``bias=False``. :func:`scion_gpt_config` sets all four. Where we depart from modded-nanogpt: no
QK-norm, no value embeddings or U-net skips, the head stays tied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["GPTConfig", "GPT", "RMSNorm", "Rotary", "ReLUSquared", "NORMS", "ACTIVATIONS",
           "POSITIONS", "scion_gpt_config"]


class RMSNorm(nn.Module):
    """Parameter-free RMSNorm over the last dimension: ``x / sqrt(mean(x^2) + eps)``
    (modded-nanogpt's ``F.rms_norm(x, (d,))``, ``eps`` the dtype's machine epsilon)."""

    def __init__(self, d_model: int, bias: bool = True):
        super().__init__()
        self.d_model = d_model

    def forward(self, x):
        """Normalise ``x`` (..., d_model)."""
        return F.rms_norm(x, (self.d_model,))


class ReLUSquared(nn.Module):
    """``max(x, 0)^2``, the MLP activation of modded-nanogpt (So et al., arXiv 2109.08668)."""

    def forward(self, x):
        """Apply the activation elementwise."""
        return F.relu(x).square()


class Rotary(nn.Module):
    """Rotary position embedding of queries or keys ``(B, heads, T, head_dim)``.

    Frequencies ``theta_i = base^(-2i/head_dim)``, ``i < head_dim/2``; the pair
    ``(x_i, x_{i + head_dim/2})`` at position ``t`` is rotated by the angle ``t theta_i``, so
    ``<R_s q, R_t k>`` depends on ``t - s`` only (tested).
    """

    def __init__(self, head_dim: int, context: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"head_dim={head_dim}: rotary embeddings need an even head dimension")
        inv = base ** (-torch.arange(0, head_dim // 2, dtype=torch.float32) * 2 / head_dim)
        angles = torch.outer(torch.arange(context, dtype=torch.float32), inv)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x, offset: int = 0):
        """Rotate ``x`` (..., T, head_dim) by the angles of positions ``offset .. offset+T-1``."""
        T = x.shape[-2]
        cos = self.cos[offset:offset + T].to(x.dtype)
        sin = self.sin[offset:offset + T].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


#: name -> ``factory(d_model, bias)`` of the normalisation layer.
NORMS = {
    "layer": lambda d, bias: nn.LayerNorm(d, bias=bias),
    "rms": RMSNorm,
}
#: name -> the MLP activation module's factory.
ACTIVATIONS = {"gelu": nn.GELU, "relu2": ReLUSquared}
#: the ways positions enter the model: learned absolute embeddings or rotary (in attention).
POSITIONS = ("learned", "rope")


@dataclass(frozen=True)
class GPTConfig:
    """Shape and architecture of :class:`GPT` (defaults: nanoGPT; see the module docstring)."""

    vocab_size: int
    context: int = 64
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    dropout: float = 0.0
    norm: str = "layer"
    position: str = "learned"
    activation: str = "gelu"
    bias: bool = True

    def __post_init__(self):
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")
        for name in ("vocab_size", "context", "n_layer", "n_head", "d_model"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        for name, allowed in (("norm", NORMS), ("activation", ACTIVATIONS),
                              ("position", POSITIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: allowed are {sorted(allowed)}")
        if self.position == "rope" and (self.d_model // self.n_head) % 2:
            raise ValueError(f"position='rope' needs an even head dimension; d_model/n_head = "
                             f"{self.d_model // self.n_head}")


def scion_gpt_config(vocab_size: int, **kwargs) -> GPTConfig:
    """The modded-nanogpt architecture of the Scion papers: RMSNorm without parameters, RoPE,
    ReLU^2, no biases, tied head; ``kwargs`` set the sizes (``context``, ``n_layer``, ...)."""
    return GPTConfig(vocab_size, **{"norm": "rms", "position": "rope", "activation": "relu2",
                                    "bias": False, **kwargs})


class _Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        d, bias = cfg.d_model, cfg.bias
        self.ln1 = NORMS[cfg.norm](d, bias)
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.ln2 = NORMS[cfg.norm](d, bias)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d, bias=bias), ACTIVATIONS[cfg.activation](),
                                 nn.Linear(4 * d, d, bias=bias))
        self.rotary = (Rotary(d // cfg.n_head, cfg.context) if cfg.position == "rope"
                       else nn.Identity())
        self.dropout = cfg.dropout

    def forward(self, x, cache: dict | None = None):
        B, T, C = x.shape
        past = 0 if cache is None or "k" not in cache else cache["k"].shape[2]
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if isinstance(self.rotary, Rotary):
            q, k = self.rotary(q, past), self.rotary(k, past)
        mask = None
        if past:
            k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            if T > 1:  # query i (position past + i) sees keys 0 .. past + i
                mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)
        if cache is not None:
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=not past,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """``GPT(GPTConfig(vocab_size=65))``; ``forward(idx, targets=None) -> (logits, loss)``."""

    #: ``forward`` takes ``cache=`` (keys and values of the earlier positions, for decoding);
    #: :class:`common.rl.CausalLMPolicy` samples with it.
    supports_kv_cache = True

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        if cfg.position == "learned":
            self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = NORMS[cfg.norm](cfg.d_model, cfg.bias)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2 scaled init of residual projections
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: list[dict] | None = None):
        """Logits ``(B, T, vocab)`` (and the cross-entropy against ``targets``, else None).

        ``cache`` (decoding): a list, empty at the first call, that keeps each block's keys and
        values; later calls pass only the new tokens, which take the positions after the cached
        ones. Same logits as the full sequence without a cache, to rounding.
        """
        T = idx.shape[1]
        past = 0
        if cache is not None:
            if not cache:
                cache.extend({} for _ in self.blocks)
            past = cache[0]["k"].shape[2] if "k" in cache[0] else 0
        if past + T > self.cfg.context:
            raise ValueError(f"sequence length {past + T} exceeds the context {self.cfg.context}")
        x = self.tok(idx)
        if self.cfg.position == "learned":
            x = x + self.pos(torch.arange(past, past + T, device=idx.device))
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i])
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss
