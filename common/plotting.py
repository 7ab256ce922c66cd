"""The one figure style, consistent method colours, and figures saved next to the results.

::

    from common import plotting
    plotting.use_style()
    fig, ax = plotting.subplots(1, 2)
    ax[0].plot(x, y, color=plotting.color("NGN-M"), label="NGN-M")
    plotting.legend(ax[0])                     # beside the axes, off the data
    plotting.savefig(fig, run, "rosenbrock")   # <results>/figures/rosenbrock.png

Figures are sized for the book's column (at most :data:`COLUMN_WIDTH` inches; a wider request is
scaled down, so fonts keep their printed size) and drawn at 150 dpi on screen, 200 dpi in the
saved PNG. :func:`savefig` first applies :func:`tidy`: log axes get readable ticks, and a legend
that covers data points is moved beside its axes. Files are written atomically (temporary file,
then rename) as PNG, and as PDF on request.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

__all__ = ["STYLE", "COLUMN_WIDTH", "use_style", "subplots", "color", "legend", "tidy",
           "savefig", "log_grid_ticks", "mean_band", "step_size_sweep", "batched_trajectories"]

#: Widest figure, inches: the book's text column (about 750 CSS pixels at 150 dpi).
COLUMN_WIDTH = 6.4

#: The rcParams of the project's figure style (colour-blind-safe colours, deterministic PNGs).
STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "figure.figsize": (6.4, 3.6),
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.5,
    "savefig.bbox": "tight",
    "svg.hashsalt": "lucchi-repro",
    "path.simplify": True,
}

# Okabe-Ito palette (colour-blind safe), assigned to the methods the papers compare, so a method
# keeps its colour in every figure of the book.
# Okabe-Ito's yellow (#F0E442) is left out: a thin yellow line is hard to see on white.
_PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
            "#8C6D31"]
_METHOD_COLORS = {
    "SGD": "#000000", "SGDM": "#D55E00", "SGDM (heavy ball)": "#E69F00", "NGN": "#56B4E9",
    "NGN-M": "#0072B2", "NGN-M v2": "#CC79A7", "NGN-MDv1": "#009E73", "NGN-MDv2": "#8C6D31",
    "Adam": "#CC79A7", "AdamW": "#CC79A7", "SignSGD": "#009E73", "RMSprop": "#E69F00",
    "GRPO": "#000000", "DAPO": "#E69F00", "MT-GRPO": "#0072B2",
    "Clip-SGD": "#D55E00", "Clip21-SGD": "#CC79A7", "Clip21-SGD2M": "#0072B2",
}


def use_style() -> None:
    """Apply :data:`STYLE` to matplotlib's global rcParams."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 3.2, height: float = 2.5, **kw):
    """``plt.subplots`` in the project style with a per-panel size in inches.

    The figure is at most :data:`COLUMN_WIDTH` wide: a row of panels that would be wider is
    scaled down (height in proportion), so it is not shrunk again, with its text, in the book.
    """
    import matplotlib.pyplot as plt

    use_style()
    scale = min(1.0, COLUMN_WIDTH / (width * ncols))
    kw.setdefault("figsize", (width * ncols * scale, height * nrows * scale))
    kw.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, **kw)


def color(method: str) -> str:
    """The colour of a method: fixed for the known ones, else a stable pick from the palette."""
    if method in _METHOD_COLORS:
        return _METHOD_COLORS[method]
    import zlib

    return _PALETTE[zlib.crc32(method.encode()) % len(_PALETTE)]


_color_of = color  # for functions whose ``color`` argument shadows :func:`color`
def legend(ax, *args, where: str = "right", **kw):
    """A legend off the data: beside the axes (``where="right"``) or below them (``"below"``,
    in as many columns as fit). Extra arguments go to ``ax.legend``."""
    if where == "right":
        kw.setdefault("loc", "upper left")
        kw.setdefault("bbox_to_anchor", (1.02, 1.0))
    elif where == "below":
        n = len(ax.get_legend_handles_labels()[1])
        kw.setdefault("loc", "upper center")
        kw.setdefault("bbox_to_anchor", (0.5, -0.22))
        kw.setdefault("ncols", max(1, min(n, 4)))
    else:
        raise ValueError(f"where={where!r}: allowed are 'right' and 'below'")
    kw.setdefault("borderaxespad", 0.0)
    return ax.legend(*args, **kw)


