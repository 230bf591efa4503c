"""The sweep's executor: place a chunk's members on the devices, run chunks
(side by side on a CPU, sharded over devices otherwise), and gather the
members' results back into member order on the host.
"""

from __future__ import annotations

import concurrent.futures
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._programs import Compiled, compile_program
from ._tuner import usable_cores

__all__ = ["ChunkRunner", "Progress", "cpu_workers", "gather", "run_timed", "split_into_chunks", "to_host"]

_clock = time.perf_counter  # the clock that times chunks for the tuner


class Progress:
    """A one-line progress bar on stderr, over member runs.

    Chunks may differ in size while the chunk size is tuned, and members run
    at a losing size add to ``total``.

    Args:
        total: member runs expected.
        enabled: draw the bar (else only count).
        label: the bar's prefix.
    """

    def __init__(self, total: int, enabled: bool, label: str = "sweep"):
        self.total, self.enabled, self.label = total, enabled, label
        self.start = time.perf_counter()
        self.chunks = 0
        self.done = 0
        self.loaded_chunks: int | None = None  # set by a resumed sweep

    def loaded(self, members: int, chunks: int) -> None:
        """Count chunks loaded from a checkpoint (done before this run) and redraw.

        Args:
            members: members the loaded chunks hold.
            chunks: chunk files loaded.
        """
        self.loaded_chunks = chunks
        self.done += members
        if self.enabled:
            self._draw()

    def update(self, members: int) -> None:
        """Count one finished chunk of ``members`` member runs and redraw.

        Args:
            members: member runs the chunk finished.
        """
        self.chunks += 1
        self.done += members
        if self.enabled:
            self._draw()

    def _draw(self) -> None:
        width = 24
        filled = round(width * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} members, "
            f"{self.chunks} chunks"
            + ("" if self.loaded_chunks is None else f" run, {self.loaded_chunks} loaded from checkpoint")
            + f", {elapsed:.1f} s"
        )
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_timed(executable: Any, arguments: tuple) -> tuple[Any, float]:
    """Run one chunk to completion.

    Args:
        executable: the compiled chunk program.
        arguments: its arguments.

    Returns:
        The chunk's outputs and its wall time in seconds.
    """
    start = _clock()
    out = executable(*arguments)
    jax.block_until_ready(out)
    return out, _clock() - start


def cpu_workers(devices: list, mesh: Mesh | None, memory_budget: float | None, num_chunks: int) -> int:
    """How many chunks run side by side: one per core on a single CPU device, else one.

    Args:
        devices: the sweep's devices.
        mesh: the sweep's mesh (None on one device).
        memory_budget: bounds one chunk's memory, so it keeps chunks one at a
            time.
        num_chunks: chunks left to run.

    Returns:
        The number of worker threads.
    """
    one_cpu = devices[0].platform == "cpu" and mesh is None and jax.process_count() == 1
    if not one_cpu or memory_budget is not None:
        return 1
    return max(1, min(usable_cores(), num_chunks))


def split_into_chunks(members: list[int], chunk: int) -> list[np.ndarray]:
    """Member indices cut into chunks of ``chunk`` (the last one may be short).

    Args:
        members: member indices, in order.
        chunk: members per chunk.

    Returns:
        One index array per chunk.
    """
    return [np.asarray(members[start : start + chunk]) for start in range(0, len(members), chunk)]


