"""The results of a sweep: per-member metrics with one column per swept axis,
the best member, a printed table, JSON and pandas export, and plots (the
metric over the swept values, and metric curves over training)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

from ._result_plots import plot_curves, plot_metric, unique
from ._stack import _label as member_label  # the sweep labels' own formatting, so labels agree

__all__ = ["Best", "Cell", "SweepResult"]


class Best(NamedTuple):
    """The best member of a sweep for one metric, or with ``average_over`` the
    best setting of the other axes (a cell of the heatmap).

    Attributes:
        index: the member's index in the sweep (of a setting: its first member).
        label: its label (of a setting: its values of the axes not averaged).
        value: its value of the metric (of a setting: the mean over its members).
        members: the members averaged (just ``index`` without ``average_over``).
        setting: the values of the axes not averaged, by axis; None without
            ``average_over``.
    """

    index: int
    label: str
    value: float
    members: tuple[int, ...] = ()
    setting: dict[str, Any] | None = None


class Cell(NamedTuple):
    """The members that share their values of some swept axes, and their mean.

    Attributes:
        setting: the shared values, by axis.
        members: the members' indices, in order.
        value: the metric's mean over the members; NaN if any member's is
            NaN (a diverged seed sinks its setting: it is never the best).
        label: the setting as the sweep's labels write it.
    """

    setting: dict[str, Any]
    members: tuple[int, ...]
    value: float
    label: str


def _flatten_metrics(metrics: Any) -> dict[str, np.ndarray]:
    """Metric name (a key path such as ``loss`` or ``eval/accuracy``) -> array."""
    flat = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(metrics):
        name = "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)
        flat[name or "value"] = np.asarray(leaf)
    return flat


@dataclass
class SweepResult:
    """Per-member results of :func:`optasched.sweep`.

    Attributes:
        metrics: the pytree ``train`` returned, each leaf with a leading
            member axis (NumPy).
        labels: one label per member.
        values: swept argument -> value per member (from grid/sample).
        strategy, chunk_size, num_devices: how the sweep ran.
        compile_seconds, run_seconds: wall time of compilation and execution.
        memory_bytes: XLA's estimate for one chunk's program, if reported.
    """

    metrics: Any
    labels: list[str]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    strategy: str = "vmap"
    chunk_size: int = 0
    num_devices: int = 1
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    memory_bytes: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def scalars(self) -> dict[str, np.ndarray]:
        """Every metric that is one number per member, by name."""
        return {k: v for k, v in _flatten_metrics(self.metrics).items() if v.ndim == 1}

    def metric(self, name: str) -> np.ndarray:
        """One metric for every member.

        Args:
            name: the metric's key path, such as ``"loss"`` or ``"eval/accuracy"``.

        Returns:
            Its values, leading axis = members.

        Raises:
            ValueError: if there is no such metric, naming those there are.
        """
        flat = _flatten_metrics(self.metrics)
        if name not in flat:
            raise ValueError(f"SweepResult: no metric {name!r}; has {sorted(flat)}")
        return flat[name]

    def diverged(self) -> np.ndarray:
        """Boolean per member: True where a ``diverged_at`` metric is >= 0 (see train_loop)."""
        flat = _flatten_metrics(self.metrics)
        hits = [v for k, v in flat.items() if k.split("/")[-1] == "diverged_at"]
        return (hits[0] >= 0) if hits else np.zeros(len(self), dtype=bool)

    def best(self, name: str, mode: str = "min", average_over: str | Sequence[str] | None = None) -> Best:
        """The best member by a scalar metric or, with ``average_over``, the best
        setting of the other swept axes by the metric's mean over those axes
        (over seeds, say). NaN never wins, and a setting with a NaN member has
        a NaN mean. :meth:`plot` draws these same means and names this best.

        Args:
            name: a metric with one number per member.
            mode: ``"min"`` or ``"max"``.
            average_over: a swept axis (``"seed"``) or several to average
                over, or None to pick one member.

        Returns:
            The :class:`Best` member, or setting (its ``members`` and
            ``setting`` say which).

        Raises:
            ValueError: for an unknown metric or axis, a bad ``mode``, or when
                every candidate is NaN.

        Example:
            >>> import optasched as osd
            >>> batch = osd.grid(lambda lr, seed: {"lr": lr, "seed": seed}, lr=[0.1, 0.2], seed=[0, 1])
            >>> def train(config, key):  # lr=0.1 is lucky with seed 1 only
            ...     lucky = (config["seed"] == 1) & (config["lr"] < 0.15)
            ...     return {"acc": 2 * config["lr"] + 0.3 * lucky}
            >>> result = osd.sweep(train, batch)
            >>> result.best("acc", "max").label        # one lucky member
            'lr=0.1, seed=1'
            >>> best = result.best("acc", "max", average_over="seed")
            >>> best.label, round(best.value, 4), best.members
            ('lr=0.2', 0.4, (2, 3))
        """
        if mode not in ("min", "max"):
            raise ValueError(f"SweepResult.best: mode must be 'min' or 'max', got {mode!r}")
        values = self._scalar(name, "best")
        if average_over is None:
            if np.all(np.isnan(values)):
                raise ValueError(f"SweepResult.best: every member's {name} is NaN")
            index = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
            return Best(index, self.labels[index], float(values[index]), (index,))
        axes = self._axes(average_over, "best")
        cells = self.cells(name, axes)
        means = np.array([cell.value for cell in cells])
        if np.all(np.isnan(means)):
            raise ValueError(
                f"SweepResult.best: every setting's mean of {name} over {', '.join(axes)} is NaN "
                "(a setting with a NaN member has a NaN mean)"
            )
        cell = cells[int(np.nanargmin(means) if mode == "min" else np.nanargmax(means))]
        return Best(cell.members[0], cell.label, cell.value, cell.members, cell.setting)

    def cells(self, name: str, average_over: str | Sequence[str]) -> list[Cell]:
        """The metric's mean over some swept axes, for each setting of the others:
        the cells of :meth:`plot`'s heatmap, the candidates of :meth:`best`.

        Args:
            name: a metric with one number per member.
            average_over: a swept axis or several.

        Returns:
            One :class:`Cell` per distinct setting of the other axes, in the
            order of their first members.
        """
        values = self._scalar(name, "cells")
        averaged = self._axes(average_over, "cells")
        kept = [a for a in self.values if a not in averaged]
        groups: dict[tuple, list[int]] = {}
        for i in range(len(self)):
            groups.setdefault(tuple(_hashable(self.values[a][i]) for a in kept), []).append(i)
        cells = []
        for key, members in groups.items():
            setting = dict(zip(kept, (self.values[a][members[0]] for a in kept)))
            label = ", ".join(member_label(a, v) for a, v in setting.items()) or "every member"
            # np.mean, not nanmean: a member that diverged (NaN) makes its setting NaN, never the best.
            cells.append(Cell(setting, tuple(members), float(np.mean(values[members])), label))
        return cells

    def _scalar(self, name: str, caller: str) -> np.ndarray:
        values = self.metric(name).astype(np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"SweepResult.{caller}: {name} must be one number per member, has shape {values.shape}"
            )
        return values

    def _axes(self, axes: str | Sequence[str], caller: str) -> list[str]:
        names = [axes] if isinstance(axes, str) else list(axes)
        for axis in names:
            if axis not in self.values:
                raise ValueError(
                    f"SweepResult.{caller}: average_over must name swept axes ({list(self.values)}), "
                    f"got {axis!r}"
                )
        return names

    def columns(self) -> dict[str, np.ndarray]:
        """One column per swept axis, then one per scalar metric: name -> one value per member.

        Without swept values (a sweep over a hand-stacked pytree), the
        members' labels are the first column, ``"member"``.
        """
        axes = {name: np.asarray(v) for name, v in self.values.items()}
        if not axes:
            axes = {"member": np.asarray(self.labels, dtype=object)}
        scalars = {k: v for k, v in self.scalars().items() if k not in axes}
        return {**axes, **scalars}

    def table(self, sort_by: str | None = None, mode: str = "min", max_rows: int | None = None) -> str:
        """A plain-text table, one row per member: its index, one column per
        swept axis and one per scalar metric.

        Args:
            sort_by: a scalar metric to sort the rows by (NaN last), or None
                for member order.
            mode: ``"min"`` (best first when sorting) or ``"max"``.
            max_rows: keep only this many rows, or None for all.

        Returns:
            The table as text.
        """
        columns = self.columns()
        order = np.arange(len(self))
        if sort_by is not None:
            values = self.metric(sort_by).astype(np.float64)
            values = np.where(np.isnan(values), np.inf if mode == "min" else -np.inf, values)
            order = np.argsort(values if mode == "min" else -values, kind="stable")
        if max_rows is not None:
            order = order[:max_rows]
        names = [n for n in columns if n != "member"]
        header = ["member"] + names
        rows = [
            [self.labels[i] if "member" in columns else str(i)] + [_format(columns[k][i]) for k in names]
            for i in order
        ]
        widths = [max(len(str(r[j])) for r in [header] + rows) for j in range(len(header))]
        line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))
        return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: labels, swept values, every metric as lists, run info."""
        return {
            "labels": list(self.labels),
            "values": {k: np.asarray(v).tolist() for k, v in self.values.items()},
            "metrics": {k: _json_safe(v) for k, v in _flatten_metrics(self.metrics).items()},
            "strategy": self.strategy,
            "chunk_size": self.chunk_size,
            "num_devices": self.num_devices,
            "compile_seconds": self.compile_seconds,
            "run_seconds": self.run_seconds,
            "memory_bytes": self.memory_bytes,
        }

    def to_pandas(self, curve: str | None = None):
        """The results as a pandas DataFrame (pandas must be installed).

        Without ``curve``: one row per member, one column per swept axis and
        one per scalar metric (:meth:`columns`), plus ``label``. With
        ``curve``, the name of a metric recorded over training (shape
        ``(members, records)``, as :func:`optasched.train_loop`'s history):
        long format, one row per member and record, with the swept axes,
        ``record`` and the metric's value, ready for ``seaborn.lineplot``.

        Args:
            curve: the name of a metric recorded over training, or None for
                one row per member.

        Returns:
            A ``pandas.DataFrame``.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("SweepResult.to_pandas needs pandas: pip install pandas") from err
        columns = self.columns()
        if curve is None:
            frame = pd.DataFrame(columns)
            frame.insert(len(self.values), "label", list(self.labels))
            return frame
        values = self._curve(curve)
        records = values.shape[1]
        data = {name: np.repeat(column, records) for name, column in columns.items() if name in self.values}
        data["member"] = np.repeat(np.arange(len(self)), records)
        data["record"] = np.tile(np.arange(records), len(self))
        data[curve] = values.reshape(-1)
        return pd.DataFrame(data)

    def to_json(self, path: str | None = None) -> str:
        """The :meth:`to_dict` as JSON text (NaN written as null).

        Args:
            path: also write the text to this file, if given.

        Returns:
            The JSON text.
        """
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def _varying_axes(self) -> list[str]:
        """The swept axes with more than one value (a one-value axis is a constant, not an axis)."""
        return [a for a, v in self.values.items() if len(unique(v)) > 1]

    def plot(
        self,
        name: str,
        path: str | None = None,
        mode: str = "min",
        x: str | None = None,
        y: str | None = None,
    ):
        """Plot a scalar metric over the sweep and return the matplotlib figure
        (also saved to ``path`` if given).

        A heatmap over two swept axes (``x`` and ``y``, by default the first
        two with more than one value), a line over one, else a bar per member.
        A cell (or point) is the mean over the members that share its values,
        that is over every axis not drawn (the seeds, say): exactly
        :meth:`best` with ``average_over`` those axes, so a cell with a NaN
        member is NaN (grey). The title says what the cells are ("mean over
        seed of accuracy") and names the best cell, which is also outlined in
        red: the brightest cell. An axis with one value is not drawn.

        Args:
            name: a metric with one number per member.
            path: where to save the figure, if given.
            mode: ``"min"`` or ``"max"``: which end is best (colour map, title).
            x: the swept axis along x (default: the first that varies).
            y: the swept axis along y (default: the next that varies).

        Returns:
            The matplotlib figure.
        """
        return plot_metric(self, name, path, mode, x, y)

    def _curve(self, name: str) -> np.ndarray:
        values = self.metric(name).astype(np.float64)
        if values.ndim != 2:
            raise ValueError(
                f"SweepResult: {name} must be recorded over training, shape (members, records); has shape "
                f"{values.shape} (record it every step, e.g. as optasched.train_loop's history)"
            )
        return values

    def plot_curves(
        self,
        name: str,
        path: str | None = None,
        *,
        band: str | None = None,
        steps: Any = None,
        log_scale: bool = False,
        ax=None,
    ):
        """Plot a metric recorded over training (shape ``(members, records)``),
        and return the matplotlib figure (also saved to ``path`` if given).

        One line per member, labelled by its swept values; or, with ``band``
        naming a swept axis (``"seed"``), one line per setting of the other
        axes: the mean over that axis, shaded between its minimum and maximum.
        A diverged member (NaN from its divergence on) ends where it diverged.

        Args:
            name: the metric (a key path such as ``"loss"`` or ``"train/loss"``).
            path: where to save the figure.
            band: a swept axis to summarise as a band.
            steps: the x values (default: the record index 0, 1, ...); for a
                history recorded every k steps, ``steps=k * (1 + np.arange(n))``.
            log_scale: a logarithmic value axis.
            ax: a matplotlib Axes to draw into.
        """
        return plot_curves(self, name, path, band, steps, log_scale, ax)


def _hashable(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def _format(x: Any) -> str:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return f"{float(x):.4g}"
    return str(x.item())


def _json_safe(x: np.ndarray) -> Any:
    if np.issubdtype(x.dtype, np.floating):
        return (
            [None if not np.isfinite(v) else float(v) for v in x.reshape(-1)]
            if x.ndim <= 1
            else [_json_safe(row) for row in x]
        )
    return x.tolist()
