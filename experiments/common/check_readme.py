"""Do the numbers in an experiment README's result tables come from its stored results?

``python -m experiments.common.check_readme [NAME ...] [--strict] [--explain] [--prose]``

For each experiment (every ``experiments/<name>/README.md``, or the names
given) it reads the README's markdown tables and lists every number in a
table body that no stored file under ``experiments/<name>/`` explains, as
``file:line: number in "cell"``; it exits 1 when any number is unmatched.

Rules (strict, not absurd):

- Stored numbers: every JSON number (and every number in a JSON key) of every
  ``*.json`` under ``experiments/<name>/`` (``results/``, ``figures/``, the
  folder itself), and the numeric literals of ``experiments/<name>/configs/*.py``
  (so seed counts and grid values match their config).
- A printed number matches a stored x when x rounds to it at the printed
  precision (``98.44`` matches x with ``|x - 98.44| <= 0.005``; ``1e-3`` is
  compared on its mantissa's precision) or when 100 x does (a percentage stored as
  a fraction: ``62.4`` matches 0.624). After ``ms`` also 1000 x (seconds stored).
  Signs must agree (``−0.01``, U+2212, is negative).
- What is read: the table body (the header row and the ``|---|`` row are not);
  numbers inside code spans (backticks), HTML comments and link targets are
  not; neither are parts of identifiers (``H100``, ``MNIST-1D``, ``8x8``,
  ``d6_w64``), nor a citation's year (``Ho et al. 2020``, ``Kingma & Gao 2023``).
  A unit stuck to a number (``3x``, ``5.3s``, ``12%``) is fine.
- A table that is not from the results (published anchors, a description of
  the arms) is marked in the README, right above it (blank lines allowed in
  between), by ``<!-- check_readme: skip (reason) -->``; a marker without a
  reason is an error. Exceptions are thereby explicit and greppable.
- An interval ``m [l, h]`` must come from one stored record: the three numbers
  from one JSON object or the one above it (``{mean, low, high}``, or
  ``{mean, ci: [low, high]}``), at one scale; three numbers that round alike in
  different places do not make an interval.
- ``<!-- check_readme: source (results/default.json, results/quick.json) -->``
  above a table makes it stricter: its numbers must come from those files
  (paths relative to ``experiments/<name>/``), not from anything stored.
- The summary line counts the check's blind spot: matched numbers that would
  match too if they were 7 units of their last digit higher (many stored numbers
  at low printed precision match by chance; a ``source`` marker narrows that).

``--strict`` also fails on stored results files whose ``provenance`` is
missing, not from a commit, or from a dirty tree (they are always listed as
notes). ``--explain`` prints, for each matched number, the file and JSON path it
matched. ``--prose`` also checks the numbers outside tables (advisory: prose has
numbers that are not results). No jax, no numpy: plain ``json`` and ``re``, so it runs in a blink.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["Printed", "Stored", "Unmatched", "Report", "experiments", "table_numbers", "stored_numbers",
           "check", "main"]  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]  # experiments/

_UNITS = {"x", "s", "ms", "us", "µs", "min", "h", "k", "M", "pp", "pt", "GB", "MB", "GiB", "MiB"}
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[+\-−]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?:[eE](?P<exp>[+\-−]?\d+))?(?P<unit>[A-Za-zµ]*)(?P<tail>[\w.]?)"
)
# What stands before a citation's year: "Ho et al. 2020", "Kingma & Gao 2023", "Smith, 2017".
_CITATION_YEAR = re.compile(r"(?:et al\.,?|[A-Z][A-Za-z\-]+,?|&)\s+$")
_MARKER = re.compile(r"<!--\s*check_readme:\s*(?P<kind>\w+)\s*(?:\((?P<argument>[^)]*)\))?\s*-->")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"`[^`]*`")
_COMMENT = re.compile(r"<!--.*?-->")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")


class Printed(NamedTuple):
    """A number printed in a README table."""

    line: int  # 1-based line in the README
    text: str  # as printed
    value: float
    tolerance: float  # half a unit of the last printed digit
    unit: str
    cell: str
    sources: tuple[str, ...] = ()  # files (relative to experiments/<name>/) it must come from; () = any


class Stored(NamedTuple):
    """A number in a stored file: its value and where it is."""

    value: float
    source: str  # file (relative to the repository) and JSON path


class Unmatched(NamedTuple):
    path: str
    line: int
    number: str
    cell: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.number} in {self.cell!r}"


class Report(NamedTuple):
    name: str
    checked: int  # table numbers read
    unmatched: list[Unmatched]
    errors: list[str]  # malformed markers, missing source files
    skipped_tables: list[tuple[int, str]]  # (line, reason)
    notes: list[str]  # stored results files without clean provenance
    blind: int = 0  # matched numbers that would still match shifted by 7 units of their last digit


def experiments(root: Path = ROOT) -> list[str]:
    """Every experiment with a README: the folders ``experiments/<name>/README.md``."""
    return sorted(p.parent.name for p in root.glob("*/README.md"))


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def _numbers(text: str) -> Iterator[tuple[str, float, float, str]]:
    """(as printed, value, tolerance, unit) of each number in a cell's text."""
    text = _LINK_TARGET.sub("]", _COMMENT.sub(" ", _CODE_SPAN.sub(" ", text)))
    for m in _NUMBER.finditer(text):
        unit, tail = m["unit"], m["tail"]
        if tail or (unit and unit not in _UNITS):
            continue  # part of an identifier (H100 is caught by the look-behind, 1D and 8x8 here)
        digits = m["frac"] or ""
        year = not digits and not m["exp"] and not m["sign"] and not unit and m["int"].isdigit()
        if (year and 1950 <= int(m["int"]) <= 2099
                and _CITATION_YEAR.search(text[max(0, m.start() - 40):m.start()])):
            continue  # a citation's year
        exponent = int(m["exp"].replace("−", "-")) if m["exp"] else 0
        sign = -1.0 if m["sign"] in ("-", "−") else 1.0
        value = sign * float(f"{m['int'].replace(',', '')}.{digits or '0'}") * 10.0**exponent
        tolerance = 0.5 * 10.0 ** (exponent - len(digits))
        printed = m.group(0)[: len(m.group(0)) - len(unit) - len(tail)]
        yield printed, value, tolerance, unit


