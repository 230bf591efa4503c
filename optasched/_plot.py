"""A quick look at a schedule or a sweep, like fastai's ``plot_sched``.

matplotlib is imported inside :func:`plot`, so ``import optasched`` does not
import it.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .schedules import Schedule, StatefulSchedule
from .sweeps import Batch


def _curves(label: str, schedule: Any, steps: np.ndarray) -> list[tuple[str, np.ndarray]]:
    if isinstance(schedule, StatefulSchedule):
        raise ValueError(
            f"plot: {label} is a {schedule.family} schedule, which follows a monitored value and has no value "
            "at a step alone; plot its base schedule, or log osd.hyperparams(state) while training"
        )
    if not callable(schedule):
        raise ValueError(f"plot: {label} must be a schedule or a function of the step, got {schedule!r}")
    values = np.asarray(schedule(jnp.asarray(steps)))
    if values.shape == steps.shape:
        return [(label, values)]
    rows = values.reshape(-1, steps.size)  # a stacked sweep: one line per member
    return [(f"{label}[{i}]", row) for i, row in enumerate(rows)]


def _batch_curves(batch: Batch, steps: np.ndarray) -> list[tuple[str, int, np.ndarray]]:
    """One curve per schedule and member of a sweep: (the schedule's place, or "" for one, member, values)."""
    is_schedule = lambda x: isinstance(x, Schedule)  # noqa: E731
    found = [
        (jax.tree_util.keystr(path), node)
        for path, node in jax.tree_util.tree_flatten_with_path(batch.config, is_leaf=is_schedule)[0]
        if isinstance(node, Schedule)
    ]
    if not found:
        raise ValueError(f"plot: the sweep's config holds no schedule to plot, got {batch.config!r}")
    curves = []
    for path, schedule in found:
        rows = _curves(f"the sweep's schedule {path}".rstrip(), schedule, steps)
        place = f"{path}: " if len(found) > 1 else ""
        curves += [(place, member, values) for member, (_, values) in enumerate(rows)]
    return curves


def _groups(
    batch: Batch, curves: list[tuple[str, int, np.ndarray]], band: str | None
) -> list[tuple[str, np.ndarray]]:
    """(label, rows) per line: each member alone, or with ``band`` the members that
    share every other varying axis (their mean is drawn, their range shaded)."""
    if band is None:
        return [(place + batch.labels[member], values[None]) for place, member, values in curves]
    if band not in batch.values:
        raise ValueError(f"plot: band must name an axis of the sweep ({list(batch.values)}), got {band!r}")
    others = [a for a, v in batch.values.items() if a != band and len(np.unique(v)) > 1]
    groups: dict[tuple, list[np.ndarray]] = {}
    for place, member, values in curves:
        key = (place, *(f"{a}={_short(batch.values[a][member])}" for a in others))
        groups.setdefault(key, []).append(values)
    labels = [f"{place}{', '.join(setting) or 'every member'}" for place, *setting in groups]
    return [
        (f"{label} (mean, min-max of {len(rows)} {band})", np.stack(rows))
        for label, rows in zip(labels, groups.values())
    ]


def _short(x: Any) -> str:
    return f"{float(x):.3g}" if isinstance(x, (float, np.floating)) else str(x)


def _title(schedule: Any) -> str:
    if isinstance(schedule, Batch):
        axes = [a for a, v in schedule.values.items() if len(np.unique(v)) > 1] or list(schedule.values)
        return f"a sweep of {len(schedule)} members over {' x '.join(axes) or 'no axis'}"
    if isinstance(schedule, Schedule):
        return repr(schedule)
    return getattr(schedule, "__qualname__", repr(schedule))


def _set_title(ax, text: str, fontsize: float = 7, max_lines: int = 3) -> None:
    """A title wrapped to the figure's width (at most ``max_lines``), never cut at its edge."""
    # Centred over the axes, not the figure: 80% of the figure's width, at a generous glyph width.
    characters = max(20, int(0.8 * ax.figure.get_figwidth() * 72 / (0.6 * fontsize)))
    lines = textwrap.wrap(text, characters)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: characters - 3] + "..."
    ax.set_title("\n".join(lines), fontsize=fontsize)


