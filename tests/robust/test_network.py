"""The CPU comparator-network order statistics (the torch network over column tiles and the same
network compiled by XLA) against the old implementation, kept as reference.

``common.kernels.reference`` (``torch.kthvalue`` / ``torch.sort`` along the clients) is the
implementation the aggregators used before the network; the network must return the same values:
the median bit for bit (a network only permutes values), the trimmed mean to the rounding of its
(n - 2f)-term float32 sum (the reference's reduction order depends on the column's position in
torch's vector loop, which a tile does not reproduce): tolerance (n - 2f) ulp of the largest |x|.
NaN is ordered above +inf by the reference; the network must give the same answer for NaN and inf
entries, ties (integer-valued data) and even n. The XLA network (``common.kernels.network_xla``)
must return the reference's values bit for bit, the trimmed mean included (it adds the middle
values in the order of torch's reduction). The aggregators built on the order statistics (Krum,
NNM, the geometric median, centered clipping), which now reuse one work buffer, must return what
their fresh-temporary formulas returned, bit for bit.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common import kernels
from common.kernels import dispatch, network, network_xla, reference
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
@pytest.mark.parametrize("choice", ["", "torch-network", "xla"])
def test_aggregators_take_the_network_and_agree(monkeypatch, n, dtype, choice):
    if choice != "torch-network":
        pytest.importorskip("jax")
    monkeypatch.setenv("REPRO_KERNELS", choice)
    d = dispatch.NETWORK_MIN_D + 123
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=dtype)
    # float64 would be computed in float32 by JAX without its 64-bit mode: the torch network
    module = network_xla if choice != "torch-network" and dtype == torch.float32 else network
    calls = []
    for name in ("coordinate_median", "trimmed_mean"):
        fn = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _fn=fn, _n=name, **k: calls.append(_n)
                            or _fn(*a, **k))
    assert torch.equal(coordinate_median(x, f=5), reference.coordinate_median(x))
    assert torch.equal(coordinate_median(x, f=5, even="mean"),
                       reference.coordinate_median(x, "mean"))
    if module is network_xla:
        assert torch.equal(trimmed_mean(x, f=5), reference.trimmed_mean(x, 5))
    else:
        torch.testing.assert_close(trimmed_mean(x, f=5), reference.trimmed_mean(x, 5), rtol=0,
                                   atol=_trim_tol(x, 5))
    assert calls == ["coordinate_median", "coordinate_median", "trimmed_mean"]
    monkeypatch.setenv("REPRO_KERNELS", "torch")  # forces the references
    for m in (network, network_xla):
        monkeypatch.setattr(m, "coordinate_median", None)
    assert torch.equal(kernels.coordinate_median(x), reference.coordinate_median(x))


# --- the XLA network ----------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), d=st.sampled_from([1, 5, 70, 130, 300]),
       seed=st.integers(0, 10_000), kind=st.sampled_from(["normal", "ties", "special"]),
       even=st.sampled_from(["lower", "mean"]))
def test_xla_median_equals_the_reference_bit_for_bit(n, d, seed, kind, even):
    pytest.importorskip("jax")
    x = _data(n, d, seed, kind)
    got = network_xla.coordinate_median(x, even)
    want = reference.coordinate_median(x, even)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    ok = ~torch.isnan(want)
    assert torch.equal(got[ok], want[ok])  # -0.0 == +0.0: the one freedom of a tie


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), d=st.sampled_from([1, 5, 70, 130, 300, 4099]),
       seed=st.integers(0, 10_000), kind=st.sampled_from(["normal", "ties", "special"]),
       data=st.data())
def test_xla_trimmed_mean_equals_the_reference_bit_for_bit(n, d, seed, kind, data):
    pytest.importorskip("jax")
    f = data.draw(st.integers(1, (n - 1) // 2)) if n >= 3 else 0
    x = _data(n, d, seed, kind)
    got = network_xla.trimmed_mean(x, f)
    want = reference.trimmed_mean(x, f)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    ok = ~torch.isnan(want)
    assert torch.equal(_bits(got[ok]), _bits(want[ok]))  # the sign of a zero included


def _bits(t):
    return t.view(torch.int64 if t.dtype == torch.float64 else torch.int32)


def test_xla_trimmed_mean_of_negative_zeros_is_positive_zero_as_torchs():
    pytest.importorskip("jax")
    x = torch.full((25, 300), -0.0)
    x[:, 100:] = torch.randn(25, 200, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_bits(network_xla.trimmed_mean(x, 5)), _bits(reference.trimmed_mean(x, 5)))


@pytest.mark.parametrize("n,f", [(25, 5), (24, 3), (40, 5), (7, 2), (64, 20), (60, 2)])
def test_xla_network_bit_for_bit_at_a_large_width(n, f):
    """Widths that are not multiples of torch's vector blocks: the scalar tail of the trimmed
    mean's reduction is the reference's."""
    pytest.importorskip("jax")
    for d in (49159, 123457):
        x = torch.randn(n, d, generator=torch.Generator().manual_seed(d + n))
        assert torch.equal(_bits(network_xla.trimmed_mean(x, f)),
                           _bits(reference.trimmed_mean(x, f)))
        assert torch.equal(network_xla.coordinate_median(x), reference.coordinate_median(x))
        assert torch.equal(network_xla.coordinate_median(x, "mean"),
                           reference.coordinate_median(x, "mean"))


@pytest.mark.parametrize("m", [*range(1, 41), 64, 65, 300])
def test_torch_sum_order_is_torchs(m):
    """The transcription of torch's outer-dimension sum (SumKernel.cpp) adds like torch.mean."""
    x = torch.randn(m, 4096, generator=torch.Generator().manual_seed(m)) * 10.0 ** torch.randint(
        -3, 4, (m, 1), generator=torch.Generator().manual_seed(m + 1))

    def add(node):
        if node is None:
            return torch.zeros(x.shape[1])
        if isinstance(node, tuple):
            return add(node[0]) + add(node[1])
        return x[node]

    assert torch.equal(add(network_xla.torch_sum_order(m)) / m, x.mean(dim=0))
    assert not torch.equal(x.flip(0).cumsum(0)[-1] / m, x.mean(dim=0)) or m < 3  # control


