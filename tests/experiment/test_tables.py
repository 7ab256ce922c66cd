"""best_by against a brute-force selection written with plain Python loops; runs_frame and
best_configs round-trip configs through a results table."""

import dataclasses
import math

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from common.experiment import Config, best_by, best_configs, param, runs_frame

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


@dataclasses.dataclass(frozen=True)
class _Run(Config):
    method: str = param("a", choices=("a", "b"))
    lr: float = param(0.1, gt=0)
    seed: int = param(0, ge=0)


def test_best_configs_rebuilds_the_winning_config_of_each_group():
    runs = [_Run(method=m, lr=lr, seed=s) for m in "ab" for lr in (0.01, 0.1, 1.0) for s in (0, 1)]
    # loss: smallest for method a at lr 0.1, seed 1; for method b at lr 1.0, seed 0.
    target = {"a": (0.1, 1), "b": (1.0, 0)}
    results = [{"loss": 0.0 if (r.lr, r.seed) == target[r.method] else 1.0 + r.lr} for r in runs]
    df = runs_frame(runs, results)
    assert list(df.columns) == ["method", "lr", "seed", "loss"]
    best = best_configs(df, "loss", _Run)
    assert best == {"a": _Run(method="a", lr=0.1, seed=1), "b": _Run(method="b", lr=1.0, seed=0)}
    assert all(type(c.seed) is int and type(c.lr) is float for c in best.values())
    by_two = best_configs(df, "loss", _Run, group=("method", "seed"))
    assert set(by_two) == {("a", 0), ("a", 1), ("b", 0), ("b", 1)}
    assert by_two[("b", 1)] == _Run(method="b", lr=0.01, seed=1)


def test_runs_frame_and_best_configs_name_their_errors():
    with pytest.raises(ValueError, match="1 configs but 2 results"):
        runs_frame([_Run()], [{}, {}])
    with pytest.raises(KeyError, match=r"\['seed'\]"):
        best_configs(pd.DataFrame({"method": ["a"], "lr": [0.1], "loss": [1.0]}), "loss", _Run)
