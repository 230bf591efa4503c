"""Plots of a sweep's results: a scalar metric over the swept values (heatmap,
line or bars) and metrics recorded over training (one line per member, or
bands). matplotlib is imported inside the functions, so importing optasched
does not import it.

Cells, points and their "best" come from :meth:`SweepResult.best` with
``average_over`` (the axes not drawn), so a title never names another cell
than the picture's best, and the titles say what the cells are.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

__all__ = ["fit_title", "plot_curves", "plot_metric", "short", "unique"]


def unique(values: np.ndarray) -> list:
    """Distinct values in order (sorted when they compare).

    Args:
        values: one value per member.
    """
    values = np.asarray(values)
    try:
        return list(np.unique(values))
    except TypeError:
        return list(dict.fromkeys(values.tolist()))


def short(x: Any) -> str:
    """A value as an axis tick or legend shows it (floats to 3 significant digits).

    Args:
        x: a swept value.
    """
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.3g}"
    return str(x)


def fit_title(ax, lines: list[str], fontsize: float = 9) -> None:
    """Set a title wrapped to the width of the axes' figure, so it is never cut at the edge.

    Args:
        ax: the matplotlib Axes.
        lines: the title's lines (each wrapped on its own).
        fontsize: the title's font size in points.
    """
    # Centred over the axes, not the figure: 80% of the figure's width, at a generous glyph width.
    characters = max(20, int(0.8 * ax.figure.get_figwidth() * 72 / (0.6 * fontsize)))
    wrapped = [textwrap.fill(line, characters) for line in lines if line]
    ax.set_title("\n".join(wrapped), fontsize=fontsize)


def _new_figure(figsize=(6, 4)):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")  # keeps titles, labels and legends inside


def _save(fig, path: str | None) -> None:
    if path is None:
        return
    if fig.get_layout_engine() is None:  # an Axes the caller made without a layout engine
        fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_metric(result, name: str, path: str | None, mode: str, x: str | None, y: str | None):
    """:meth:`SweepResult.plot` (its docstring says what is drawn).

    Args:
        result: the :class:`SweepResult`.
        name: a metric with one number per member.
        path: where to save the figure, if given.
        mode: ``"min"`` or ``"max"``.
        x, y: the swept axes along x and y, or None for the defaults.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    values = result.metric(name).astype(np.float64)
    if values.ndim != 1:
        raise ValueError(
            f"SweepResult.plot: {name} must be one number per member, has shape {values.shape}; "
            "use plot_curves for a metric recorded over training"
        )
    if mode not in ("min", "max"):
        raise ValueError(f"SweepResult.plot: mode must be 'min' or 'max', got {mode!r}")
    for axis in (x, y):
        if axis is not None and axis not in result.values:
            raise ValueError(
                f"SweepResult.plot: {axis!r} is not a swept axis; axes are {list(result.values)}"
            )
    varying = [a for a in result._varying_axes() if a not in (x, y)]
    chosen = [a for a in (x, y) if a is not None]
    chosen += varying[: 2 - len(chosen)] if len(chosen) < 2 and (x is None or y is None) else []
    averaged = [a for a in result.values if a not in chosen]  # what a cell or point averages over
    shown_average = [a for a in averaged if a in result._varying_axes()]
    cells = result.cells(name, averaged) if chosen else []
    fig, ax = _new_figure()
    best_place = None
    if len(chosen) == 2:
        x_axis, y_axis = chosen
        xs, ys = unique(result.values[x_axis]), unique(result.values[y_axis])
        grid = np.full((len(ys), len(xs)), np.nan)
        for cell in cells:
            grid[ys.index(cell.setting[y_axis]), xs.index(cell.setting[x_axis])] = cell.value
        colours = plt.get_cmap("viridis" if mode == "max" else "viridis_r").with_extremes(bad="lightgrey")
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap=colours)  # brightest = best
        ax.set_xticks(range(len(xs)), [short(v) for v in xs], rotation=45)
        ax.set_yticks(range(len(ys)), [short(v) for v in ys])
        ax.set_xlabel(x_axis)
        ax.set_ylabel(y_axis)
        fig.colorbar(image, ax=ax, label=name)

        def best_place(best):  # the best cell's column and row
            return xs.index(best.setting[x_axis]), ys.index(best.setting[y_axis])

        kind = "cell"
    elif len(chosen) == 1:
        axis = chosen[0]
        xs = unique(result.values[axis])
        positions = xs if np.issubdtype(np.asarray(xs).dtype, np.number) else list(range(len(xs)))
        order = [next(c for c in cells if c.setting[axis] == v) for v in xs]
        means = np.array([c.value for c in order])
        if any(len(c.members) > 1 for c in order):  # several members per value (seeds): their spread
            spread = np.array([np.std(values[list(c.members)]) for c in order])
            ax.errorbar(positions, means, yerr=spread, marker="o", capsize=3)
        else:
            ax.plot(positions, means, marker="o")
        if positions is not xs:
            ax.set_xticks(positions, [short(v) for v in xs])
        ax.set_xlabel(axis)
        ax.set_ylabel(name)
        kind = "point"
    else:
        ax.bar(range(len(values)), values)
        ax.set_xlabel("member")
        ax.set_ylabel(name)
        kind = "member"
    what = f"mean over {', '.join(shown_average)} of {name}" if shown_average and chosen else name
    if kind == "point" and any(len(c.members) > 1 for c in cells):
        what += " (bars: standard deviation)"
    lines = [what]
    try:
        best = result.best(name, mode, average_over=averaged) if chosen else result.best(name, mode)
    except ValueError as err:  # every cell NaN
        lines.append(str(err).removeprefix("SweepResult.best: "))
    else:
        where = best.label if kind != "cell" else ", ".join(f"{a}={short(best.setting[a])}" for a in chosen)
        lines.append(f"best {kind} ({mode}): {best.value:.4g} at {where}")
        if best_place is not None:
            i, j = best_place(best)
            ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    if np.isnan([c.value for c in cells]).any() and shown_average:
        lines.append("(grey or missing: a member's value is NaN)")
    fit_title(ax, lines)
    _save(fig, path)
    return fig


