"""One entry of :func:`optasched.get_schedule`'s table: what a library's name
reads, requires and builds. Shared by the Hugging Face, PyTorch and timm tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._schedule import Schedule

__all__ = ["REQUIRED", "NameEntry"]

REQUIRED = object()  # marks an argument without a default


class NameEntry(NamedTuple):
    """How :func:`optasched.get_schedule` builds one library's name.

    Args:
        library: ``"Hugging Face"``, ``"PyTorch"`` or ``"timm"``.
        reference: the function or class it reproduces.
        uses: which of ``peak_value``, ``num_warmup_steps`` and
            ``num_training_steps`` it reads.
        arguments: its own keyword arguments, each mapped to its default (or
            :data:`REQUIRED`).
        build: ``build(peak, warmup, total, steps, **arguments)``; ``steps``
            converts a count to optimizer steps.
        requires: which of ``uses`` must be given (``None``: all of them).
        ignores_unused_counts: a count it does not read is ignored (Hugging
            Face's uniform ``get_scheduler`` call) instead of refused.
        drops_specific_kwargs: ``scheduler_specific_kwargs`` are ignored, as
            ``transformers.get_scheduler`` ignores them for this name.
    """

    library: str
    reference: str
    uses: tuple[str, ...]
    arguments: Mapping[str, Any]
    build: Callable[..., Schedule]
    requires: tuple[str, ...] | None = None
    ignores_unused_counts: bool = False
    drops_specific_kwargs: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return self.uses if self.requires is None else self.requires
