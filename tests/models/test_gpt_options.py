"""The GPT's modded-nanogpt options (RMSNorm, RoPE, ReLU^2, no biases) against direct formulas.

The defaults must stay nanoGPT's (ngn-m and mt-grpo train them): the parameter list is pinned
here, and the bitwise equality of weights, logits and gradients with the previous implementation
was checked once when the options were added (no change to either paper's notebooks).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.models import GPT, GPTConfig
from common.models.gpt import ReLUSquared, RMSNorm, Rotary, scion_gpt_config
from common.optim import Scion


def test_defaults_keep_the_nanogpt_parameters():
    m = GPT(GPTConfig(vocab_size=7, n_layer=1, d_model=8, n_head=2, context=4))
    assert [n for n, _ in m.named_parameters()] == [
        "tok.weight", "pos.weight", "blocks.0.ln1.weight", "blocks.0.ln1.bias",
        "blocks.0.qkv.weight", "blocks.0.qkv.bias", "blocks.0.proj.weight", "blocks.0.proj.bias",
        "blocks.0.ln2.weight", "blocks.0.ln2.bias", "blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias",
        "blocks.0.mlp.2.weight", "blocks.0.mlp.2.bias", "ln_f.weight", "ln_f.bias"]
    assert isinstance(m.blocks[0].mlp[1], torch.nn.GELU)


def test_scion_config_has_matrices_only():
    m = GPT(scion_gpt_config(11, n_layer=2, d_model=16, n_head=2, context=8))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["tok.weight"] + [f"blocks.{i}.{n}.weight" for i in range(2)
                                      for n in ("qkv", "proj", "mlp.0", "mlp.2")]
    assert m.head.weight is m.tok.weight


def test_rmsnorm_and_relu2_formulas():
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    ref = x.numpy() / np.sqrt((x.numpy() ** 2).mean(-1, keepdims=True)
                              + np.finfo(np.float64).eps)
    np.testing.assert_allclose(RMSNorm(8)(x).numpy(), ref, rtol=1e-12)
    np.testing.assert_array_equal(ReLUSquared()(x).numpy(), np.maximum(x.numpy(), 0) ** 2)


def test_rotary_against_complex_rotation():
    """Pairs (x_i, x_{i+h/2}) as complex numbers multiplied by exp(i t theta_i) (float32 angles:
    rtol 1e-5), and the relative-position property <R_s q, R_t k> = <R_0 q, R_(t-s) k>."""
    h, T = 8, 6
    rot = Rotary(h, T)
    x = torch.randn(2, T, h)
    z = x[..., : h // 2].numpy() + 1j * x[..., h // 2:].numpy()
    theta = 10000.0 ** (-np.arange(h // 2) * 2 / h)
    zr = z * np.exp(1j * np.outer(np.arange(T), theta))
    np.testing.assert_allclose(rot(x).numpy(), np.concatenate([zr.real, zr.imag], -1),
                               rtol=1e-5, atol=1e-5)
    q, k = torch.randn(h, dtype=torch.float64), torch.randn(h, dtype=torch.float64)
    rq = rot(q.expand(T, h).to(torch.float64))
    rk = rot(k.expand(T, h).to(torch.float64))
    for s, t in ((1, 4), (2, 5), (0, 3)):
        assert float(rq[s] @ rk[t]) == pytest.approx(float(rq[0] @ rk[t - s]), rel=1e-5)
    with pytest.raises(ValueError, match="head_dim"):
        Rotary(5, 4)


@pytest.fixture
def one_thread():
    """Tiny matrices: extra threads only add contention on a loaded machine (25 s -> 0.5 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_scion_gpt_is_causal_and_trains_with_scion(one_thread):
    torch.manual_seed(0)
    cfg = scion_gpt_config(13, n_layer=1, d_model=16, n_head=2, context=12)
    m = GPT(cfg)
    idx = torch.randint(0, 13, (4, 12))
    logits, _ = m(idx)
    idx2 = idx.clone()
    idx2[:, 8:] = (idx2[:, 8:] + 1) % 13
    torch.testing.assert_close(m(idx2)[0][:, :8], logits[:, :8])  # the future does not leak
    hidden = [p for n, p in m.named_parameters() if n != "tok.weight"]
    opt = Scion([{"params": hidden, "norm": "Spectral", "scale": 3.0},
                 {"params": [m.tok.weight], "norm": "Sign", "scale": 30.0}],
                lr=0.05, momentum=0.5)
    opt.init_parameters(torch.Generator().manual_seed(0))
    first = float(m(idx, idx)[1].detach())
    for _ in range(30):
        opt.zero_grad()
        m(idx, idx)[1].backward()
        opt.step()
    assert float(m(idx, idx)[1].detach()) < 0.5 * first


def test_bad_options_name_the_parameter():
    with pytest.raises(ValueError, match="norm='batch'"):
        GPTConfig(5, norm="batch")
    with pytest.raises(ValueError, match="activation"):
        GPTConfig(5, activation="tanh")
    with pytest.raises(ValueError, match="even head dimension"):
        GPTConfig(5, d_model=6, n_head=2, position="rope")


@pytest.mark.parametrize("position", ["learned", "rope"])
def test_kv_cache_gives_the_full_sequence_logits(position):
    """Decoding with ``cache``: a prompt, then one token per call, then a chunk of three (the
    chunk's mask: each query sees the cached keys and its own prefix) gives the logits of the
    whole sequence at once, in float64 to 1e-12; the cache grows by the tokens fed; a cache past
    the context is refused."""
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, context=12, n_layer=2, n_head=2, d_model=16, position=position)
    m = GPT(cfg).double().eval()
    idx = torch.randint(0, 11, (3, 12))
    full = m(idx)[0]
    cache: list = []
    parts = [m(idx[:, :5], cache=cache)[0]]
    for t in range(5, 9):
        parts.append(m(idx[:, t:t + 1], cache=cache)[0])
    assert cache[0]["k"].shape == (3, 2, 9, 8) and len(cache) == 2
    parts.append(m(idx[:, 9:12], cache=cache)[0])
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="exceeds the context"):
        m(idx[:, :1], cache=cache)
