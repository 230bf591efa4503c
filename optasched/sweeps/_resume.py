"""Resumable sweeps: the finished chunks of :func:`optasched.sweep` saved to a
folder, and found again by a rerun of the same sweep.

The folder holds ``sweep.ckpt`` (the sweep's fingerprint and its chunk size)
and one ``chunk-<first member>+<members>.ckpt`` per finished chunk (its
member indices and outputs), each written atomically by
:func:`._checkpoint.save_atomic`. A rerun that finds the same fingerprint
runs chunks of the recorded size (never tuned again) over the members no
valid chunk file holds, so its result equals an uninterrupted sweep bit for
bit; a file that fails its checksum, or belongs to another sweep, is ignored.
A different sweep is refused with a ``ValueError`` naming what differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._checkpoint import fingerprint_differences, load_checked, program_fingerprint, save_atomic
from ._checkpoint import sweep_fingerprint
from ._executor import to_host
from ._tuner import round_to_devices

__all__ = ["SweepCheckpoint", "open_checkpoint"]

_MANIFEST = "sweep.ckpt"
_CHUNK = re.compile(r"chunk-(\d+)\+(\d+)\.ckpt")


def open_checkpoint(
    checkpoint_dir: Any,
    overwrite: Any,
    member: Callable,
    inputs: Any,
    *,
    strategy: str,
    split_keys: bool,
    chunk_size: int | None,
) -> SweepCheckpoint | None:
    """Check the checkpoint arguments and open the sweep's folder.

    Args:
        checkpoint_dir: the folder (str or path), or None for no checkpoints.
        overwrite: True to replace a different sweep's checkpoints.
        member: the function each member runs (``train``, or its checked form).
        inputs: the sweep's checked :class:`._inputs.SweepInputs`.
        strategy: the sweep's strategy.
        split_keys: whether members get their own keys.
        chunk_size: the chunk size asked for, or None.

    Returns:
        The :class:`SweepCheckpoint`, or None without a ``checkpoint_dir``.

    Raises:
        ValueError: for a bad argument, or a folder holding a different sweep
            (without ``overwrite``), naming what differs.
    """
    if not isinstance(overwrite, bool):
        raise ValueError(f"sweep: overwrite must be True or False, got {overwrite!r}")
    if checkpoint_dir is None:
        return None
    if not isinstance(checkpoint_dir, (str, os.PathLike)) or not os.fspath(checkpoint_dir):
        raise ValueError(
            f"sweep: checkpoint_dir must be a folder path (str or os.PathLike), got {checkpoint_dir!r}"
        )
    folder = Path(checkpoint_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"sweep: checkpoint_dir={os.fspath(folder)!r} exists and is not a folder")
    one_member = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), inputs.configs)
    program = program_fingerprint(member, one_member, jax.ShapeDtypeStruct((), inputs.key.dtype))
    parts = dict(strategy=strategy, split_keys=split_keys, devices=len(inputs.devices))
    requested = None if chunk_size is None else round_to_devices(chunk_size, len(inputs.devices))
    return SweepCheckpoint(folder, overwrite, inputs, program, parts, requested)


class SweepCheckpoint:
    """A sweep's checkpoint folder: its recorded chunk size, finished chunks and saves.

    Args:
        folder: the checkpoint folder.
        overwrite: replace a different sweep's files instead of refusing.
        inputs: the sweep's checked inputs.
        program: the hash of the member's program.
        parts: further fingerprint parts (strategy, split keys, devices).
        requested: the chunk size asked for (rounded to the devices), or None.

    Attributes:
        recorded_chunk: the chunk size of the sweep found in the folder, or
            None for a fresh sweep (the engine then chooses one as usual).
    """

    def __init__(self, folder: Path, overwrite: bool, inputs: Any, program: str, parts: dict, requested):
        self.folder, self.inputs, self.program, self.parts = folder, inputs, program, parts
        self.recorded_chunk: int | None = None
        self._fingerprint: dict | None = None
        found = load_checked(folder / _MANIFEST)
        if found is None:
            self._clear()  # chunk files without a manifest belong to no sweep this folder can vouch for
            return
        recorded = found[1].get("fingerprint", {})
        current = self._parts(recorded.get("chunk size") if requested is None else requested)
        differences = fingerprint_differences(recorded, current)
        if not differences:
            self.recorded_chunk, self._fingerprint = int(recorded["chunk size"]), recorded
        elif overwrite:
            self._clear()
        else:
            raise ValueError(
                f"sweep: checkpoint_dir={os.fspath(folder)!r} holds a different sweep: its "
                f"{', '.join(differences)} differ{'s' if len(differences) == 1 else ''} from this one's; "
                "pass overwrite=True to replace it, or use another folder"
            )

    def _parts(self, chunk: Any) -> dict:
        return sweep_fingerprint(
            batch=self.inputs.configs, key=self.inputs.key, program=self.program, chunk_size=chunk or 0,
            **self.parts,
        )  # fmt: skip

    def _clear(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name == _MANIFEST or _CHUNK.fullmatch(path.name):
                path.unlink(missing_ok=True)

    def _sweep_id(self) -> str:
        return hashlib.sha256(json.dumps(self._fingerprint, sort_keys=True).encode()).hexdigest()

    def start(
        self, chunk: int, executable: Any, results: list, todo: list[int], bar: Any
    ) -> tuple[list, list[int]]:
        """Record the sweep (when fresh), save chunks already run, load finished ones.

        Args:
            chunk: the sweep's chunk size (the recorded one on a resume).
            executable: the program compiled for ``chunk`` (its output shapes
                check the files).
            results: ``(indices, outputs)`` of chunks already run at ``chunk``
                (the tuner's trials); saved here.
            todo: member indices not yet run.
            bar: the progress bar; told what was loaded.

        Returns:
            ``(results, todo)``: with the loaded chunks added, and without
            their members.
        """
        if self._fingerprint is None:
            self._fingerprint = self._parts(chunk)
            self.recorded_chunk = chunk
            save_atomic(self.folder / _MANIFEST, {}, {"fingerprint": self._fingerprint})
        for indices, outputs in results:
            self.save(indices, outputs)
        self._out = executable.out_info  # one chunk's output shapes
        loaded = self._load(set(todo))
        done = {i for indices, _ in loaded for i in indices.tolist()}
        bar.loaded(len(done), len(loaded))
        return results + loaded, [i for i in todo if i not in done]

    def _load(self, wanted: set[int]) -> list[tuple[np.ndarray, Any]]:
        """The valid chunk files of this sweep whose members are all still wanted, without overlaps."""
        loaded, sweep_id = [], self._sweep_id()
        for path in sorted(self.folder.iterdir()):
            match = _CHUNK.fullmatch(path.name)
            if match is None:
                continue
            size = int(match.group(2))
            outputs = jax.tree.map(functools.partial(_resized, size=size), self._out)
            like = {"indices": jax.ShapeDtypeStruct((size,), np.dtype(np.int64)), "outputs": outputs}
            found = load_checked(path, like=like)
            if found is None or found[1].get("sweep") != sweep_id:  # partial, corrupt or another sweep's
                continue
            indices = found[0]["indices"]
            members = set(indices.tolist())
            if len(members) != size or not members <= wanted:
                continue
            wanted -= members
            loaded.append((indices, found[0]["outputs"]))
        return loaded

    def save(self, indices: np.ndarray, outputs: Any) -> None:
        """Save one finished chunk's members (a padded chunk's extra members dropped).

        Args:
            indices: the chunk's member indices.
            outputs: the chunk's outputs (leading axis at least ``len(indices)``).
        """
        host = to_host(outputs)  # every process takes part; one writes
        if jax.process_index() != 0:
            return
        indices = np.asarray(indices, np.int64)
        trimmed = jax.tree.map(lambda x: x[: len(indices)], host)
        name = f"chunk-{int(indices[0]):08d}+{len(indices)}.ckpt"
        save_atomic(self.folder / name, {"indices": indices, "outputs": trimmed}, {"sweep": self._sweep_id()})


def _resized(spec: jax.ShapeDtypeStruct, size: int) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct((size, *spec.shape[1:]), spec.dtype)  # a chunk's output, for ``size`` members
