"""The ``optasched`` command: ``optasched zoo`` (which schedule should I use?,
measured on MNIST-1D) and ``optasched plot SPEC`` (draw any schedule)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np


def _parse_list(text: str, cast=str) -> tuple:
    return tuple(cast(part) for part in text.split(",") if part)


def _zoo(args: argparse.Namespace) -> int:
    from ._zoo import FAMILIES, QUICK, ZooConfig, format_leaderboard, run_zoo

    cfg = QUICK if args.quick else ZooConfig()
    changes = {"seed": args.seed}
    if args.models:
        changes["models"] = _parse_list(args.models)
    if args.families:
        changes["families"] = _parse_list(args.families)
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.learning_rates:
        changes["learning_rates"] = _parse_list(args.learning_rates, float)
    if args.eval_every is not None:
        changes["eval_every"] = args.eval_every
    cfg = dataclasses.replace(cfg, **changes)
    for name in ("steps", "seeds", "eval_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    unknown = set(cfg.families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"--families: unknown {sorted(unknown)}; choose from {', '.join(FAMILIES)}")
    report = run_zoo(cfg, args.out, progress=not args.no_progress)
    print(format_leaderboard(report))
    print(f"\nwrote {Path(args.out) / 'results.json'}, lr_curves.png, test_accuracy.png")
    return 0


def _load_spec(spec: str) -> dict:
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:
            raise ValueError("YAML specs need PyYAML: pip install pyyaml (or write the spec as JSON)") from err
        return yaml.safe_load(path.read_text())
    text = path.read_text() if path.exists() else spec
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"SPEC must be a JSON/YAML file or inline JSON; {spec!r} is neither ({err})") from None


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._config import from_config

    schedule = from_config(_load_spec(args.spec))
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    steps = np.arange(args.steps)
    values = np.asarray(schedule(steps))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    curves = values.reshape(-1, args.steps)
    for curve in curves:
        ax.plot(steps, curve, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.set_title(repr(schedule)[:90], fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    shown = sorted({0, args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps - 1})
    for step in shown:
        print(f"step {step:>8d}: {np.array2string(curves[:, step], precision=6)}")
    print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optasched", description="Learning-rate schedules as JAX pytrees: the schedule zoo and plotting."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    zoo = commands.add_parser(
        "zoo",
        help="train MNIST-1D models under every schedule family and print a leaderboard",
        description="Train the MNIST-1D MLP and CNN under every schedule family at one step budget; the peak "
        "LR of each family is picked on a validation split; report mean and 95%% intervals over seeds.",
    )
    zoo.add_argument("--quick", action="store_true", help="MLP only, 1500 steps, 3 LRs (about 2 minutes on 2 cores)")
    zoo.add_argument("--models", help="comma-separated models (mlp,cnn)")
    zoo.add_argument("--families", help="comma-separated families (default: all)")
    zoo.add_argument("--steps", type=int, help="training steps per run")
    zoo.add_argument("--seeds", type=int, help="seeds per family and LR")
    zoo.add_argument("--learning-rates", help="comma-separated peak-LR grid")
    zoo.add_argument("--eval-every", type=int, help="steps between evaluations")
    zoo.add_argument("--seed", type=int, default=0, help="master seed (results are deterministic for it)")
    zoo.add_argument("--out", default="zoo_results", help="output folder (default: zoo_results)")
    zoo.add_argument("--no-progress", action="store_true", help="no progress output")
    zoo.set_defaults(run=_zoo)

    plot = commands.add_parser(
        "plot",
        help="draw a schedule from a JSON/YAML spec to a PNG",
        description='Draw a schedule spec (osd.to_config format), e.g. '
        '\'{"family": "cosine", "init_value": 0.1, "decay_steps": 1000, "end_value": 0, "exponent": 1}\'.',
    )
    plot.add_argument("spec", help="a .json/.yaml file or inline JSON")
    plot.add_argument("--steps", type=int, default=1000, help="steps to draw (default 1000)")
    plot.add_argument("--out", default="schedule.png", help="PNG path (default schedule.png)")
    plot.set_defaults(run=_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, ImportError, FileNotFoundError) as err:
        print(f"optasched {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
