"""Population-based training in one compiled program: the population is one
stacked pytree, exploit is one gather along its member axis (parameters,
optimizer state and configuration together) and explore perturbs declared
float leaves of the configuration (schedule hyperparameters).

Jaderberg et al., "Population Based Training of Neural Networks", 2017.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..schedules import PiecewiseLinear, Schedule, Staircase
from ._population import (
    PopulationInputs, advance_members, check_positive_int, checkpoint_path, init_members, latest_decision,
    member_scores, place, ranking, save_decision, search_fingerprint, state_shapes, to_host,
)  # fmt: skip
from ._results import Best

__all__ = ["Explore", "PBTResult", "explore", "leaf_names", "pbt"]

_NAME = "pbt"
_PREFIX = "pbt_generation"
_KEEP_CHECKPOINTS = 2  # the newest, and the one before should the newest be cut short


class Explore(NamedTuple):
    """How PBT explores one float hyperparameter (made by :func:`explore`).

    Attributes:
        low: the smallest value allowed (values are clipped to [low, high]).
        high: the largest value allowed.
        factors: a copied member's value is multiplied by one of these, drawn uniformly.
        resample: the probability of drawing a fresh value from [low, high] instead.
        log: draw fresh values log-uniformly (for rates).
    """

    low: float
    high: float
    factors: tuple[float, ...] = (0.8, 1.25)
    resample: float = 0.0
    log: bool = False


def explore(
    low: float,
    high: float,
    *,
    factors: Sequence[float] = (0.8, 1.25),
    resample: float = 0.0,
    log: bool = False,
) -> Explore:
    """Declare a float hyperparameter PBT may change, and how.

    Args:
        low: the smallest value allowed, finite (> 0 with ``log``).
        high: the largest value allowed, finite, at least ``low``.
        factors: positive multipliers (Jaderberg et al. use 0.8 and 1.2).
        resample: probability in [0, 1] of a fresh draw instead of a multiplier.
        log: fresh draws are log-uniform.

    Returns:
        The :class:`Explore`.

    Example:
        >>> import optasched as osd
        >>> osd.explore(1e-4, 1.0, resample=0.25, log=True).factors
        (0.8, 1.25)
    """
    bounds = (low, high)
    if not all(isinstance(b, numbers.Real) and not isinstance(b, bool) and math.isfinite(b) for b in bounds):
        raise ValueError(f"explore: low and high must be finite numbers, got low={low!r}, high={high!r}")
    if low > high or (log and low <= 0):
        raise ValueError(f"explore: need {'0 < ' if log else ''}low <= high, got low={low!r}, high={high!r}")
    factors = tuple(factors) if isinstance(factors, Sequence) else factors
    if not isinstance(factors, tuple) or not factors or not all(_positive(f) for f in factors):
        raise ValueError(f"explore: factors must be a non-empty list of positive numbers, got {factors!r}")
    if not isinstance(resample, numbers.Real) or isinstance(resample, bool) or not 0 <= resample <= 1:
        raise ValueError(f"explore: resample must be a probability in [0, 1], got {resample!r}")
    return Explore(float(low), float(high), tuple(float(f) for f in factors), float(resample), bool(log))


def _positive(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def leaf_names(config: Any) -> list[str]:
    """The dotted names of a configuration's leaves, as :func:`pbt`'s ``hyperparams`` takes them.

    Dict keys, attribute names (a schedule's hyperparameters) and sequence
    indices joined by dots: ``{"lr": osd.constant(0.1)}`` has the leaf ``lr.value``.

    Args:
        config: a configuration pytree (one member or stacked).

    Returns:
        The names, in leaf order.

    Example:
        >>> import optasched as osd
        >>> osd.leaf_names({"lr": osd.cosine(0.1, 100), "momentum": 0.9})
        ['lr.init_value', 'lr.decay_steps', 'lr.end_value', 'lr.exponent', 'momentum']
    """
    return [_dotted(path) for path, _ in jax.tree_util.tree_flatten_with_path(config)[0]]


def _dotted(path) -> str:
    return ".".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


class _Plan(NamedTuple):
    """The static part of a generation's program (hashable)."""

    advance: Callable
    ready: int
    metric: str
    mode: str
    num_copied: int
    explored: tuple[tuple[int, Explore], ...]  # (leaf index, how)


@functools.partial(jax.jit, static_argnums=0)
def _generation(plan: _Plan, configs: Any, states: Any, key: jax.Array, exploit: jax.Array):
    """Advance every member ``ready`` steps, score it, then (if ``exploit``) exploit and explore.

    ``exploit`` is traced (False for the last generation, whose gather is the
    identity), so every generation runs the same compiled program.
    """
    states, metrics = advance_members(plan.advance, configs, states, plan.ready)
    scores = member_scores(_NAME, metrics, plan.metric)
    leaves, treedef = jax.tree.flatten(configs)
    used = tuple(leaves[index] for index, _ in plan.explored)  # the values this generation trained with
    num_members = scores.shape[0]
    order = ranking(scores, plan.mode, jnp)
    top, bottom = order[: plan.num_copied], order[num_members - plan.num_copied :]
    donor_key, explore_key = jax.random.split(key)
    donors = top[jax.random.randint(donor_key, (plan.num_copied,), 0, plan.num_copied)]
    keep = jnp.arange(num_members)
    source = jnp.where(exploit, keep.at[bottom].set(donors), keep)
    configs, states = jax.tree.map(lambda x: x[source], (configs, states))  # exploit: one gather
    copied = jnp.zeros(num_members, bool).at[bottom].set(True) & exploit
    leaves = jax.tree.leaves(configs)
    for (index, how), leaf_key in zip(plan.explored, jax.random.split(explore_key, len(plan.explored))):
        leaves[index] = jnp.where(copied, _perturbed(leaves[index], how, leaf_key), leaves[index])
    return jax.tree.unflatten(treedef, leaves), states, metrics, scores, source, used


def _perturbed(values: jax.Array, how: Explore, key: jax.Array) -> jax.Array:
    factor_key, draw_key, coin_key = jax.random.split(key, 3)
    factors = jnp.asarray(how.factors, values.dtype)
    new = values * factors[jax.random.randint(factor_key, values.shape, 0, len(how.factors))]
    if how.resample > 0:
        if how.log:
            drawn = jnp.exp(jax.random.uniform(draw_key, values.shape, values.dtype, math.log(how.low),
                                               math.log(how.high)))  # fmt: skip
        else:
            drawn = jax.random.uniform(draw_key, values.shape, values.dtype, how.low, how.high)
        new = jnp.where(jax.random.bernoulli(coin_key, how.resample, values.shape), drawn, new)
    return jnp.clip(new, how.low, how.high).astype(values.dtype)


@dataclass
class PBTResult:
    """What :func:`pbt` returns.

    Generation g trains every member ``ready`` steps (steps ``g*ready`` to
    ``(g+1)*ready - 1``); after every generation but the last, the members
    are ranked and the bottom ``fraction`` copy top members and explore.

    Attributes:
        scores: the metric after each generation, shape (generations, members).
        parents: which member each one copied after each exploit, shape
            (generations - 1, members); ``parents[g, i] == i`` where member i
            kept its own weights.
        hyperparams: declared name -> the value each member trained with in
            each generation, shape (generations, members).
        ready: steps per generation.
        metric, mode: the ranking.
        labels: the members' initial labels.
        configs: the final configurations (stacked).
        state: the final states (stacked).
        metrics: the last generation's metrics (stacked).
        member_steps: steps trained over all members.
        resumed_from: the generation whose checkpoint this run resumed after, or -1.
        seconds: wall time of this call.
    """

    scores: np.ndarray
    parents: np.ndarray
    hyperparams: dict[str, np.ndarray]
    ready: int
    metric: str
    mode: str
    labels: list[str]
    configs: Any
    state: Any
    metrics: Any
    member_steps: int
    resumed_from: int
    seconds: float

    def best(self) -> Best:
        """The best member after the last generation.

        Returns:
            A :class:`Best` (index, label ``"member i"``, value).
        """
        index = int(ranking(self.scores[-1], self.mode)[0])
        return Best(index, f"member {index}", float(self.scores[-1, index]), (index,))

    def ancestry(self, member: int) -> np.ndarray:
        """Where a member's weights were in each generation (its lineage).

        Args:
            member: the member at the end.

        Returns:
            One member index per generation, the last being ``member``.
        """
        self._check_member(member)
        slots = [member]
        for parents in self.parents[::-1]:
            slots.append(int(parents[slots[-1]]))
        return np.asarray(slots[::-1])

    def trajectory(self, member: int, name: str | None = None) -> np.ndarray:
        """The values of a hyperparameter the final ``member``'s weights were trained with, per generation.

        Args:
            member: the member at the end.
            name: a declared hyperparameter (default: the only one).

        Returns:
            One value per generation, along :meth:`ancestry`.
        """
        values = self.hyperparams[self._name(name)]
        return values[np.arange(values.shape[0]), self.ancestry(member)]

    def schedule(self, member: int | None = None, name: str | None = None, interpolation: str = "constant"):
        """A member's hyperparameter trajectory as an optasched schedule of the step.

        ``"constant"`` holds each generation's value over its ``ready`` steps
        (exactly the values trained with: where the hyperparameter is an
        ``osd.constant``'s value, the schedule replaces that constant and
        replays the run's curve in a fresh run); ``"linear"`` interpolates
        between the values at the generations' first steps.

        Args:
            member: the member at the end (default: :meth:`best`).
            name: a declared hyperparameter (default: the only one).
            interpolation: ``"constant"`` or ``"linear"``.

        Returns:
            A schedule: ``osd.staircase(osd.piecewise_linear(...), ready)``
            or ``osd.piecewise_linear(...)``.
        """
        if interpolation not in ("constant", "linear"):
            raise ValueError(
                f"PBTResult.schedule: interpolation must be 'constant' or 'linear', got {interpolation!r}"
            )
        member = self.best().index if member is None else member
        values = self.trajectory(member, name)
        knots = np.arange(len(values), dtype=np.int32) * self.ready
        curve: Schedule = PiecewiseLinear(knots, values)
        return Staircase(curve, self.ready) if interpolation == "constant" else curve

    def _name(self, name: str | None) -> str:
        if name is None and len(self.hyperparams) == 1:
            return next(iter(self.hyperparams))
        if name not in self.hyperparams:
            raise ValueError(f"PBTResult: name must be one of {sorted(self.hyperparams)}, got {name!r}")
        return name

    def _check_member(self, member: int) -> None:
        count = self.scores.shape[1]
        if isinstance(member, bool) or not isinstance(member, numbers.Integral) or not 0 <= member < count:
            raise ValueError(f"PBTResult: member must be an index in [0, {count}), got {member!r}")


def pbt(
    init: Callable[[Any, jax.Array], Any],
    advance: Callable[[Any, Any, int], tuple[Any, Any]],
    configs: Any,
    key: jax.Array | int | None = None,
    *,
    hyperparams: Mapping[str, Explore],
    steps: int,
    ready: int,
    metric: str,
    mode: str = "min",
    fraction: float = 0.25,
    split_keys: bool = False,
    devices: Sequence[jax.Device] | None = None,
    labels: Sequence[str] | None = None,
    checkpoint_dir: str | None = None,
    overwrite: bool = False,
    callback: Callable[[int], None] | None = None,
) -> PBTResult:
    r"""Population-based training of a stacked population in one compiled program.

    Every ``ready`` steps (a generation, one call of the same compiled program):
    all members advance ``ready`` steps (``jit(vmap(advance))``), are ranked
    by ``metric``, and (truncation selection) each of the worst
    :math:`c = \max(1, \lfloor \text{fraction}\cdot N \rfloor)` copies a
    member drawn uniformly from the best :math:`c`: its configuration (every
    schedule leaf), and its state (parameters, optimizer state, step count),
    as ONE gather along the member axis. Each copied member then explores:
    every declared hyperparameter is multiplied by a factor drawn from its
    :func:`explore`'s ``factors`` (or, with probability ``resample``, drawn
    afresh), clipped to ``[low, high]``. A NaN metric ranks last. Every draw
    comes from ``key``: the same key gives the same lineage.

    ``advance`` must read every declared hyperparameter from its ``config``
    (not from a copy held in the state, as ``osd.inject`` holds its
    schedules), so the explored value is the one trained with.

    The result records every member's score and hyperparameter values per
    generation and its parent at each exploit; :meth:`PBTResult.schedule`
    exports the winner's trajectory (along its ancestry) as a schedule that
    replays it in a fresh run.

    With ``checkpoint_dir``, the population after each exploit and explore
    (configurations, states, records) is saved atomically (the newest two
    are kept); a rerun with the same arguments resumes from the newest
    complete one, and ends with the same final population as an
    uninterrupted run. Another search's checkpoint raises a ``ValueError``
    naming what differs, unless ``overwrite=True``.

    Placement: a population whose size the device count divides is sharded
    over ``devices`` along the member axis (as a sweep chunk is); otherwise
    it runs on the first device.

    Args:
        init: ``init(config, key) -> state`` for one member.
        advance: ``advance(config, state, num_steps) -> (state, metrics)``.
        configs: a :class:`Batch` (say from :func:`sample`) or a stacked
            pytree: the initial population, at least 2 members.
        key: the PRNG key (an int is a seed; None is seed 0).
        hyperparams: dotted leaf name (:func:`leaf_names`, such as
            ``"lr.value"``) -> :func:`explore`; each a float leaf with one
            value per member.
        steps: training steps per member, a positive multiple of ``ready``.
        ready: steps between exploits.
        metric: the validation metric (a key path in ``advance``'s metrics).
        mode: ``"min"`` or ``"max"``.
        fraction: the share of members replaced at each exploit, in (0, 0.5].
        split_keys: give member i the key ``fold_in(init key, i)`` (distinct
            initialisations); by default all members share one.
        devices: devices to shard over (default: all).
        labels: one label per initial member (default: the Batch's).
        checkpoint_dir: a folder for the generation checkpoints, or None.
        overwrite: start afresh over another search's checkpoints.
        callback: ``callback(generation)``, called after each exploit and
            explore (and its checkpoint).

    Returns:
        A :class:`PBTResult`.

    Raises:
        ValueError: for a bad argument, naming it (a population under 2, a
            fraction outside (0, 0.5], a hyperparameter that is not a float
            leaf, ``steps`` not a multiple of ``ready``); an unknown metric;
            another search's checkpoint.

    Example:
        >>> import jax, jax.numpy as jnp, optasched as osd
        >>> batch = osd.grid(lambda lr: {"lr": osd.constant(lr)}, lr=[0.01, 0.02, 0.05, 0.1])
        >>> init = lambda config, key: {"x": jnp.float32(4.0), "step": jnp.int32(0)}
        >>> def advance(config, state, num_steps):
        ...     x, step = state["x"], state["step"]
        ...     for _ in range(num_steps):  # minimise x**2 by gradient descent
        ...         x, step = x - config["lr"](step) * 2 * x, step + 1
        ...     return {"x": x, "step": step}, {"loss": x**2}
        >>> result = osd.pbt(init, advance, batch, jax.random.key(0), metric="loss", steps=40, ready=10,
        ...                  hyperparams={"lr.value": osd.explore(1e-3, 0.4)}, fraction=0.5)
        >>> result.scores.shape, result.parents.shape
        ((4, 4), (3, 4))
        >>> replay = result.schedule()  # the winner's learning rate, step by step
        >>> bool(replay(35) == result.trajectory(result.best().index)[3])
        True
    """
    start_time = time.perf_counter()
    inputs = PopulationInputs(_NAME, init, advance, configs, key, devices, labels, metric, mode)
    n = inputs.num_members
    if n < 2:
        raise ValueError(f"{_NAME}: the population (configs) must have at least 2 members, got {n}")
    ready = check_positive_int(_NAME, "ready", ready)
    steps = check_positive_int(_NAME, "steps", steps)
    if steps % ready:
        raise ValueError(f"{_NAME}: steps must be a multiple of ready={ready}, got steps={steps}")
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction <= 0.5:
        raise ValueError(f"{_NAME}: fraction must be in (0, 0.5], got {fraction!r}")
    explored = _explored_leaves(inputs.configs, hyperparams)
    names = list(hyperparams)
    generations = steps // ready
    plan = _Plan(advance, ready, metric, mode, max(1, int(fraction * n)), explored)
    init_key, search_key = jax.random.split(inputs.key)

    scores = np.full((generations, n), np.nan, np.float32)
    parents = np.tile(np.arange(n), (max(generations - 1, 0), 1))
    values = {name: np.full((generations, n), np.nan, np.float32) for name in names}
    configs, state, first, resumed_from = inputs.configs, None, 0, -1
    if checkpoint_dir is not None:
        declared = {name: dict(how._asdict(), factors=list(how.factors)) for name, how in hyperparams.items()}
        fingerprint = search_fingerprint(
            _NAME, init, advance, inputs.configs, inputs.key, ready, steps=steps, hyperparams=declared,
            metric=metric, mode=mode, fraction=float(fraction), split_keys=split_keys,
        )  # fmt: skip
        records = {"scores": scores, "parents": parents, "hyperparams": values}
        shapes = state_shapes(init, inputs.configs, init_key, split_keys)
        found = latest_decision(
            _NAME, checkpoint_dir, _PREFIX, fingerprint,
            lambda _: {"configs": inputs.configs, "state": shapes, **records}, overwrite,
        )  # fmt: skip
        if found is not None:
            resumed_from, trees, _ = found
            first, configs, state = resumed_from + 1, trees["configs"], trees["state"]
            scores, parents = np.array(trees["scores"]), np.array(trees["parents"])
            values = {name: np.array(trees["hyperparams"][name]) for name in names}

    configs = place(configs, inputs.mesh, inputs.device)
    if state is None:
        state = init_members(init, configs, init_key, split_keys, np.arange(n))
    state = place(state, inputs.mesh, inputs.device)
    metrics = None
    for generation in range(first, generations):
        last = generation == generations - 1
        configs, state, metrics, generation_scores, source, used = _generation(
            plan, configs, state, jax.random.fold_in(search_key, generation), jnp.asarray(not last)
        )
        # the outputs' shardings are XLA's choice: placed as the inputs were, the next call reuses the program
        configs, state = place((configs, state), inputs.mesh, inputs.device)
        scores[generation] = np.asarray(generation_scores)
        for name, value in zip(names, used):
            values[name][generation] = np.asarray(value)
        if last:
            break
        parents[generation] = np.asarray(source)
        if checkpoint_dir is not None:
            save_decision(
                checkpoint_path(checkpoint_dir, _PREFIX, generation),
                {"configs": configs, "state": state, "scores": scores, "parents": parents,
                 "hyperparams": values},  # fmt: skip
                {"fingerprint": fingerprint, "index": generation},
            )
            checkpoint_path(checkpoint_dir, _PREFIX, generation - _KEEP_CHECKPOINTS).unlink(missing_ok=True)
        if callback is not None:
            callback(generation)

    return PBTResult(
        scores=scores,
        parents=parents,
        hyperparams=values,
        ready=ready,
        metric=metric,
        mode=mode,
        labels=inputs.labels,
        configs=to_host(configs),
        state=to_host(state),
        metrics=to_host(metrics),
        member_steps=n * steps,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - start_time,
    )


def _explored_leaves(configs: Any, hyperparams: Any) -> tuple[tuple[int, Explore], ...]:
    """(leaf index, how) per declared hyperparameter; each must be a float leaf, one value per member."""
    if not isinstance(hyperparams, Mapping) or not hyperparams:
        raise ValueError(
            f"{_NAME}: hyperparams must map leaf names to osd.explore(...), at least one, got {hyperparams!r}"
        )
    leaves = jax.tree.leaves(configs)
    names = leaf_names(configs)
    explored = []
    for name, how in hyperparams.items():
        if not isinstance(how, Explore):
            raise ValueError(
                f"{_NAME}: hyperparams[{name!r}] must be osd.explore(low, high, ...), got {how!r}"
            )
        if name not in names:
            raise ValueError(
                f"{_NAME}: hyperparams names {name!r}, not a leaf of the config; its leaves: {names}"
            )
        leaf = leaves[names.index(name)]
        if not np.issubdtype(leaf.dtype, np.floating) or leaf.ndim != 1:
            raise ValueError(
                f"{_NAME}: hyperparams names {name!r}, which is not a float leaf with one value per member "
                f"(dtype {leaf.dtype}, shape {leaf.shape}); PBT explores float hyperparameters only"
            )
        explored.append((names.index(name), how))
    return tuple(explored)
