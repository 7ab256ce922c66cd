"""The shared figure helpers draw what they say (on an Agg canvas)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np

from common import plotting
from common.metrics import Paths


class _Traj:
    def __init__(self, paths):
        self.paths = np.asarray(paths, float)
        self.steps = np.arange(self.paths.shape[0]) * 10
        self.mean, self.std = self.paths.mean(1), self.paths.std(1)


def test_mean_band_plots_the_mean_against_scaled_steps():
    fig, ax = plotting.subplots()
    plotting.mean_band(ax, _Traj([[1.0, 3.0], [2.0, 2.0]]), 0.5, "SignSGD")
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(x, [0.0, 5.0])
    np.testing.assert_allclose(y, [2.0, 2.0])
    assert ax.lines[0].get_color() == plotting.color("SignSGD")


def test_step_size_sweep_marks_diverged_runs_at_the_top():
    fig, ax = plotting.subplots()
    plotting.step_size_sweep(ax, [0.1, 1.0, 10.0], {"SGDM": [1.0, 2.0, np.inf]}, ylabel="loss",
                             title="t")
    finite, crosses = ax.lines
    np.testing.assert_allclose(finite.get_xdata(), [0.1, 1.0])
    np.testing.assert_allclose(crosses.get_data(), [[10.0], [20.0]])


def test_batched_trajectories_draw_one_line_per_step_size():
    from common.models import Rosenbrock
    from common.optim.batched import batched_sweep

    res = batched_sweep(Rosenbrock(), "NGN-M", [0.1, 1.0], (-1.2, 1.0), 50)
    fig, ax = plotting.subplots()
    plotting.batched_trajectories(ax, res, title="t")
    assert [line.get_label() for line in ax.lines] == ["0.1", "1"]
    assert isinstance(Paths(np.arange(2), np.ones((2, 2))).mean, np.ndarray)