def test_xla_input_is_not_copied():
    jax = pytest.importorskip("jax")
    x = torch.randn(25, 10_000)
    assert jax.device_put(x.numpy()).unsafe_buffer_pointer() == x.data_ptr()


def test_without_jax_the_torch_network(monkeypatch):
    x = torch.randn(25, dispatch.NETWORK_MIN_D, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(network_xla, "available", lambda: False)
    monkeypatch.setattr(network_xla, "coordinate_median", None)
    monkeypatch.setattr(network_xla, "trimmed_mean", None)
    assert dispatch.network_backend(x) == "torch-network"
    assert torch.equal(kernels.coordinate_median(x), reference.coordinate_median(x))
    assert kernels.trimmed_mean(x, 5).shape == (x.shape[1],)
    monkeypatch.setenv("REPRO_KERNELS", "xla")
    with pytest.raises(RuntimeError, match="jax is not installed"):
        kernels.coordinate_median(x)


def test_network_backend_choice(monkeypatch):
    pytest.importorskip("jax")
    x = torch.randn(25, dispatch.NETWORK_MIN_D)
    assert dispatch.network_backend(x) == "xla"
    assert dispatch.network_backend(x.double()) == "torch-network"  # JAX would make it float32
    assert dispatch.network_backend(x[:, :100]) is None  # narrow: the reference
    assert dispatch.network_backend(torch.randn(65, dispatch.NETWORK_MIN_D)) is None
    for choice, want in [("xla", "xla"), ("torch-network", "torch-network"), ("torch", None)]:
        monkeypatch.setenv("REPRO_KERNELS", choice)
        assert dispatch.network_backend(x) == want
        assert kernels.backend(x) == "torch"  # the other kernels take the reference
    monkeypatch.setenv("REPRO_KERNELS", "numba")
    with pytest.raises(ValueError, match="torch-network"):
        kernels.coordinate_median(x)


# --- the aggregators built on the order statistics: the same values with one work buffer ---


def _old_distances(x):
    x = x - reference.coordinate_median(x)
    sq = (x * x).sum(dim=1)
    d = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min(0.0)
    d.fill_diagonal_(0.0)
    return d


def _old_nnm(x, f):
    n = x.shape[0]
    d = _old_distances(x)
    d.fill_diagonal_(-1.0)
    idx = torch.topk(d, n - f, dim=1, largest=False).indices
    w = torch.zeros(n, n).scatter_(1, idx, 1.0 / (n - f))
    return w @ x


def _old_geometric_median(x, nu=1e-6, max_iter=100, tol=1e-7):
    scale = torch.linalg.vector_norm(x - reference.coordinate_median(x), dim=1).median()
    smoothing = torch.clamp(nu * scale, min=torch.finfo(x.dtype).tiny)
    z = x.mean(dim=0)
    for _ in range(max_iter):
        dist = torch.linalg.vector_norm(x - z, dim=1)
        w = 1.0 / torch.maximum(dist, smoothing)
        z_new = (w[:, None] * x).sum(dim=0) / w.sum()
        moved = torch.linalg.vector_norm(z_new - z)
        z = z_new
        if moved <= tol * dist.mean():
            break
    return z


def _old_centered_clipping(x, tau=1.0, iterations=3, center=None):
    v = reference.coordinate_median(x) if center is None else center
    for _ in range(iterations):
        u = x - v
        norms = torch.linalg.vector_norm(u, dim=1, keepdim=True)
        scale = torch.clamp(tau / norms.clamp_min(torch.finfo(x.dtype).tiny), max=1.0)
        v = v + (u * scale).mean(dim=0)
    return v


@pytest.mark.parametrize("n,d,seed", [(25, dispatch.NETWORK_MIN_D + 5, 0), (11, 300, 1),
                                      (24, 2 * dispatch.NETWORK_MIN_D, 2)])
def test_work_buffer_aggregators_equal_their_formulas(n, d, seed):
    from common.robust import centered_clipping, geometric_median, krum, nnm
    from common.robust.krum import pairwise_sq_distances

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 3 + torch.randn(d, generator=g)
    x[:3] *= 20  # outlying rows
    assert torch.equal(pairwise_sq_distances(x), _old_distances(x))
    assert torch.equal(nnm(x, f=3), _old_nnm(x, 3))
    assert torch.equal(nnm_median(x, f=3), reference.coordinate_median(_old_nnm(x, 3)))
    assert torch.equal(geometric_median(x, f=3), _old_geometric_median(x))
    assert torch.equal(centered_clipping(x, f=3), _old_centered_clipping(x))
    c = x.mean(dim=0)
    assert torch.equal(centered_clipping(x, f=3, tau=0.5, center=c),
                       _old_centered_clipping(x, tau=0.5, center=c))
    d2 = _old_distances(x)
    d2.fill_diagonal_(float("inf"))
    scores = torch.topk(d2, n - 5, dim=1, largest=False).values.sum(dim=1)
    assert torch.equal(krum(x, f=3), x[torch.sort(scores, stable=True).indices[0]])


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


@pytest.mark.parametrize("m", [1, 4, 18])
def test_multi_krum_gathers_into_the_work_buffer_with_the_same_values(m):
    from common.robust import multi_krum
    from common.robust.krum import krum_scores

    x = torch.randn(25, dispatch.NETWORK_MIN_D + 77, generator=torch.Generator().manual_seed(m))
    order = torch.sort(krum_scores(x, 5), stable=True).indices[:m]
    assert torch.equal(multi_krum(x, f=5, m=m), x[order].mean(dim=0))


@pytest.mark.parametrize("seed", range(5))
def test_xla_trimmed_mean_with_trimmed_nans_is_the_reference_bit_for_bit(seed):
    """A NaN among the f largest values is trimmed away: its column's middle values are finite
    and must be added in the reference's order, although the column is recomputed apart."""
    pytest.importorskip("jax")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(25, 4099, generator=g) * torch.rand(25, 1, generator=g) * 1e3
    x[0, torch.randint(0, 4000, (3,), generator=g)] = float("nan")
    got, want = network_xla.trimmed_mean(x, 5), reference.trimmed_mean(x, 5)
    assert not torch.isnan(want).any()
    assert torch.equal(got, want)
