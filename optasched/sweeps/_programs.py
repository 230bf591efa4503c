"""The sweep's program cache: the ``jit(vmap(train))`` program of a chunk, and
its compiled executables, made once per process and reused by every sweep.

Two levels, both living until the process ends:

- :func:`member_program` caches the jitted (not yet compiled) program, keyed
  by ``(train, split_keys, strategy, mesh, key_impl)``: the same ``train``
  function object swept again reuses it. At most 64 are kept (least recently
  used go first), so a loop over fresh ``train`` closures does not grow
  without bound.
- :func:`compile_program` caches the compiled executable, keyed by the program
  and the shapes, dtypes and shardings of its arguments (a chunk size is an
  argument shape), so any sweep size and any hyperparameter values reuse one
  compilation. On request it also records a hash of the lowered program's
  text, which identifies the program across processes (the chunk tuner's
  key on disk, see :mod:`._tuner`).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["Compiled", "compile_program", "member_program", "memory_bytes"]


@functools.lru_cache(maxsize=64)
def member_program(train: Callable, split_keys: bool, strategy: str, mesh: Mesh | None, key_impl) -> Any:
    """The jitted program that runs ``train`` over one chunk of members.

    Args:
        train: ``train(config, key) -> metrics`` for ONE configuration.
        split_keys: fold each member's index into the key (else every member
            gets the same key).
        strategy: ``"map"`` runs members one after another in a ``lax.map``;
            anything else vmaps them.
        mesh: a one-axis ``("sweep",)`` mesh to shard members over, or None
            for one device.
        key_impl: the PRNG implementation of the key, whose raw data the
            program receives.

    Returns:
        ``jit(program)(configs, key_data, indices) -> metrics`` with a leading
        member axis.
    """

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


class Compiled(NamedTuple):
    """A compiled chunk program.

    Attributes:
        executable: the compiled program, called with the chunk's arguments.
        lowered_text_hash: sha256 of the lowered program's text (identifies
            the program across processes), or None if it was not asked for.
        seconds: wall time of the first lowering and compilation in this
            process.
    """

    executable: Any
    lowered_text_hash: str | None
    seconds: float


_COMPILED: dict[Any, Compiled] = {}


def compile_program(program: Any, arguments: tuple, identify: bool = False) -> Compiled:
    """Compile ``program`` for these argument shapes once per process and reuse it.

    Args:
        program: a jitted program from :func:`member_program`.
        arguments: example arguments; only their shapes, dtypes and
            shardings matter.
        identify: also hash the lowered program's text (for the chunk tuner's
            cache); an entry compiled without the hash is lowered again once.

    Returns:
        The cached :class:`Compiled` entry.
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
        entry = _COMPILED[cache_key] = Compiled(executable, text_hash, seconds)
    return entry


def memory_bytes(executable: Any) -> int | None:
    """Bytes one call of ``executable`` uses (arguments, outputs, temporaries), per XLA.

    Args:
        executable: a compiled program.

    Returns:
        The byte count, or None where the backend does not report memory.
    """
    try:
        stats = executable.memory_analysis()
    except Exception:  # some backends do not report memory
        return None
    if stats is None:
        return None
    return int(stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes)
