"""The sweep engine: run a training function written for ONE configuration over
a whole batch of configurations in one compiled program.

Members are processed in chunks of a fixed size: each chunk is one call of a
single compiled ``jit(vmap(train))`` program (sharded over the devices when
there are several), so any sweep size and any hyperparameter values reuse one
compilation. On accelerators a chunk holds every member; on CPU the chunk size
is chosen by measurement on the machine at hand (see :func:`sweep`), and shrunk
to fit a memory budget either way.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._results import SweepResult
from ._stack import Batch

STRATEGIES = ("auto", "vmap", "chunked", "map")

# Where the CPU chunk search starts, and the chunk of strategy="chunked" without
# a chunk_size. It was the best of 4 / 8 / 16 / 64 on one 2-core machine
# (experiments/benchmarks/bench_sweep.py); other machines differ, hence the search.
CPU_CHUNK = 8
# The largest chunk the CPU search tries.
MAX_CPU_CHUNK = 64
# The search tries another chunk size only while its estimated cost (one more
# compilation, plus the members it would redo if it loses) stays under this
# fraction of the sweep's remaining run time.
TUNE_BUDGET = 0.1


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
    """A one-line progress bar on stderr, over member runs (chunks may differ in size while tuning,
    and members run at a losing size add to the total)."""

    def __init__(self, total: int, enabled: bool, label: str = "sweep"):
        self.total, self.enabled, self.label = total, enabled, label
        self.start = time.perf_counter()
        self.chunks = 0
        self.done = 0

    def update(self, members: int) -> None:
        self.chunks += 1
        self.done += members
        done = self.done
        if not self.enabled:
            return
        width = 24
        filled = round(width * done / self.total)
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} members, "
            f"{self.chunks} chunks, {elapsed:.1f} s"
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
    return jax.jit(
        batched, in_shardings=(members, NamedSharding(mesh, PartitionSpec()), members), out_shardings=members
    )


class _Compiled(NamedTuple):
    executable: Any
    lowered_text_hash: str | None  # identifies the program across processes (the chunk tuning's cache key)
    seconds: float  # wall time of the first lowering and compilation in this process


_COMPILED: dict[Any, _Compiled] = {}


def _compile(program, arguments, identify: bool = False) -> _Compiled:
    """Compile ``program`` for these argument shapes once per process and reuse it.

    ``identify`` also hashes the lowered program's text (for the chunk cache).
    """
    signature = jax.tree.map(lambda x: (x.shape, x.dtype, getattr(x, "sharding", None)), arguments)
    cache_key = (program, jax.tree.structure(arguments), tuple(jax.tree.leaves(signature)))
    entry = _COMPILED.get(cache_key)
    if entry is None or (identify and entry.lowered_text_hash is None):
        start = time.perf_counter()
        lowered = program.lower(*arguments)
        executable = entry.executable if entry is not None else lowered.compile()
        text_hash = hashlib.sha256(lowered.as_text().encode()).hexdigest() if identify else None
        seconds = entry.seconds if entry is not None else time.perf_counter() - start
        entry = _COMPILED[cache_key] = _Compiled(executable, text_hash, seconds)
    return entry


# -- choosing the CPU chunk size by measurement ------------------------------------------------

_clock = time.perf_counter  # the tuning's clock
_TUNED: dict[tuple[str, str], int] = {}  # (machine, program) -> chosen chunk size, this process


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """The machine as far as chunk timings go: CPU model, usable cores, JAX version."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
            )
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count()
    return f"{model} | {cores} cores | jax {jax.__version__} | {jax.devices()[0].device_kind}"