def _data_points(ax, step: float = 2.0):
    """Every plotted point of ``ax`` in display (pixel) coordinates, as an (n, 2) array; the
    segments between a line's points are sampled every ``step`` pixels (a legend over a steep
    segment covers the curve too)."""
    import numpy as np

    pts = []
    for line in ax.get_lines():
        xy = np.asarray(line.get_xydata(), dtype=float)
        if not xy.size:
            continue
        xy = ax.transData.transform(xy)
        pts.append(xy)
        if line.get_linestyle() in ("None", "", " ") or len(xy) < 2:
            continue
        a, b = xy[:-1], xy[1:]
        ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        a, b = a[ok], b[ok]
        n = np.clip(np.ceil(np.hypot(*(b - a).T) / step).astype(int), 1, 2000)
        for k in np.unique(n):
            sel = n == k
            t = (np.arange(1, k) / k)[None, :, None]
            pts.append((a[sel][:, None] + t * (b[sel] - a[sel])[:, None]).reshape(-1, 2))
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        if offsets.size:
            pts.append(coll.get_offset_transform().transform(offsets))
    if not pts:
        return np.empty((0, 2))
    out = np.concatenate(pts)
    return out[np.isfinite(out).all(axis=1)]


def _legend_covers_data(ax, leg) -> bool:
    box = leg.get_window_extent()
    pts = _data_points(ax)
    inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0)
              & (pts[:, 1] <= box.y1))
    return bool(inside.any())


def _outside_legend(ax, leg) -> bool:
    anchor = leg.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    return anchor.x0 >= 1.0 or anchor.y1 <= 0.0


def _readable_log_ticks(ax, axis: str) -> None:
    """Decades labelled as powers of ten, no labels on minor ticks; an axis spanning less than
    two decades gets plain labels at its data values (at most 8) or at 1-2-5 steps."""
    import numpy as np
    from matplotlib import ticker

    ax_obj = getattr(ax, f"{axis}axis")
    if isinstance(ax_obj.get_major_locator(), ticker.FixedLocator):
        return  # ticks chosen by the caller
    lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
    if not (lo > 0 and hi > lo):
        return
    ax_obj.set_minor_formatter(ticker.NullFormatter())
    if math.log10(hi / lo) >= 2:
        ax_obj.set_major_locator(ticker.LogLocator(base=10, numticks=7))
        return
    col = 0 if axis == "x" else 1
    values = []
    for line in ax.get_lines():
        data = np.asarray(line.get_xydata(), dtype=float)
        if data.size:
            values.extend(data[:, col].tolist())
    vals = sorted({float(f"{v:.6g}") for v in values if np.isfinite(v) and lo <= v <= hi})
    if 2 <= len(vals) <= 8:
        ax_obj.set_major_locator(ticker.FixedLocator(vals))
    else:
        ax_obj.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax_obj.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))


def tidy(fig) -> None:
    """Make a finished figure readable (run by :func:`savefig`): readable log-axis ticks, legend
    text of at least 6.5 pt, and a legend that covers data points moved beside its axes."""
    fig.canvas.draw()
    for ax in fig.axes:
        for axis in ("x", "y"):
            if getattr(ax, f"get_{axis}scale")() == "log":
                _readable_log_ticks(ax, axis)
        leg = ax.get_legend()
        if leg is None:
            continue
        for text in leg.get_texts():
            text.set_fontsize(max(text.get_fontsize(), 6.5))
        if not _outside_legend(ax, leg) and _legend_covers_data(ax, leg):
            handles, labels = ax.get_legend_handles_labels()
            title = leg.get_title().get_text() or None
            size = leg.get_texts()[0].get_fontsize() if leg.get_texts() else None
            legend(ax, handles, labels, title=title, fontsize=size)
    fig.canvas.draw()


