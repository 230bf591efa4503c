"""A schedule whose family is itself a traced hyperparameter.

``switch([cosine(...), wsd(...), one_cycle(...)], index)`` holds every branch's
hyperparameters and a traced ``index``. Unbatched it evaluates only the chosen
branch (``lax.switch``); under ``vmap`` with a batched index it evaluates all
branches and selects, with no Python branching. Members of different families
therefore share one pytree structure, so :func:`optasched.stack` of mixed
families (which builds switches) is ONE sweep, trained by ONE compiled program.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._base import Constraint, Schedule, StatefulSchedule, children, steps


def _branch_index(index, count: int):
    return jnp.clip(jnp.asarray(index), 0, count - 1).astype(jnp.int32)


class _SwitchFields(Schedule):
    """Fields and checks shared by :class:`Switch` and :class:`StatefulSwitch`."""

    schedules: list[Schedule] = children()
    index: ArrayLike = steps()

    def _convert(self, spec, x):
        if spec.name == "schedules":  # branches may be stateful (a plateau among families)
            if isinstance(x, (Schedule, str, bytes)) or not hasattr(x, "__iter__"):
                raise ValueError(f"switch: schedules must be a list of schedules, got {x!r}")
            branches = tuple(x)
            for i, branch in enumerate(branches):
                if not isinstance(branch, Schedule):
                    raise ValueError(f"switch: schedules[{i}] must be an optasched schedule, got {branch!r}")
            return branches
        return super()._convert(spec, x)

    def _check_structure(self):
        if not self.schedules:
            raise ValueError("switch: schedules must hold at least one schedule, got none")
        if not jnp.issubdtype(self.index.dtype, jnp.integer):
            raise ValueError(f"switch: index must be an integer, got dtype {self.index.dtype}")

    def _constraints(self):
        count = len(self.schedules)
        yield Constraint("index", (self.index >= 0) & (self.index < count), f"in [0, {count})", self.index)

    def _select(self, evaluate):
        """Applies ``evaluate(i, branch)`` to the chosen branch (all, selected, under vmap)."""
        dtype = self.dtype
        branches = [
            (lambda i=i, b=b: jnp.asarray(evaluate(i, b)).astype(dtype)) for i, b in enumerate(self.schedules)
        ]
        if len(branches) == 1:
            return branches[0]()
        return jax.lax.switch(_branch_index(self.index, len(branches)), branches)

    def value_range(self, step):
        ranges = [b.value_range(step) for b in self.schedules]
        if any(r is None for r in ranges):
            return None
        index = _branch_index(self.index, len(ranges))
        return jnp.choose(index, [r[0] for r in ranges]), jnp.choose(index, [r[1] for r in ranges])


class Switch(_SwitchFields, family="switch"):
    r"""Evaluate ``schedules[index]``: the family as a traced hyperparameter.

    .. math:: v(t) = s_{k}(t), \quad k = \text{index}

    Build it with :func:`switch` or by stacking schedules of different
    families with :func:`optasched.stack`.
    """

    def _check_structure(self):
        super()._check_structure()
        if any(isinstance(b, StatefulSchedule) for b in self.schedules):
            raise ValueError("switch: a stateful branch needs a StatefulSwitch; build it with osd.switch")

    def _value(self, step):
        return self._select(lambda i, branch: branch._value(step))

    def position(self, step):
        positions = [b.position(step) for b in self.schedules]
        if any(p is None for p in positions):
            return None
        return self._select(lambda i, branch: positions[i])


class StatefulSwitch(_SwitchFields, StatefulSchedule, family="stateful_switch"):
    """A :class:`Switch` among branches of which some are stateful (``plateau``).

    Its state holds every stateful branch's state; each update advances all of
    them (cheap, and the same program for every member) and reads the chosen
    branch's value.
    """

    def init_state(self, dtype) -> tuple[Any, ...]:
        return tuple(b.init_state(dtype) if isinstance(b, StatefulSchedule) else () for b in self.schedules)

    def update_state(self, state, step, **extra_args):
        return tuple(
            b.update_state(s, step, **extra_args) if isinstance(b, StatefulSchedule) else s
            for b, s in zip(self.schedules, state)
        )

    def value(self, state, step):
        step = jnp.asarray(step)
        return self._select(
            lambda i, branch: branch.value(state[i], step) if isinstance(branch, StatefulSchedule) else branch(step)
        )


def switch(schedules: Sequence[Schedule], index) -> Switch | StatefulSwitch:
    r"""One schedule that evaluates ``schedules[index]``, with ``index`` a traced leaf.

    Every branch's hyperparameters are leaves too, so switches that share their
    branches' structure stack into one sweep over families:
    ``jax.vmap(lambda s: s(step))`` evaluates each member's own family without
    Python branching. :func:`optasched.stack` builds them for you when members
    differ in family (or in any structure).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> s = osd.switch([osd.cosine(1.0, 100), osd.linear(1.0, 0.0, 100)], index=1)
        >>> float(s(25))
        0.75
        >>> sweep = osd.stack([osd.cosine(1.0, 100), osd.linear(1.0, 0.0, 100)])
        >>> [round(float(v), 4) for v in sweep(25)]
        [0.8536, 0.75]
    """
    branches = tuple(schedules) if not isinstance(schedules, Schedule) else schedules
    stateful = isinstance(branches, tuple) and any(isinstance(b, StatefulSchedule) for b in branches)
    return (StatefulSwitch if stateful else Switch)(branches, index)