def _chunk_cache_path() -> Path:
    root = os.environ.get("OPTASCHED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "optasched")
    return Path(root) / "sweep_chunks.json"


def _read_chunk_cache() -> dict:
    try:
        entries = json.loads(_chunk_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _cached_chunk(program_id: str) -> int | None:
    """The chunk size chosen earlier for this program on this machine (this process, then disk)."""
    key = (_machine(), program_id)
    if key not in _TUNED:
        found = _read_chunk_cache().get(_machine(), {}).get(program_id, {}).get("chunk")
        if not (isinstance(found, int) and found >= 1):
            return None
        _TUNED[key] = found
    return _TUNED[key]


def _remember_chunk(program_id: str, chunk: int, seconds_per_member: dict[int, float]) -> None:
    _TUNED[(_machine(), program_id)] = chunk
    path = _chunk_cache_path()
    try:  # best effort: a read-only cache only costs a new search in the next process
        entries = _read_chunk_cache()
        entries.setdefault(_machine(), {})[program_id] = {
            "chunk": chunk,
            "seconds_per_member": {str(c): t for c, t in sorted(seconds_per_member.items())},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1))
        os.replace(temporary, path)  # atomic: concurrent processes never read half a file
    except OSError:
        pass


class _ChunkSearch:
    """Hill climb over chunk sizes by measured seconds per member.

    From the best size so far it proposes twice that size, else half of it
    (multiples of ``unit``, the device count, up to ``largest``), each at most
    once; it stops when neither neighbour of the best is left untried. A size
    replaces the start only if it is more than ``margin`` faster, so timing
    noise does not move (and, remembered, keep) the choice.
    """

    def __init__(self, start: int, unit: int, largest: int, margin: float = 0.05):
        self.start, self.unit, self.largest, self.margin = start, unit, max(largest, unit), margin
        self.seconds_per_member: dict[int, float] = {}

    def record(self, chunk: int, seconds: float) -> None:
        per_member = seconds / chunk
        self.seconds_per_member[chunk] = min(per_member, self.seconds_per_member.get(chunk, math.inf))

    def best(self) -> int:
        def handicapped(chunk: int) -> float:
            return self.seconds_per_member[chunk] * (1.0 if chunk == self.start else 1.0 + self.margin)

        return min(self.seconds_per_member, key=handicapped, default=self.start)

    def proposal(self) -> int | None:
        best = self.best()
        for candidate in (2 * best, best // 2):
            candidate = self.unit * math.ceil(candidate / self.unit)
            if self.unit <= candidate <= self.largest and candidate not in self.seconds_per_member:
                return candidate
        return None


def _worth_trying(candidate: int, remaining: int, seconds_per_member: float, compile_seconds: float) -> bool:
    """Try ``candidate`` only if one compilation plus redoing its members (should it lose) costs less
    than TUNE_BUDGET of the run time left, and enough members are left to fill a chunk."""
    if candidate > remaining:
        return False
    cost = compile_seconds + candidate * seconds_per_member
    return cost <= TUNE_BUDGET * remaining * seconds_per_member


def _cpu_workers(devices, mesh, memory_budget, num_chunks: int) -> int:
    """How many chunks run side by side: one per core on a single CPU device, else one.

    A memory budget bounds one chunk's memory, so it keeps chunks one at a time.
    """
    if devices[0].platform != "cpu" or mesh is not None or memory_budget is not None or jax.process_count() > 1:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, num_chunks))