def table_numbers(text: str, prose: bool = False) -> tuple[list[Printed], list[tuple[int, str]], list[str]]:
    """The numbers of a README's table bodies, the skipped tables and the malformed markers.

    Args:
      text: the README's markdown.
      prose: also the numbers of the text outside tables, code blocks, headings and images.

    Returns:
      ``(printed, skipped, errors)``: the :class:`Printed` numbers of the tables that are
      checked, ``(line, reason)`` of each table marked skip, and error messages.
    """
    lines = text.splitlines()
    printed, skipped, errors = [], [], []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            i += 1
            continue
        is_table = (not fenced and line.lstrip().startswith("|") and i + 1 < len(lines)
                    and _SEPARATOR.match(lines[i + 1]))  # fmt: skip
        if not is_table:
            text_line = not line.lstrip().startswith(("#", "|", "![", "<!--"))
            if prose and not fenced and line.strip() and text_line:
                for text_, value, tolerance, unit in _numbers(line):
                    printed.append(Printed(i + 1, text_, value, tolerance, unit, line.strip()))
            i += 1
            continue
        skip, sources = None, ()
        above = i - 1
        while above >= 0 and (not lines[above].strip() or _MARKER.search(lines[above])):
            marker = _MARKER.search(lines[above])
            argument = ((marker and marker["argument"]) or "").strip()
            if marker and marker["kind"] == "skip":
                skip = argument
                if not argument:
                    errors.append(f"line {above + 1}: check_readme skip marker without a (reason)")
            elif marker and marker["kind"] == "source":
                sources = tuple(part.strip() for part in argument.split(",") if part.strip())
                if not sources:
                    errors.append(f"line {above + 1}: check_readme source marker without (files)")
            elif marker:
                errors.append(f"line {above + 1}: unknown check_readme marker {marker['kind']!r} "
                              "(skip (reason) or source (files))")  # fmt: skip
            above -= 1
        body = i + 2
        end = body
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            end += 1
        if skip:
            skipped.append((i + 1, skip))
        elif skip is None:
            for j in range(body, end):
                for cell in _cells(lines[j]):
                    for text_, value, tolerance, unit in _numbers(cell):
                        printed.append(Printed(j + 1, text_, value, tolerance, unit, cell, sources))
        i = end
    return printed, skipped, errors


