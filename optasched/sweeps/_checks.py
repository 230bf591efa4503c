"""Checked sweeps (``osd.sweep(..., check=True)``): every member's schedules
checked at run time, a failure named by the member's index and label."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax

from ..schedules import checkified, first_check_line

__all__ = ["checked_member", "raise_failed_member"]


@functools.lru_cache(maxsize=64)
def checked_member(train: Callable) -> Callable:
    """``train`` under ``checkify``, returning ``(error, metrics)`` for one member.

    Checks the schedules in the member's config and every schedule ``train``
    constructs from traced values. Cached per ``train``, so sweeping the same
    function again reuses its compiled program.

    Args:
        train: ``train(config, key) -> metrics`` for ONE configuration.
    """
    return checkified(train, inside="train", argument_names=("config",))


def raise_failed_member(errors: Any, labels: Sequence[str]) -> None:
    """Raise ``ValueError`` for the first member (lowest index) whose checks failed.

    Args:
        errors: the members' ``checkify`` errors, one pytree with a leading
            member axis on every leaf (NumPy).
        labels: one label per member.

    Raises:
        ValueError: ``sweep member i (label): <the check's message>``.
    """
    if errors.get() is None:  # the usual case: one look at the whole batch
        return
    for index, label in enumerate(labels):
        message = jax.tree.map(lambda leaf: leaf[index], errors).get()
        if message:
            raise ValueError(f"sweep member {index} ({label}): {first_check_line(message)}")
