"""The results of a sweep: per-member metrics with one column per swept axis,
the best member, a printed table, JSON and pandas export, and plots (the
metric over the swept values, and metric curves over training)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["Best", "SweepResult"]


class Best(NamedTuple):
    """The best member of a sweep for one metric.

    Attributes:
        index: the member's index in the sweep.
        label: its label.
        value: its value of the metric.
    """

    index: int
    label: str
    value: float


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

    def best(self, name: str, mode: str = "min") -> Best:
        """The best member by a scalar metric; NaN never wins.

        Args:
            name: a metric with one number per member.
            mode: ``"min"`` or ``"max"``.

        Returns:
            The :class:`Best` member.
        """
        if mode not in ("min", "max"):
            raise ValueError(f"SweepResult.best: mode must be 'min' or 'max', got {mode!r}")
        values = self.metric(name).astype(np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"SweepResult.best: {name} must be one number per member, has shape {values.shape}"
            )
        if np.all(np.isnan(values)):
            raise ValueError(f"SweepResult.best: every member's {name} is NaN")
        index = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        return Best(index, self.labels[index], float(values[index]))

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
        return [a for a, v in self.values.items() if len(_unique(v)) > 1]

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
        Cells and points average the members that share their values (over
        seeds, say), ignoring NaN; an axis with one value is not drawn.

        Args:
            name: a metric with one number per member.
            path: where to save the figure, if given.
            mode: ``"min"`` or ``"max"``: which end is best (colour map, title).
            x: the swept axis along x (default: the first that varies).
            y: the swept axis along y (default: the next that varies).

        Returns:
            The matplotlib figure.
        """
        import matplotlib.pyplot as plt

        values = self.metric(name).astype(np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"SweepResult.plot: {name} must be one number per member, has shape {values.shape}; "
                "use plot_curves for a metric recorded over training"
            )
        for axis in (x, y):
            if axis is not None and axis not in self.values:
                raise ValueError(
                    f"SweepResult.plot: {axis!r} is not a swept axis; axes are {list(self.values)}"
                )
        varying = [a for a in self._varying_axes() if a not in (x, y)]
        chosen = [a for a in (x, y) if a is not None]
        chosen += varying[: 2 - len(chosen)] if len(chosen) < 2 and (x is None or y is None) else []
        fig, ax = plt.subplots(figsize=(6, 4))
        if len(chosen) == 2:
            x_axis, y_axis = chosen
            xs, ys = _unique(self.values[x_axis]), _unique(self.values[y_axis])
            grid = np.full((len(ys), len(xs)), np.nan)
            for j, y_value in enumerate(ys):
                for i, x_value in enumerate(xs):
                    cell = values[(self.values[x_axis] == x_value) & (self.values[y_axis] == y_value)]
                    grid[j, i] = _nanmean(cell)
            image = ax.imshow(
                grid, origin="lower", aspect="auto", cmap="viridis" if mode == "max" else "viridis_r"
            )
            ax.set_xticks(range(len(xs)), [_short(v) for v in xs], rotation=45)
            ax.set_yticks(range(len(ys)), [_short(v) for v in ys])
            ax.set_xlabel(x_axis)
            ax.set_ylabel(y_axis)
            fig.colorbar(image, ax=ax, label=name)
        elif len(chosen) == 1:
            axis = chosen[0]
            xs = _unique(self.values[axis])
            groups = [values[self.values[axis] == v] for v in xs]
            means = np.array([_nanmean(g) for g in groups])
            positions = xs if np.issubdtype(np.asarray(xs).dtype, np.number) else np.arange(len(xs))
            if any(len(g) > 1 for g in groups):  # several members per value (seeds): their spread
                spread = np.array([np.nanstd(g) if np.isfinite(g).any() else np.nan for g in groups])
                ax.errorbar(positions, means, yerr=spread, marker="o", capsize=3)
            else:
                ax.plot(positions, means, marker="o")
            if positions is not xs:
                ax.set_xticks(positions, [_short(v) for v in xs])
            ax.set_xlabel(axis)
            ax.set_ylabel(name)
        else:
            ax.bar(range(len(values)), values)
            ax.set_xlabel("member")
            ax.set_ylabel(name)
        best = self.best(name, mode)
        ax.set_title(f"{name}: best {best.value:.4g} at {best.label}", fontsize=9)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig

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
        import matplotlib.pyplot as plt

        values = self._curve(name)
        xs = np.arange(values.shape[1]) if steps is None else np.asarray(steps)
        if xs.shape != (values.shape[1],):
            raise ValueError(
                f"SweepResult.plot_curves: steps must have {values.shape[1]} entries, got {xs.shape}"
            )
        if band is not None and band not in self.values:
            raise ValueError(
                f"SweepResult.plot_curves: band must name a swept axis ({list(self.values)}), got {band!r}"
            )
        fig, ax = plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax)
        others = [a for a in self._varying_axes() if a != band]
        if band is None:
            for i, curve in enumerate(values):
                ax.plot(xs, curve, lw=1.0, label=self._describe(i, others) or self.labels[i])
        else:
            keys = [tuple(self.values[a][i] for a in others) for i in range(len(self))]
            for key in dict.fromkeys(keys):
                members = [i for i, k in enumerate(keys) if k == key]
                group = values[members]
                with np.errstate(all="ignore"):
                    finite = np.isfinite(group).any(axis=0)
                    mean = np.where(
                        finite, np.nanmean(np.where(np.isfinite(group), group, np.nan), axis=0), np.nan
                    )
                    low, high = np.nanmin(group, axis=0), np.nanmax(group, axis=0)
                label = ", ".join(f"{a}={_short(v)}" for a, v in zip(others, key)) or name
                (line,) = ax.plot(xs, mean, lw=1.3, label=f"{label} (mean, min-max of {len(members)} {band})")
                ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, lw=0)
        ax.set_xlabel("step" if steps is not None else "record")
        ax.set_ylabel(name)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) <= 12:
            ax.legend(fontsize=7)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig

    def _describe(self, index: int, axes: list[str]) -> str:
        return ", ".join(f"{a}={_short(self.values[a][index])}" for a in axes)


def _unique(values: np.ndarray) -> list:
    """Distinct values in order (sorted when they compare)."""
    values = np.asarray(values)
    try:
        return list(np.unique(values))
    except TypeError:
        return list(dict.fromkeys(values.tolist()))


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _short(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.3g}"
    return str(x)


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
