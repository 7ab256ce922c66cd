"""Aggregators against NumPy references written here, plus invariants over the whole registry.

The references are deliberately naive (explicit loops, numpy.median, sorting per coordinate) so
that they share no code path with the vectorized torch implementations. float64 everywhere; the
tolerances (1e-12) absorb summation order only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.robust import (
    AGGREGATORS,
    ALIE,
    IPM,
    ROBUSTNESS_COEFFICIENTS,
    bucketing,
    centered_clipping,
    compose,
    coordinate_median,
    geometric_median,
    krum,
    layerwise,
    mean,
    multi_krum,
    nnm,
    nnm_median,
    robustness_coefficient,
    robustness_ratio,
    trimmed_mean,
)

TOL = dict(rtol=1e-12, atol=1e-12)


def _x(n=11, d=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# ---- NumPy references ------------------------------------------------------------------------

def np_trimmed_mean(x, f):
    out = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        col = sorted(x[:, j])
        out[j] = np.mean(col[f:len(col) - f])
    return out


def np_lower_median(x):
    return np.array([sorted(x[:, j])[(x.shape[0] - 1) // 2] for j in range(x.shape[1])])


def np_krum_scores(x, f):
    n = len(x)
    scores = []
    for i in range(n):
        dists = sorted(np.sum((x[i] - x[j]) ** 2) for j in range(n) if j != i)
        scores.append(sum(dists[:n - f - 2]))
    return np.array(scores)


def np_nnm(x, f):
    n = len(x)
    out = np.empty_like(x)
    for i in range(n):
        d = [np.sum((x[i] - x[j]) ** 2) for j in range(n)]
        nearest = np.argsort(d, kind="stable")[:n - f]
        out[i] = x[nearest].mean(axis=0)
    return out


def np_weiszfeld(x, iters=2000):
    z = x.mean(axis=0)
    for _ in range(iters):
        w = 1.0 / np.maximum(np.linalg.norm(x - z, axis=1), 1e-12)
        z = (w[:, None] * x).sum(axis=0) / w.sum()
    return z


# ---- reference tests -------------------------------------------------------------------------

@pytest.mark.parametrize("n", [5, 6, 25])
def test_median_matches_numpy(n):
    x = _x(n)
    t = torch.tensor(x)
    np.testing.assert_allclose(coordinate_median(t, even="mean").numpy(), np.median(x, axis=0),
                               **TOL)
    np.testing.assert_allclose(coordinate_median(t).numpy(), np_lower_median(x), **TOL)


@pytest.mark.parametrize("n,f", [(5, 0), (5, 2), (10, 3), (25, 12)])
def test_trimmed_mean_matches_reference(n, f):
    x = _x(n)
    np.testing.assert_allclose(trimmed_mean(torch.tensor(x), f=f).numpy(), np_trimmed_mean(x, f),
                               **TOL)


@pytest.mark.parametrize("n,f,m", [(7, 2, 1), (10, 3, 1), (10, 3, 4), (25, 5, 20)])
def test_krum_matches_reference(n, f, m):
    x = _x(n, seed=n + f)
    best = np.argsort(np_krum_scores(x, f), kind="stable")[:m]
    np.testing.assert_allclose(multi_krum(torch.tensor(x), f=f, m=m).numpy(),
                               x[best].mean(axis=0), **TOL)


@pytest.mark.parametrize("n,f", [(5, 1), (11, 3), (25, 5)])
def test_nnm_matches_reference(n, f):
    x = _x(n, seed=3)
    np.testing.assert_allclose(nnm(torch.tensor(x), f=f).numpy(), np_nnm(x, f), **TOL)


def test_geometric_median_matches_long_weiszfeld():
    x = _x(15, 4, seed=5)
    got = geometric_median(torch.tensor(x), max_iter=2000, tol=1e-13).numpy()
    # both run Weiszfeld to convergence (linear rate); two converged iterates agree to ~1e-12
    np.testing.assert_allclose(got, np_weiszfeld(x), atol=1e-10)
    # and it minimises the sum of distances: no nearby point does better
    obj = lambda z: np.linalg.norm(x - z, axis=1).sum()  # noqa: E731
    rng = np.random.default_rng(0)
    assert all(obj(got) <= obj(got + 1e-4 * rng.standard_normal(4)) for _ in range(20))


def test_centered_clipping_one_iteration_by_hand():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.3, 0.4]], dtype=torch.float64)
    v = centered_clipping(x, tau=1.0, iterations=1, center=torch.zeros(2, dtype=torch.float64))
    # clip(x_i - 0): (0,0), (0.6, 0.8), (0.3, 0.4); mean = (0.3, 0.4)
    torch.testing.assert_close(v, torch.tensor([0.3, 0.4], dtype=torch.float64))


# ---- invariants over the registry --------------------------------------------------------------

NAMES = sorted(AGGREGATORS)


def _call(name, x, f):
    kwargs = {"f": f}
    if name == "multi_krum":
        kwargs["m"] = max(1, x.shape[0] - f - 2)
    return AGGREGATORS[name](x, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_permutation_invariance(name):
    x = torch.tensor(_x(12, 6, seed=7))
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(_call(name, x, 3), _call(name, x[perm], 3), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_identical_rows_give_that_row(name):
    row = torch.tensor(_x(1, 9, seed=8)[0])
    x = row.expand(9, -1).clone()
    torch.testing.assert_close(_call(name, x, 2), row, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_dtype(name):
    x = torch.randn(10, 5, dtype=torch.float32)
    out = _call(name, x, 2)
    assert out.shape == (5,) and out.dtype == torch.float32


@pytest.mark.parametrize("name", ["median", "trimmed_mean"])
@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 30), d=st.integers(1, 8), seed=st.integers(0, 10_000),
       scale=st.floats(1.0, 1e12))
def test_coordinatewise_output_within_honest_range(name, n, d, seed, scale):
    """With f < n/2 corrupted rows (any values), each coordinate stays in the honest range."""
    f = (n - 1) // 2
    rng = np.random.default_rng(seed)
    honest = rng.standard_normal((n - f, d))
    byz = rng.standard_normal((f, d)) * scale
    out = AGGREGATORS[name](torch.tensor(np.vstack([honest, byz])), f=f).numpy()
    assert np.all(out >= honest.min(axis=0) - 1e-12) and np.all(out <= honest.max(axis=0) + 1e-12)


@pytest.mark.parametrize("name", ["trimmed_mean", "median"])
def test_reduce_to_mean_where_they_should(name):
    x = torch.tensor(_x(2, 5))
    if name == "trimmed_mean":
        torch.testing.assert_close(trimmed_mean(x, f=0), x.mean(0))
    else:  # two rows, averaged middle = mean
        torch.testing.assert_close(coordinate_median(x, even="mean"), x.mean(0))
    torch.testing.assert_close(nnm(x, f=0)[0], x.mean(0))
    torch.testing.assert_close(multi_krum(torch.tensor(_x(8)), f=0, m=8),
                               torch.tensor(_x(8)).mean(0))


def test_robustness_ratio_is_bounded_for_nnm_median_but_not_the_mean():
    rng = np.random.default_rng(0)
    honest = torch.tensor(rng.standard_normal((20, 200)) + 1.0)
    ratios = {}
    for k in range(0, 10, 3):
        byz = torch.full((5, 200), 10.0**k, dtype=torch.float64)
        x = torch.cat([honest, byz])
        ratios[k] = (robustness_ratio(nnm_median(x, f=5), honest),
                     robustness_ratio(mean(x), honest))
    assert max(r[0] for r in ratios.values()) < 5.0
    assert ratios[9][1] > 1e15


def test_robustness_coefficients_of_allouah_et_al():
    """Allouah et al. 2023 (arXiv 2302.01772), Prop. 5 and Lemma 1, by hand for n = 25, f = 5:
    kappa_CM = 4 (1 + 5/15)^2 = 64/9 and kappa_NNM = 8 * 5/20 * (64/9 + 1) = 146/9."""
    assert robustness_coefficient("median", 25, 5) == pytest.approx(64 / 9)
    assert robustness_coefficient("nnm_median", 25, 5) == pytest.approx(146 / 9)
    assert robustness_coefficient("nnm_median", 22, 0) == 0.0
    with pytest.raises(ValueError, match="f < n/2"):
        robustness_coefficient("median", 10, 5)
    with pytest.raises(ValueError, match="proven coefficient"):
        robustness_coefficient("mean", 10, 2)


@settings(max_examples=40, deadline=None)
@given(f=st.integers(1, 7), d=st.integers(1, 20), scale=st.floats(1e-3, 1e6),
       attack=st.sampled_from(["alie", "ipm", "random", "far"]), seed=st.integers(0, 1000))
def test_robust_aggregators_meet_their_proven_bound(f, d, scale, attack, seed):
    """Whatever the Byzantine rows, the ratio of median, geometric median and NNM + median stays
    within its proven coefficient (the bound holds for every input: a violation is a bug)."""
    rng = np.random.default_rng(seed)
    honest = torch.tensor(rng.standard_normal((2 * f + 3, d)) + 1.0)
    byz = {"alie": ALIE(z=scale ** 0.25)(honest, honest[:f]),
           "ipm": IPM(eps=scale)(honest, honest[:f]),
           "random": torch.tensor(rng.standard_normal((f, d)) * scale),
           "far": torch.full((f, d), scale, dtype=torch.float64)}[attack]
    x = torch.cat([honest, byz])
    for name in ROBUSTNESS_COEFFICIENTS:
        ratio = robustness_ratio(AGGREGATORS[name](x, f=f), honest)
        assert ratio <= robustness_coefficient(name, x.shape[0], f) * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 30), seed=st.integers(0, 1000))
def test_shapes_property(n, d, seed):
    x = torch.tensor(np.random.default_rng(seed).standard_normal((n, d)))
    f = (n - 1) // 2
    for name in ("mean", "median", "trimmed_mean", "geometric_median"):
        assert AGGREGATORS[name](x, f=f).shape == (d,)
    if n > 2 * f + 2:
        assert krum(x, f=f).shape == (d,)


def test_layerwise_matches_blockwise_and_differs_for_nnm():
    x = torch.tensor(_x(9, 10, seed=11))
    sizes = [3, 7]
    out = layerwise(coordinate_median, x, sizes)
    torch.testing.assert_close(out, coordinate_median(x))  # coordinate-wise: same either way
    lw = layerwise(nnm_median, x, sizes, f=2)
    torch.testing.assert_close(lw[:3], nnm_median(x[:, :3], f=2))
    assert not torch.allclose(lw, nnm_median(x, f=2))
    with pytest.raises(ValueError, match="sum to d=10"):
        layerwise(mean, x, [3, 3])


def test_bucketing_then_median():
    x = torch.tensor(_x(12, 4))
    g = torch.Generator().manual_seed(0)
    buckets = bucketing(x, s=3, generator=g)
    assert buckets.shape == (4, 4)
    torch.testing.assert_close(buckets.mean(0), x.mean(0))  # equal buckets preserve the mean
    agg = compose(bucketing, coordinate_median, s=2)
    assert agg(x, f=2).shape == (4,)
    with pytest.raises(ValueError, match="tolerates"):
        compose(bucketing, coordinate_median, s=6)(x, f=2)  # 2 buckets cannot outvote 2


@pytest.mark.parametrize("call,match", [
    (lambda x: coordinate_median(x, f=3), r"f=3 Byzantine clients out of n=6"),
    (lambda x: trimmed_mean(x, f=3), "2f < n"),
    (lambda x: krum(x, f=2), "n > 2f \\+ 2"),
    (lambda x: multi_krum(x, f=1, m=7), "1 <= m <= n - f"),
    (lambda x: mean(x[0]), "shape \\(n_clients, d\\)"),
    (lambda x: mean(x.long()), "floating-point"),
    (lambda x: coordinate_median(x, even="upper"), "even="),
    (lambda x: geometric_median(x, nu=0.0), "nu="),
    (lambda x: centered_clipping(x, tau=-1.0), "tau="),
    (lambda x: trimmed_mean(x, f=1.5), "must be an int"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(torch.randn(6, 3))


# ---- non-finite clients are Byzantine (issue 16, case 10) ---------------------------------------

BAD_VALUES = {"nan": float("nan"), "+inf": float("inf"), "-inf": float("-inf")}


def _with_bad_rows(n=10, d=6, bad=(3,), value=float("nan"), seed=21, dtype=torch.float64,
                   whole_row=True):
    x = torch.tensor(_x(n, d, seed=seed), dtype=dtype)
    for r in bad:
        if whole_row:
            x[r] = value
        else:
            x[r, 1] = value  # one coordinate is enough to make the row an attack
    return x


@pytest.mark.parametrize("value", sorted(BAD_VALUES))
@pytest.mark.parametrize("bad", [(3,), (0, 9)], ids=["one-row", "f-rows"])
@pytest.mark.parametrize("name", NAMES)
def test_every_aggregator_is_finite_with_up_to_f_non_finite_rows(name, bad, value):
    """Before: NNM + median, the geometric median and centered clipping returned all-NaN (NNM's
    mixing product computes 0 x inf) and nothing raised. Now a non-finite row counts as one of
    the f Byzantine rows: the rule runs on the finite rows with f reduced accordingly."""
    f = 2
    for whole_row in (True, False):
        x = _with_bad_rows(bad=bad, value=BAD_VALUES[value], whole_row=whole_row)
        out = _call(name, x, f)
        assert out.shape == (6,) and torch.isfinite(out).all(), (name, value, out)
        keep = [i for i in range(10) if i not in bad]
        expected = _call(name, x[keep], f - len(bad)) if name != "multi_krum" else \
            AGGREGATORS[name](x[keep], f=f - len(bad), m=10 - f - 2)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_more_non_finite_rows_than_f_give_nan_not_a_number_made_up(name):
    """Beyond the tolerance some honest rows are non-finite too (the honest computation
    diverged): no rule can tell which rows to trust, and the aggregate is NaN so that a training
    loop's divergence check sees it."""
    x = _with_bad_rows(bad=(0, 4, 7), value=float("inf"))
    out = _call(name, x, 2)
    assert out.shape == (6,) and torch.isnan(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_float32_non_finite_rows_keep_the_dtype(name):
    x = _with_bad_rows(bad=(5,), value=float("nan"), dtype=torch.float32)
    out = _call(name, x, 2)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_nnm_with_non_finite_rows_mixes_the_finite_ones():
    x = _with_bad_rows(bad=(2,), value=float("inf"))
    mixed = nnm(x, f=2)
    assert mixed.shape == (9, 6) and torch.isfinite(mixed).all()
    keep = [i for i in range(10) if i != 2]
    torch.testing.assert_close(mixed, nnm(x[keep], f=1))


def test_centered_clipping_refuses_a_non_finite_center():
    x = torch.tensor(_x(10, 3))
    with pytest.raises(ValueError, match=r"center must be finite"):
        centered_clipping(x, f=2, center=torch.tensor([0.0, float("nan"), 0.0],
                                                      dtype=torch.float64))


# ---- tolerances, offsets and scales (issue 16, case 11) -----------------------------------------


@pytest.mark.parametrize("n,f", [(10, 5), (9, 5), (4, 2)])
def test_centered_clipping_refuses_f_of_half_or_more(n, f):
    """Before: accepted silently (every other rule refuses f >= n/2)."""
    with pytest.raises(ValueError, match=rf"f={f} Byzantine clients out of n={n}: this aggregator "
                                         r"tolerates .*f < n/2"):
        centered_clipping(torch.randn(n, 3), f=f)


@pytest.mark.parametrize("offset", [1e3, 3e3, 1e4, 3e4, 1e5])
def test_krum_and_nnm_are_exact_under_a_common_offset_in_float32(offset):
    """Before: the Gram-form distances lost every digit of the spread once the rows shared an
    offset ~1e3-1e5 times it, and float32 Krum picked another (sometimes an outlying) row in up
    to 45 of 50 draws. Distances are now taken after centring on the coordinate-wise median."""
    g = torch.Generator().manual_seed(0)
    for _ in range(12):
        x = torch.randn(10, 50, generator=g, dtype=torch.float64)
        x[8:] += 3.0  # two outlying rows
        x32, shifted = x.float(), (x + offset).float()
        reference = torch.argmin(np_krum_scores_t(x, 2))
        torch.testing.assert_close(krum(shifted, f=2) - offset, x32[reference],
                                   rtol=0, atol=offset * 2e-7)
        torch.testing.assert_close(krum(x32, f=2), x32[reference])
        # NNM picks the same neighbours with or without the offset
        torch.testing.assert_close(nnm(shifted, f=2) - offset, nnm(x, f=2).float(),
                                   rtol=0, atol=offset * 4e-7)


def np_krum_scores_t(x, f):
    return torch.tensor(np_krum_scores(x.numpy(), f))


@pytest.mark.parametrize("scale", [1e-12, 1e-8, 1.0, 1e8])
def test_geometric_median_is_scale_equivariant(scale):
    """Before: the smoothing ``nu`` was absolute, so at scale 1e-8 every distance was below it,
    every weight equal, and the result the plain mean (45x off)."""
    x = torch.tensor(_x(15, 4, seed=5))
    reference = torch.tensor(np_weiszfeld(x.numpy()))
    got = geometric_median(x * scale, max_iter=2000, tol=1e-13) / scale
    torch.testing.assert_close(got, reference, rtol=0, atol=1e-9)
    assert not torch.allclose(got, x.mean(0), atol=1e-3)
