"""Successive halving (synchronous ASHA, one Hyperband bracket) in compiled
programs: the survivors of each rung are compacted into a smaller stacked
batch, so a pruned member costs nothing from its rung on.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (ASHA),
MLSys 2020; Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
Hyperparameter Optimization", AISTATS 2016.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from ._population import (
    PopulationInputs, advance_members, check_positive_int, checkpoint_path, init_members, latest_decision,
    member_scores, place, ranking, save_decision, search_fingerprint, state_shapes, to_host,
)  # fmt: skip
from ._results import Best

__all__ = ["HalvingResult", "halving_rungs", "successive_halving"]

_NAME = "successive_halving"
_PREFIX = "halving_rung"


def halving_rungs(num_members: int, min_steps: int, max_steps: int, eta: int) -> tuple[list[int], list[int]]:
    """The rungs of a bracket: their steps and how many members run to each.

    Rung k is at ``min_steps * eta**k`` steps while that is below
    ``max_steps``; the last rung is ``max_steps``. ``num_members`` run to the
    first rung and ``max(1, n // eta)`` of the ``n`` at a rung go on to the
    next.

    Args:
        num_members: members at the start.
        min_steps: steps to the first rung.
        max_steps: the budget: steps of a member that survives every rung.
        eta: the reduction factor.

    Returns:
        ``(steps, sizes)``, one entry per rung.

    Example:
        >>> halving_rungs(64, 10, 640, 4)
        ([10, 40, 160, 640], [64, 16, 4, 1])
    """
    steps = [min_steps]
    while steps[-1] * eta < max_steps:
        steps.append(steps[-1] * eta)
    if steps[-1] < max_steps:
        steps.append(max_steps)
    sizes = [num_members]
    for _ in steps[1:]:
        sizes.append(max(1, sizes[-1] // eta))
    return steps, sizes


@dataclass
class HalvingResult:
    """What :func:`successive_halving` returns.

    Attributes:
        rungs: the steps at each rung.
        sizes: how many members ran to each rung.
        scores: the metric at each rung, shape (rungs, members); NaN where a
            member did not reach the rung.
        ran: True where a member reached the rung, shape (rungs, members).
        rung_reached: each member's last rung (index).
        survivors: the members that ran to the last rung (indices, in order).
        member_steps: steps trained over all members (a grid of the same
            members to ``max_steps`` costs ``members * max_steps``).
        labels: one label per member.
        metric, mode: the ranking.
        state: the survivors' final states (stacked, in ``survivors`` order).
        metrics: the survivors' last metrics (stacked, in ``survivors`` order).
        resumed_from: the rung whose checkpoint this run resumed after, or -1.
        seconds: wall time of this call.
    """

    rungs: list[int]
    sizes: list[int]
    scores: np.ndarray
    ran: np.ndarray
    rung_reached: np.ndarray
    survivors: np.ndarray
    member_steps: int
    labels: list[str]
    metric: str
    mode: str
    state: Any
    metrics: Any
    resumed_from: int
    seconds: float

    @property
    def grid_member_steps(self) -> int:
        """Steps a full grid of the same members to ``max_steps`` would train."""
        return len(self.labels) * self.rungs[-1]

    def best(self) -> Best:
        """The best member at the last rung.

        Returns:
            A :class:`Best` (index, label, value).
        """
        final = self.scores[-1, self.survivors]
        index = int(self.survivors[ranking(final, self.mode)[0]])
        return Best(index, self.labels[index], float(self.scores[-1, index]), (index,))


def successive_halving(
    init: Callable[[Any, jax.Array], Any],
    advance: Callable[[Any, Any, int], tuple[Any, Any]],
    configs: Any,
    key: jax.Array | int | None = None,
    *,
    metric: str,
    mode: str = "min",
    min_steps: int,
    max_steps: int,
    eta: int = 3,
    split_keys: bool = False,
    devices: Sequence[jax.Device] | None = None,
    labels: Sequence[str] | None = None,
    checkpoint_dir: str | None = None,
    overwrite: bool = False,
    callback: Callable[[int], None] | None = None,
) -> HalvingResult:
    r"""Successive halving over a stacked sweep: train every member to a rung,
    keep the best ``1/eta`` by a validation metric, compact them, go on.

    Rung :math:`k` is at :math:`r_k = \text{min\_steps}\,\eta^k` steps (the
    last one at ``max_steps``, :func:`halving_rungs`); the :math:`n_k` members
    at a rung are ranked by ``metric`` and the best
    :math:`n_{k+1} = \max(1, \lfloor n_k/\eta \rfloor)` continue (a NaN ranks
    last, ties go to the lower index). The survivors' configurations and
    states are gathered into a batch of :math:`n_{k+1}` members, so each rung
    is one compiled ``jit(vmap(advance))`` program for its static size and the
    pruned members never run again: a bracket costs
    :math:`\sum_k n_k (r_k - r_{k-1})` member-steps against a grid's
    :math:`N\,\text{max\_steps}`.

    Members follow the step-level protocol: ``init(config, key) -> state``
    and ``advance(config, state, num_steps) -> (state, metrics)`` for ONE
    member (its state carries its own step count and data position).

    With ``checkpoint_dir``, each rung's decision (the survivors, their
    states and every score so far) is saved atomically in the sweep's
    checkpoint store; a rerun with the same arguments resumes after the
    newest complete rung and prunes exactly the same members. A checkpoint
    of a different search (configs, key, programs or settings) raises a
    ``ValueError`` naming what differs, unless ``overwrite=True``.

    Placement: a batch whose size the device count divides is sharded over
    ``devices`` along the member axis (as a sweep chunk is); a smaller one
    runs on the first device.

    Args:
        init: ``init(config, key) -> state`` for one member.
        advance: ``advance(config, state, num_steps) -> (state, metrics)``;
            ``metrics`` a dict (nested dicts allowed) holding ``metric``.
        configs: a :class:`Batch` or a stacked pytree (leading member axis).
        key: the PRNG key (an int is a seed; None is seed 0) every member's
            ``init`` gets, or with ``split_keys`` folded with its index.
        metric: the validation metric ranking members (a key path such as
            ``"val_loss"`` or ``"eval/accuracy"``; a history counts by its
            last entry).
        mode: ``"min"`` or ``"max"``: which end of ``metric`` is best.
        min_steps: steps to the first rung, a positive int <= ``max_steps``.
        max_steps: the budget: steps of a member that survives every rung.
        eta: the reduction factor, an int >= 2.
        split_keys: give member i the key ``fold_in(key, i)``.
        devices: devices to shard over (default: all).
        labels: one label per member (default: the Batch's).
        checkpoint_dir: a folder for the rung checkpoints, or None.
        overwrite: start afresh over another search's checkpoints.
        callback: ``callback(rung)``, called after each rung's decision is
            made (and saved), for progress or to stop the search.

    Returns:
        A :class:`HalvingResult`.

    Raises:
        ValueError: for a bad argument (``eta < 2``, ``min_steps >
            max_steps``, ...), naming it; for an unknown metric; for another
            search's checkpoint.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> batch = osd.grid(lambda lr: {"lr": lr}, lr=[0.01, 0.1, 0.5, 0.9])
        >>> init = lambda config, key: jnp.float32(4.0)  # minimise x**2 from x = 4
        >>> def advance(config, x, num_steps):
        ...     for _ in range(num_steps):
        ...         x = x - config["lr"] * 2 * x
        ...     return x, {"loss": x**2}
        >>> result = osd.successive_halving(init, advance, batch, metric="loss",
        ...                                 min_steps=2, max_steps=8, eta=2)
        >>> result.rungs, result.sizes, result.best().label
        ([2, 4, 8], [4, 2, 1], 'lr=0.5')
        >>> result.member_steps, result.grid_member_steps
        (16, 32)
    """
    start_time = time.perf_counter()
    inputs = PopulationInputs(_NAME, init, advance, configs, key, devices, labels, metric, mode)
    eta = check_positive_int(_NAME, "eta", eta, minimum=2)
    min_steps = check_positive_int(_NAME, "min_steps", min_steps)
    max_steps = check_positive_int(_NAME, "max_steps", max_steps)
    if min_steps > max_steps:
        raise ValueError(
            f"{_NAME}: min_steps (the first rung) must be at most max_steps (the budget), "
            f"got min_steps={min_steps}, max_steps={max_steps}"
        )
    n = inputs.num_members
    rungs, sizes = halving_rungs(n, min_steps, max_steps, eta)
    scores = np.full((len(rungs), n), np.nan, np.float32)
    ran = np.zeros((len(rungs), n), bool)
    alive = np.arange(n)
    first_rung, state, resumed_from = 0, None, -1

    if checkpoint_dir is not None:
        fingerprint = search_fingerprint(
            _NAME, init, advance, inputs.configs, inputs.key, rungs[0], rungs=rungs, sizes=sizes,
            metric=metric, mode=mode, split_keys=split_keys,
        )  # fmt: skip

        def templates(rung: int) -> dict[str, Any]:
            kept = jax.tree.map(lambda x: x[: sizes[rung + 1]], inputs.configs)
            return {"state": state_shapes(init, kept, inputs.key, split_keys), "scores": scores, "ran": ran}

        found = latest_decision(_NAME, checkpoint_dir, _PREFIX, fingerprint, templates, overwrite)
        if found is not None:
            resumed_from, trees, meta = found
            first_rung, alive = resumed_from + 1, np.asarray(meta["survivors"], np.int64)
            scores, ran = np.array(trees["scores"]), np.array(trees["ran"])

    member_configs = place(_take(inputs.configs, alive), inputs.mesh, inputs.device)
    if first_rung == 0:
        state = init_members(init, member_configs, inputs.key, split_keys, alive)
    else:
        state = trees["state"]
    state = place(state, inputs.mesh, inputs.device)

    metrics = None
    for rung in range(first_rung, len(rungs)):
        num_steps = rungs[rung] - (rungs[rung - 1] if rung else 0)
        state, metrics = advance_members(advance, member_configs, state, num_steps)
        scores[rung, alive] = np.asarray(member_scores(_NAME, metrics, metric))
        ran[rung, alive] = True
        if rung == len(rungs) - 1:
            break
        keep = np.sort(ranking(scores[rung, alive], mode)[: sizes[rung + 1]])
        alive = alive[keep]
        member_configs = place(_take(inputs.configs, alive), inputs.mesh, inputs.device)
        state = place(_take(state, keep), inputs.mesh, inputs.device)
        if checkpoint_dir is not None:
            save_decision(
                checkpoint_path(checkpoint_dir, _PREFIX, rung),
                {"state": state, "scores": scores, "ran": ran},
                {"fingerprint": fingerprint, "index": rung, "survivors": alive.tolist()},
            )
        if callback is not None:
            callback(rung)

    member_steps = sum(size * (steps - previous) for size, steps, previous in zip(sizes, rungs, [0] + rungs))
    return HalvingResult(
        rungs=rungs,
        sizes=sizes,
        scores=scores,
        ran=ran,
        rung_reached=np.asarray(len(rungs) - 1 - np.argmax(ran[::-1], axis=0)),
        survivors=alive,
        member_steps=int(member_steps),
        labels=inputs.labels,
        metric=metric,
        mode=mode,
        state=to_host(state),
        metrics=to_host(metrics),
        resumed_from=resumed_from,
        seconds=time.perf_counter() - start_time,
    )


def _take(tree: Any, indices: np.ndarray) -> Any:
    return jax.tree.map(lambda x: x[indices], tree)
