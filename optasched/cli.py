"""The ``optasched`` command: ``optasched plot SPEC`` draws any schedule from a
config, ``optasched list`` shows every family with its arguments,
``optasched --version`` the versions."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np


def _load_spec(spec: str) -> dict:
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:
            raise ValueError(
                "YAML specs need PyYAML: pip install pyyaml (or write the spec as JSON)"
            ) from err
        try:
            return yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ValueError(f"SPEC {spec!r} is not valid YAML ({err})") from None
    text = path.read_text() if path.exists() else spec
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"SPEC must be a JSON/YAML file or inline JSON; {spec!r} is neither ({err})"
        ) from None


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from ._plot import plot
    from .schedules import from_config

    spec = _load_spec(args.spec)
    if isinstance(spec, dict) and "family" not in spec and "name" in spec:
        from . import get_schedule  # a Hugging Face / PyTorch / timm name with its own arguments

        schedule = get_schedule(**spec)
    else:
        schedule = from_config(spec)
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    steps = np.arange(args.steps)
    plot(schedule, steps, path=args.out)
    curves = np.asarray(schedule(steps)).reshape(-1, args.steps)
    shown = sorted({0, args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps - 1})
    for step in shown:
        print(f"step {step:>8d}: {np.array2string(curves[:, step], precision=6)}")
    print(f"wrote {args.out}")
    return 0


def families() -> dict[str, object]:
    """Public name -> constructor of every schedule family, combinator and
    stateful hyperparameter in the ``optasched`` namespace (read from it, so
    the list follows the library)."""
    import optasched

    from .schedules import Schedule

    found = {}
    for name in dir(optasched):
        obj = getattr(optasched, name)
        if name.startswith("_") or obj is Schedule or obj is optasched.StatefulSchedule:
            continue
        if isinstance(obj, type) and issubclass(obj, Schedule):
            found[name] = obj
    return dict(sorted(found.items()))


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _list(args: argparse.Namespace) -> int:
    if args.names:
        from .schedules import NAMES

        width = max(map(len, NAMES))
        for name, entry in NAMES.items():
            takes = ", ".join([*entry.uses, *entry.arguments])
            print(f"{name:<{width}}  {entry.library}: {entry.reference}({takes})")
        return 0
    for name, constructor in families().items():
        print(f"{name}{inspect.signature(constructor)}")
        if not args.brief:
            print(
                textwrap.fill(
                    _summary(constructor), width=100, initial_indent="    ", subsequent_indent="    "
                )
            )
    return 0


def _versions() -> str:
    import jax
    import optax

    from . import __version__

    return f"optasched {__version__} (jax {jax.__version__}, optax {optax.__version__}, Python {sys.version.split()[0]})"


class _Version(argparse.Action):
    """``--version``: imports the library only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_versions())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optasched",
        description="Learning-rate schedules as JAX pytrees: draw and inspect schedule configs.",
    )
    parser.add_argument("--version", action=_Version, help="print the versions of optasched, jax and optax")
    commands = parser.add_subparsers(dest="command", required=True)

    plot = commands.add_parser(
        "plot",
        help="draw a schedule from a JSON/YAML spec to a PNG",
        description="Draw a schedule spec (osd.to_config format), e.g. "
        '\'{"family": "cosine", "init_value": 0.1, "decay_steps": 1000, "end_value": 0, "exponent": 1}\', '
        "or a name osd.get_schedule knows with its arguments, e.g. "
        '\'{"name": "cosine", "peak_value": 0.1, "num_warmup_steps": 100, "num_training_steps": 1000}\'.',
    )
    plot.add_argument("spec", help="a .json/.yaml file or inline JSON")
    plot.add_argument("--steps", type=int, default=1000, help="steps to draw (default 1000)")
    plot.add_argument("--out", default="schedule.png", help="PNG path (default schedule.png)")
    plot.set_defaults(run=_plot)

    listing = commands.add_parser(
        "list",
        help="list every schedule family with its arguments",
        description="Every schedule family, combinator and stateful hyperparameter with its arguments "
        "(the constructors' signatures), or with --names the Hugging Face / PyTorch / timm names "
        "osd.get_schedule knows.",
    )
    listing.add_argument(
        "--brief", action="store_true", help="signatures only, without the one-line summaries"
    )
    listing.add_argument("--names", action="store_true", help="the names osd.get_schedule knows")
    listing.set_defaults(run=_list)
    return parser


def _reader_gone() -> int:
    """stdout's reader has gone (``optasched list | head -1``): stop quietly, as
    Unix tools do. stdout points at /dev/null from here on, so that Python's
    final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # a stdout without a file descriptor
        pass
    return 141  # 128 + SIGPIPE: what a shell reports for a tool stopped by a closed pipe


def main(argv: list[str] | None = None) -> int:
    """Run the command; a bad spec or argument prints one line to stderr and returns 2."""
    try:
        args = build_parser().parse_args(argv)
        try:
            status = args.run(args)
        except BrokenPipeError:
            raise
        except (ValueError, TypeError, ImportError, OSError) as err:
            message = " ".join(line.strip() for line in str(err).splitlines())
            print(f"optasched {args.command}: error: {message}", file=sys.stderr)
            return 2
        sys.stdout.flush()  # a closed pipe shows here, not in Python's final flush
        return status
    except BrokenPipeError:
        return _reader_gone()


if __name__ == "__main__":
    sys.exit(main())
