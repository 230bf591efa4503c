"""The sweep engine: run a training function written for ONE configuration over
a whole batch of configurations in one compiled program.

Members are processed in chunks of a fixed size: each chunk is one call of a
single compiled ``jit(vmap(train))`` program (sharded over the devices when
there are several), so any sweep size and any hyperparameter values reuse one
compilation. The engine only decides the order of work; the program cache
(:mod:`._programs`), the chunk-size tuner (:mod:`._tuner`) and the executor
(:mod:`._executor`) do it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from ._checks import checked_member, raise_failed_member
from ._executor import ChunkRunner, Progress, cpu_workers, gather, split_into_chunks
from ._inputs import check_inputs
from ._programs import member_program, memory_bytes
from ._results import SweepResult
from ._resume import open_checkpoint
from ._tuner import check_memory_budget, fit_memory_budget, search_chunk, should_search, starting_chunk

__all__ = ["sweep"]


def sweep(
    train: Callable[[Any, jax.Array], Any],
    configs: Any,
    key: jax.Array | int | None = None,
    *,
    strategy: str = "auto",
    chunk_size: int | None = None,
    memory_budget: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    split_keys: bool = False,
    labels: Sequence[str] | None = None,
    progress: bool = False,
    check: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> SweepResult:
    """Run ``train(config, key) -> metrics`` for every member of a stacked sweep.

    ``train`` is written for ONE configuration (a pure, jittable function; its
    config may hold schedules and any other hyperparameters). The sweep runs
    it for all members in fixed-size chunks, each one call of the same
    compiled ``jit(vmap(train))`` program, sharded over ``devices`` along the
    member axis when there are several (all processes' devices under
    ``jax.distributed``).

    On a single CPU device (no ``memory_budget``) the chunks run side by side,
    one per core, each on its own thread: XLA spreads one vmapped chunk poorly
    over the cores. Every chunk is the same program on its own members, so
    the results are the same as one chunk at a time, to the bit.

    The CPU chunk size (``strategy="auto"``, no ``chunk_size``) is measured on
    the sweep's own work: chunks of 8 members first, then powers of two (16,
    32, ... or 4, 2, 1) while the seconds per member improve, timing one whole
    chunk per size. A trial is made only while its compilation plus redoing
    its members (should it lose) costs under 10% of the run time still ahead
    (``TUNE_BUDGET``), so short sweeps never search. The winner is remembered
    for this program and machine, in this process and in
    ``$OPTASCHED_CACHE/sweep_chunks.json`` (default ``~/.cache/optasched``).
    Every member's result comes from a chunk of the final size (members run
    at a losing size are run again), so the numbers depend on the chosen size
    only, never on the timings; floating-point results may differ in the last
    bits between chunk sizes, which ``SweepResult.chunk_size`` records.

    Args:
        train: ``train(config, key) -> metrics``, metrics a pytree of arrays.
        configs: a :class:`Batch` from :func:`grid` / :func:`sample`, or any
            stacked pytree (leading member axis on every leaf, at least one
            member).
        key: PRNG key handed to every member (common random numbers: every
            configuration sees the same initialisation and data order), or,
            with ``split_keys=True``, folded with the member index. An int is
            a seed (``jax.random.key(seed)``); None means seed 0.
        strategy: ``"vmap"`` (all members in one chunk), ``"chunked"``
            (chunks of ``chunk_size``, default 8), ``"map"`` (members one
            after another inside one compiled ``lax.map``; least memory), or
            ``"auto"``: all members at once on accelerators; on CPU, a chunk
            size chosen by measurement (above). Shrunk to fit
            ``memory_budget`` either way.
        chunk_size: members per chunk (rounded up to a multiple of the device
            count); no search. Sweeps larger than a chunk reuse its compiled
            program.
        memory_budget: bytes a chunk's program may use (arguments, outputs and
            temporaries, from XLA's memory analysis), a positive finite
            number; the chunk is halved until it fits, and chunks run one at
            a time. A ``ValueError`` if even one member per device does not
            fit (unchecked where the backend reports no memory).
        devices: devices to shard each chunk over (default: all devices).
        split_keys: give each member its own key ``fold_in(key, index)``.
        labels: one label per member (default: the Batch's labels, else
            ``member i``).
        progress: print a progress bar over members and chunks to stderr.
        check: check every member's schedules at run time (checked mode,
            :func:`optasched.checked`): those in its config and every one
            ``train`` constructs from traced values (``osd.cosine(peak,
            total - warmup)`` inside ``train``), each constraint a
            constructor checks on concrete values. A failure raises
            ``ValueError`` naming the first failing member, its index and
            label: ``sweep member 3 (warmup_steps=600): cosine built inside
            train: decay_steps must be >= 0, got -100``. Off by default: the
            checks cost run time, and a sweep without them runs exactly the
            program it would without this option.
        checkpoint_dir: a folder to save each finished chunk's results in,
            atomically (see "Resuming after preemption" in the README). The
            same sweep rerun with it loads the finished chunks, runs the
            rest at the recorded chunk size, and returns a result equal to an
            uninterrupted sweep, bit for bit. A folder must be visible to
            every process of a multi-host sweep.
        overwrite: replace the checkpoints of a different sweep found in
            ``checkpoint_dir`` (without it, a ``ValueError`` names what
            differs: batch structure, batch values, key, program, chunk size,
            strategy, split keys or devices).

    Returns:
        A :class:`SweepResult` with per-member metrics (NumPy, leading axis
        = members), labels, best member, table, JSON export and plots.

    Raises:
        ValueError: for a bad argument (naming it and its value), an empty
            sweep, a ``memory_budget`` that cannot be met, or (``check=True``)
            a member whose schedules break a constraint, or a
            ``checkpoint_dir`` holding a different sweep.

    Example:
        >>> import jax, jax.numpy as jnp, optasched as osd
        >>> batch = osd.grid(lambda peak_value: {"lr": osd.cosine(peak_value, 100)},
        ...                  peak_value=[0.1, 0.5, 0.9])
        >>> def train(config, key):
        ...     x = jnp.float32(1.0)
        ...     for t in range(100):  # a toy: minimise x**2 by gradient descent
        ...         x = x - config["lr"](t) * 2 * x
        ...     return {"loss": x**2}
        >>> result = osd.sweep(train, batch)
        >>> result.best("loss").label
        'peak_value=0.5'
    """
    inputs = check_inputs(
        train, configs, key, strategy=strategy, chunk_size=chunk_size, memory_budget=memory_budget,
        devices=devices, labels=labels, check=check,
    )  # fmt: skip
    num_members, devices = inputs.num_members, inputs.devices
    member = checked_member(train) if check else train  # checked: returns (errors, metrics)
    program = member_program(member, split_keys, strategy, inputs.mesh, jax.random.key_impl(inputs.key))
    runner = ChunkRunner(program, inputs.configs, np.asarray(jax.random.key_data(inputs.key)), inputs.mesh)
    resume = open_checkpoint(
        checkpoint_dir, overwrite, member, inputs,
        strategy=strategy, split_keys=split_keys, chunk_size=chunk_size,
    )  # fmt: skip
    recorded = resume.recorded_chunk if resume is not None else None  # a resumed sweep keeps its chunk size

    chunk = recorded or starting_chunk(strategy, chunk_size, num_members, devices)
    search = recorded is None and should_search(strategy, chunk_size, devices, num_members, chunk)
    entry = runner.compiled(chunk, identify=search)
    if memory_budget is not None and strategy != "map" and recorded is None:
        chunk, entry = fit_memory_budget(runner, entry, chunk, memory_budget, identify=search)
    elif memory_budget is not None:  # "map" (every member in one program) or a recorded size: check only
        check_memory_budget(entry, chunk, memory_budget)

    bar = Progress(num_members, progress)
    run_start = time.perf_counter()
    compile_before_run = runner.compile_seconds  # programs compiled while searching count as compilation
    results: list[tuple[np.ndarray, Any]] = []  # (member indices, outputs) of chunks of the final size
    todo = list(range(num_members))  # members not yet run at the final chunk size
    if search:
        capped = memory_budget is not None  # the fitted chunk is the largest allowed
        chunk, entry, results, todo = search_chunk(runner, entry, chunk, todo, bar, capped=capped)
    if resume is not None:  # record the sweep, save the trials' chunks, load the finished ones
        results, todo = resume.start(chunk, entry.executable, results, todo, bar)
    chunks = split_into_chunks(todo, chunk)
    workers = cpu_workers(devices, inputs.mesh, memory_budget, len(chunks))
    results += runner.run_chunks(entry, chunks, chunk, workers, bar, resume and resume.save)
    metrics = gather(results)
    if check:
        errors, metrics = metrics
        raise_failed_member(errors, inputs.labels)
    run_seconds = time.perf_counter() - run_start - (runner.compile_seconds - compile_before_run)
    return SweepResult(
        metrics=metrics,
        labels=inputs.labels,
        values=inputs.values,
        strategy=strategy if strategy != "auto" else ("vmap" if chunk >= num_members else "chunked"),
        chunk_size=chunk,
        num_devices=len(devices),
        compile_seconds=runner.compile_seconds,
        run_seconds=run_seconds,
        memory_bytes=memory_bytes(entry.executable),
    )
