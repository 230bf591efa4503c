"""The registry of schedule families by public name, filled as each family class
is created (``class Cosine(Schedule, family="cosine")``). Configs, the switch
and ``optasched list`` look families up here; a second class claiming a name
already taken is refused. Siblings of schedules declared the same way (the
per-sample weightings, :class:`Declared` subclasses) share the names, so one
config reader builds both, but are not schedule families.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._schedule import Declared, Schedule

_FAMILIES: dict[str, type[Declared]] = {}


def register(cls: type[Declared]) -> None:
    """Records ``cls`` under its public name ``cls.family``.

    Redefining the same class (same module and qualified name, as when a module
    is reloaded) replaces it; any other class claiming a taken name is refused.

    Args:
        cls: a schedule (or sibling) class created with ``family="name"``.

    Raises:
        ValueError: if another class already has the name.
    """
    name = cls.family
    taken = _FAMILIES.get(name)
    if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"schedule family name {name!r} is already taken by {taken.__module__}.{taken.__qualname__}; "
            f"give {cls.__module__}.{cls.__qualname__} another family= name"
        )
    _FAMILIES[name] = cls


def families() -> dict[str, type[Schedule]]:
    """Every schedule family by its public name (user-defined families included), sorted by name."""
    from ._schedule import Schedule  # at call time: the registry sits below the base class

    return {name: cls for name, cls in declared_families().items() if issubclass(cls, Schedule)}


def declared_families() -> dict[str, type[Declared]]:
    """Every registered family, schedules and their siblings (weightings), sorted by name:
    what a config may name."""
    return dict(sorted(_FAMILIES.items()))


def family_class(name: str) -> type[Schedule]:
    """The class of family ``name``.

    Args:
        name: a public family name, such as ``"cosine"``.

    Raises:
        ValueError: for a name no class has registered.
    """
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown schedule family {name!r}; known: {', '.join(sorted(_FAMILIES))}") from None


__all__ = ["declared_families", "families", "family_class", "register"]
