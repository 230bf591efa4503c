"""The layering the package promises: imports point downwards (schedules, then
bridge, then sweeps, then the command line), another layer enters only through a
layer's ``__init__``, every schedules module says what it exports, and
``import optasched`` stays light."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil
import subprocess
import sys
import types

import pytest

import optasched
import optasched.schedules

ROOT = pathlib.Path(optasched.__file__).parent
LAYERS = ("schedules", "weightings", "bridge", "federated", "sweeps")
# What each place may not import at all: the layers above it.
ABOVE = {
    "schedules": ("weightings", "bridge", "federated", "sweeps", "cli", "_plot"),
    "weightings": ("bridge", "federated", "sweeps", "cli", "_plot"),
    "bridge": ("federated", "sweeps", "cli", "_plot"),
    # federated sits beside sweeps: neither imports the other (a federation is a sweep's train body).
    "federated": ("sweeps", "cli", "_plot"),
    "sweeps": ("federated", "cli", "_plot"),
}


def _layer_of(path: pathlib.Path) -> str | None:
    """The layer a module belongs to; None for the top level (``__init__``, ``cli``, ``_plot``)."""
    part = path.relative_to(ROOT).parts[0]
    return part if part in LAYERS else None


def _imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    """Every module a file imports (function-level imports included), as absolute dotted names."""
    return _imports_in(path.read_text(), ["optasched", *path.relative_to(ROOT).parent.parts])


def _imports_in(source: str, package: list[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from . import _x` imports the module `_x`.
            found += [(node.lineno, module)] + [
                (node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name.startswith("_")
            ]
    return found


SOURCES = sorted(ROOT.rglob("*.py"))


def test_the_sources_are_found():
    names = {str(p.relative_to(ROOT)) for p in SOURCES}
    expected = {"__init__.py", "cli.py", "schedules/__init__.py", "bridge/__init__.py", "sweeps/__init__.py"}
    assert expected <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_downwards(path):
    """schedules imports neither bridge nor sweeps nor the command line; bridge not sweeps."""
    layer = _layer_of(path)
    for line, module in _imported_modules(path):
        parts = module.split(".")
        if layer is None or parts[0] != "optasched" or len(parts) < 2:
            continue
        assert parts[1] not in ABOVE[layer], f"{path.relative_to(ROOT)}:{line} imports {module} from above"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_reaches_into_another_layers_private_modules(path):
    """Another layer (and the top level: ``__init__``, ``cli``, ``_plot``) enters a layer only
    through its ``__init__``: ``from optasched.<layer>._x`` or ``from ..<layer>._x`` is refused."""
    layer = _layer_of(path)
    for line, module in _imported_modules(path):
        parts = module.split(".")
        if parts[0] != "optasched" or len(parts) < 3 or parts[1] not in LAYERS or parts[1] == layer:
            continue
        assert not parts[2].startswith("_"), f"{path.relative_to(ROOT)}:{line} imports the private {module}"


def test_imports_are_resolved_to_absolute_modules():
    """What the two tests above compare: relative imports resolved against the file's package."""
    source = "\n".join(
        [
            "from ..schedules._schedule import Schedule",
            "import optasched.sweeps._stack",
            "from . import _state",
        ]
    )
    found = {module for _, module in _imports_in(source, ["optasched", "bridge"])}
    assert {"optasched.schedules._schedule", "optasched.sweeps._stack", "optasched.bridge._state"} <= found


SCHEDULES_MODULES = sorted(m.name for m in pkgutil.iter_modules(optasched.schedules.__path__))


@pytest.mark.parametrize("name", SCHEDULES_MODULES)
def test_every_schedules_module_exports_an_explicit_public_list(name):
    module = importlib.import_module(f"optasched.schedules.{name}")
    exported = module.__dict__.get("__all__")
    assert exported is not None, f"{name} has no __all__"
    for item in exported:
        assert not item.startswith("_"), f"{name} exports the private name {item}"
        assert not isinstance(getattr(module, item), types.ModuleType), f"{name} exports the module {item}"
    namespace: dict = {}
    exec(f"from optasched.schedules.{name} import *", namespace)  # noqa: S102
    assert set(exported) <= set(namespace)


def test_the_schedules_package_exports_what_the_other_layers_import():
    exported = set(optasched.schedules.__all__)
    for path in SOURCES:
        if _layer_of(path) == "schedules":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("schedules"):
                for alias in node.names:
                    assert alias.name in exported, f"{path.relative_to(ROOT)} imports {alias.name}"


def test_import_optasched_pulls_in_no_model_dataset_or_plotting_code():
    code = (
        "import sys, optasched; heavy = [m for m in ('flax', 'matplotlib', 'keras', 'sklearn', 'torch', "
        "'pandas', 'mnist1d', 'orbax', 'experiments') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