class ChunkRunner:
    """Runs chunks of one sweep's members through its chunk program.

    Args:
        program: the jitted chunk program (:func:`._programs.member_program`).
        configs: the stacked configurations on the host (NumPy leaves).
        key_data: the raw data of the key every member starts from.
        mesh: the mesh to shard members over, or None for one device.

    Attributes:
        compile_seconds: time spent getting compiled programs so far.
    """

    def __init__(self, program: Any, configs: Any, key_data: np.ndarray, mesh: Mesh | None):
        self.program, self.configs, self.key_data, self.mesh = program, configs, key_data, mesh
        self.compile_seconds = 0.0

    def arguments(self, indices: np.ndarray) -> tuple:
        """The program's arguments for these members, placed on the mesh when there is one.

        Args:
            indices: member indices of the chunk.

        Returns:
            ``(configs, key_data, indices)``.
        """
        chunk_configs = jax.tree.map(lambda x: x[indices], self.configs)
        index_array = np.asarray(indices, dtype=np.int32)
        if self.mesh is None:
            return chunk_configs, self.key_data, index_array
        members = PartitionSpec("sweep")
        return (
            jax.tree.map(lambda x: self._place(x, members), chunk_configs),
            self._place(self.key_data, PartitionSpec()),
            self._place(index_array, members),
        )

    def _place(self, x: np.ndarray, spec: PartitionSpec) -> jax.Array:
        sharding = NamedSharding(self.mesh, spec)
        return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])

    def compiled(self, size: int, identify: bool = False) -> Compiled:
        """The program compiled for chunks of ``size`` members (cached).

        Args:
            size: members per chunk.
            identify: also hash the lowered program's text.

        Returns:
            The compiled entry; the time taken counts as compilation.
        """
        start = time.perf_counter()
        entry = compile_program(self.program, self.arguments(np.zeros(size, np.int64)), identify)
        self.compile_seconds += time.perf_counter() - start
        return entry

    def run_timed(self, entry: Compiled, indices: np.ndarray) -> tuple[Any, float]:
        """Run one full chunk to completion, timed (for the chunk tuner).

        Args:
            entry: the program compiled for ``len(indices)`` members.
            indices: member indices of the chunk.

        Returns:
            The chunk's outputs and its wall time in seconds.
        """
        return run_timed(entry.executable, self.arguments(indices))

    def run_chunks(
        self,
        entry: Compiled,
        chunks: list[np.ndarray],
        size: int,
        workers: int,
        bar: Progress,
        on_result: Callable[[np.ndarray, Any], None] | None = None,
    ) -> list[tuple[np.ndarray, Any]]:
        """Run every chunk, padding short ones to ``size`` with member 0.

        Args:
            entry: the program compiled for ``size`` members.
            chunks: member indices of each chunk.
            size: members per compiled chunk.
            workers: chunks run side by side (threads); 1 runs them in order.
            bar: the progress bar to update.
            on_result: called as ``on_result(indices, outputs)`` on this
                thread as each chunk finishes (a checkpoint's save), or None.

        Returns:
            ``(indices, outputs)`` per chunk, in the order they finished.
        """
        if workers > 1:
            return self._run_side_by_side(entry, chunks, size, workers, bar, on_result)
        results = []
        for indices in chunks:
            out = entry.executable(*self.arguments(_padded(indices, size)))
            results.append((indices, out))
            if on_result is not None:
                on_result(indices, out)
            elif bar.enabled:
                jax.block_until_ready(out)
            bar.update(len(indices))
        return results

    def _run_side_by_side(self, entry, chunks, size, workers, bar, on_result) -> list[tuple[np.ndarray, Any]]:
        # XLA's CPU backend spreads one vmapped chunk poorly over the cores (on 2 cores a chunk of
        # 8 ran only 1.2x faster than on one), so chunks run side by side, one per core. Each
        # chunk is the same program on its own members: the results do not depend on the order.
        def run(indices: np.ndarray) -> Any:
            return jax.block_until_ready(entry.executable(*self.arguments(_padded(indices, size))))

        results = []
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {pool.submit(run, indices): indices for indices in chunks}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results.append((futures[future], future.result()))
                    if on_result is not None:
                        on_result(*results[-1])
                    bar.update(len(futures[future]))
            except BaseException:
                for future in futures:  # a failed chunk ends the sweep: start no more
                    future.cancel()
                raise
        return results


def _padded(indices: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([indices, np.zeros(size - len(indices), indices.dtype)])  # pad with member 0


def gather(results: list[tuple[np.ndarray, Any]]) -> Any:
    """The members' outputs on the host, in member order.

    Args:
        results: ``(indices, outputs)`` per chunk, in any order; a padded
            chunk's outputs beyond ``len(indices)`` are dropped.

    Returns:
        The metrics pytree with NumPy leaves, leading axis = members.
    """
    order = np.argsort(np.concatenate([indices for indices, _ in results]), kind="stable")
    parts = [jax.tree.map(lambda x, n=len(indices): x[:n], to_host(out)) for indices, out in results]
    return jax.tree.map(lambda *leaves: np.concatenate(leaves)[order], *parts)


def to_host(tree: Any) -> Any:
    """Fetch a (possibly multi-process) result to NumPy on every process.

    Args:
        tree: a chunk's outputs; NumPy leaves (a chunk loaded from a
            checkpoint) are on every process already.

    Returns:
        The tree with NumPy leaves.
    """
    if all(isinstance(x, np.ndarray) for x in jax.tree.leaves(tree)):
        return tree
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)
