"""The one runner of every study: ``python -m experiments.<name> --config C --out DIR``.

It loads ``experiments/<name>/configs/<C>.py`` (``get_config()`` returns a frozen
dataclass, one commented field per line), applies ``--set field=value``
overrides, turns on JAX's persistent compilation cache (so a rerun skips
compilation), runs the study and writes ``DIR/results.json``: the config, the
machine and package versions, ``seconds``, ``compile_seconds`` (tracing,
lowering and XLA compilation, measured by JAX's own monitoring events),
``run_seconds`` (the rest), and every number the study reports. A config with an
``analyses`` field (``experiments.common.analysis.Question`` tuples, declared
before the run) has them written under ``analysis_plan``.

Provenance: ``results.json`` also records the exact command line, the git commit
of the checkout the code ran from, whether its tree was dirty (and a SHA-256 of
``git diff HEAD`` plus the untracked files' names when it was), and the machine
(CPU model, accelerator name). A run from a dirty tree says so in the file and in
what it prints, so no README number can silently come from uncommitted code.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import importlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data import cache_dir

CONFIGS = ("smoke", "quick", "default", "gpu")

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]
_listening = [False]


def _listen_to_compiles() -> None:
    import jax

    if _listening[0]:
        return

    def listener(event: str, duration: float, **_: Any) -> None:
        if event in _COMPILE_EVENTS:
            _compile_seconds[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    _listening[0] = True


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache (every program, however quick to compile)."""
    import jax

    path = Path(directory) if directory is not None else cache_dir() / "jax"
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine and package versions, for results.json."""
    import flax
    import jax
    import optax

    import optasched

    accelerator = jax.devices()[0].device_kind if jax.default_backend() != "cpu" else None
    return {
        "cpu": cpu_model(),
        "accelerator": accelerator,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
            "optax": optax.__version__,
            "flax": flax.__version__,
            "numpy": np.__version__,
            "optasched": optasched.__version__,
        },
    }


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def provenance(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The code a run came from: git commit, dirty flag (with a hash of the diff), command line.

    ``commit`` is None outside a git checkout (an installed copy); ``dirty`` is then None too,
    which a README check treats as unreproducible, like a dirty tree.
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=all")
    dirty = None if status is None else bool(status.strip())
    diff_sha256 = None
    if dirty:
        diff = (_git("diff", "HEAD") or "") + "\n".join(sorted(line for line in status.splitlines() if line.startswith("??")))
        diff_sha256 = hashlib.sha256(diff.encode()).hexdigest()
    words = list(sys.argv if argv is None else argv)
    if words and words[0].endswith("__main__.py"):
        # `python -m experiments.<name>` shows up as the package's __main__.py path
        module = Path(words[0]).resolve().parent
        root = Path(__file__).resolve().parents[2]
        try:
            words = ["python", "-m", ".".join(module.relative_to(root).parts), *words[1:]]
        except ValueError:
            pass
    return {
        "commit": commit.strip() if commit else None,
        "dirty": dirty,
        "diff_sha256": diff_sha256,
        "command": shlex.join(words),
    }


def json_safe(x: Any) -> Any:
    """Numbers, NumPy/JAX arrays, tuples and dataclasses as plain JSON (NaN and inf as null)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return json_safe(dataclasses.asdict(x))
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "__array__") and not isinstance(x, (str, bytes)):
        array = np.asarray(x)
        if array.ndim:
            return [json_safe(v) for v in array.tolist()]
        x = array.item()
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


@dataclasses.dataclass
class Context:
    """What a study gets besides its config: where to write, and helpers."""

    name: str
    config_name: str
    out: Path
    progress: bool = True

    def log(self, *parts: Any) -> None:
        """A line on stderr (progress and notes; stdout is left to the report)."""
        print(*parts, file=sys.stderr, flush=True)

    def sweep(self, train: Callable, configs: Any, key=None, *, label: str | None = None, **kwargs):
        """``osd.sweep`` with this run's progress bar, labelled."""
        import optasched as osd

        if self.progress and label:
            self.log(f"{self.name}: {label}")
        return osd.sweep(train, configs, key, progress=self.progress, **kwargs)

    def path(self, filename: str) -> Path:
        """A file in the output folder."""
        return self.out / filename