def _run_timed(executable, arguments) -> tuple[Any, float]:
    """Run one chunk to completion; its wall time."""
    start = _clock()
    out = executable(*arguments)
    jax.block_until_ready(out)
    return out, _clock() - start


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
            (chunks of ``chunk_size``, default 8), ``"map"`` (members one
            after another inside one compiled ``lax.map``; least memory), or
            ``"auto"``: all members at once on accelerators; on CPU, a chunk
            size chosen by measurement (below). Shrunk to fit
            ``memory_budget`` either way.
        chunk_size: members per chunk (rounded up to a multiple of the device
            count); no search. Sweeps larger than a chunk reuse its compiled
            program.
        memory_budget: bytes a chunk's program may use (arguments, outputs and
            temporaries, from XLA's memory analysis); the chunk is halved until
            it fits, and chunks run one at a time.

    On a single CPU device (no ``memory_budget``) the chunks run side by side,
    one per core, each on its own thread: XLA spreads one vmapped chunk poorly
    over the cores. Every chunk is the same program on its own members, so
    the results are the same as one chunk at a time, to the bit.
        devices: devices to shard each chunk over (default: all devices).
        split_keys: give each member its own key ``fold_in(key, index)``.
        labels: one label per member (default: the Batch's labels, else
            ``member i``).
        progress: print a progress bar over members and chunks to stderr.

    The CPU chunk size (``strategy="auto"``, no ``chunk_size``): how fast
    XLA's CPU backend trains K vmapped models depends on K, the model and the
    machine (batched products lose efficiency past a size that differs from
    machine to machine), so the sweep measures it on its own work. It runs
    chunks of 8 members first, then climbs over powers of two (16, 32, ...
    or 4, 2, 1) while the seconds per member improve, timing one whole chunk
    of the sweep per size. Each trial costs a compilation, so one is made only
    while that compilation plus redoing the trial's members (should it lose)
    costs under 10% of the run time still ahead (``TUNE_BUDGET``); short
    sweeps never search. The winner is remembered for this program (a hash
    of its lowered text) and machine (CPU model, cores, JAX version) in this
    process and in ``$OPTASCHED_CACHE/sweep_chunks.json`` (default
    ``~/.cache/optasched``), so later sweeps start with it and search no
    more. Every member's result comes from a chunk of the final size (members
    run at a losing size are run again), so the numbers depend on the chosen
    size only, never on the timings; floating-point results may differ in
    the last bits between chunk sizes, which ``SweepResult.chunk_size``
    records.

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
    elif strategy == "chunked" or devices[0].platform == "cpu":
        chunk = CPU_CHUNK
    else:
        chunk = num_members
    chunk = min(chunk, num_members)
    chunk = num_devices * math.ceil(chunk / num_devices)
    tune = (
        strategy == "auto" and chunk_size is None and devices[0].platform == "cpu"
        and jax.process_count() == 1 and num_members > chunk
    )  # fmt: skip

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

    def padded(indices: np.ndarray, size: int) -> np.ndarray:
        return np.concatenate([indices, np.zeros(size - len(indices), indices.dtype)])  # pad with member 0

    compile_seconds = 0.0

    def compiled(size: int, identify: bool = False) -> _Compiled:
        nonlocal compile_seconds
        start = time.perf_counter()
        entry = _compile(program, arguments(np.zeros(size, np.int64)), identify)
        compile_seconds += time.perf_counter() - start
        return entry

    current = compiled(chunk, identify=tune)
    while memory_budget is not None and strategy != "map" and chunk > num_devices:
        used = _memory_bytes(current.executable)
        if used is None or used <= memory_budget:
            break
        chunk = max(num_devices, num_devices * math.ceil(chunk // 2 / num_devices))
        current = compiled(chunk, identify=tune)

    bar = _Progress(num_members, progress)
    todo = list(range(num_members))  # members not yet run at the final chunk size
    results: list[tuple[np.ndarray, Any]] = []  # (member indices, outputs) of chunks of the final size
    run_start = time.perf_counter()
    compile_before_run = compile_seconds  # candidates compiled while tuning count as compilation

    if tune:
        program_id = current.lowered_text_hash
        known = _cached_chunk(program_id)
        if known is not None:
            largest = chunk if memory_budget else num_devices * math.ceil(num_members / num_devices)
            if min(num_devices * math.ceil(known / num_devices), largest) != chunk:
                chunk = min(num_devices * math.ceil(known / num_devices), largest)
                current = compiled(chunk)
        else:
            search = _ChunkSearch(chunk, num_devices, chunk if memory_budget else MAX_CPU_CHUNK)
            trials: list[tuple[int, np.ndarray, Any]] = []
            largest_compile = current.seconds
            size, entry = chunk, current
            for _ in range(2):  # the first call of a program pays one-time costs: time a second one too
                if len(todo) < size:
                    break
                indices, todo = np.asarray(todo[:size]), todo[size:]
                out, seconds = _run_timed(entry.executable, arguments(indices))
                search.record(size, seconds)
                trials.append((size, indices, out))
                bar.update(size)
            while (proposal := search.proposal()) is not None:
                per_member = search.seconds_per_member[search.best()]
                if not _worth_trying(proposal, len(todo), per_member, largest_compile):
                    break
                entry = compiled(proposal)
                largest_compile = max(largest_compile, entry.seconds)
                indices, todo = np.asarray(todo[:proposal]), todo[proposal:]
                out, seconds = _run_timed(entry.executable, arguments(indices))
                search.record(proposal, seconds)
                trials.append((proposal, indices, out))
                bar.update(proposal)
            chunk = search.best()
            current = compiled(chunk)
            redo = []
            for size, indices, out in trials:
                if size == chunk:
                    results.append((indices, out))
                else:  # run again at the chosen size, so no result depends on the timings
                    redo.extend(indices.tolist())
            todo = sorted(redo + todo)
            bar.total += len(redo)
            if len(search.seconds_per_member) > 1:
                _remember_chunk(program_id, chunk, search.seconds_per_member)

    pending = [np.asarray(todo[start : start + chunk]) for start in range(0, len(todo), chunk)]
    workers = _cpu_workers(devices, mesh, memory_budget, len(pending))
    if workers > 1:
        # XLA's CPU backend spreads one vmapped chunk poorly over the cores (on 2 cores a chunk of
        # 8 ran only 1.2x faster than on one), so chunks run side by side, one per core. Each
        # chunk is the same program on its own members: the results do not depend on the order.
        def run(indices: np.ndarray) -> Any:
            return jax.block_until_ready(current.executable(*arguments(padded(indices, chunk))))

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {pool.submit(run, indices): indices for indices in pending}
            for future in concurrent.futures.as_completed(futures):
                results.append((futures[future], future.result()))
                bar.update(len(futures[future]))
    else:
        for indices in pending:
            out = current.executable(*arguments(padded(indices, chunk)))
            results.append((indices, out))
            if progress:
                jax.block_until_ready(out)
            bar.update(len(indices))
    order = np.argsort(np.concatenate([indices for indices, _ in results]), kind="stable")
    gathered = [_first(_to_host(out), len(indices)) for indices, out in results]
    metrics = jax.tree.map(lambda *parts: np.concatenate(parts)[order], *gathered)
    run_seconds = time.perf_counter() - run_start
    return SweepResult(
        metrics=metrics,
        labels=labels,
        values=values,
        strategy=strategy if strategy != "auto" else ("vmap" if chunk >= num_members else "chunked"),
        chunk_size=chunk,
        num_devices=num_devices,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds - (compile_seconds - compile_before_run),
        memory_bytes=_memory_bytes(current.executable),
    )


def _first(tree: Any, count: int) -> Any:
    """The first ``count`` members (a padded chunk's real ones)."""
    return jax.tree.map(lambda x: x[:count], tree)


def _to_host(tree: Any) -> Any:
    """Fetch a (possibly multi-process) result to NumPy on every process."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)
