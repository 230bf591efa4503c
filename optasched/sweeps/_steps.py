"""Long members that resume mid-training: a sweep advanced a segment of steps
at a time, its stacked state checkpointed with orbax between segments.

The protocol, for ONE configuration (as ``train`` is for :func:`optasched.sweep`):

- ``init(config, key) -> state``: the member's starting state (parameters,
  optimizer state with its step count, data position, ...);
- ``advance(config, state, num_steps) -> (state, metrics)``: ``num_steps``
  more steps. Built on :func:`optasched.train_loop`, it may return the
  loop's :class:`LoopResult` as it is: the loop's per-step divergence then
  counts (the member keeps its last finite state and ``diverged_at`` is the
  exact step).

:func:`stepped_sweep` vmaps both over all members in one compiled program,
runs ``total_steps / checkpoint_every`` segments and saves the stacked state,
every member's ``diverged_at`` and the metrics so far after each with an
orbax ``CheckpointManager``. Rerun with the same arguments, it restores the
newest checkpoint that restores (a half-written or damaged one falls back to
the one before) and continues with the same program, so the final state
equals an uninterrupted run's bit for bit.
"""

from __future__ import annotations

import functools
import numbers
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from ._checkpoint import fingerprint_differences, program_fingerprint, sweep_fingerprint
from ._inputs import check_inputs
from ._loop import LoopResult, all_finite, stayed_finite

__all__ = ["SteppedSweep", "stepped_sweep"]


class SteppedSweep(NamedTuple):
    """What :func:`stepped_sweep` returns (NumPy leaves, leading axis = members).

    Attributes:
        state: every member's final state (a diverged member's last finite one).
        metrics: the metrics of each segment, stacked on a second axis
            (``total_steps // checkpoint_every`` entries; NaN for a member's
            segments after it diverged).
        diverged_at: each member's first non-finite step, or -1 (int32).
        labels: one label per member.
        resumed_from: the step the run restored from a checkpoint, or 0.
    """

    state: Any
    metrics: Any
    diverged_at: np.ndarray
    labels: list[str]
    resumed_from: int


