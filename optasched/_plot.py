"""A quick look at a schedule, like fastai's ``plot_sched``.

matplotlib is imported inside :func:`plot`, so ``import optasched`` does not
import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from .schedules import Schedule, StatefulSchedule


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


def _title(schedule: Any) -> str:
    text = (
        repr(schedule)
        if isinstance(schedule, Schedule)
        else getattr(schedule, "__qualname__", repr(schedule))
    )
    return text if len(text) <= 100 else text[:97] + "..."


def plot(
    schedule: Schedule | Callable | Mapping[str, Schedule | Callable],
    steps: int | Any = 1000,
    *,
    ax=None,
    path: str | None = None,
    log_scale: bool = False,
):
    """Plot a schedule's value over the steps: a quick look before training.

    ``osd.plot(osd.warmup(osd.cosine(0.1, 900), 100), 1000)`` draws one line;
    a stacked sweep draws one line per member; a dict ``{label: schedule}``
    draws each, for comparison. Any function of the step (an optax schedule)
    works too. fastai's ``Recorder.plot_sched``, before training instead of
    after.

    Args:
        schedule: a schedule, a sweep, a function of the step, or a dict of them.
        steps: the number of steps (drawn from 0 to ``steps - 1``) or the
            steps themselves.
        ax: a matplotlib Axes to draw into (default: a new figure).
        path: if given, save the figure there (PNG, SVG, PDF ...).
        log_scale: a logarithmic value axis.

    Returns:
        The matplotlib Axes.

    Raises:
        ValueError: for a stateful schedule (such as a plateau: it has no
            value without the monitored loss) or something that is not a
            function of the step.

    Example:
        >>> import optasched as osd
        >>> ax = osd.plot(osd.warmup(osd.cosine(0.1, 900), warmup_steps=100), 1000)
        >>> round(float(ax.get_lines()[0].get_ydata().max()), 4)
        0.1

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
    named = dict(schedule) if isinstance(schedule, Mapping) else {"schedule": schedule}
    curves = [curve for label, s in named.items() for curve in _curves(label, s, steps)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves:
        ax.plot(steps, values, lw=1.3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=7)
    if not isinstance(schedule, Mapping):
        ax.set_title(_title(schedule), fontsize=7)
    if path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=100)
    return ax