def _walk_json(x, path: str, out: list[Stored]) -> None:
    if isinstance(x, bool) or x is None:
        return
    if isinstance(x, (int, float)):
        out.append(Stored(float(x), path))
    elif isinstance(x, dict):
        for k, v in x.items():
            for _, value, _, _ in _numbers(str(k)):
                out.append(Stored(value, f"{path}[key {k!r}]"))
            _walk_json(v, f"{path}.{k}", out)
    elif isinstance(x, list):
        for n, v in enumerate(x):
            _walk_json(v, f"{path}[{n}]", out)


_LITERAL = re.compile(r"(?<![\w.])(\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\w.])")


def stored_numbers(directory: Path, strict: bool = False) -> tuple[list[Stored], list[str]]:
    """Every number stored under an experiment folder (JSON files and the configs' literals).

    Args:
      directory: ``experiments/<name>``.
      strict: leave out results files without clean provenance (commit recorded, tree not dirty).

    Returns:
      ``(stored, notes)``: the numbers sorted by value, and one note per results file
      without clean provenance.
    """
    stored: list[Stored] = []
    notes: list[str] = []
    base = directory.parents[1]
    for path in sorted(directory.rglob("*.json")):
        relative = str(path.relative_to(base))
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            notes.append(f"{relative}: not readable JSON ({err})")
            continue
        if isinstance(data, dict) and "results" in data:  # a results file: where did it come from?
            source = data.get("provenance") or {}
            if not source.get("commit") or source.get("dirty") is not False:
                what = "no provenance" if not source else (
                    "no commit" if not source.get("commit") else f"dirty tree at {source['commit'][:10]}")
                notes.append(f"{relative}: {what}")
                if strict:
                    continue
        _walk_json(data, relative, stored)
    for path in sorted((directory / "configs").glob("*.py")):
        relative = str(path.relative_to(base))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for m in _LITERAL.finditer(code):
                try:
                    stored.append(Stored(float(m.group(1).replace("_", "")), f"{relative}:{n}"))
                except ValueError:
                    pass
    stored.sort(key=lambda s: s.value)
    return stored, notes


def _scales(p: Printed) -> list[float]:
    return [1.0, 100.0] + ([1000.0] if p.unit == "ms" else []) + ([1e6] if p.unit in ("us", "µs") else [])


def _candidates(p: Printed, stored: list[Stored], values: list[float], scale: float) -> list[Stored]:
    slack = p.tolerance * (1 + 1e-9) + 1e-12 * abs(p.value)
    low, high = (p.value - slack) / scale, (p.value + slack) / scale
    return stored[bisect.bisect_left(values, low):bisect.bisect_right(values, high)]


_PART = re.compile(r"(\.[^.\[]+|\[[^\]]*\])$")  # the last key or index of a JSON path


def _ancestors(source: str, levels: int = 2) -> set[str]:
    """The record a stored number sits in and the one above it (``a.b.mean`` -> ``a.b``, ``a``)."""
    out = set()
    for _ in range(levels):
        source = _PART.sub("", source, count=1)
        out.add(source)
    return out


def _one_record(numbers: Sequence[Printed], stored: list[Stored], values: list[float]) -> bool:
    """Whether the numbers (an interval's mean, low, high) come from one stored record at one scale."""
    for scale in _scales(numbers[0]):
        common = None
        for p in numbers:
            near = set().union(*(_ancestors(c.source) for c in _candidates(p, stored, values, scale)))
            common = near if common is None else common & near
            if not common:
                break
        if common:
            return True
    return False


_NUM = r"[+\-−]?\d[\d,]*(?:\.\d+)?(?:[eE][+\-−]?\d+)?"
_INTERVAL = re.compile(rf"(?<![\w.])({_NUM})[^\[\]\d]{{0,12}}\[\s*({_NUM})\s*,\s*({_NUM})\s*\]")


def _match(p: Printed, stored: list[Stored], values: list[float]) -> Stored | None:
    scales = [1.0, 100.0] + ([1000.0] if p.unit == "ms" else []) + ([1e6] if p.unit in ("us", "µs") else [])
    slack = p.tolerance * (1 + 1e-9) + 1e-12 * abs(p.value)  # rounding ties and float representation
    for scale in scales:  # as printed first, then as a percentage of a fraction
        low, high = (p.value - slack) / scale, (p.value + slack) / scale
        i, j = bisect.bisect_left(values, low), bisect.bisect_right(values, high)
        if i < j:  # the nearest of the stored numbers that round to the printed one (for --explain)
            return min(stored[i:j], key=lambda s: abs(s.value * scale - p.value))
    return None


