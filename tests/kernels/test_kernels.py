"""Every Triton kernel against its torch reference, run on the CPU in Triton's interpreter.

``TRITON_INTERPRET=1`` must be set before the kernels are decorated, so this module sets it at
import and reloads the kernel module if something imported it earlier. Shapes include ragged
sizes (d not a multiple of the block or of 32, n not a power of two), ties, NaN and inf.
Tolerances: the kernels accumulate in float32 in another order than torch, so sums get rtol 1e-5;
order statistics select input values and must match exactly (up to the mean of two of them).
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

os.environ["TRITON_INTERPRET"] = "1"
triton = pytest.importorskip("triton")
# the NaN/inf cases multiply inf by 0 inside the interpreter (NumPy warns; the result is defined)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

from common import kernels  # noqa: E402
from common.kernels import reference  # noqa: E402


@pytest.fixture(autouse=True)
def use_triton(monkeypatch):
    monkeypatch.setenv("REPRO_KERNELS", "triton")
    if "common.kernels.triton_kernels" in sys.modules:  # decorated before the interpreter was on?
        mod = sys.modules["common.kernels.triton_kernels"]
        if not getattr(mod._pack_kernel, "__class__", type).__name__.startswith("Interpreted"):
            importlib.reload(mod)
    yield


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("B,d", [(1, 1), (3, 7), (7, 1025), (16, 3000)])
@pytest.mark.parametrize("with_noise", [False, True])
def test_clipped_sum(B, d, with_noise):
    G = torch.randn(B, d, generator=_gen(B + d)) * torch.logspace(-2, 2, B)[:, None]
    noise = torch.randn(d, generator=_gen(1)) if with_noise else None
    got, got_norms = kernels.clipped_sum(G, 1.0, noise)
    want, want_norms = reference.clipped_sum(G, 1.0, noise)
    torch.testing.assert_close(got_norms, want_norms, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_clipped_sum_zero_and_nonfinite_rows():
    G = torch.randn(4, 50, generator=_gen(0))
    G[1] = 0.0
    got, norms = kernels.clipped_sum(G, 0.5)
    want, _ = reference.clipped_sum(G, 0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert norms[1] == 0
    G[2, 3] = float("inf")
    got, _ = kernels.clipped_sum(G, 0.5)
    want, _ = reference.clipped_sum(G, 0.5)
    assert torch.isnan(got).any() and torch.isnan(want).any()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


def _signed_values(n, d, seed):
    x = torch.randn(n, d, generator=_gen(seed))
    x.view(-1)[:: 7] = 0.0
    x.view(-1)[3:: 11] = -0.0
    x.view(-1)[5:: 13] = float("nan")
    x.view(-1)[2:: 17] = float("inf")
    x.view(-1)[4:: 19] = -float("inf")
    return x


@pytest.mark.parametrize("d", [1, 31, 32, 33, 100, 4097])
def test_pack_unpack(d):
    x = _signed_values(3, d, d)
    packed = kernels.pack_signs(x)
    assert packed.dtype == torch.int32 and packed.shape == (3, -(-d // 32))
    assert torch.equal(packed, reference.pack_signs(x))
    assert torch.equal(kernels.unpack_signs(packed, d), reference.unpack_signs(packed, d))
    assert torch.equal(kernels.unpack_signs(packed, d), torch.where(x > 0, 1.0, -1.0))


@pytest.mark.parametrize("n", [1, 2, 3, 8])
@pytest.mark.parametrize("d", [5, 64, 1000])
def test_majority_vote(n, d):
    packed = kernels.pack_signs(_signed_values(n, d, n * d))
    got = kernels.majority_vote_packed(packed, d)
    assert torch.equal(got, reference.majority_vote_packed(packed, d))
    if n % 2 == 0:  # ties are possible and must give 0
        assert set(got.unique().tolist()) <= {-1.0, 0.0, 1.0}


def _clients(n, d, seed, ties=False, special=False):
    x = torch.randn(n, d, generator=_gen(seed))
    if ties:
        x = torch.round(x * 2) / 2  # many equal values per column
    if special:
        x[0, ::5] = float("nan")
        x[-1, 1::7] = float("inf")
        x[n // 2, 2::9] = -float("inf")
    return x


@pytest.mark.parametrize("n", [1, 2, 3, 24, 25, 64])
@pytest.mark.parametrize("d", [1, 300, 1030])
@pytest.mark.parametrize("ties,special", [(False, False), (True, False), (False, True)])
def test_median(n, d, ties, special):
    x = _clients(n, d, n + d, ties, special)
    for even in ("lower", "mean"):
        torch.testing.assert_close(kernels.coordinate_median(x, even),
                                   reference.coordinate_median(x, even), rtol=1e-6, atol=0,
                                   equal_nan=True)


@pytest.mark.parametrize("n,f", [(3, 1), (10, 3), (25, 5), (25, 12), (64, 20)])
@pytest.mark.parametrize("special", [False, True])
def test_trimmed_mean(n, f, special):
    x = _clients(n, 517, n * f, ties=True, special=special)
    torch.testing.assert_close(kernels.trimmed_mean(x, f), reference.trimmed_mean(x, f),
                               rtol=1e-5, atol=1e-6, equal_nan=True)


def test_a_nan_client_does_not_poison_the_median():
    x = _clients(7, 100, 0)
    x[0] = float("nan")
    out = kernels.coordinate_median(x)
    assert torch.isfinite(out).all()
    from common.robust import coordinate_median

    # the aggregator leaves the non-finite row out (one of its f Byzantine rows) before the
    # kernel runs: the median of the 6 finite rows
    torch.testing.assert_close(coordinate_median(x, f=1), kernels.coordinate_median(x[1:]))


def test_callers_go_through_the_dispatch(monkeypatch):
    from common.federated import majority_vote, one_bit_majority_vote
    from common.robust import trimmed_mean

    x = torch.randn(5, 70, generator=_gen(3))
    torch.testing.assert_close(one_bit_majority_vote(x), majority_vote(x))
    want = reference.trimmed_mean(x, 2)
    torch.testing.assert_close(trimmed_mean(x, f=2), want, rtol=1e-5, atol=1e-6)


def test_backend_selection(monkeypatch):
    x = torch.zeros(3)
    assert kernels.backend(x) == "triton"
    assert kernels.backend(x.double()) == "torch"  # float64 always takes the reference
    monkeypatch.setenv("REPRO_KERNELS", "torch")
    assert kernels.backend(x) == "torch"
    monkeypatch.setenv("REPRO_KERNELS", "")
    assert kernels.backend(x) == ("triton" if x.is_cuda else "torch")
    monkeypatch.setenv("REPRO_KERNELS", "cuda")
    with pytest.raises(ValueError, match="REPRO_KERNELS"):
        kernels.backend(x)


def test_input_validation():
    with pytest.raises(ValueError, match="max_norm"):
        kernels.clipped_sum(torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="noise must have shape"):
        kernels.clipped_sum(torch.zeros(2, 3), 1.0, torch.zeros(4))
    with pytest.raises(ValueError, match="ceil"):
        kernels.unpack_signs(torch.zeros(2, dtype=torch.int32), 100)
