"""common.metrics.trajectory against hand computations and exact formulas; the METRICS registry."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from common import metrics
from common.metrics import (
    METRICS,
    Paths,
    best_lr,
    crossing,
    half_life,
    loglog_slope,
    near_best_width,
    relative_error,
    stationary_level,
    window,
    window_median,
    window_table,
)


def _paths(values, every=10):
    values = np.asarray(values, float)
    return Paths(np.arange(values.shape[0]) * every, values)


def test_window_averages_each_path_over_time_first():
    # two paths, four records (steps 0, 10, 20, 30); the window [10, 30) holds records 1 and 2
    traj = _paths([[9.0, 9.0], [1.0, 3.0], [3.0, 5.0], [7.0, 7.0]])
    mean, se = window(traj, 10, 30)
    assert mean == pytest.approx(3.0)  # per-path means 2 and 4
    assert se == pytest.approx(np.std([2.0, 4.0], ddof=1) / math.sqrt(2))
    assert window(traj, 30)[0] == pytest.approx(7.0)  # stop defaults to the end
    assert window_median(_paths([[1.0, 2.0, 100.0]]), 0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no record"):
        window(traj, 40)


def test_window_reads_sde_trajectories_too():
    sde = pytest.importorskip("common.sde")
    p = np.array([[9.0, 9.0], [1.0, 3.0], [3.0, 5.0]])
    traj = sde.Trajectory(np.array([0, 10, 20]), p.mean(1), p.std(1), None, p, None)
    assert window(traj, 10) == window(_paths(p), 10)
    assert relative_error(traj, _paths(1.1 * p), 1) == pytest.approx(0.1)


def test_window_table_reports_the_ratio_to_the_reference():
    trajs = {"a": _paths([[1.0, 3.0], [2.0, 4.0]]), "b": _paths([[5.0, 5.0], [5.0, 5.0]])}
    table = window_table(trajs, 0, reference={"a": 2.0, "b": 4.0})
    assert table.loc["a", "mean"] == pytest.approx(2.5)
    assert table.loc["a", "ratio"] == pytest.approx(1.25)
    assert table.loc["b", "s.e."] == pytest.approx(0.0)


def test_relative_error_is_the_mean_over_records():
    a, b = _paths([[1.0], [2.0], [4.0]]), _paths([[1.5], [2.0], [3.0]])
    assert relative_error(a, b) == pytest.approx((0.5 + 0.0 + 0.25) / 3)
    assert relative_error(a, b, 10) == pytest.approx(0.125)
    assert relative_error(a, b, 0, 10) == pytest.approx(0.5)
    assert relative_error(a, a) == 0.0


def test_stationary_level_and_half_life():
    t = np.arange(0, 200, 2.0)
    assert stationary_level(t, np.where(t >= 100, 3.0, 9.0), 100) == 3.0
    assert stationary_level(t, t, 100, 104) == pytest.approx(101.0)
    # linear interpolation between records 2 steps apart: 20 log 2 to within 0.05
    assert half_life(t, 5.0 + 3.0 * np.exp(-t / 20.0), 5.0) == pytest.approx(
        20 * math.log(2), abs=0.05)
    assert math.isinf(half_life(t, np.full_like(t, 6.0), 5.0))
    with pytest.raises(ValueError, match="above the level"):
        half_life(t, np.full_like(t, 4.0), 5.0)


def test_loglog_slope_best_lr_and_crossing():
    assert loglog_slope([1, 2, 4], [3.0, 0.75, 0.1875]) == pytest.approx(-2.0)
    assert math.isnan(loglog_slope([1, 2], [1.0, 0.0]))
    lrs = np.geomspace(1e-3, 1e-1, 9)
    lr, interior = best_lr(lrs, (np.log(lrs) - np.log(0.0123)) ** 2)
    assert interior and lr == pytest.approx(0.0123, rel=1e-9)  # a parabola's vertex is exact
    assert best_lr(lrs, np.arange(9.0)) == (pytest.approx(1e-3), False)  # edge: not interior
    x = [1.0, 2.0, 4.0, 8.0]
    assert crossing(x, [2.0, 1.0, -1.0, -2.0]) == pytest.approx(math.sqrt(8))
    assert crossing(x, [1.0, -1.0, 1.0, -1.0]) == pytest.approx(math.sqrt(2))  # the first
    assert math.isnan(crossing(x, [1.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("values,width", [
    ([0.1, 0.95, 0.96, 0.955, 0.1], 2.0),   # a run of three around the best
    ([0.96, 0.1, 0.955, 0.95], 0.0),        # a gap ends the run
    ([0.5, 0.5, 0.5, 0.5], 3.0),
])
def test_near_best_width(values, width):
    assert near_best_width([1e-2, 1e-1, 1.0, 10.0, 100.0][:len(values)], values, 0.01) == width


@pytest.mark.parametrize("name", sorted(METRICS))
def test_registry_entries_are_documented_exported_functions(name):
    fn = METRICS[name]
    assert callable(fn) and fn.__name__ == name
    assert fn.__module__.startswith("common.metrics.")
    assert name in metrics.__all__
    assert len(inspect.getdoc(fn) or "") > 40
