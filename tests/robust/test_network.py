"""The CPU comparator-network order statistics against the old implementation, kept as reference.

``common.kernels.reference`` (``torch.kthvalue`` / ``torch.sort`` along the clients) is the
implementation the aggregators used before the network; the network must return the same values:
the median bit for bit (a network only permutes values), the trimmed mean to the rounding of its
(n - 2f)-term float32 sum (the reference's reduction order depends on the column's position in
torch's vector loop, which a tile does not reproduce): tolerance (n - 2f) ulp of the largest |x|.
NaN is ordered above +inf by the reference; the network must give the same answer for NaN and inf
entries, ties (integer-valued data) and even n.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common import kernels
from common.kernels import dispatch, network, reference
from common.robust import coordinate_median, nnm_median, trimmed_mean


def _data(n, d, seed, kind):
    g = torch.Generator().manual_seed(seed)
    if kind == "ties":
        x = torch.randint(-2, 3, (n, d), generator=g).float()
    else:
        x = torch.randn(n, d, generator=g) * 10.0 ** torch.randint(-3, 4, (1,), generator=g)
    if kind == "special":
        special = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0])
        mask = torch.rand(n, d, generator=g) < 0.2
        x[mask] = special[torch.randint(0, 5, (int(mask.sum()),), generator=g)]
        x[:, 0] = float("nan")  # an all-NaN column
        if n > 1:
            x[0, min(1, d - 1)] = float("nan")  # a NaN row entry in an otherwise finite column
    return x


def _trim_tol(x, f):
    finite = x[torch.isfinite(x)]
    scale = float(finite.abs().max()) if finite.numel() else 1.0
    return (x.shape[0] - 2 * f) * torch.finfo(x.dtype).eps * max(scale, 1.0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 70), tile=st.integers(1, 33),
       seed=st.integers(0, 10_000), kind=st.sampled_from(["normal", "ties", "special"]),
       even=st.sampled_from(["lower", "mean"]))
def test_median_equals_the_reference_bit_for_bit(n, d, tile, seed, kind, even):
    x = _data(n, d, seed, kind)
    got = network.coordinate_median(x, even, tile=tile)
    want = reference.coordinate_median(x, even)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    ok = ~torch.isnan(want)
    assert torch.equal(got[ok], want[ok])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 70), tile=st.integers(1, 33),
       seed=st.integers(0, 10_000), kind=st.sampled_from(["normal", "ties", "special"]),
       data=st.data())
def test_trimmed_mean_equals_the_reference(n, d, tile, seed, kind, data):
    f = data.draw(st.integers(1, (n - 1) // 2)) if n >= 3 else 0
    x = _data(n, d, seed, kind)
    got = network.trimmed_mean(x, f, tile=tile)
    want = reference.trimmed_mean(x, f)
    torch.testing.assert_close(got, want, rtol=0, atol=_trim_tol(x, f), equal_nan=True)
    # same non-finite pattern, same infinities
    assert torch.equal(torch.isinf(got), torch.isinf(want))
    assert torch.equal(got[torch.isinf(got)], want[torch.isinf(want)])


@pytest.mark.parametrize("n", range(1, network.MAX_N + 1))
def test_the_network_sorts(n):
    x = torch.randn(n, 300, generator=torch.Generator().manual_seed(n))
    x[:, :100] = torch.randint(0, 2, (n, 100), generator=torch.Generator().manual_seed(n)).float()
    ops, where, _ = network.schedule(n, tuple(range(n)))
    slots = list(x.unbind(0)) + [torch.empty(300) for _ in range(n + 2)]
    for fn, a, b, o in ops:
        (torch.minimum, torch.maximum)[fn](slots[a], slots[b], out=slots[o])
    assert torch.equal(torch.stack([slots[w] for w in where]), torch.sort(x, dim=0).values)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [24, 25])
def test_aggregators_take_the_network_and_agree(monkeypatch, n, dtype):
    d = dispatch.NETWORK_MIN_D + 123
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=dtype)
    calls = []
    for name in ("coordinate_median", "trimmed_mean"):
        fn = getattr(network, name)
        monkeypatch.setattr(network, name, lambda *a, _fn=fn, _n=name, **k: calls.append(_n)
                            or _fn(*a, **k))
    assert torch.equal(coordinate_median(x, f=5), reference.coordinate_median(x))
    assert torch.equal(coordinate_median(x, f=5, even="mean"),
                       reference.coordinate_median(x, "mean"))
    torch.testing.assert_close(trimmed_mean(x, f=5), reference.trimmed_mean(x, 5), rtol=0,
                               atol=_trim_tol(x, 5))
    assert calls == ["coordinate_median", "coordinate_median", "trimmed_mean"]
    monkeypatch.setenv("REPRO_KERNELS", "torch")  # forces the references
    monkeypatch.setattr(network, "coordinate_median", None)
    assert torch.equal(kernels.coordinate_median(x), reference.coordinate_median(x))


def test_nnm_median_unchanged_with_non_finite_rows():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(25, dispatch.NETWORK_MIN_D, generator=g)
    x[3, 7] = float("nan")
    x[9] = float("inf")
    got = nnm_median(x, f=5)
    keep = torch.ones(25, dtype=torch.bool)
    keep[[3, 9]] = False
    from common.robust import nnm

    want = reference.coordinate_median(nnm(x[keep], f=3))
    assert torch.equal(got, want)


def test_finite_rows_by_row_sums_is_exact():
    from common.robust._checks import finite_rows

    x = torch.randn(6, 9, dtype=torch.float32)
    assert finite_rows(x) is None
    x[1, 2] = 3e38
    x[1, 3] = 3e38  # finite entries whose sum overflows: still a finite row
    assert finite_rows(x) is None
    x[4, 0] = float("nan")
    x[5, 8] = -float("inf")
    want = torch.isfinite(x).all(dim=1)
    assert torch.equal(finite_rows(x), want)