def savefig(fig, where, name: str, *, pdf: bool = False) -> None:
    """Save ``fig`` as ``<folder>/figures/<name>.png`` (and ``.pdf``), atomically, after
    :func:`tidy`.

    Returns None, so a notebook cell ending with this call shows the figure and nothing else
    (no absolute path lands in a committed output).

    Args:
        fig: a matplotlib figure.
        where: a :class:`common.project.run.Run` (its results folder) or a folder path.
        name: file stem, e.g. ``"rosenbrock"``.
        pdf: also write a PDF (vector) copy.
    """
    from common.fileio import atomic_write_bytes

    folder = Path(where.dir if hasattr(where, "dir") else where) / "figures"
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name={name!r}: must be a plain file stem")
    tidy(fig)
    for suffix in (("png", "pdf") if pdf else ("png",)):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix, metadata={"Software": None} if suffix == "png" else
                    {"Creator": None, "Producer": None, "CreationDate": None})
        atomic_write_bytes(folder / f"{name}.{suffix}", buf.getvalue())


def log_grid_ticks(ax, values, axis: str = "x") -> None:
    """Put ticks at exactly the swept grid values on a log axis (labels as powers of ten, at
    most seven of them; minor ticks unlabelled)."""
    import numpy as np
    from matplotlib import ticker

    getattr(ax, f"set_{axis}scale")("log")
    values = list(values)
    getattr(ax, f"set_{axis}ticks")(values)
    step = max(1, math.ceil(len(values) / 7))  # at most 7 labels: they never overlap
    labels = [("" if i % step else
               f"$10^{{{int(round(np.log10(v)))}}}$" if np.isclose(np.log10(v), round(np.log10(v)))
               else f"{v:g}") for i, v in enumerate(values)]
    getattr(ax, f"set_{axis}ticklabels")(labels)
    getattr(ax, f"{axis}axis").set_minor_formatter(ticker.NullFormatter())


def mean_band(ax, traj, x_scale: float, label: str, *, color=None, ls="-",
              width: float = 2.0) -> None:
    """The mean of a trajectory (``steps``, ``mean``, ``std`` over its ``paths``:
    :class:`common.sde.Trajectory`) against ``steps * x_scale`` (SDE time t = k eta with
    ``x_scale = lr``), with a band of +- ``width`` standard errors of the mean."""
    import math

    import numpy as np

    t = np.asarray(traj.steps) * x_scale
    m = np.asarray(traj.mean, float)
    se = np.asarray(traj.std, float) / math.sqrt(np.asarray(traj.paths).shape[1])
    c = color or _color_of(label)
    ax.plot(t, m, ls, color=c, label=label, lw=1.3)
    ax.fill_between(t, m - width * se, m + width * se, color=c, alpha=0.2, lw=0)


def step_size_sweep(ax, grid, values: dict, *, ylabel: str, title: str, top=None) -> None:
    """A final metric against the step size, one line per method (``values``: name -> values
    over ``grid``), on log-log axes; diverged runs (inf or NaN) drawn as crosses at ``top``
    (default ten times the largest finite value)."""
    import numpy as np

    finite = [v for vals in values.values() for v in np.ravel(vals) if np.isfinite(v)]
    top = top if top is not None else (max(finite) * 10 if finite else 1.0)
    for name, vals in values.items():
        vals = np.asarray(vals, dtype=float)
        ok = np.isfinite(vals)
        ax.plot(np.asarray(grid)[ok], vals[ok], "o-", color=color(name), label=name, ms=3)
        if (~ok).any():
            ax.plot(np.asarray(grid)[~ok], np.full((~ok).sum(), top), "x", color=color(name),
                    ms=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step-size hyperparameter (c or lr)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def batched_trajectories(ax, result, *, title: str) -> None:
    """The loss along iterations of every step size of a batched sweep
    (:class:`common.optim.batched.BatchedSweep`: ``steps``, ``record_at``, ``trajectory``)."""
    import numpy as np
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for j, step in enumerate(result.steps):
        traj = result.trajectory[:, j]
        ok = np.isfinite(traj)
        ax.plot(result.record_at[ok] + 1, traj[ok], color=cmap(j / max(1, len(result.steps) - 1)),
                label=f"{step:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
