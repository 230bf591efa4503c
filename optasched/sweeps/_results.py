"""The results of a sweep: per-member metrics with labels, the best member, a
printed table, JSON export and plots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np


class Best(NamedTuple):
    """The best member of a sweep for one metric."""

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
        """One metric (a key path such as ``"loss"`` or ``"eval/accuracy"``) for every member."""
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
        """The best member by a scalar metric (``mode`` "min" or "max"); NaN never wins."""
        if mode not in ("min", "max"):
            raise ValueError(f"SweepResult.best: mode must be 'min' or 'max', got {mode!r}")
        values = self.metric(name).astype(np.float64)
        if values.ndim != 1:
            raise ValueError(f"SweepResult.best: {name} must be one number per member, has shape {values.shape}")
        if np.all(np.isnan(values)):
            raise ValueError(f"SweepResult.best: every member's {name} is NaN")
        index = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        return Best(index, self.labels[index], float(values[index]))

    def table(self, sort_by: str | None = None, mode: str = "min", max_rows: int | None = None) -> str:
        """A plain-text table of every scalar metric per member, optionally sorted."""
        scalars = self.scalars()
        order = np.arange(len(self))
        if sort_by is not None:
            values = self.metric(sort_by).astype(np.float64)
            values = np.where(np.isnan(values), np.inf if mode == "min" else -np.inf, values)
            order = np.argsort(values if mode == "min" else -values, kind="stable")
        if max_rows is not None:
            order = order[:max_rows]
        header = ["member"] + list(scalars)
        rows = [[self.labels[i]] + [_format(scalars[k][i]) for k in scalars] for i in order]
        widths = [max(len(str(r[j])) for r in [header] + rows) for j in range(len(header))]
        line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
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

    def to_json(self, path: str | None = None) -> str:
        """The :meth:`to_dict` as JSON text (NaN written as null); also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def plot(self, name: str, path: str | None = None, mode: str = "min"):
        """Plot a scalar metric over the sweep: a heatmap for a two-axis grid,
        a line over the swept values for one axis, else a bar per member.
        Returns the matplotlib figure (also saved to ``path`` if given)."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        values = self.metric(name).astype(np.float64)
        axes = list(self.values)
        fig, ax = plt.subplots(figsize=(6, 4))
        if len(axes) == 2:
            xs, ys = (np.unique(self.values[a]) for a in axes)
            grid = np.full((len(ys), len(xs)), np.nan)
            for v, x, y in zip(values, self.values[axes[0]], self.values[axes[1]]):
                grid[np.searchsorted(ys, y), np.searchsorted(xs, x)] = v
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis" if mode == "max" else "viridis_r")
            ax.set_xticks(range(len(xs)), [f"{x:.3g}" for x in xs], rotation=45)
            ax.set_yticks(range(len(ys)), [f"{y:.3g}" for y in ys])
            ax.set_xlabel(axes[0])
            ax.set_ylabel(axes[1])
            fig.colorbar(image, ax=ax, label=name)
        elif len(axes) == 1:
            order = np.argsort(self.values[axes[0]])
            ax.plot(self.values[axes[0]][order], values[order], marker="o")
            ax.set_xlabel(axes[0])
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


def _format(x: Any) -> str:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return f"{float(x):.4g}"
    return str(x.item())


def _json_safe(x: np.ndarray) -> Any:
    if np.issubdtype(x.dtype, np.floating):
        return [None if not np.isfinite(v) else float(v) for v in x.reshape(-1)] if x.ndim <= 1 else [
            _json_safe(row) for row in x
        ]
    return x.tolist()
