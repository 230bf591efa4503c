"""The sweep's checkpoint store: one file per saved tree, written atomically and
read back only if every byte checks out, plus the fingerprints that tell
whether a checkpoint belongs to the sweep that finds it.

A checkpoint file is an uncompressed zip (no pickle anywhere) holding each
leaf's raw bytes and a ``manifest.json``: the tree's structure, every leaf's
dtype, shape and sha256, and the caller's ``meta``. :func:`save_atomic`
writes it under a temporary name in the same folder, fsyncs it and renames
it over the target, so a reader sees the old file or the new one, never half
of one. :func:`load_checked` returns None for a missing, truncated or
corrupt file: a kill during a save costs that save, never a wrong result.

Example:
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "state.ckpt")
    >>> save_atomic(path, {"w": np.arange(3.0), "step": np.int32(7)}, {"epoch": 2})
    >>> tree, meta = load_checked(path)
    >>> tree["w"].tolist(), int(tree["step"]), meta
    ([0.0, 1.0, 2.0], 7, {'epoch': 2})
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(100)  # what a kill during a plain (non-atomic) write leaves
    >>> load_checked(path) is None
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "fingerprint_differences",
    "load_checked",
    "program_fingerprint",
    "save_atomic",
    "sweep_fingerprint",
    "tree_fingerprint",
]

_MANIFEST = "manifest.json"
_FORMAT = "optasched-checkpoint-1"


# -- structure as JSON (plain containers), so a tree can be read back without a template --------


def _encode_structure(tree: Any) -> Any:
    """A JSON description of ``tree``'s containers (dicts with str keys, lists, tuples, None), or None."""
    if isinstance(tree, dict):
        if not all(isinstance(k, str) for k in tree):
            return None
        parts = {k: _encode_structure(v) for k, v in sorted(tree.items())}
        return None if any(p is None for p in parts.values()) else {"dict": parts}
    if type(tree) in (list, tuple):
        parts = [_encode_structure(v) for v in tree]
        return None if any(p is None for p in parts) else {type(tree).__name__: parts}
    if tree is None:
        return {"none": True}
    return None if jax.tree_util.all_leaves([tree]) is False else {"leaf": True}


def _decode_structure(spec: Any, leaves: list) -> Any:
    if "leaf" in spec:
        return leaves.pop(0)
    if "none" in spec:
        return None
    if "dict" in spec:
        return {k: _decode_structure(v, leaves) for k, v in spec["dict"].items()}
    kind = list if "list" in spec else tuple
    return kind(_decode_structure(v, leaves) for v in spec[kind.__name__])


# -- leaves as raw bytes -----------------------------------------------------------------------


def _host_leaf(leaf: Any) -> tuple[np.ndarray, str | None]:
    """A leaf as a NumPy array, and the PRNG implementation if it was a typed key."""
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(leaf)), str(jax.random.key_impl(leaf))
    array = np.asarray(leaf)
    if array.dtype.hasobject:
        raise ValueError(f"save_atomic: tree must hold numeric arrays, got a leaf of dtype object: {leaf!r}")
    return array, None


