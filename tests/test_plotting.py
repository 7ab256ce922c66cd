"""The figure style: print resolution, sized for the column, legends off the data, readable
log ticks (each with a case where the fix must not apply)."""

from __future__ import annotations

import numpy as np
import pytest

from common import plotting


def _overlaps(boxes) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _tick_label_boxes(fig, axis):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    lo, hi = sorted(axis.get_view_interval())
    ticks = [(loc, t) for loc, t in zip(axis.get_majorticklocs(), axis.get_majorticklabels())]
    ticks += [(loc, t) for loc, t in zip(axis.get_minorticklocs(), axis.get_minorticklabels())]
    labels = [t for loc, t in ticks if lo * (1 - 1e-9) <= loc <= hi * (1 + 1e-9)
              and t.get_visible() and t.get_text()]
    return [t.get_window_extent(renderer) for t in labels], [t.get_text() for t in labels]


def test_resolution_and_column_width(tmp_path):
    from PIL import Image

    fig, _ = plotting.subplots(1, 3, width=3.3)  # asks for 9.9 in
    assert fig.get_size_inches()[0] == pytest.approx(plotting.COLUMN_WIDTH)
    assert fig.dpi >= 150
    fig2, _ = plotting.subplots(1, 1, width=3.0)  # narrow figures are left alone
    assert fig2.get_size_inches()[0] == pytest.approx(3.0)
    plotting.savefig(fig, tmp_path, "wide")
    dpi = Image.open(tmp_path / "figures" / "wide.png").info.get("dpi", (0, 0))[0]
    assert dpi >= 150


def test_a_legend_over_the_data_moves_beside_the_axes(tmp_path):
    fig, ax = plotting.subplots(1, 1)
    x = np.linspace(0, 1, 50)
    for k in range(4):
        ax.plot(x, np.full_like(x, 0.9 + 0.02 * k), label=f"method {k}")  # under "upper right"
    ax.legend(loc="upper right")
    fig.canvas.draw()
    assert plotting._legend_covers_data(ax, ax.get_legend())
    plotting.savefig(fig, tmp_path, "covered")
    leg = ax.get_legend()
    assert not plotting._legend_covers_data(ax, leg)
    assert leg.get_window_extent().x0 >= ax.get_window_extent().x1 - 1  # beside the axes
    assert [t.get_text() for t in leg.get_texts()] == [f"method {k}" for k in range(4)]


def test_a_legend_clear_of_the_data_stays():
    fig, ax = plotting.subplots(1, 1)
    x = np.linspace(0, 1, 50)
    ax.plot(x, x ** 2, label="x^2")  # empty upper-left corner
    leg = ax.legend(loc="upper left")
    fig.canvas.draw()
    before = leg.get_window_extent()
    plotting.tidy(fig)
    assert ax.get_legend() is leg
    after = leg.get_window_extent()
    assert (after.x0, after.y1) == pytest.approx((before.x0, before.y1), abs=2)


def test_log_ticks_of_a_short_axis_are_the_data_values_and_do_not_overlap():
    eps = [3.0, 9.0, 27.0]  # clip21-sgd2m 03: less than one decade
    fig, ax = plotting.subplots(1, 1, width=3.0)
    ax.plot(eps, [0.5, 0.7, 0.8], "o-")
    ax.set_xscale("log")
    boxes, texts = _tick_label_boxes(fig, ax.xaxis)
    assert len(texts) > 3  # matplotlib's own minor labels crowd the axis
    plotting.tidy(fig)
    boxes, texts = _tick_label_boxes(fig, ax.xaxis)
    assert texts == ["3", "9", "27"] and not _overlaps(boxes)


def test_log_ticks_of_a_long_axis_label_decades_only():
    fig, ax = plotting.subplots(1, 1, width=3.0)
    grid = np.logspace(-4, 2, 13)
    ax.plot(grid, np.linspace(0, 1, 13))
    ax.set_xscale("log")
    plotting.tidy(fig)
    boxes, texts = _tick_label_boxes(fig, ax.xaxis)
    assert 3 <= len(texts) <= 8 and not _overlaps(boxes)


def test_log_grid_ticks_thins_labels():
    fig, ax = plotting.subplots(1, 1, width=3.0)
    grid = np.logspace(-4, 2, 13)
    ax.plot(grid, np.linspace(0, 1, 13))
    plotting.log_grid_ticks(ax, grid)
    boxes, texts = _tick_label_boxes(fig, ax.xaxis)
    assert len(texts) <= 7 and not _overlaps(boxes)


def test_legend_helper_rejects_unknown_place():
    _, ax = plotting.subplots(1, 1)
    ax.plot([0, 1], [0, 1], label="a")
    with pytest.raises(ValueError, match="where="):
        plotting.legend(ax, where="inside")


def test_a_legend_over_a_segment_between_points_counts_as_covering():
    fig, ax = plotting.subplots(1, 1)
    ax.plot([0.0, 1.0], [0.0, 1.0], label="a diagonal with two points")
    leg = ax.legend(loc="center")
    fig.canvas.draw()
    box = leg.get_window_extent()
    ends = ax.transData.transform([[0.0, 0.0], [1.0, 1.0]])
    assert not any(box.contains(*p) for p in ends)  # no vertex under the legend ...
    assert plotting._legend_covers_data(ax, leg)  # ... but the line crosses it


def test_no_yellow_from_the_palette():
    assert all(plotting.color(m).upper() != "#F0E442"
               for m in ["Clip21-SGD2M", "NGN-MDv2", *(f"method {i}" for i in range(50))])