def stepped_sweep(
    init: Callable[[Any, jax.Array], Any],
    advance: Callable[[Any, Any, int], Any],
    configs: Any,
    key: jax.Array | int | None = None,
    *,
    total_steps: int,
    checkpoint_every: int,
    checkpoint_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    max_to_keep: int = 2,
    split_keys: bool = False,
    devices: Sequence[jax.Device] | None = None,
    labels: Sequence[str] | None = None,
    progress: bool = False,
) -> SteppedSweep:
    """Run long members stacked, ``checkpoint_every`` steps at a time, checkpointed and resumable.

    All members advance together in one compiled ``jit(vmap(advance))``
    program (their member axis sharded over ``devices`` when there are
    several and the members divide evenly), one call per segment of
    ``checkpoint_every`` steps. After each segment the stacked state is saved
    with orbax (``CheckpointManager``, the newest ``max_to_keep`` kept), with
    a fingerprint of the sweep (batch structure and values, key, program,
    segment length, total steps). Rerun with the same arguments after a
    kill, it restores the newest checkpoint that restores and runs only the
    segments after it; the result equals an uninterrupted run bit for bit.

    A member whose state turns non-finite is frozen at its last finite state
    (per step with a :class:`LoopResult` from ``advance``, else at the start
    of the segment) and never advanced again; the others are untouched.

    Args:
        init: ``init(config, key) -> state`` for ONE configuration.
        advance: ``advance(config, state, num_steps) -> (state, metrics)``, or
            a :class:`LoopResult` (``osd.train_loop(...)``), for ONE
            configuration. The state counts its own steps (an optax state
            does): ``train_loop`` numbers each segment's steps from 0.
        configs: a :class:`Batch` or a stacked pytree (leading member axis).
        key: PRNG key for ``init`` (an int seed; None means seed 0), shared by
            all members, or folded with the member index (``split_keys``).
        total_steps: steps every member runs, a positive int.
        checkpoint_every: steps per segment (one checkpoint each); a positive
            divisor of ``total_steps``.
        checkpoint_dir: the orbax folder, or None for no checkpoints.
        overwrite: replace the checkpoints of a different sweep found in
            ``checkpoint_dir`` instead of refusing.
        max_to_keep: checkpoints kept (the newest), a positive int.
        split_keys: give member i the key ``fold_in(key, i)``.
        devices: devices to shard the members over (default: the first one).
        labels: one label per member (default: the Batch's).
        progress: print one line per segment to stderr.

    Returns:
        A :class:`SteppedSweep`.

    Raises:
        ValueError: naming a bad argument and its value, or (without
            ``overwrite``) a ``checkpoint_dir`` holding a different sweep,
            naming what differs.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> batch = osd.grid(lambda lr: {"lr": lr}, lr=[0.1, 0.2])
        >>> init = lambda config, key: jnp.float32(1.0)
        >>> def advance(config, x, num_steps):  # minimise x**2
        ...     return osd.train_loop(lambda x, t: (x - config["lr"] * 2 * x, {"x": x}), x, num_steps)
        >>> run = osd.stepped_sweep(init, advance, batch, total_steps=20, checkpoint_every=10)
        >>> [round(float(x), 4) for x in run.state], run.metrics["x"].shape
        ([0.0115, 0.0], (2, 2, 10))
    """
    if not callable(advance):
        raise ValueError(
            f"stepped_sweep: advance must be a function advance(config, state, num_steps), got {advance!r}"
        )
    if not callable(init):
        raise ValueError(f"stepped_sweep: init must be a function init(config, key), got {init!r}")
    inputs = check_inputs(
        init, configs, key, strategy="vmap", chunk_size=None, memory_budget=None,
        devices=devices if devices is not None else jax.devices()[:1], labels=labels,
    )  # fmt: skip
    _check_steps(total_steps, checkpoint_every)
    _check_positive_int("max_to_keep", max_to_keep)
    for name, flag in (("overwrite", overwrite), ("split_keys", split_keys), ("progress", progress)):
        if not isinstance(flag, bool):
            raise ValueError(f"stepped_sweep: {name} must be True or False, got {flag!r}")
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise ValueError(
            "stepped_sweep: checkpoint_dir must be a folder path (str or os.PathLike), "
            f"got {checkpoint_dir!r}"
        )

    members = _member_sharding(inputs)
    place = (lambda tree: jax.device_put(tree, members)) if members is not None else jax.device_put
    configs = place(inputs.configs)
    indices = place(np.arange(inputs.num_members, dtype=np.int32))
    init_all, segment = _programs(init, advance, split_keys, checkpoint_every)

    state = init_all(configs, inputs.key, indices)
    diverged_at = place(np.full(inputs.num_members, -1, np.int32))
    num_segments = total_steps // checkpoint_every
    shapes = jax.eval_shape(segment, configs, state, diverged_at, jnp.int32(0))[2]
    history = place(jax.tree.map(lambda s: _empty_history(s, num_segments), shapes))
    carry = place({"state": state, "diverged_at": diverged_at, "history": history})  # every leaf by member

    store, done = None, 0
    if checkpoint_dir is not None:
        one = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), inputs.configs)
        one_state = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), state)
        program = program_fingerprint(
            lambda c, s: advance(c, s, checkpoint_every), one, one_state
        )  # what a segment computes for one member
        fingerprint = sweep_fingerprint(
            batch=inputs.configs, key=inputs.key, program=program, chunk_size=inputs.num_members,
            checkpoint_every=checkpoint_every, total_steps=total_steps, split_keys=split_keys,
            devices=len(inputs.devices),
        )  # fmt: skip
        store = _Store(Path(checkpoint_dir), max_to_keep)
        done, carry = store.restore(carry, fingerprint, overwrite)
        carry = place(carry)
    resumed_from = done * checkpoint_every
    if progress and done:
        sys.stderr.write(f"stepped_sweep: resumed from step {resumed_from} (checkpoint)\n")
    try:
        for index in range(done, num_segments):
            start = jnp.int32(index * checkpoint_every)
            state, diverged_at, metrics = segment(configs, carry["state"], carry["diverged_at"], start)
            history = jax.tree.map(lambda h, m, i=index: h.at[:, i].set(m), carry["history"], metrics)
            carry = {"state": state, "diverged_at": diverged_at, "history": history}
            if store is not None:
                store.save(index + 1, carry, fingerprint)
            if progress:
                sys.stderr.write(f"stepped_sweep: step {(index + 1) * checkpoint_every}/{total_steps}\n")
    finally:
        if store is not None:
            store.close()
    host = jax.tree.map(_to_host, carry)
    return SteppedSweep(host["state"], host["history"], host["diverged_at"], inputs.labels, resumed_from)


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"stepped_sweep: {name} must be a positive int, got {value!r}")


def _check_steps(total_steps: Any, checkpoint_every: Any) -> None:
    _check_positive_int("total_steps", total_steps)
    _check_positive_int("checkpoint_every", checkpoint_every)
    if total_steps % checkpoint_every:
        raise ValueError(
            f"stepped_sweep: checkpoint_every must divide total_steps={total_steps} (every segment is "
            f"one compiled program), got {checkpoint_every!r}"
        )


def _member_sharding(inputs: Any) -> NamedSharding | None:
    if inputs.mesh is None or inputs.num_members % len(inputs.devices):
        return None  # one device, or members that do not split evenly: no sharding
    return NamedSharding(inputs.mesh, PartitionSpec("sweep"))


@functools.lru_cache(maxsize=32)
def _programs(init: Callable, advance: Callable, split_keys: bool, num_steps: int) -> tuple[Any, Any]:
    """The jitted programs of all members' ``init`` and one segment (cached: a rerun compiles nothing)."""
    init_all = jax.jit(jax.vmap(_keyed(init, split_keys), in_axes=(0, None, 0)))
    segment = jax.jit(jax.vmap(_guarded(advance, num_steps), in_axes=(0, 0, 0, None)))
    return init_all, segment


