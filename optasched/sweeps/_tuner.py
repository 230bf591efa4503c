"""The sweep's chunk size: where it starts, how a memory budget shrinks it, and
on CPU the search that measures it on the sweep's own work.

How fast XLA's CPU backend trains K vmapped models depends on K, the model
and the machine (batched products lose efficiency past a size that differs
from machine to machine), so :func:`search_chunk` times whole chunks of the
sweep and climbs over powers of two while the seconds per member improve.
Its choice is remembered for the program (a hash of its lowered text) and the
machine (CPU model, usable cores, JAX version):

- in this process (``_TUNED``, until the process ends), then
- on disk in ``$OPTASCHED_CACHE/sweep_chunks.json`` (default
  ``~/.cache/optasched``), until the file is deleted; a change of machine,
  JAX version or program gives a new key, and so a new search.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._programs import Compiled, memory_bytes

__all__ = [
    "CPU_CHUNK",
    "MAX_CPU_CHUNK",
    "TUNE_BUDGET",
    "ChunkSearch",
    "check_memory_budget",
    "fit_memory_budget",
    "machine",
    "round_to_devices",
    "search_chunk",
    "should_search",
    "starting_chunk",
    "usable_cores",
    "worth_trying",
]

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


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one).

    Returns:
        The core count, at least 1.
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def machine() -> str:
    """The machine as far as chunk timings go: CPU model, usable cores, JAX version, device kind.

    Returns:
        A one-line description, the chunk cache's key for the machine.
    """
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
            )
    except OSError:
        pass
    return f"{model} | {usable_cores()} cores | jax {jax.__version__} | {jax.devices()[0].device_kind}"


def round_to_devices(chunk: int, num_devices: int) -> int:
    """``chunk`` rounded up to a multiple of the device count (each device gets as many members).

    Args:
        chunk: members per chunk.
        num_devices: devices the chunk is sharded over.

    Returns:
        The rounded chunk size.
    """
    return num_devices * math.ceil(chunk / num_devices)


def starting_chunk(strategy: str, chunk_size: int | None, num_members: int, devices: list) -> int:
    """The chunk size before any memory fitting or search.

    Args:
        strategy: the sweep's strategy.
        chunk_size: the chunk size asked for, or None.
        num_members: members in the sweep.
        devices: the devices each chunk is sharded over.

    Returns:
        ``chunk_size`` if given; all members for ``"vmap"``, ``"map"`` and
        ``"auto"`` on accelerators; else ``CPU_CHUNK``; at most the sweep,
        rounded up to the device count.
    """
    if strategy in ("vmap", "map"):
        chunk = num_members
    elif chunk_size is not None:
        chunk = chunk_size
    elif strategy == "chunked" or devices[0].platform == "cpu":
        chunk = CPU_CHUNK
    else:
        chunk = num_members
    return round_to_devices(min(chunk, num_members), len(devices))


def should_search(strategy: str, chunk_size: int | None, devices: list, num_members: int, chunk: int) -> bool:
    """Whether the chunk size is chosen by measurement.

    It is for ``"auto"`` without a ``chunk_size``, on CPU in one process, with more members than a chunk.

    Args:
        strategy: the sweep's strategy.
        chunk_size: the chunk size asked for, or None.
        devices: the sweep's devices.
        num_members: members in the sweep.
        chunk: the starting chunk size.

    Returns:
        True to search.
    """
    return (
        strategy == "auto" and chunk_size is None and devices[0].platform == "cpu"
        and jax.process_count() == 1 and num_members > chunk
    )  # fmt: skip


def fit_memory_budget(
    runner: Any, entry: Compiled, chunk: int, budget: float, identify: bool
) -> tuple[int, Compiled]:
    """Halve the chunk until its program fits ``budget`` bytes.

    Args:
        runner: the sweep's :class:`._executor.ChunkRunner`.
        entry: the program compiled for ``chunk``.
        chunk: the starting chunk size.
        budget: bytes one chunk's program may use.
        identify: hash the lowered text of each program compiled (for the search).

    Returns:
        The chunk size and its compiled program.

    Raises:
        ValueError: if even the smallest chunk (one member per device) needs
            more than ``budget``, naming the budget and what it needs.
    """
    num_devices = 1 if runner.mesh is None else runner.mesh.size
    while chunk > num_devices:
        used = memory_bytes(entry.executable)
        if used is None or used <= budget:
            return chunk, entry
        chunk = max(num_devices, round_to_devices(chunk // 2, num_devices))
        entry = runner.compiled(chunk, identify=identify)
    check_memory_budget(entry, chunk, budget)
    return chunk, entry


def check_memory_budget(entry: Compiled, chunk: int, budget: float) -> None:
    """Raise if the program compiled for ``chunk`` members needs more than ``budget`` bytes.

    Args:
        entry: the compiled chunk program.
        chunk: its members per chunk.
        budget: bytes one chunk's program may use.

    Raises:
        ValueError: naming ``memory_budget``, the budget and the bytes needed.
    """
    used = memory_bytes(entry.executable)
    if used is not None and used > budget:
        raise ValueError(
            f"sweep: memory_budget={budget!r} bytes cannot be met: the smallest chunk the sweep can run "
            f"({chunk} member{'s' if chunk != 1 else ''}) needs {used} bytes; raise memory_budget to at "
            f"least {used} or make one member smaller"
        )


# -- the chosen chunk, remembered per (machine, program) -----------------------------------------

_TUNED: dict[tuple[str, str], int] = {}  # (machine, program) -> chosen chunk size, this process


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
    key = (machine(), program_id)
    if key not in _TUNED:
        found = _read_chunk_cache().get(machine(), {}).get(program_id, {}).get("chunk")
        if not (isinstance(found, int) and found >= 1):
            return None
        _TUNED[key] = found
    return _TUNED[key]


def _remember_chunk(program_id: str, chunk: int, seconds_per_member: dict[int, float]) -> None:
    _TUNED[(machine(), program_id)] = chunk
    path = _chunk_cache_path()
    try:  # best effort: a read-only cache only costs a new search in the next process
        entries = _read_chunk_cache()
        entries.setdefault(machine(), {})[program_id] = {
            "chunk": chunk,
            "seconds_per_member": {str(c): t for c, t in sorted(seconds_per_member.items())},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1))
        os.replace(temporary, path)  # atomic: concurrent processes never read half a file
    except OSError:
        pass


# -- the search ---------------------------------------------------------------------------------


class ChunkSearch:
    """Hill climb over chunk sizes by measured seconds per member.

    From the best size so far it proposes twice that size, else half of it
    (multiples of ``unit``, the device count, up to ``largest``), each at most
    once; it stops when neither neighbour of the best is left untried. A size
    replaces the start only if it is more than ``margin`` faster, so timing
    noise does not move (and, remembered, keep) the choice.

    Args:
        start: the first chunk size, preferred on ties.
        unit: every size is a multiple of this (the device count).
        largest: the largest size to try.
        margin: how much faster per member another size must be to win.
    """

    def __init__(self, start: int, unit: int, largest: int, margin: float = 0.05):
        self.start, self.unit, self.largest, self.margin = start, unit, max(largest, unit), margin
        self.seconds_per_member: dict[int, float] = {}

    def record(self, chunk: int, seconds: float) -> None:
        """Record one timed chunk (the fastest time per size counts).

        Args:
            chunk: its size.
            seconds: its wall time.
        """
        per_member = seconds / chunk
        self.seconds_per_member[chunk] = min(per_member, self.seconds_per_member.get(chunk, math.inf))

    def best(self) -> int:
        """The fastest size so far per member, the start favoured by ``margin``."""

        def handicapped(chunk: int) -> float:
            return self.seconds_per_member[chunk] * (1.0 if chunk == self.start else 1.0 + self.margin)

        return min(self.seconds_per_member, key=handicapped, default=self.start)

    def proposal(self) -> int | None:
        """The next size to try, or None when the search is over."""
        best = self.best()
        for candidate in (2 * best, best // 2):
            candidate = round_to_devices(candidate, self.unit)
            if self.unit <= candidate <= self.largest and candidate not in self.seconds_per_member:
                return candidate
        return None


def worth_trying(candidate: int, remaining: int, seconds_per_member: float, compile_seconds: float) -> bool:
    """Whether a trial of ``candidate`` pays for itself.

    Args:
        candidate: the chunk size to try.
        remaining: members not yet run.
        seconds_per_member: the best measured time per member.
        compile_seconds: what one more compilation is expected to cost.

    Returns:
        True if enough members are left to fill the chunk, and one
        compilation plus redoing its members (should it lose) costs under
        ``TUNE_BUDGET`` of the run time left.
    """
    if candidate > remaining:
        return False
    cost = compile_seconds + candidate * seconds_per_member
    return cost <= TUNE_BUDGET * remaining * seconds_per_member


def search_chunk(runner: Any, entry: Compiled, chunk: int, todo: list[int], bar: Any, capped: bool) -> tuple:
    """Choose the CPU chunk size: the remembered choice, else a measured search.

    Args:
        runner: the sweep's :class:`._executor.ChunkRunner`.
        entry: the program compiled for ``chunk``, with its text hash.
        chunk: the starting chunk size.
        todo: the sweep's member indices, none run yet.
        bar: the progress bar.
        capped: ``chunk`` is the largest that fits the memory budget.

    Returns:
        ``(chunk, entry, results, todo)``: the chosen size and its program,
        ``(indices, outputs)`` of the trial chunks already run at that size,
        and the members still to run (members timed at a losing size are run
        again, so no result depends on the timings).
    """
    unit = 1 if runner.mesh is None else runner.mesh.size
    known = _cached_chunk(entry.lowered_text_hash)
    if known is None:
        return _measure(runner, entry, chunk, todo, bar, chunk if capped else MAX_CPU_CHUNK)
    known = min(round_to_devices(known, unit), chunk if capped else round_to_devices(len(todo), unit))
    return known, (entry if known == chunk else runner.compiled(known)), [], todo


def _measure(runner: Any, entry: Compiled, chunk: int, todo: list[int], bar: Any, largest: int) -> tuple:
    """Time chunks of the sweep at each size :class:`ChunkSearch` proposes; see :func:`search_chunk`."""
    program_id = entry.lowered_text_hash
    search = ChunkSearch(chunk, 1 if runner.mesh is None else runner.mesh.size, largest)
    trials: list[tuple[int, np.ndarray, Any]] = []
    largest_compile = entry.seconds
    for _ in range(2):  # the first call of a program pays one-time costs: time a second one too
        if len(todo) < chunk:
            break
        todo = _trial(runner, entry, chunk, todo, search, trials, bar)
    while (proposal := search.proposal()) is not None:
        if not worth_trying(proposal, len(todo), search.seconds_per_member[search.best()], largest_compile):
            break
        trial_entry = runner.compiled(proposal)
        largest_compile = max(largest_compile, trial_entry.seconds)
        todo = _trial(runner, trial_entry, proposal, todo, search, trials, bar)
    chunk = search.best()
    kept = [(indices, out) for size, indices, out in trials if size == chunk]
    redo = [i for size, indices, _ in trials if size != chunk for i in indices.tolist()]
    bar.total += len(redo)
    if len(search.seconds_per_member) > 1:
        _remember_chunk(program_id, chunk, search.seconds_per_member)
    return chunk, runner.compiled(chunk), kept, sorted(redo + todo)


def _trial(runner, entry, size, todo, search, trials, bar) -> list[int]:
    """Run the next ``size`` members timed, record the time; the members left."""
    indices, todo = np.asarray(todo[:size]), todo[size:]
    out, seconds = runner.run_timed(entry, indices)
    search.record(size, seconds)
    trials.append((size, indices, out))
    bar.update(size)
    return todo
