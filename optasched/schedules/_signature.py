"""The ``__init__`` a family gets from its declared fields: its parameters are the
fields, defaults included, so ``inspect.signature`` and ``help`` show the real
arguments (type checkers see them through ``dataclass_transform``)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ._fields import Field


def make_init(family: str, qualname: str, doc: str | None, fields: dict[str, Field]) -> Callable[..., None]:
    """An ``__init__(self, <fields>)`` that binds its arguments and hands them to ``self._setup``.

    Args:
        family: the family's public name, for errors.
        qualname: the class's qualified name.
        doc: the class docstring, shown by ``help`` on the constructor.
        fields: the declared fields, in order.
    """
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if spec.required else spec.default,
            )
            for name, spec in fields.items()
        ]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{family}: {err}") from None
        bound.apply_defaults()
        self._setup({name: bound.arguments[name] for name in fields})

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{qualname}.__init__"
    __init__.__doc__ = doc
    return __init__


__all__ = ["make_init"]