def plot_curves(result, name: str, path: str | None, band: str | None, steps: Any, log_scale: bool, ax):
    """:meth:`SweepResult.plot_curves` (its docstring says what is drawn).

    Args:
        result: the :class:`SweepResult`.
        name: a metric recorded over training.
        path: where to save the figure.
        band: a swept axis to summarise as a band, or None.
        steps: the x values, or None for the record index.
        log_scale: a logarithmic value axis.
        ax: a matplotlib Axes to draw into, or None.
    """
    values = result._curve(name)
    xs = np.arange(values.shape[1]) if steps is None else np.asarray(steps)
    if xs.shape != (values.shape[1],):
        raise ValueError(
            f"SweepResult.plot_curves: steps must have {values.shape[1]} entries, got {xs.shape}"
        )
    if band is not None and band not in result.values:
        raise ValueError(
            f"SweepResult.plot_curves: band must name a swept axis ({list(result.values)}), got {band!r}"
        )
    fig, ax = _new_figure() if ax is None else (ax.figure, ax)
    others = [a for a in result._varying_axes() if a != band]
    if band is None:
        for i, curve in enumerate(values):
            label = ", ".join(f"{a}={short(result.values[a][i])}" for a in others) or result.labels[i]
            ax.plot(xs, curve, lw=1.0, label=label)
    else:
        draw_bands(ax, xs, values, [tuple(result.values[a][i] for a in others) for i in range(len(result))],
                   others, band, name)  # fmt: skip
    ax.set_xlabel("step" if steps is not None else "record")
    ax.set_ylabel(name)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(ax.get_lines()) <= 12:
        ax.legend(fontsize=7)
    _save(fig, path)
    return fig


def draw_bands(ax, xs: np.ndarray, values: np.ndarray, keys: list[tuple], axes: list[str], band: str,
               fallback: str) -> None:  # fmt: skip
    """One line per distinct key: the mean of its members' rows, shaded between their minimum and maximum.

    Args:
        ax: the matplotlib Axes.
        xs: the x values.
        values: one row per member.
        keys: each member's values of ``axes`` (members with equal keys share a band).
        axes: the axes that tell bands apart (in the legend).
        band: the axis summarised (named in the legend).
        fallback: the legend's text when ``axes`` is empty.
    """
    for key in dict.fromkeys(keys):
        members = [i for i, k in enumerate(keys) if k == key]
        group = values[members]
        with np.errstate(all="ignore"):
            finite = np.isfinite(group).any(axis=0)
            mean = np.where(finite, np.nanmean(np.where(np.isfinite(group), group, np.nan), axis=0), np.nan)
            low, high = np.nanmin(group, axis=0), np.nanmax(group, axis=0)
        label = ", ".join(f"{a}={short(v)}" for a, v in zip(axes, key)) or fallback
        (line,) = ax.plot(xs, mean, lw=1.3, label=f"{label} (mean, min-max of {len(members)} {band})")
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, lw=0)
