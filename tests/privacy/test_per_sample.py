"""Per-sample gradients and clipped sums against a loop of batch-size-1 backward passes.

The reference is the definition: for each sample b, zero the gradients, backpropagate that one
sample's loss, and read ``p.grad`` (the Opacus test pattern). float64 models; the tolerances
(1e-10) only absorb summation order.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from common.models import MLP, MnistCNN
from common.privacy import (
    BookKeeping,
    DPGradient,
    UnsupportedModuleError,
    clip_factors,
    clipped_grad_sum,
    per_sample_grads,
    per_sample_norms,
)

LOSS = nn.CrossEntropyLoss(reduction="none")


def _loop_grads(model, X, y):
    out = {n: [] for n, p in model.named_parameters() if p.requires_grad}
    for b in range(len(X)):
        model.zero_grad()
        LOSS(model(X[b:b + 1]), y[b:b + 1]).sum().backward()
        for n, p in model.named_parameters():
            if p.requires_grad:
                out[n].append(p.grad.detach().clone())
    return {n: torch.stack(v) for n, v in out.items()}


class SeqNet(nn.Module):
    """A Linear layer over a sequence (T > 1 positions per sample) and a pooled head."""

    def __init__(self, d_in, d_hidden, T):
        super().__init__()
        self.T = T
        self.proj = nn.Linear(d_in, d_hidden)
        self.head = nn.Linear(d_hidden, 3, bias=False)

    def forward(self, x):
        return self.head(torch.tanh(self.proj(x.reshape(len(x), self.T, -1))).mean(1))


def _models():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 6, 3, dilation=2, bias=False), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 10 * 10, 10))
    return {
        "mlp": (MLP(784, (32, 16), 10).double(), (8, 1, 28, 28), 10),
        "conv_strided": (conv.double(), (6, 1, 28, 28), 10),
        "mnist_cnn": (MnistCNN().double(), (3, 1, 28, 28), 10),
        # T = 5 positions, 40 -> 30: the Gram ("ghost") norm is the cheaper one
        "seq_ghost": (SeqNet(40, 30, 5).double(), (7, 5 * 40), 3),
        # T = 50 positions, 4 -> 3: materialising per-sample gradients is the cheaper one
        "seq_materialise": (SeqNet(4, 3, 50).double(), (7, 50 * 4), 3),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_functorch_per_sample_grads_equal_the_loop(name):
    model, shape, k = _models()[name]
    g = torch.Generator().manual_seed(1)
    X = torch.randn(shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (shape[0],), generator=g)
    got = per_sample_grads(model, LOSS, X, y)
    want = _loop_grads(model, X, y)
    assert set(got) == set(want)
    for n in want:
        torch.testing.assert_close(got[n], want[n], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(_models()))
@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 1e6])
def test_bookkeeping_equals_clipping_the_loop(name, max_norm):
    model, shape, k = _models()[name]
    g = torch.Generator().manual_seed(2)
    X = torch.randn(shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (shape[0],), generator=g)
    want = _loop_grads(model, X, y)
    norms = per_sample_norms(want)
    c = clip_factors(norms, max_norm)
    grads, losses, got_norms = BookKeeping(model).clipped_sum(LOSS, X, y, max_norm)
    torch.testing.assert_close(got_norms, norms, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(losses, LOSS(model(X), y).detach())
    for n, gw in want.items():
        torch.testing.assert_close(grads[n], torch.tensordot(c, gw, dims=1), rtol=1e-10,
                                   atol=1e-12)


def test_group_means_equal_per_client_backward():
    model = MnistCNN().double()
    g = torch.Generator().manual_seed(3)
    X = torch.randn(4 * 3, 1, 28, 28, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (12,), generator=g)
    grads, losses = BookKeeping(model).group_means(LOSS, X, y, 4)
    for i in range(4):
        model.zero_grad()
        loss = LOSS(model(X[3 * i:3 * i + 3]), y[3 * i:3 * i + 3]).mean()
        loss.backward()
        assert losses[i].item() == pytest.approx(loss.item(), rel=1e-12)
        for n, p in model.named_parameters():
            torch.testing.assert_close(grads[n][i], p.grad, rtol=1e-10, atol=1e-12)


def test_frozen_parameters_are_skipped():
    model = MLP(20, (8,), 3).double()
    model[0].weight.requires_grad_(False)
    X, y = torch.randn(5, 20, dtype=torch.float64), torch.randint(0, 3, (5,))
    grads, _, norms = BookKeeping(model).clipped_sum(LOSS, X, y, 1.0)
    assert "0.weight" not in grads
    want = per_sample_grads(model, LOSS, X, y)
    assert "0.weight" not in want
    torch.testing.assert_close(norms, per_sample_norms(want))


def test_batch_coupled_and_unsupported_layers():
    bn = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    X, y = torch.randn(6, 4), torch.randint(0, 2, (6,))
    with pytest.raises(UnsupportedModuleError, match=r"'1' \(BatchNorm1d\).*GroupNorm"):
        per_sample_grads(bn, LOSS, X, y)
    with pytest.raises(UnsupportedModuleError, match="BatchNorm1d"):
        DPGradient(bn, LOSS, max_norm=1.0, noise_multiplier=1.0)(X, y)
    ln = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)).double()
    with pytest.raises(UnsupportedModuleError, match="method='functorch'"):
        BookKeeping(ln)
    Xd = X.double()
    auto, _, n_auto = clipped_grad_sum(ln, LOSS, Xd, y, 0.1)  # falls back to torch.func
    want = per_sample_grads(ln, LOSS, Xd, y)
    torch.testing.assert_close(n_auto, per_sample_norms(want))


def test_per_sample_loss_is_required():
    model = MLP(4, (3,), 2)
    with pytest.raises(ValueError, match="reduction='none'"):
        BookKeeping(model).clipped_sum(nn.CrossEntropyLoss(), torch.randn(5, 4),
                                       torch.randint(0, 2, (5,)), 1.0)


def test_dp_gradient_is_clip_sum_noise_normalise():
    torch.manual_seed(0)
    model = MLP(12, (6,), 3).double()
    X, y = torch.randn(9, 12, dtype=torch.float64), torch.randint(0, 3, (9,))
    per = _loop_grads(model, X, y)  # (before: the loop overwrites p.grad)
    c = clip_factors(per_sample_norms(per), 0.3)
    dp = DPGradient(model, LOSS, max_norm=0.3, noise_multiplier=2.0, expected_batch_size=10.0)
    dp(X, y, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    for n, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float64) * 2.0 * 0.3
        torch.testing.assert_close(p.grad, (torch.tensordot(c, per[n], dims=1) + noise) / 10.0)
    assert dp.steps == 1


def test_dp_gradient_then_any_optimizer():
    torch.manual_seed(0)
    model = MLP(12, (6,), 3).double()
    X, y = torch.randn(9, 12, dtype=torch.float64), torch.randint(0, 3, (9,))
    before = [p.detach().clone() for p in model.parameters()]
    dp = DPGradient(model, LOSS, max_norm=1.0, noise_multiplier=0.0)
    info = dp(X, y)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    opt.step()
    for b, p in zip(before, model.parameters()):
        torch.testing.assert_close(p.detach(), b - 0.5 * p.grad)
    assert 0.0 <= info.clipped_fraction <= 1.0
    with pytest.raises(ValueError, match="no private step"):
        dp.event()  # no noise: no privacy is claimed


@pytest.mark.parametrize("kwargs,match", [
    ({"max_norm": 0.0}, "max_norm=0.0"), ({"max_norm": float("inf")}, "max_norm=inf"),
    ({"noise_multiplier": -1.0}, "noise_multiplier=-1.0"),
    ({"sampling_probability": 1.5}, "sampling_probability=1.5"),
])
def test_bad_arguments_are_named(kwargs, match):
    base = {"max_norm": 1.0, "noise_multiplier": 1.0}
    with pytest.raises(ValueError, match=match):
        DPGradient(MLP(2, (2,), 2), LOSS, **{**base, **kwargs})


def _reference_dp_grads(model, X, y, max_norm, noise_multiplier, denom, seed):
    """The DP step written out: clipped sums, then one ``randn`` per parameter tensor in
    ``named_parameters`` order, ``g + std * z``, divided by ``denom`` (the stream the results
    of earlier versions were produced with)."""
    grads, _, _ = BookKeeping(model).clipped_sum(LOSS, X, y, max_norm)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for n, p in model.named_parameters():
        if n in grads:
            g = grads[n] + noise_multiplier * max_norm * torch.randn(p.shape, generator=gen,
                                                                      dtype=p.dtype)
            out[n] = g / denom
    return out


@pytest.mark.parametrize("name", ["mlp", "conv_strided", "seq_ghost", "seq_materialise"])
def test_dp_gradient_noise_stream_is_bit_identical(name):
    """The one-buffer noise (per-tensor draws into slices, one scale/add/divide) gives the same
    bits as one ``randn`` per tensor: no tolerance, the results of earlier runs are unchanged."""
    model, shape, k = _models()[name]
    model = model.float()
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(shape, generator=g), torch.randint(0, k, (shape[0],), generator=g)
    want = _reference_dp_grads(model, X, y, 0.5, 1.3, 11.0, seed=7)
    dp = DPGradient(model, LOSS, max_norm=0.5, noise_multiplier=1.3, expected_batch_size=11.0,
                    method="bookkeeping")
    dp(X, y, generator=torch.Generator().manual_seed(7))
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, want[n]), n


def test_dp_gradient_layer_map_follows_requires_grad():
    """The cached book-keeping layer map is rebuilt when a parameter is frozen: the frozen
    parameter gets no gradient and the others' draws shift as for a fresh DPGradient."""
    torch.manual_seed(0)
    model = MLP(12, (6,), 3)
    X, y = torch.randn(9, 12), torch.randint(0, 3, (9,))
    dp = DPGradient(model, LOSS, max_norm=1.0, noise_multiplier=1.0, method="bookkeeping")
    dp(X, y, generator=torch.Generator().manual_seed(0))
    model[0].bias.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    dp(X, y, generator=torch.Generator().manual_seed(4))
    assert model[0].bias.grad is None
    want = _reference_dp_grads(model, X, y, 1.0, 1.0, 9, seed=4)
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert torch.equal(p.grad, want[n]), n


