"""The one figure style, consistent method colours, and figures saved next to the results.

::

    from common import plotting
    plotting.use_style()
    fig, ax = plotting.subplots(1, 2)
    ax[0].plot(x, y, color=plotting.color("NGN-M"), label="NGN-M")
    plotting.savefig(fig, run, "rosenbrock")   # <results>/figures/rosenbrock.png

Figures are written atomically (temporary file, then rename) as PNG, and as PDF on request.
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["STYLE", "use_style", "subplots", "color", "savefig", "log_grid_ticks"]

#: rcParams of the project's style: small, legible, colour-blind-safe, deterministic PNG bytes.
STYLE = {
    "figure.dpi": 90,
    "savefig.dpi": 130,
    "figure.figsize": (6.4, 3.6),
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "savefig.bbox": "tight",
    "svg.hashsalt": "lucchi-repro",
    "path.simplify": True,
}

# Okabe-Ito palette (colour-blind safe), assigned to the methods the papers compare, so a method
# keeps its colour in every figure of the book.
_PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
            "#000000"]
_METHOD_COLORS = {
    "SGD": "#000000", "SGDM": "#D55E00", "SGDM (heavy ball)": "#E69F00", "NGN": "#56B4E9",
    "NGN-M": "#0072B2", "NGN-M v2": "#CC79A7", "NGN-MDv1": "#009E73", "NGN-MDv2": "#F0E442",
    "Adam": "#CC79A7", "AdamW": "#CC79A7", "SignSGD": "#009E73", "RMSprop": "#E69F00",
    "GRPO": "#000000", "DAPO": "#E69F00", "MT-GRPO": "#0072B2",
}


def use_style() -> None:
    """Apply :data:`STYLE` to matplotlib's global rcParams."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 3.3, height: float = 2.7, **kw):
    """``plt.subplots`` in the project style with a per-panel size in inches."""
    import matplotlib.pyplot as plt

    use_style()
    kw.setdefault("figsize", (width * ncols, height * nrows))
    kw.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, **kw)


def color(method: str) -> str:
    """The colour of a method: fixed for the known ones, else a stable pick from the palette."""
    if method in _METHOD_COLORS:
        return _METHOD_COLORS[method]
    import zlib

    return _PALETTE[zlib.crc32(method.encode()) % len(_PALETTE)]


def savefig(fig, where, name: str, *, pdf: bool = False) -> None:
    """Save ``fig`` as ``<folder>/figures/<name>.png`` (and ``.pdf``), atomically.

    Returns None, so a notebook cell ending with this call shows the figure and nothing else
    (no absolute path lands in a committed output).

    Args:
        fig: a matplotlib figure.
        where: a :class:`common.project.run.Run` (its results folder) or a folder path.
        name: file stem, e.g. ``"rosenbrock"``.
        pdf: also write a PDF (vector) copy.
    """
    from common.experiment.store import atomic_write_bytes

    folder = Path(where.dir if hasattr(where, "dir") else where) / "figures"
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name={name!r}: must be a plain file stem")
    for suffix in (("png", "pdf") if pdf else ("png",)):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix, metadata={"Software": None} if suffix == "png" else
                    {"Creator": None, "Producer": None, "CreationDate": None})
        atomic_write_bytes(folder / f"{name}.{suffix}", buf.getvalue())


def log_grid_ticks(ax, values, axis: str = "x") -> None:
    """Put ticks at exactly the swept grid values on a log axis (labels as powers of ten)."""
    import numpy as np

    getattr(ax, f"set_{axis}scale")("log")
    getattr(ax, f"set_{axis}ticks")(list(values))
    labels = [f"$10^{{{int(round(np.log10(v)))}}}$" if np.isclose(np.log10(v), round(np.log10(v)))
              else f"{v:g}" for v in values]
    getattr(ax, f"set_{axis}ticklabels")(labels)
