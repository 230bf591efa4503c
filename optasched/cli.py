"""The ``optasched`` command: ``optasched plot SPEC`` draws any schedule from a config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


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

    from .schedules._config import from_config

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
        prog="optasched", description="Learning-rate schedules as JAX pytrees: draw and inspect schedule configs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

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