def test_bookkeeping_flat_buffer_holds_every_sum():
    model, shape, k = _models()["mlp"]
    g = torch.Generator().manual_seed(3)
    X = torch.randn(shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (shape[0],), generator=g)
    grads, flat, _, _ = BookKeeping(model).clipped_sum_flat(LOSS, X, y, 0.7)
    assert flat.numel() == sum(p.numel() for p in model.parameters())
    torch.testing.assert_close(flat, torch.cat([grads[n].reshape(-1)
                                                for n, _ in model.named_parameters()]),
                               rtol=0, atol=0)


def test_rank_one_linear_norms_equal_torch_func_in_float32():
    """The rank-one path (Linear on (B, in) inputs: ``||a_b||^2`` by ``vector_norm`` times
    ``||g_b||^2``) on the float32 benchmark MLP against ``torch.func`` per-sample gradients,
    clipped by the definition. Tolerances: float32 sums over 784 inputs and B = 64 samples in
    another order, so relative 1e-5 (about 100 ulp) and absolute 1e-6 for entries that cancel
    to near 0; the float64 tests above check the same path at 1e-10."""
    torch.manual_seed(0)
    model = MLP(784, (100, 100), 10)
    g = torch.Generator().manual_seed(4)
    X = torch.randn(64, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    want = per_sample_grads(model, LOSS, X, y)
    norms = per_sample_norms(want)
    for max_norm in (0.05, 1e6):  # every sample clipped / none clipped
        c = clip_factors(norms, max_norm)
        grads, _, got_norms = BookKeeping(model).clipped_sum(LOSS, X, y, max_norm)
        torch.testing.assert_close(got_norms, norms, rtol=1e-5, atol=1e-6)
        for n, gw in want.items():
            torch.testing.assert_close(grads[n], torch.tensordot(c, gw, dims=1), rtol=1e-5,
                                       atol=1e-6)
