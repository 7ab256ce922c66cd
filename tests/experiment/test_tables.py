"""best_by against a brute-force selection written with plain Python loops."""

import math

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from common.experiment import best_by

VALUES = st.one_of(st.floats(-10, 10), st.just(math.nan), st.just(math.inf), st.just(-math.inf))


def _brute(rows, lower):
    """First row (table order) with the best finite value per group; non-finite rows lose."""
    best = {}
    for i, (g, v) in enumerate(rows):
        score = v if math.isfinite(v) else (math.inf if lower else -math.inf)
        if g not in best or (score < best[g][0] if lower else score > best[g][0]):
            best[g] = (score, i)
    return [best[g][1] for g in sorted(best)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), VALUES), min_size=1, max_size=30),
       st.booleans())
def test_best_by_matches_brute_force(rows, lower):
    df = pd.DataFrame({"method": [g for g, _ in rows], "loss": [v for _, v in rows]})
    assert list(best_by(df, "loss", ["method"], lower=lower).index) == _brute(rows, lower)


def test_best_by_never_picks_a_diverged_run_over_a_finite_one():
    df = pd.DataFrame({"method": ["a"] * 3, "lr": [1.0, 0.1, 0.01],
                       "acc": [math.nan, 0.5, 0.9], "loss": [-math.inf, 0.3, 0.2]})
    assert best_by(df, "acc", ["method"], lower=False)["lr"].item() == 0.01
    assert best_by(df, "loss", ["method"])["lr"].item() == 0.01


def test_best_by_names_missing_columns():
    with pytest.raises(KeyError, match="'tau'"):
        best_by(pd.DataFrame({"loss": [1.0]}), "loss", ["tau"])
