"""The small committed copy of a results.json, the same way for every study.

``python -m experiments.common.compact IN/results.json experiments/<name>/results/<config>.json``
``[--max-length N] [--drop KEY ...] [--keep KEY ...] [--table KEY ...] [--digits D]``

A run's ``results.json`` may carry per-step curves (thousands of numbers per
run) that no README table prints; the copy committed under
``experiments/<name>/results/`` keeps everything else:

- a numeric array (a list of numbers, or nested lists of them) whose innermost
  length exceeds ``max_length`` (default 200) is dropped: per-step curves go,
  per-seed values (one per seed, also as ``[arms, lrs, seeds]``) stay;
  ``--drop KEY`` drops any value under that key, ``--keep KEY`` keeps one;
- ``--table KEY``: a list of dicts under that key becomes one table
  ``{"columns": [...], "rows": [[...], ...]}`` (:func:`records` reads it back);
- floats are rounded to ``digits`` significant digits (default 6; README tables print at most 5);
- ``provenance``, ``config``, ``analysis_plan`` and ``machine`` are kept as they are, and
  a ``compacted`` block records what was dropped (path and shape), the settings and
  the SHA-256 of the full file it came from.

No jax: plain json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["compact", "records", "dumps", "main"]

_AS_IS = ("provenance", "config", "analysis_plan", "machine", "experiment", "config_name")


def _shape(x) -> list[int] | None:
    """The shape of a rectangular-or-ragged numeric array (max length per level), None if not numeric."""
    if not isinstance(x, list) or not x:
        return None
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in x):
        return [len(x)]
    inner = [_shape(v) for v in x]
    if any(s is None for s in inner) or len({len(s) for s in inner}) != 1:
        return None
    return [len(x)] + [max(level) for level in zip(*inner)]


def _round(x, digits: int):
    if isinstance(x, float):
        return float(f"{x:.{digits}g}")
    if isinstance(x, dict):
        return {k: _round(v, digits) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v, digits) for v in x]
    return x


def _tabulate(items: list) -> dict | None:
    if not items or not all(isinstance(v, dict) for v in items):
        return None
    columns = list(dict.fromkeys(k for v in items for k in v))
    return {"columns": columns, "rows": [[v.get(k) for k in columns] for v in items]}


def records(table: dict | list) -> list[dict]:
    """The list of dicts behind a ``{"columns", "rows"}`` table (a list is returned as it is).

    Args:
      table: a value :func:`compact` tabulated, or the original list of dicts.

    >>> records({"columns": ["a", "b"], "rows": [[1, None], [2, 3]]})
    [{'a': 1}, {'a': 2, 'b': 3}]
    """
    if isinstance(table, list):
        return table
    return [{k: v for k, v in zip(table["columns"], row) if v is not None} for row in table["rows"]]


def compact(report: dict, *, max_length: int = 200, drop: Sequence[str] = (), keep: Sequence[str] = (),
            table: Sequence[str] = (), digits: int = 6, source_sha256: str | None = None) -> dict:
    """The compact form of a loaded results.json (a new dict; the input is not changed).

    Args:
      report: a loaded results.json.
      max_length: numeric arrays whose innermost length exceeds this are dropped.
      drop: keys whose values are dropped wherever they are.
      keep: keys whose values are kept whatever their size (``drop`` wins over ``keep``).
      table: keys whose lists of dicts become ``{"columns", "rows"}`` tables.
      digits: significant digits of every float outside the provenance, config and machine.
      source_sha256: the SHA-256 of the file the report was read from (recorded).

    Returns:
      The compact report, with a ``compacted`` block: ``{"dropped": {path: shape or "key"},
      "tables": [paths], "max_length", "digits", "source_sha256"}``.
    """
    if max_length < 1 or digits < 1:
        raise ValueError(f"compact: max_length and digits must be positive, got {max_length} and {digits}")
    dropped: dict[str, Any] = {}
    tables: list[str] = []

    def walk(x, path: str, key: str | None):
        if key in drop:
            dropped[path] = "key"
            return _DROP
        if key in table and isinstance(x, list):
            tabulated = _tabulate(x)
            if tabulated is not None:
                tables.append(path)
                return {**tabulated, "rows": walk(tabulated["rows"], f"{path}.rows", None)}
        shape = _shape(x)
        if shape is not None and shape[-1] > max_length and key not in keep:
            dropped[path] = shape
            return _DROP
        if shape is not None:
            return _round(x, digits)
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                value = walk(v, f"{path}.{k}" if path else k, k)
                if value is not _DROP:
                    out[k] = value
            return out
        if isinstance(x, list):
            out = [walk(v, f"{path}[{n}]", None) for n, v in enumerate(x)]
            return [v for v in out if v is not _DROP]
        return _round(x, digits)

    small = {k: (v if k in _AS_IS else walk(v, k, k)) for k, v in report.items() if k != "compacted"}
    small = {k: v for k, v in small.items() if v is not _DROP}
    small["compacted"] = {
        "note": "a compact copy of a results.json (experiments/common/compact.py): "
        "numeric arrays longer than max_length dropped, floats rounded to digits significant digits",
        "max_length": max_length,
        "digits": digits,
        "dropped": dropped,
        "tables": tables,
        "source_sha256": source_sha256,
    }
    return small


_DROP = object()


def dumps(report: Any, indent: int = 1) -> str:
    """JSON with one key per line but every list of scalars (a row, per-seed values) on one line.

    Args:
      report: plain JSON data.
      indent: spaces per level.
    """

    def scalar(v) -> bool:
        return not isinstance(v, (dict, list))

    def dump(x, level: int) -> str:
        pad, inner = " " * (indent * level), " " * (indent * (level + 1))
        if isinstance(x, dict) and x:
            items = [f"{inner}{json.dumps(str(k))}: {dump(v, level + 1)}" for k, v in x.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}"
        if isinstance(x, list) and x and not all(scalar(v) for v in x):
            return "[\n" + ",\n".join(f"{inner}{dump(v, level + 1)}" for v in x) + f"\n{pad}]"
        return json.dumps(x, separators=(",", ":"), allow_nan=False)

    return dump(report, 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.common.compact",
                                     description="the small committed copy of a results.json")  # fmt: skip
    parser.add_argument("source", type=Path, help="a run's results.json")
    parser.add_argument("target", type=Path, help="experiments/<name>/results/<config>.json")
    parser.add_argument("--max-length", type=int, default=200, help="drop numeric arrays longer than this")
    parser.add_argument("--drop", action="append", default=[], metavar="KEY", help="drop values under KEY")
    parser.add_argument("--keep", action="append", default=[], metavar="KEY", help="keep values under KEY")
    parser.add_argument("--table", action="append", default=[], metavar="KEY",
                        help="store the list of dicts under KEY as columns and rows")  # fmt: skip
    parser.add_argument("--digits", type=int, default=6, help="significant digits of floats")
    args = parser.parse_args(argv)
    text = args.source.read_text()
    report = json.loads(text)
    small = compact(report, max_length=args.max_length, drop=args.drop, keep=args.keep, table=args.table,
                    digits=args.digits, source_sha256=hashlib.sha256(text.encode()).hexdigest())  # fmt: skip
    source = report.get("provenance") or {}
    if source.get("dirty") is not False:
        print(f"compact: WARNING: {args.source} is not from a clean commit "
              f"(provenance {source or 'missing'}); "
              "its numbers are not reproducible at a commit", file=sys.stderr)  # fmt: skip
    args.target.parent.mkdir(parents=True, exist_ok=True)
    out = dumps(small)
    args.target.write_text(out + "\n")
    print(f"{args.source} ({len(text) / 1e3:.1f} kB) -> {args.target} ({len(out) / 1e3:.1f} kB); "
          f"dropped {len(small['compacted']['dropped'])} arrays: "
          + ", ".join(list(small["compacted"]["dropped"])[:6])
          + (" ..." if len(small["compacted"]["dropped"]) > 6 else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
