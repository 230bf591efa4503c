"""The sweep engine: run a training function written for ONE configuration over
a whole batch of configurations in one compiled program.

Members are processed in chunks of a fixed size: each chunk is one call of a
single compiled ``jit(vmap(train))`` program (sharded over the devices when
there are several), so any sweep size and any hyperparameter values reuse one
compilation. The chunk size is chosen per backend and from the compiled
program's memory estimate.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._results import SweepResult
from ._stack import Batch

STRATEGIES = ("auto", "vmap", "chunked", "map")

# Members per chunk on CPU when no chunk size is given. XLA's CPU batched matrix
# products lose efficiency as the member axis grows; on the benchmark workload
# (experiments/benchmarks/bench_sweep.py, 64 MLPs, 2 cores) chunks of 4 / 8 / 16 / 64
# members took 35.8 / 30.9 / 37.4 / 47.1 s against 27.2 s for one model with a
# 64x batch.
CPU_CHUNK = 8


def _leading_size(tree: Any) -> int:
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(tree)}
    if not sizes or None in sizes or len(sizes) != 1:
        raise ValueError(
            "sweep: configs must be a stacked pytree whose leaves share one leading member axis "
            f"(use osd.stack, osd.grid or osd.sample), got leading sizes {sorted(map(str, sizes))}"
        )
    return sizes.pop()


def _take(tree: Any, indices: np.ndarray) -> Any:
    return jax.tree.map(lambda x: np.asarray(x)[indices], tree)


class _Progress:
    """A one-line progress bar on stderr, over chunks."""

    def __init__(self, total: int, enabled: bool, label: str = "sweep"):
        self.total, self.enabled, self.label = total, enabled, label
        self.start = time.perf_counter()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 24
        filled = round(width * done / self.total)
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} chunks, {elapsed:.1f} s"
        )
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@functools.lru_cache(maxsize=64)
def _member_program(train: Callable, split_keys: bool, strategy: str, mesh: Mesh | None, key_impl):
    """The jitted program for one chunk; cached so repeated sweeps reuse it."""
    def run_member(config, key_data, index):
        # The key travels as raw data so it can be placed like any array across processes.
        key = jax.random.wrap_key_data(key_data, impl=key_impl)
        member_key = jax.random.fold_in(key, index) if split_keys else key
        return train(config, member_key)

    if strategy == "map":
        batched = lambda configs, key, indices: jax.lax.map(  # noqa: E731
            lambda ci: run_member(ci[0], key, ci[1]), (configs, indices)
        )
    else:
        batched = jax.vmap(run_member, in_axes=(0, None, 0))
    if mesh is None:
        return jax.jit(batched)
    members = NamedSharding(mesh, PartitionSpec("sweep"))
    return jax.jit(batched, in_shardings=(members, NamedSharding(mesh, PartitionSpec()), members), out_shardings=members)


_COMPILED: dict[Any, Any] = {}


def _compile(program, arguments) -> Any:
    """Compile ``program`` for these argument shapes once per process and reuse it."""
    signature = jax.tree.map(lambda x: (x.shape, x.dtype, getattr(x, "sharding", None)), arguments)
    cache_key = (program, jax.tree.structure(arguments), tuple(jax.tree.leaves(signature)))
    if cache_key not in _COMPILED:
        _COMPILED[cache_key] = program.lower(*arguments).compile()
    return _COMPILED[cache_key]


def _memory_bytes(compiled) -> int | None:
    try:
        stats = compiled.memory_analysis()
    except Exception:  # some backends do not report memory
        return None
    if stats is None:
        return None
    return int(stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes)


def sweep(
    train: Callable[[Any, jax.Array], Any],
    configs: Any,
    key: jax.Array | None = None,
    *,
    strategy: str = "auto",
    chunk_size: int | None = None,
    memory_budget: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    split_keys: bool = False,
    labels: Sequence[str] | None = None,
    progress: bool = False,
) -> SweepResult:
    """Run ``train(config, key) -> metrics`` for every member of a stacked sweep.

    ``train`` is written for ONE configuration (a pure, jittable function; its
    config may hold schedules and any other hyperparameters). The sweep runs
    it for all members in fixed-size chunks, each one call of the same
    compiled ``jit(vmap(train))`` program, sharded over ``devices`` along the
    member axis when there are several (all processes' devices under
    ``jax.distributed``).

    Args:
        train: ``train(config, key) -> metrics``, metrics a pytree of arrays.
        configs: a :class:`Batch` from :func:`grid` / :func:`sample`, or any
            stacked pytree (leading member axis on every leaf).
        key: PRNG key handed to every member (common random numbers: every
            configuration sees the same initialisation and data order), or,
            with ``split_keys=True``, folded with the member index.
        strategy: ``"vmap"`` (all members in one chunk), ``"chunked"``
            (chunks of ``chunk_size``), ``"map"`` (members one after another
            inside one compiled ``lax.map``; least memory), or ``"auto"``:
            chunks of 8 members on CPU, all members at once on accelerators,
            shrunk to fit ``memory_budget`` either way.
        chunk_size: members per chunk (rounded up to a multiple of the device
            count). Sweeps larger than a chunk reuse its compiled program.
        memory_budget: bytes a chunk's program may use (arguments, outputs and
            temporaries, from XLA's memory analysis); the chunk is halved until
            it fits.
        devices: devices to shard each chunk over (default: all devices).
        split_keys: give each member its own key ``fold_in(key, index)``.
        labels: one label per member (default: the Batch's labels, else
            ``member i``).
        progress: print a progress bar over chunks to stderr.

    Returns:
        A :class:`SweepResult` with per-member metrics (NumPy, leading axis
        = members), labels, best member, table, JSON export and plots.

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
    if strategy not in STRATEGIES:
        raise ValueError(f"sweep: strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not callable(train):
        raise ValueError(f"sweep: train must be a function train(config, key), got {train!r}")
    values: dict[str, np.ndarray] = {}
    if isinstance(configs, Batch):
        labels = labels if labels is not None else configs.labels
        values = configs.values
        configs = configs.config
    num_members = _leading_size(configs)
    labels = list(labels) if labels is not None else [f"member {i}" for i in range(num_members)]
    if len(labels) != num_members:
        raise ValueError(f"sweep: labels must have one entry per member ({num_members}), got {len(labels)}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"sweep: chunk_size must be a positive int, got {chunk_size!r}")
    if memory_budget is not None and memory_budget <= 0:
        raise ValueError(f"sweep: memory_budget must be a positive number of bytes, got {memory_budget!r}")
    key = jax.random.key(0) if key is None else key

    devices = list(devices) if devices is not None else jax.devices()
    mesh = Mesh(np.array(devices), ("sweep",)) if len(devices) > 1 else None
    num_devices = len(devices)

    if strategy == "vmap" or strategy == "map":
        chunk = num_members
    elif chunk_size is not None:
        chunk = chunk_size
    elif strategy == "chunked" or jax.default_backend() == "cpu":
        chunk = CPU_CHUNK
    else:
        chunk = num_members
    chunk = min(chunk, num_members)
    chunk = num_devices * math.ceil(chunk / num_devices)

    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)  # a legacy uint32 PRNGKey
    key_data = np.asarray(jax.random.key_data(key))
    program = _member_program(train, split_keys, strategy, mesh, jax.random.key_impl(key))
    host_configs = jax.tree.map(np.asarray, configs)

    def arguments(indices: np.ndarray):
        chunk_configs = _take(host_configs, indices)
        index_array = np.asarray(indices, dtype=np.int32)
        if mesh is None:
            return chunk_configs, key_data, index_array

        def place(x, spec):
            sharding = NamedSharding(mesh, spec)
            return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])

        members = PartitionSpec("sweep")
        return (
            jax.tree.map(lambda x: place(x, members), chunk_configs),
            place(key_data, PartitionSpec()),
            place(index_array, members),
        )

    def padded_indices(start: int, size: int) -> np.ndarray:
        indices = np.arange(start, start + size)
        return np.where(indices < num_members, indices, 0)  # pad with member 0 (valid values)

    compile_start = time.perf_counter()
    compiled = _compile(program, arguments(padded_indices(0, chunk)))
    while memory_budget is not None and strategy != "map" and chunk > num_devices:
        used = _memory_bytes(compiled)
        if used is None or used <= memory_budget:
            break
        chunk = max(num_devices, num_devices * math.ceil(chunk // 2 / num_devices))
        compiled = _compile(program, arguments(padded_indices(0, chunk)))
    compile_seconds = time.perf_counter() - compile_start

    num_chunks = math.ceil(num_members / chunk)
    bar = _Progress(num_chunks, progress)
    outputs = []
    run_start = time.perf_counter()
    for c in range(num_chunks):
        out = compiled(*arguments(padded_indices(c * chunk, chunk)))
        outputs.append(out)
        if progress:
            jax.block_until_ready(out)
        bar.update(c + 1)
    gathered = [_to_host(out) for out in outputs]
    metrics = jax.tree.map(lambda *parts: np.concatenate(parts)[:num_members], *gathered)
    run_seconds = time.perf_counter() - run_start
    return SweepResult(
        metrics=metrics,
        labels=labels,
        values=values,
        strategy=strategy if strategy != "auto" else ("vmap" if chunk >= num_members else "chunked"),
        chunk_size=chunk,
        num_devices=num_devices,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        memory_bytes=_memory_bytes(compiled),
    )


def _to_host(tree: Any) -> Any:
    """Fetch a (possibly multi-process) result to NumPy on every process."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)