def load_config(name: str, config_name: str, overrides: Sequence[str] = ()) -> Any:
    """``experiments/<name>/configs/<config_name>.py:get_config()`` with ``field=value`` overrides."""
    try:
        module = importlib.import_module(f"experiments.{name}.configs.{config_name}")
    except ModuleNotFoundError as err:
        raise ValueError(f"{name}: no config {config_name!r} (experiments/{name}/configs/{config_name}.py)") from err
    config = module.get_config()
    changes = {}
    fields = {f.name: f for f in dataclasses.fields(config)}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: expected field=value with field one of {sorted(fields)}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare string
        current = getattr(config, key)
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        elif isinstance(current, tuple) and not isinstance(value, tuple):
            value = (value,)
        elif isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        changes[key] = value
    return dataclasses.replace(config, **changes)


def analysis_plan(config: Any) -> list[dict] | None:
    """The questions the config declared before the run (its ``analyses`` field), as dicts; None if none."""
    from .analysis import plan

    questions = getattr(config, "analyses", None)
    return None if questions is None else plan(questions)


def run(name: str, study: Callable[[Any, Context], dict], config: Any, config_name: str, out: str | Path,
        progress: bool = True, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run ``study(config, context) -> results`` and write ``out/results.json``; returns the report."""
    source = provenance(argv)  # before the run: the code that runs is the code recorded
    declared = analysis_plan(config)  # a malformed plan fails before the run, not after
    if source["dirty"] is not False:
        print(f"{name}: WARNING: running from a {'dirty' if source['dirty'] else 'non-git'} tree "
              f"(commit {source['commit']}); results.json marks it", file=sys.stderr, flush=True)
    _listen_to_compiles()
    enable_compilation_cache()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = Context(name, config_name, out, progress)
    compile_before = _compile_seconds[0]
    start = time.perf_counter()
    results = study(config, context)
    seconds = time.perf_counter() - start
    compile_seconds = _compile_seconds[0] - compile_before
    report = {
        "experiment": name,
        "config_name": config_name,
        "provenance": source,
        "config": json_safe(config),
        "analysis_plan": declared,
        "machine": machine(),
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "run_seconds": seconds - compile_seconds,
        "compile_fraction": compile_seconds / seconds if seconds > 0 else None,
        "results": json_safe(results),
    }
    (out / "results.json").write_text(json.dumps(report, indent=1))
    return report


def main(name: str, study: Callable[[Any, Context], dict], argv: Sequence[str] | None = None,
         describe: Callable[[dict], str] | None = None) -> int:
    """The command line of every study; ``describe(report)`` prints its summary table."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}")
    parser.add_argument("--config", default="quick", help=f"one of {', '.join(CONFIGS)} (configs/<name>.py)")
    parser.add_argument("--out", default=None, help=f"output folder (default results/{name}/<config>)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override one config field (repeatable), e.g. --set seeds=2")
    parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    args = parser.parse_args(argv)
    try:
        config = load_config(name, args.config, args.set)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("results") / name / args.config
    command = ["python", "-m", f"experiments.{name}", *(sys.argv[1:] if argv is None else argv)]
    report = run(name, study, config, args.config, out, progress=not args.no_progress, argv=command)
    source = report["provenance"]
    if describe is not None:
        print(describe(report))
    print(
        f"\n{name} ({args.config}): {report['seconds']:.1f} s "
        f"(compile {report['compile_seconds']:.1f} s, run {report['run_seconds']:.1f} s) on "
        f"{report['machine']['device_kind']}; wrote {out / 'results.json'}\n"
        f"code: commit {source['commit']}{' (DIRTY tree, diff ' + str(source['diff_sha256'])[:12] + ')' if source['dirty'] else ''}"
    )
    return 0