def _leaf_bytes(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def save_atomic(path: str | os.PathLike, tree: Any, meta: Mapping[str, Any] | None = None) -> None:
    """Save a pytree of arrays and a JSON ``meta`` to ``path`` atomically.

    The file is written under a temporary name in ``path``'s folder, flushed
    to disk (fsync) and renamed over ``path`` (``os.replace``); the folder is
    created if needed. A process killed at any moment leaves the previous
    file or the new one at ``path`` (and perhaps a ``.tmp`` file that
    :func:`load_checked` never reads).

    Args:
        tree: a pytree whose leaves are arrays, NumPy or Python numbers, or
            typed PRNG keys (restored as keys).
        meta: JSON-serialisable facts saved beside the arrays (a step, a
            fingerprint, ...); default ``{}``.
        path: the file to write.

    Raises:
        ValueError: if ``meta`` is not JSON-serialisable or a leaf is not
            numeric.
    """
    meta = dict(meta or {})
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as error:
        raise ValueError(f"save_atomic: meta must be JSON-serialisable, got {meta!r} ({error})") from None
    leaves, treedef = jax.tree.flatten(tree)
    hosted = [_host_leaf(leaf) for leaf in leaves]
    manifest = {
        "format": _FORMAT,
        "treedef": str(treedef),
        "structure": _encode_structure(tree),
        "leaves": [
            {"dtype": a.dtype.name, "shape": list(a.shape), "key_impl": impl, "sha256": _sha(_leaf_bytes(a))}
            for a, impl in hosted
        ],
        "meta": meta,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
                for i, (array, _) in enumerate(hosted):
                    archive.writestr(f"leaf_{i:06d}.bin", _leaf_bytes(array))
                archive.writestr(_MANIFEST, json.dumps(manifest, sort_keys=True))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)  # the rename itself survives a power cut


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some systems cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def load_checked(path: str | os.PathLike, like: Any = None) -> tuple[Any, dict] | None:
    """Read a file written by :func:`save_atomic`, or None if it is missing, partial or corrupt.

    Every leaf's sha256 is checked against the manifest; any mismatch, a
    truncated or foreign file, or an unreadable manifest gives None. Garbage
    never raises.

    Args:
        path: the file to read.
        like: a pytree with the saved tree's structure (arrays or
            ``jax.ShapeDtypeStruct`` leaves) to rebuild it with; needed when
            the saved tree had containers other than dicts with str keys,
            lists, tuples and None. A file whose structure, shapes or dtypes
            differ from ``like`` gives None. Without it, a tree of plain
            containers is rebuilt from the file.

    Returns:
        ``(tree, meta)`` with NumPy leaves (typed PRNG keys as keys), or None.

    Raises:
        ValueError: if ``like`` is None and the saved tree needs a template.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(_MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
                return None
            leaves = [_read_leaf(archive, i, spec) for i, spec in enumerate(manifest["leaves"])]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError):
        return None
    if any(leaf is None for leaf in leaves):
        return None
    meta = manifest.get("meta")
    if not isinstance(meta, dict):
        return None
    if like is not None:
        leaves_like, treedef = jax.tree.flatten(like)
        if str(treedef) != manifest.get("treedef") or not all(
            _matches(leaf, template) for leaf, template in zip(leaves, leaves_like)
        ):
            return None
        return jax.tree.unflatten(treedef, leaves), meta
    structure = manifest.get("structure")
    if structure is None:
        raise ValueError(
            f"load_checked: {os.fspath(path)} holds a tree of {manifest.get('treedef')}; pass like= "
            "(a tree of the same structure) to rebuild it"
        )
    try:
        return _decode_structure(structure, list(leaves)), meta
    except (KeyError, TypeError, IndexError, AttributeError):
        return None


def _read_leaf(archive: zipfile.ZipFile, index: int, spec: dict) -> Any:
    data = archive.read(f"leaf_{index:06d}.bin")
    if _sha(data) != spec["sha256"]:
        return None
    array = np.frombuffer(data, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy()
    if spec.get("key_impl"):
        return jax.random.wrap_key_data(array, impl=spec["key_impl"])
    return array


def _matches(leaf: Any, template: Any) -> bool:
    dtype = template.dtype if hasattr(template, "dtype") else np.asarray(template).dtype
    return tuple(np.shape(leaf)) == tuple(np.shape(template)) and leaf.dtype == dtype


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- fingerprints: is this checkpoint from the same sweep? ------------------------------------


def tree_fingerprint(tree: Any) -> dict[str, str]:
    """Hashes of a pytree's structure (tree, shapes, dtypes) and of its values.

    Args:
        tree: a pytree of arrays (typed PRNG keys hash by their data and
            implementation).

    Returns:
        ``{"structure": sha256, "values": sha256}``.
    """
    leaves, treedef = jax.tree.flatten(tree)
    structure, values = hashlib.sha256(str(treedef).encode()), hashlib.sha256()
    for leaf in leaves:
        array, impl = _host_leaf(leaf)
        structure.update(f"|{array.dtype.name}{list(array.shape)}{impl}".encode())
        values.update(_leaf_bytes(array))
    return {"structure": structure.hexdigest(), "values": values.hexdigest()}


def program_fingerprint(fn: Callable, *example_args: Any) -> str:
    """sha256 of the StableHLO text of ``jax.jit(fn)`` lowered for these arguments' shapes.

    The text holds every operation and every constant ``fn`` closes over (not
    source locations), so it changes when ``fn`` computes something else
    and stays when only its comments or file move.

    Args:
        fn: a jittable function.
        example_args: arguments (arrays or ``jax.ShapeDtypeStruct``); only
            their shapes and dtypes matter.

    Returns:
        The hex digest.
    """
    text = jax.jit(fn).lower(*example_args).as_text()
    return _sha(text.encode())


def sweep_fingerprint(*, batch: Any, key: Any, program: str, chunk_size: int, **extra: Any) -> dict[str, Any]:
    """What identifies a sweep's checkpoints: the parts :func:`fingerprint_differences` compares.

    Args:
        batch: the stacked configurations.
        key: the sweep's PRNG key.
        program: a hash of the member's program (:func:`program_fingerprint`).
        chunk_size: members per chunk (results are bit-identical only for the
            same chunk program).
        extra: further JSON-serialisable parts (named with underscores, shown
            with spaces), such as ``strategy`` or ``total_steps``.

    Returns:
        A JSON-serialisable dict with the keys ``"batch structure"``,
        ``"batch values"``, ``"key"``, ``"program"``, ``"chunk size"`` and
        the extras.
    """
    batch_hash = tree_fingerprint(batch)
    parts = {
        "batch structure": batch_hash["structure"],
        "batch values": batch_hash["values"],
        "key": _sha(json.dumps(tree_fingerprint(key), sort_keys=True).encode()),
        "program": program,
        "chunk size": int(chunk_size),
    }
    parts.update({name.replace("_", " "): value for name, value in extra.items()})
    return parts


def fingerprint_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The names of the parts in which two fingerprints differ, in ``current``'s order.

    Args:
        recorded: the fingerprint a checkpoint was saved with.
        current: the fingerprint of the sweep that found it.

    Returns:
        The differing part names (a part missing on one side differs); empty
        when they agree.
    """
    names = list(current) + [name for name in recorded if name not in current]
    return [name for name in names if recorded.get(name) != current.get(name)]
