"""The study's plots, from its analysed results (no jax): sparsity curves and the crossed matrices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from experiments.common import plotting

from .analysis import ANCHOR

__all__ = ["plot", "sparsity_curves", "crossed_matrix"]


def sparsity_curves(results: Mapping[str, Any], path: Path) -> None:
    """Test accuracy along the pruning rounds of every chain, the notebook's trials beside them."""
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, curve in results["curves"].items():
        x = 100 * np.asarray(curve["sparsity"])
        mean = [c["mean"] for c in curve["test_acc"]]
        (line,) = ax.plot(x, mean, marker="o", ms=2.5, lw=1.1, label=label)
        low, high = [c["low"] for c in curve["test_acc"]], [c["high"] for c in curve["test_acc"]]
        if np.all(np.isfinite(np.asarray(low, dtype=float))):
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
    rows = [r for r in results["anchor"]["rows"] if r["rewind_step"] == 0]
    ax.plot([100 * r["round_sparsity"] for r in rows], [r["random"]["mean"] for r in rows], "kx",
            label=f"random, {results['anchor']['schedule']}")  # fmt: skip
    for s, published in ANCHOR.items():
        ax.plot([100 * s] * 2, published["ticket"], "b_", ms=10)
        if published["random"]:
            ax.plot([100 * s] * 2, published["random"], "r_", ms=10)
    ax.plot([], [], "b_", label="notebook ticket")
    ax.plot([], [], "r_", label="notebook random")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("last-step test accuracy (%)")
    ax.legend(fontsize=6, ncol=2)
    plotting.save(fig, path)


def crossed_matrix(results: Mapping[str, Any], path: Path) -> None:
    """The first crossed matrix (ticket, reinit) and the declared D with its interval, per question."""
    plt = plotting.pyplot()
    names = results["schedules"]
    cell = next(iter(results["crossed"].values()))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, arm in zip(axes[:2], ("ticket", "reinit")):
        values = np.array([[c["mean"] for c in row] for row in cell[arm]])
        image = ax.imshow(values, origin="lower", cmap="viridis")
        for a in range(len(names)):
            for b in range(len(names)):
                ax.text(b, a, f"{values[a, b]:.1f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=20)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlabel("retrained under B")
        ax.set_ylabel("found under A")
        fig.colorbar(image, ax=ax, label="test acc (%)")
        ax.set_title(f"{arm} at {cell['sparsity']:.0%}, {cell['draw']} draw", fontsize=9)
    declared = [r for r in results["declared"].values() if r["name"].startswith("tied_to_schedule")]
    y = np.arange(len(declared))
    mean = np.array([r["mean"] for r in declared])
    err = np.array([[r["mean"] - r["low"], r["high"] - r["mean"]] for r in declared]).T
    axes[2].errorbar(mean, y, xerr=err, fmt="o", ms=3)
    axes[2].axvline(0, color="k", lw=0.5)
    axes[2].set_yticks(y, [r["name"].removeprefix("tied_to_schedule_").replace("_", "%, ") for r in declared],
                       fontsize=7)  # fmt: skip
    axes[2].set_xlabel("D = H(ticket) - H(reinit) (points)")
    axes[2].set_title("declared: D = H(ticket) - H(reinit)", fontsize=9)
    plotting.save(fig, path)


def plot(results: Mapping[str, Any], path: Callable[[str], Path]) -> None:
    """Every plot of a run; ``path(filename)`` says where."""
    sparsity_curves(results, path("sparsity_curves.png"))
    if "crossed" in results:
        crossed_matrix(results, path("crossed_matrix.png"))
