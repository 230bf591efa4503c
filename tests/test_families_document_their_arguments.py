"""Every public family documents every constructor argument in an ``Args:`` section
(what ``docs/adding_a_family.md`` asks of a new family)."""

import inspect
import re

import pytest

import optasched as osd


def documented_arguments(doc: str) -> set[str]:
    """The names at the first indentation level of the docstring's ``Args:`` section."""
    lines = doc.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Args:"]
    if not starts:
        return set()
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    names, item_indent = set(), None
    for line in lines[starts[0] + 1 :]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            break
        item_indent = depth if item_indent is None else item_indent
        match = re.match(r"\*{0,2}(\w+)(\s*\(.*?\))?:", line.strip())
        if depth == item_indent and match:
            names.add(match.group(1))
    return names


# the library's own families only (tests declare families of their own, registered when imported)
FAMILIES = {n: c for n, c in osd.schedules.families().items() if c.__module__.startswith("optasched.")}


def test_there_are_families_to_check():
    assert len(FAMILIES) >= 40


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_constructor_argument_is_documented(name):
    constructor = FAMILIES[name]
    arguments = set(inspect.signature(constructor).parameters)
    missing = arguments - documented_arguments(inspect.getdoc(constructor) or "")
    assert not missing, f"{constructor.__module__}.{constructor.__qualname__}: Args: lacks {sorted(missing)}"