def plot(
    schedule: Schedule | Batch | Callable | Mapping[str, Schedule | Callable],
    steps: int | Any = 1000,
    *,
    ax=None,
    path: str | None = None,
    log_scale: bool = False,
    band: str | None = None,
):
    """Plot a schedule's value over the steps: a quick look before training.

    ``osd.plot(osd.warmup(osd.cosine(0.1, 900), 100), 1000)`` draws one line;
    a sweep from :func:`grid` or :func:`sample` (a ``Batch``) draws one line
    per member, labelled with the sweep's labels (each schedule in its
    config, if it holds several), or with ``band="seed"`` one line per
    setting of the other axes: the mean over that axis, shaded between its
    minimum and maximum; a stacked schedule draws ``schedule[i]`` per member;
    a dict ``{label: schedule}`` draws each, for comparison. Any function of
    the step (an optax schedule) works too. fastai's ``Recorder.plot_sched``,
    before training instead of after. Titles are wrapped to the figure's
    width, and a new figure is laid out (constrained) so the title, labels
    and legend fit.

    Args:
        schedule: a schedule, a sweep (``Batch``), a function of the step, or
            a dict of them.
        steps: the number of steps (drawn from 0 to ``steps - 1``) or the
            steps themselves.
        ax: a matplotlib Axes to draw into (default: a new figure).
        path: if given, save the figure there (PNG, SVG, PDF ...).
        log_scale: a logarithmic value axis.
        band: for a sweep, an axis of it (``"seed"``) to draw as a band.

    Returns:
        The matplotlib Axes.

    Raises:
        ValueError: for a stateful schedule (such as a plateau: it has no
            value without the monitored loss), something that is not a
            function of the step, or a ``band`` that is not an axis of the sweep.

    Example:
        >>> import optasched as osd
        >>> ax = osd.plot(osd.warmup(osd.cosine(0.1, 900), warmup_steps=100), 1000)
        >>> round(float(ax.get_lines()[0].get_ydata().max()), 4)
        0.1
        >>> batch = osd.grid(osd.cosine(0.1, 100), init_value=[0.1, 0.3])
        >>> [line.get_label() for line in osd.plot(batch, 100).get_lines()]
        ['init_value=0.1', 'init_value=0.3']

    Reference: fastai ``Recorder.plot_sched``.
    """
    import matplotlib.pyplot as plt

    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"plot: steps must be >= 1, got {steps}")
        steps = np.arange(int(steps))
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError(f"plot: steps must be a count or a 1-D array of steps, got shape {steps.shape}")
    if band is not None and not isinstance(schedule, Batch):
        raise ValueError(f"plot: band is for a sweep (osd.grid or osd.sample), got {type(schedule).__name__}")
    if isinstance(schedule, Batch):
        groups = _groups(schedule, _batch_curves(schedule, steps), band)
    else:
        named = dict(schedule) if isinstance(schedule, Mapping) else {"schedule": schedule}
        curves = [curve for label, s in named.items() for curve in _curves(label, s, steps)]
        groups = [(label, values[None]) for label, values in curves]
    outside = ax is None and len(groups) > 8  # a long legend goes beside the axes
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5 if outside else 6, 3.5), layout="constrained")
    for label, rows in groups:
        (line,) = ax.plot(steps, rows.mean(axis=0), lw=1.3, label=label)
        if len(rows) > 1:
            low, high = rows.min(axis=0), rows.max(axis=0)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if outside:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=math.ceil(len(groups) / 24))
    elif len(groups) > 1:
        ax.legend(fontsize=7)
    if not isinstance(schedule, Mapping):
        _set_title(ax, _title(schedule))
    if path is not None:
        if ax.figure.get_layout_engine() is None:  # an Axes the caller made without a layout engine
            ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=100)
    return ax
