"""The round clock: a client schedule read from the round the server broadcasts.

A federated client's learning rate must depend on the communication round and
the local step within it, never on how often that client happened to be
sampled. The round clock is an ordinary schedule of the federation's global
local-step index ``t = round * local_steps + local_step``, which the federation
hands to every sampled client (see :func:`~optasched.federate`), so it plugs
into :func:`~optasched.inject` and optax unchanged and sweeps like any schedule.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ..schedules import Schedule, child, static, steps

__all__ = ["RoundClock"]


class RoundClock(Schedule, family="round_clock"):
    r"""A client schedule of the communication round and the local step.

    Evaluated at the global local-step index :math:`t = rK + k` (round
    :math:`r`, local step :math:`0 \le k < K`, ``K = local_steps``), which
    the server broadcasts with round :math:`r`:

    .. math::

        r = \lfloor t / K \rfloor, \quad k = t - rK, \qquad
        v(t) = \begin{cases}
            s(r) & \text{mode} = \text{"across"} \\
            s(k) & \text{mode} = \text{"within"} \\
            s(t) & \text{mode} = \text{"steps"}
        \end{cases}

    ``"across"`` is constant within a round and scheduled over rounds (the
    convention of TensorFlow Federated's
    ``build_weighted_fed_avg_with_optimizer_schedule``): the inner schedule's
    step is the round, so ``osd.step_decay(0.1, step_size=50, gamma=0.5)``
    halves the client LR every 50 rounds, a drop aligned with rounds.
    ``"within"`` restarts the inner schedule every round over its ``K`` local
    steps (a decay within a round). ``"steps"`` runs the inner schedule over all
    local steps of the federation (boundaries at multiples of ``K`` drop at a
    round's start). Every sampled client of round :math:`r` uses the same
    values whatever its participation history.

    Args:
        schedule: the inner schedule (a number is a constant).
        local_steps: K > 0, local steps per round; must equal the
            federation's ``local_steps``.
        mode: ``"across"``, ``"within"`` or ``"steps"`` (above).

    Example:
        >>> import optasched as osd
        >>> clock = osd.round_clock(osd.step_decay(0.1, step_size=2, gamma=0.5), local_steps=5)
        >>> [round(float(clock(r * 5 + 4)), 3) for r in range(4)]  # last local step of rounds 0..3
        [0.1, 0.1, 0.05, 0.05]
        >>> within = osd.round_clock(osd.linear(0.1, 0.0, 5), local_steps=5, mode="within")
        >>> [round(float(within(t)), 3) for t in (0, 4, 5)]  # round 1 starts again
        [0.1, 0.02, 0.1]

    Reference: McMahan et al., Communication-Efficient Learning of Deep
    Networks from Decentralized Data, 2017 (rounds of local steps); Li et al.,
    On the Convergence of FedAvg on Non-IID Data, 2020 (decay across rounds).
    """

    schedule: Schedule | ArrayLike = child()
    local_steps: ArrayLike = steps(gt=0)
    mode: str = static("across", choices=("across", "within", "steps"))

    def round_and_local_step(self, step) -> tuple:
        """``(round, local_step)`` of a global local-step index.

        Args:
            step: the global index ``round * local_steps + local_step``.
        """
        step = jnp.asarray(step)
        local_steps = jnp.maximum(jnp.asarray(self.local_steps), 1).astype(step.dtype)
        rounds = jnp.floor_divide(step, local_steps)
        return rounds, step - rounds * local_steps

    def _inner_step(self, step):
        if self.mode == "steps":
            return step
        rounds, local_step = self.round_and_local_step(step)
        return rounds if self.mode == "across" else local_step

    def _value(self, step):
        return self.schedule(self._inner_step(jnp.asarray(step)))

    def value_range(self, step):
        return self.schedule.value_range(self._inner_step(jnp.asarray(step)))
