"""What every study's smoke test checks: the runner writes a complete results
file, and the same seed gives the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

from . import runner


def run_smoke(name: str, out: Path, overrides=()) -> dict:
    """Run ``python -m experiments.<name> --config smoke`` in-process; returns results.json."""
    module = __import__(f"experiments.{name}.main", fromlist=["main"])
    argv = ["--config", "smoke", "--out", str(out), "--no-progress"]
    for item in overrides:
        argv += ["--set", item]
    assert module.main(argv) == 0
    report = json.loads((Path(out) / "results.json").read_text())
    for key in ("config", "machine", "seconds", "compile_seconds", "run_seconds", "results"):
        assert key in report, key
    assert report["seconds"] >= report["compile_seconds"] >= 0
    return report


def numbers(report: dict) -> dict:
    """The study's numbers without timings (what determinism compares)."""
    return report["results"]


__all__ = ["run_smoke", "numbers", "runner"]