def _keyed(init: Callable, split_keys: bool) -> Callable:
    def member_init(config, key, index):
        return init(config, jax.random.fold_in(key, index) if split_keys else key)

    return member_init


def _guarded(advance: Callable, num_steps: int) -> Callable:
    """``advance`` for one member and one segment, its divergence isolated (see :func:`stepped_sweep`)."""

    def segment(config, state, diverged_at, start):
        out = advance(config, state, num_steps)
        if isinstance(out, LoopResult):  # the loop froze the member at its last finite step
            new_state, metrics = out.state, out.history
            diverged_now = out.diverged_at >= 0
            step = start + out.diverged_at
        else:
            new_state, metrics = out
            diverged_now = ~(stayed_finite(state, new_state) & all_finite(metrics))
            new_state = jax.tree.map(lambda new, old: jnp.where(diverged_now, old, new), new_state, state)
            step = start
        alive = diverged_at < 0
        new_state = jax.tree.map(lambda new, old: jnp.where(alive, new, old), new_state, state)
        kept = alive & ~diverged_now
        metrics = jax.tree.map(
            lambda m: jnp.where(kept, m, jnp.nan) if jnp.issubdtype(m.dtype, jnp.inexact) else m, metrics
        )
        diverged_at = jnp.where(alive & diverged_now, step, diverged_at).astype(jnp.int32)
        return new_state, diverged_at, metrics

    return segment


def _empty_history(spec: jax.ShapeDtypeStruct, num_segments: int) -> np.ndarray:
    shape = (spec.shape[0], num_segments, *spec.shape[1:])
    fill = np.nan if jnp.issubdtype(spec.dtype, jnp.inexact) else 0
    return np.full(shape, fill, dtype=spec.dtype)


def _to_host(x: Any) -> np.ndarray:
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return x  # a typed key stays a key
    return np.asarray(x)


class _Store:
    """The orbax checkpoints of one stepped sweep: saved per segment, restored newest first."""

    def __init__(self, folder: Path, max_to_keep: int):
        ocp = _orbax()
        if folder.exists() and not folder.is_dir():
            raise ValueError(
                f"stepped_sweep: checkpoint_dir={os.fspath(folder)!r} exists and is not a folder"
            )
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
        )  # a save is complete before the next segment starts
        self.folder = folder
        self.manager = ocp.CheckpointManager(folder.absolute(), options=options)

    def restore(self, carry: dict, fingerprint: dict, overwrite: bool) -> tuple[int, dict]:
        """The newest checkpoint that restores, checked against ``fingerprint``: (segments done, carry)."""
        ocp = _orbax()
        target = jax.tree.map(_abstract, _saveable(carry))
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:  # the small JSON part first: a different sweep is refused before its arrays are read
                only_meta = ocp.args.Composite(meta=ocp.args.JsonRestore())
                meta = self.manager.restore(step, args=only_meta)["meta"]
                recorded, segments = meta["fingerprint"], int(meta["segments"])
            except Exception:  # noqa: BLE001  a damaged or half-deleted step: fall back to the one before
                continue
            differences = fingerprint_differences(recorded, fingerprint)
            if differences and not overwrite:
                raise ValueError(
                    f"stepped_sweep: checkpoint_dir={os.fspath(self.folder)!r} holds a different sweep: its "
                    f"{', '.join(differences)} differ{'s' if len(differences) == 1 else ''} from this one's; "
                    "pass overwrite=True to replace it, or use another folder"
                )
            if differences:
                break
            try:
                arguments = ocp.args.Composite(state=ocp.args.StandardRestore(target))
                return segments, _restored(self.manager.restore(step, args=arguments)["state"], carry)
            except Exception:  # noqa: BLE001  damaged arrays: fall back to the one before
                continue
        for step in self.manager.all_steps():  # replaced (overwrite), or none of them restores
            self.manager.delete(step)
        return 0, carry

    def save(self, segments: int, carry: dict, fingerprint: dict) -> None:
        """Save the carry after ``segments`` segments, with the sweep's fingerprint."""
        ocp = _orbax()
        meta = {"fingerprint": fingerprint, "segments": segments}
        arguments = ocp.args.Composite(
            state=ocp.args.StandardSave(_saveable(carry)), meta=ocp.args.JsonSave(meta)
        )
        self.manager.save(segments, args=arguments, force=True)
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()


def _orbax() -> Any:
    import orbax.checkpoint  # imported when used: ``import optasched`` stays light

    return orbax.checkpoint


def _saveable(tree: Any) -> Any:
    """Typed PRNG keys as their raw data (orbax saves plain arrays)."""
    return jax.tree.map(
        lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
    )


def _restored(saved: Any, like: Any) -> Any:
    """Keys wrapped back as typed keys of ``like``'s implementation."""

    def back(data, template):
        if jnp.issubdtype(template.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(template))
        return data

    return jax.tree.map(back, saved, like)


def _abstract(x: Any) -> jax.ShapeDtypeStruct:
    x = jnp.asarray(x) if isinstance(x, np.ndarray) else x
    return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None))
