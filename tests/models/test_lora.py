"""common.models.lora: the same function as peft's LoRA linear layer, the frozen factor, the A
initialisers and clear errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from common.models import MLP, LoRALinear, apply_lora, init_lora_A, lora_parameters
from common.models.lora import A_INITS


def _base(d_in=7, d_out=5, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(d_in, d_out).double()


def test_same_function_as_peft_lora_linear():
    """peft's lora.Linear with the same factors computes the same outputs (float64, 1e-12: the
    two differ only in the order of the matmuls)."""
    peft = pytest.importorskip("peft")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    x = torch.randn(11, 6, dtype=torch.float64)
    for r, alpha in ((1, 1.0), (4, 4.0), (3, 12.0)):
        ours = LoRALinear(model[0], r, alpha=alpha, init="kaiming", seed=r)
        with torch.no_grad():
            ours.B.normal_()  # a trained, non-zero B
        cfg = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=["0"], lora_dropout=0.0)
        wrapped = peft.get_peft_model(_copy(model), cfg)
        layer = wrapped.base_model.model[0]
        with torch.no_grad():
            layer.lora_A["default"].weight.copy_(ours.A)
            layer.lora_B["default"].weight.copy_(ours.B)
        assert layer.scaling["default"] == pytest.approx(ours.scaling)
        got = ours(x)
        ref = layer(x)
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ours.delta_weight(), layer.get_delta_weight("default"),
                                   rtol=1e-12, atol=1e-12)


def _copy(model):
    import copy
    return copy.deepcopy(model)


@pytest.mark.parametrize("freeze", ["A", "B", "none"])
def test_frozen_factor_and_identity_at_init(freeze):
    base = _base()
    layer = LoRALinear(base, 3, freeze=freeze, seed=2)
    x = torch.randn(4, 7, dtype=torch.float64)
    torch.testing.assert_close(layer(x), base(x))  # the adapter starts at zero
    assert layer.A.requires_grad == (freeze != "A")
    assert layer.B.requires_grad == (freeze != "B")
    assert not any(p.requires_grad for p in layer.base.parameters())
    layer(x).sum().backward()
    assert base.weight.grad is None


def test_asymmetric_training_leaves_A_unchanged():
    layer = LoRALinear(_base(), 2, freeze="A", seed=3)
    A0 = layer.A.detach().clone()
    opt = torch.optim.SGD(lora_parameters(layer), lr=0.1)
    x, y = torch.randn(20, 7, dtype=torch.float64), torch.randn(20, 5, dtype=torch.float64)
    for _ in range(5):
        opt.zero_grad()
        ((layer(x) - y) ** 2).mean().backward()
        opt.step()
    assert torch.equal(layer.A, A0)
    assert layer.B.abs().sum() > 0


def test_init_distributions():
    """Moments of the three initialisers (5 sigma Monte Carlo tolerances on 64 x 400 entries)."""
    r, d = 64, 400
    g = init_lora_A(r, d, "gauss", seed=0, dtype=torch.float64)
    assert g.var().item() == pytest.approx(1 / d, rel=5 * math.sqrt(2 / (r * d)))
    k = init_lora_A(r, d, "kaiming", seed=0, dtype=torch.float64)
    assert k.abs().max().item() <= 1 / math.sqrt(d)
    assert k.var().item() == pytest.approx(1 / (3 * d), rel=5 * math.sqrt(0.8 / (r * d)))
    o = init_lora_A(r, d, "orth", seed=0, dtype=torch.float64)
    torch.testing.assert_close(o @ o.T, torch.eye(r, dtype=torch.float64))


@settings(max_examples=25, deadline=None)
@given(r=st.integers(1, 6), init=st.sampled_from(sorted(A_INITS)), seed=st.integers(0, 10**6))
def test_delta_has_rank_at_most_r_and_seed_is_reproducible(r, init, seed):
    layer = LoRALinear(_base(9, 8), r, init=init, seed=seed)
    with torch.no_grad():
        layer.B.normal_()
    assert torch.linalg.matrix_rank(layer.delta_weight()).item() <= r
    again = init_lora_A(r, 9, init, seed=seed)
    torch.testing.assert_close(init_lora_A(r, 9, init, seed=seed), again)


def test_apply_lora_on_mlp_hidden_layers():
    torch.manual_seed(0)
    model = MLP(10, (16, 16), 3)
    x = torch.randn(5, 10)
    before = model(x).detach()
    apply_lora(model, ["0", "2"], r=4, freeze="A", seed=1)
    assert isinstance(model[0], LoRALinear) and isinstance(model[2], LoRALinear)
    torch.testing.assert_close(model(x), before)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(trainable) == 2 and all(p.shape == (16, 4) for p in trainable)
    assert model[0].A.shape == (4, 10) and model[2].A.shape == (4, 16)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="freeze"):
        LoRALinear(_base(), 2, freeze="both")
    with pytest.raises(ValueError, match="init"):
        init_lora_A(2, 3, "xavier")
    with pytest.raises(ValueError, match="r <= d_in"):
        init_lora_A(5, 3, "orth")
    with pytest.raises(ValueError, match="r="):
        init_lora_A(0, 3)
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(1, 1, 1), 2)
    with pytest.raises(ValueError, match="targets"):
        apply_lora(MLP(4, (3,), 2), ["1"], r=1)
