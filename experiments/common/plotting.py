"""Plot helpers shared by the studies (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = 90) -> Path:
    """Save and close a figure; returns the path."""
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def heatmap(ax, values, xs: Sequence, ys: Sequence, *, xlabel: str, ylabel: str, label: str,
            cmap: str = "viridis_r", marks=None, fmt: str = "{:.2f}", vmin=None, vmax=None):
    """A grid ``values[len(ys), len(xs)]`` with the numbers written in the cells.

    ``marks`` (a boolean grid of the same shape) draws an x over marked cells
    (a failed run, say). NaN cells are grey.
    """
    values = np.asarray(values, dtype=np.float64)
    cmap_obj = pyplot().get_cmap(cmap).with_extremes(bad="0.8")  # a copy; set_bad is deprecated (mpl 3.11)
    image = ax.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto", cmap=cmap_obj,
                      vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=45, fontsize=7)
    ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(values[i, j]):
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=6, color="w")
            if marks is not None and marks[i][j]:
                ax.plot(j, i, marker="x", color="red", markersize=12, mew=1.5)
    ax.figure.colorbar(image, ax=ax, label=label)
    return image


def band(ax, x, curves, *, label: str | None = None, color=None):
    """Mean of ``curves[seeds, len(x)]`` with a shaded min-max band over seeds."""
    curves = np.asarray(curves, dtype=np.float64)
    mean = np.nanmean(curves, axis=0)
    line, = ax.plot(x, mean, label=label, color=color, lw=1.2)
    if curves.shape[0] > 1:
        ax.fill_between(x, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color=line.get_color(), alpha=0.2)
    return line
