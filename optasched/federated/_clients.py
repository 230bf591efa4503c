"""Client data (ragged datasets padded to one shape, with their example counts)
and one client's local training from the broadcast model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from ..bridge import InjectState

__all__ = ["ClientData", "check_clients", "local_update", "pad_clients", "set_clock"]


class ClientData(NamedTuple):
    """Every client's examples, padded to one length.

    Attributes:
        examples: a pytree whose leaves have shape ``(num_clients, max_examples, ...)``;
            client ``i``'s examples are the first ``num_examples[i]`` rows.
        num_examples: ``shape=(num_clients,), dtype=int32``.
    """

    examples: Any
    num_examples: jax.Array


def pad_clients(datasets: Sequence[Any]) -> ClientData:
    """Pad ragged client datasets to one shape and record each one's example count.

    Args:
        datasets: one pytree per client (for instance ``(x, y)``), every leaf an
            array with the client's examples along its first axis; all clients
            share one tree structure and the trailing shapes and dtypes.

    Returns:
        A :class:`ClientData` (padding rows are zeros and are never used).

    Raises:
        ValueError: naming ``datasets``: no clients, a client whose leaves
            disagree on the number of examples, clients with different
            structures or trailing shapes, or no client with any example.

    Example:
        >>> import numpy as np, optasched as osd
        >>> clients = osd.pad_clients([(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 2)), np.ones(1))])
        >>> clients.num_examples.tolist(), clients.examples[0].shape
        ([3, 1], (2, 3, 2))
    """
    if len(datasets) == 0:
        raise ValueError("pad_clients: datasets must hold at least one client, got none")
    structure = jax.tree.structure(datasets[0])
    counts = []
    for i, dataset in enumerate(datasets):
        if jax.tree.structure(dataset) != structure:
            raise ValueError(
                f"pad_clients: datasets[{i}] has structure {jax.tree.structure(dataset)}, "
                f"but datasets[0] has {structure}"
            )
        lengths = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(dataset)}
        if len(lengths) != 1 or None in lengths:
            raise ValueError(
                f"pad_clients: datasets[{i}]'s arrays must share their first (example) axis, got lengths "
                f"{sorted(map(str, lengths))}"
            )
        counts.append(lengths.pop())
    if sum(counts) == 0:
        raise ValueError("pad_clients: datasets must hold at least one example in some client, got none")
    longest = max(counts)

    def pad(*leaves):
        trailing = {np.shape(leaf)[1:] for leaf in leaves}
        if len(trailing) != 1:
            raise ValueError(
                f"pad_clients: datasets' arrays must share their trailing shapes, got {sorted(trailing)}"
            )
        return np.stack([np.concatenate([leaf, np.zeros((longest - len(leaf),) + leaf.shape[1:], leaf.dtype)])
                         for leaf in map(np.asarray, leaves)])  # fmt: skip

    return ClientData(jax.tree.map(pad, *datasets), jnp.asarray(counts, jnp.int32))


def check_clients(where: str, clients: ClientData) -> int:
    """Validate a :class:`ClientData` and return its number of clients.

    Args:
        where: the calling function's name, for the messages.
        clients: the client data.
    """
    if not isinstance(clients, ClientData):
        raise ValueError(
            f"{where}: clients must be a ClientData (osd.pad_clients), got {type(clients).__name__}"
        )
    counts_shape = np.shape(clients.num_examples)
    if len(counts_shape) != 1 or counts_shape[0] == 0:
        raise ValueError(f"{where}: clients.num_examples must have shape (num_clients,), got {counts_shape}")
    num_clients = counts_shape[0]
    leading = {np.shape(leaf)[:2] for leaf in jax.tree.leaves(clients.examples)}
    if not leading or any(len(shape) < 2 or shape[0] != num_clients for shape in leading):
        raise ValueError(
            f"{where}: clients.examples' arrays must have shape (num_clients={num_clients}, "
            f"max_examples, ...), got leading shapes {sorted(leading)}"
        )
    if len({shape[1] for shape in leading}) != 1:
        raise ValueError(f"{where}: clients.examples' arrays disagree on max_examples: {sorted(leading)}")
    if not isinstance(clients.num_examples, jax.core.Tracer):
        counts = np.asarray(clients.num_examples)
        if counts.sum() <= 0:
            raise ValueError(f"{where}: clients must hold at least one example in some client, got none")
        if counts.min() < 0 or counts.max() > next(iter(leading))[1]:
            raise ValueError(
                f"{where}: clients.num_examples must lie in [0, max_examples={next(iter(leading))[1]}], "
                f"got {counts.min()}..{counts.max()}"
            )
    return num_clients


def set_clock(state: Any, start: jax.Array) -> Any:
    """Set the step count of every :func:`~optasched.inject` state in an optimizer state.

    The federation starts each client's fresh optimizer state at the round's
    clock, so its schedules are read at ``start + local_step``.

    Args:
        state: an optax optimizer state (nested states included).
        start: the global local-step index of the round's first local step.
    """

    def at_start(node):
        if isinstance(node, InjectState):
            return node._replace(count=jnp.asarray(start, node.count.dtype))
        return node

    return jax.tree.map(at_start, state, is_leaf=lambda node: isinstance(node, InjectState))


def _batches(key: jax.Array, num_examples: jax.Array, max_examples: int, local_steps: int, batch_size: int):
    """Row indices ``(local_steps, batch_size)``: passes over a random order of the client's examples.

    The valid rows come first in a random order (padding rows sort last), and
    step ``k`` takes positions ``k * batch_size ... (k + 1) * batch_size - 1``
    modulo the client's example count: epochs without replacement, static shapes.
    """
    scores = jnp.where(jnp.arange(max_examples) < num_examples, jax.random.uniform(key, (max_examples,)), 2.0)
    order = jnp.argsort(scores)
    positions = jnp.arange(local_steps * batch_size).reshape(local_steps, batch_size)
    return order[positions % jnp.maximum(num_examples, 1)]


def local_update(
    example_loss: Callable[[Any, Any], jax.Array],
    params: Any,
    examples: Any,
    num_examples: jax.Array,
    key: jax.Array,
    start: jax.Array,
    *,
    client_optimizer: optax.GradientTransformation,
    local_steps: int,
    batch_size: int | None,
    local_epochs: ArrayLike | None = None,
) -> tuple[Any, jax.Array]:
    """One client's round: ``local_steps`` optimizer steps from the broadcast ``params``.

    The client's optimizer state is fresh every round; its
    :func:`~optasched.inject` counts start at ``start``, the round clock.
    With ``local_epochs`` the client takes only its first
    ``min(local_steps, ceil(local_epochs * num_examples / batch_size))`` steps
    (``ceil(local_epochs)`` for full batches); the rest leave the model and
    optimizer state unchanged.

    Args:
        example_loss: ``example_loss(params, batch) -> per-example losses``, shape ``(batch,)``.
        params: the broadcast server model.
        examples: this client's padded examples (leaves ``(max_examples, ...)``).
        num_examples: how many rows of ``examples`` are real.
        key: the client's key for this round (its batch order).
        start: the global local-step index of the round's first local step.
        client_optimizer: the client's optax optimizer.
        local_steps: optimizer steps per round.
        batch_size: examples per step; None uses every example each step.
        local_epochs: optional passes over the client's examples (may be traced).

    Returns:
        ``(delta, loss)``: the client model minus ``params``, and the mean training loss over its steps.
    """
    max_examples = jax.tree.leaves(examples)[0].shape[0]
    if batch_size is None:
        rows = jnp.broadcast_to(jnp.arange(max_examples), (local_steps, max_examples))
        valid = jnp.broadcast_to(jnp.arange(max_examples) < num_examples, rows.shape)
    else:
        rows = _batches(key, num_examples, max_examples, local_steps, batch_size)
        valid = jnp.broadcast_to(num_examples > 0, rows.shape)
    dtype = jnp.result_type(*jax.tree.leaves(params))
    weights = valid.astype(dtype)
    active = jnp.ones((local_steps,), bool)
    if local_epochs is not None:
        epochs = jnp.asarray(local_epochs, dtype)
        per_epoch = 1 if batch_size is None else num_examples.astype(dtype) / batch_size
        active = jnp.arange(local_steps) < jnp.ceil(epochs * per_epoch)

    def mean_loss(model, batch, weight):
        return jnp.sum(weight * example_loss(model, batch)) / jnp.maximum(jnp.sum(weight), 1)

    def step(carry, inputs):
        model, state = carry
        batch_rows, weight, on = inputs
        batch = jax.tree.map(lambda leaf: leaf[batch_rows], examples)
        loss, grads = jax.value_and_grad(mean_loss)(model, batch, weight)
        updates, new_state = client_optimizer.update(grads, state, model)
        stepped = (optax.apply_updates(model, updates), new_state)
        if local_epochs is None:  # every step counts: no masking in the program
            return stepped, loss
        return jax.tree.map(lambda new, old: jnp.where(on, new, old), stepped, (model, state)), loss

    state = set_clock(client_optimizer.init(params), start)
    (model, _), losses = jax.lax.scan(step, (params, state), (rows, weights, active))
    delta = jax.tree.map(lambda new, old: new - old, model, params)
    mean = jnp.sum(jnp.where(active, losses, 0)) / jnp.maximum(jnp.sum(active), 1).astype(losses.dtype)
    return delta, mean