def check(name: str, root: Path = ROOT, strict: bool = False, explain: bool = False,
          prose: bool = False) -> Report:
    """Check one experiment's README against its stored files.

    Args:
      name: the experiment folder, ``experiments/<name>``.
      root: the ``experiments`` folder.
      strict: results files without clean provenance do not count as sources.
      explain: print each matched number and where it matched.
      prose: check the numbers of the text outside tables too (advisory: prose has numbers that are
        not results, such as "2 cores"; no skip marker applies to it).
    """
    directory = root / name
    readme = directory / "README.md"
    if not readme.is_file():
        raise ValueError(f"check_readme: no README at {readme}")
    printed, skipped, errors = table_numbers(readme.read_text(), prose)
    stored, notes = stored_numbers(directory, strict)
    relative = str(readme.relative_to(root.parent))
    pools: dict[tuple[str, ...], tuple[list[Stored], list[float]]] = {}
    for sources in {p.sources for p in printed}:
        pool = stored
        if sources:
            prefixes = tuple(str((directory / f).relative_to(root.parent)) for f in sources)
            missing = [f for f in sources if not (directory / f).is_file()]
            if missing:
                errors.append(f"check_readme source marker names files that do not exist: {missing}")
            pool = [s for s in stored if s.source.startswith(prefixes)]
        pools[sources] = (pool, [s.value for s in pool])
    unmatched, blind = [], 0
    for p in printed:
        pool, values = pools[p.sources]
        hit = _match(p, pool, values)
        if hit is None:
            unmatched.append(Unmatched(relative, p.line, p.text, p.cell))
            continue
        blind += _match(p._replace(value=p.value + 14 * p.tolerance), pool, values) is not None
        if explain:
            print(f"{relative}:{p.line}: {p.text} <- {hit.value:g} at {hit.source}")
    # An interval "m [l, h]" must come from one stored record (e.g. {mean, low, high}), not from
    # three numbers that happen to round alike in different places.
    by_cell: dict[tuple[int, str], list[Printed]] = {}
    for p in printed:
        by_cell.setdefault((p.line, p.cell), []).append(p)
    missed = {(u.line, u.cell, u.number) for u in unmatched}
    for (line, cell), numbers in by_cell.items():
        texts = [p.text for p in numbers]
        for m in _INTERVAL.finditer(_CODE_SPAN.sub(" ", cell)):
            if not all(t in texts for t in m.groups()):
                continue
            triple = [numbers[texts.index(t)] for t in m.groups()]
            if any((line, cell, t) in missed for t in m.groups()):
                continue  # already listed
            pool, values = pools[triple[0].sources]
            if not _one_record(triple, pool, values):
                what = f"{m.group(0)} (not from one stored record)"
                unmatched.append(Unmatched(relative, line, what, cell))
    unmatched.sort(key=lambda u: u.line)
    return Report(name, len(printed), unmatched, errors, skipped, notes, blind)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.common.check_readme",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("names", nargs="*", help="experiments to check (default: every one with a README)")
    parser.add_argument("--strict", action="store_true", help="results files need clean provenance to count")
    parser.add_argument("--explain", action="store_true", help="print where each matched number was found")
    parser.add_argument("--prose", action="store_true",
                        help="also check the numbers outside tables (advisory; many are not results)")
    args = parser.parse_args(argv)
    known = experiments()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"{parser.prog}: error: no README for {unknown}; experiments: {', '.join(known)}",
              file=sys.stderr)
        return 2
    failed = False
    for name in args.names or known:
        report = check(name, strict=args.strict, explain=args.explain, prose=args.prose)
        for note in report.notes:
            print(f"note: {note}")
        for error in report.errors:
            print(f"experiments/{name}/README.md: {error}")
        for item in report.unmatched:
            print(item)
        bad = len(report.unmatched) + len(report.errors) + (len(report.notes) if args.strict else 0)
        failed |= bad > 0
        kind = "README" if args.prose else "table"
        print(f"{name}: {report.checked} {kind} numbers, {len(report.unmatched)} unmatched, "
              f"{len(report.skipped_tables)} tables skipped" + (", FAIL" if bad else ", ok")
              + f" (blind spot: {report.blind} matched numbers would match too if 7 units of their "
              "last digit higher)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
