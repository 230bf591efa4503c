"""One character-level transformer trained with one learning-rate schedule.

``train(run, key)`` trains ONE configuration: a decoder-only transformer on
the King James Bible (:mod:`experiments.common.text`) with Adam or RAdam and
the schedule ``run.learning_rate``. Everything a study varies is a traced leaf
of ``run``: the schedule's hyperparameters (peak, warmup and decay lengths),
Adam's ``b2``, Adam versus RAdam, Post-LN versus Pre-LN, the number of blocks
in use, and the seed. Only the shapes (``run.setup``) are static, so every
arm of the study is one compiled program under :func:`optasched.sweep`.

``gradient_norms(run, key)`` is the untrained counterpart: per-layer gradient
norms at initialisation (Xiong et al. 2020).

Common random numbers: the initialisation and the data order depend only on
``run.seed`` (folded into the sweep's key), so every arm of a comparison sees
the same initial weights and the same batches for the same seed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common import text


@dataclasses.dataclass(frozen=True)
class Setup:
    """The static part of a run: what changes the compiled program."""

    depth: int  # transformer blocks built (a run may use fewer: Run.depth)
    width: int  # model width d_model
    heads: int  # attention heads (width / heads per head)
    mlp: int  # hidden units of each block's MLP
    context: int  # characters of context; each window predicts `context` next characters
    batch_size: int  # windows per step
    steps: int  # optimizer steps
    record_every: int  # history resolution: one point per this many steps
    eval_windows: int  # validation and test windows, evenly spaced over each split
    b1: float = 0.9  # Adam's first-moment decay (Vaswani et al. 2017)
    eps: float = 1e-9  # Adam's epsilon (Vaswani et al. 2017)

    def __post_init__(self):
        if self.width % self.heads:
            raise ValueError(f"Setup: width {self.width} must be a multiple of heads {self.heads}")
        if self.steps % self.record_every:
            raise ValueError(f"Setup: record_every {self.record_every} must divide steps {self.steps}")


@flax.struct.dataclass
class Run:
    """One configuration: the static setup and the traced hyperparameters."""

    learning_rate: Any  # an optasched schedule (its leaves are traced)
    b2: jax.Array  # Adam's second-moment decay: float32, shape ()
    rectified: jax.Array  # RAdam (True) or Adam (False): bool, shape ()
    post_ln: jax.Array  # Post-LN (True) or Pre-LN (False): bool, shape ()
    depth: jax.Array  # blocks in use (<= setup.depth; the rest are skipped): int32, shape ()
    seed: jax.Array  # selects initialisation and data order: int32, shape ()
    setup: Setup = flax.struct.field(pytree_node=False)


def stack_runs(runs: list[Run]) -> Run:
    """Stack runs into one sweep: one leading member axis on every leaf.

    The schedules go through :func:`optasched.stack`, which turns schedules of
    different structure (warmup-cosine and Noam) into one ``osd.switch`` with a
    traced index, so every member still runs in one compiled program.
    """
    setups = {r.setup for r in runs}
    if len(setups) != 1:
        raise ValueError(f"stack_runs: runs must share one setup, got {len(setups)}")
    arrays = {
        f: jnp.stack([getattr(r, f) for r in runs]) for f in ("b2", "rectified", "post_ln", "depth", "seed")
    }
    return Run(learning_rate=osd.stack([r.learning_rate for r in runs]), setup=runs[0].setup, **arrays)


def make_run(
    setup: Setup,
    learning_rate,
    *,
    seed: int,
    post_ln: bool,
    b2: float = 0.98,
    rectified: bool = False,
    depth: int | None = None,
) -> Run:
    """A :class:`Run` from Python values (every hyperparameter becomes a typed array leaf)."""
    depth = setup.depth if depth is None else depth
    if not 1 <= depth <= setup.depth:
        raise ValueError(f"make_run: depth must be in [1, {setup.depth}], got {depth}")
    return Run(
        learning_rate=learning_rate,
        b2=jnp.float32(b2),
        rectified=jnp.bool_(rectified),
        post_ln=jnp.bool_(post_ln),
        depth=jnp.int32(depth),
        seed=jnp.int32(seed),
        setup=setup,
    )


@functools.lru_cache(maxsize=1)
def corpus() -> text.CharCorpus:
    """The pinned King James corpus (cached on disk and in memory)."""
    return text.load_kjv()


@functools.lru_cache(maxsize=8)
def evaluation_windows(context: int, count: int) -> dict[str, np.ndarray]:
    """Fixed validation and test windows of ``context + 1`` characters, shared by every run."""
    data = corpus()
    return {
        "validation": text.windows(data.validation, context + 1, count),
        "test": text.windows(data.test, context + 1, count),
    }


class Block(nn.Module):
    """One transformer block: causal self-attention and a ReLU MLP, each a residual branch.

    Post-LN (Vaswani et al. 2017): ``x = LN(x + f(x))``. Pre-LN (Xiong et al.
    2020): ``x = x + f(LN(x))``. The architecture is the traced flag ``post``
    (both LayerNorm placements are computed and one is selected; the branches
    ``f`` run once), and a block whose ``index`` is not below ``depth`` passes
    its input through, so every architecture and depth shares one program.
    Weights are Xavier-uniform and biases zero, as in Xiong et al.'s analysis.
    """

    width: int
    heads: int
    mlp: int

    @nn.compact
    def __call__(self, x, post, depth, index):
        dense = functools.partial(nn.Dense, kernel_init=nn.initializers.xavier_uniform())

        def attention(h):
            batch, length, width = h.shape
            head = width // self.heads
            qkv = dense(3 * width, name="qkv")(h).reshape(batch, length, 3, self.heads, head)
            q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
            logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head)
            causal = jnp.tril(jnp.ones((length, length), bool))
            logits = jnp.where(causal, logits, jnp.finfo(logits.dtype).min)
            mixed = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
            return dense(width, name="out")(mixed.reshape(batch, length, width))

        def feedforward(h):
            return dense(self.width, name="fc2")(nn.relu(dense(self.mlp, name="fc1")(h)))

        inputs = x
        for branch, norm in ((attention, nn.LayerNorm(name="ln1")), (feedforward, nn.LayerNorm(name="ln2"))):
            y = x + branch(jnp.where(post, x, norm(x)))  # Pre-LN normalises the branch input
            x = jnp.where(post, norm(y), y)  # Post-LN normalises the sum
        return jnp.where(index < depth, x, inputs), None


class Transformer(nn.Module):
    """Decoder-only character transformer with learned positions.

    The blocks are one ``nn.scan`` over layers (parameters stacked on a leading
    layer axis), so compilation does not grow with depth and per-layer
    gradient norms are a reduction over that axis. ``post`` (traced) selects
    Post-LN, with no final LayerNorm (its last block ends in one), or Pre-LN,
    with one; both have the same parameters (Post-LN's ``final_ln`` gets a zero
    gradient). ``depth`` (traced) blocks are used, the first ones.
    """

    vocab_size: int
    depth: int
    width: int
    heads: int
    mlp: int
    context: int

    @nn.compact
    def __call__(self, tokens, post, depth):
        length = tokens.shape[-1]
        x = nn.Embed(self.vocab_size, self.width, name="embed")(tokens)  # N(0, 1), Flax's default
        positions = self.param("positions", nn.initializers.normal(0.02), (self.context, self.width))
        x = x + positions[None, :length]
        blocks = nn.scan(
            Block,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=(nn.broadcast, nn.broadcast, 0),
            length=self.depth,
        )(self.width, self.heads, self.mlp, name="layers")
        x, _ = blocks(x, post, depth, jnp.arange(self.depth))
        x = jnp.where(post, x, nn.LayerNorm(name="final_ln")(x))
        return nn.Dense(self.vocab_size, kernel_init=nn.initializers.xavier_uniform(), name="head")(x)


def model(setup: Setup) -> Transformer:
    """The transformer of a setup."""
    return Transformer(
        vocab_size=corpus().vocab_size,
        depth=setup.depth,
        width=setup.width,
        heads=setup.heads,
        mlp=setup.mlp,
        context=setup.context,
    )


def adam_or_radam(learning_rate, b1, b2, eps, rectified) -> optax.GradientTransformation:
    """``optax.radam`` where ``rectified`` is true, else ``optax.adam``: one program for both.

    The two share their state (``optax.ScaleByAdamState``: the same moments
    and count), so both updates are computed from it and one is selected.
    """
    adam = optax.scale_by_adam(b1, b2, eps)
    radam = optax.scale_by_radam(b1, b2, eps)

    def update(updates, state, params=None):
        adam_updates, new_state = adam.update(updates, state, params)
        radam_updates, _ = radam.update(updates, state, params)
        chosen = jax.tree.map(lambda r, a: jnp.where(rectified > 0.5, r, a), radam_updates, adam_updates)
        return chosen, new_state

    return optax.chain(
        optax.GradientTransformation(adam.init, update), optax.scale_by_learning_rate(learning_rate)
    )


def optimizer(run: Run) -> optax.GradientTransformation:
    """Adam or RAdam with the run's schedule and ``b2``, no gradient clipping (it would hide the effect)."""
    return osd.inject(adam_or_radam)(
        learning_rate=run.learning_rate,
        b1=run.setup.b1,
        b2=run.b2,
        eps=run.setup.eps,
        rectified=run.rectified.astype(jnp.float32),
    )


def _keys(run: Run, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    seed_key = jax.random.fold_in(key, run.seed)
    return tuple(jax.random.split(seed_key))  # (initialisation, data order)


def _window_losses(net: Transformer, run: Run, params, windows: jax.Array) -> jax.Array:
    logits = net.apply(params, windows[:, :-1], run.post_ln, run.depth)
    return optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:]).mean(axis=1)


def _loss(net: Transformer, run: Run, params, windows: jax.Array) -> jax.Array:
    return _window_losses(net, run, params, windows).mean()


def init_params(run: Run, key: jax.Array):
    """The run's initial parameters (a function of the seed only)."""
    init_key, _ = _keys(run, key)
    dummy = jnp.zeros((1, run.setup.context), jnp.int32)
    return model(run.setup).init(init_key, dummy, run.post_ln, run.depth)


def _batch(data: jax.Array, setup: Setup, key: jax.Array) -> jax.Array:
    """``batch_size`` random windows of ``context + 1`` training characters."""
    starts = jax.random.randint(key, (setup.batch_size,), 0, data.shape[0] - setup.context - 1)
    return data[starts[:, None] + jnp.arange(setup.context + 1)[None, :]].astype(jnp.int32)


def train(run: Run, key: jax.Array) -> dict[str, Any]:
    """Train one configuration; returns its history and final losses.

    Returns:
        ``train_loss`` (debiased EMA of the training loss, decay 0.95),
        ``learning_rate`` and ``grad_norm`` (global gradient norm) every
        ``record_every`` steps; ``init_loss`` (the loss at initialisation, on
        the first training batch); ``validation_loss`` and ``test_loss``
        (nats per character on the fixed evaluation windows, at the end);
        ``diverged_at`` (first non-finite
        step, or -1; a diverged run keeps its last finite parameters);
        ``init_grad_fc2`` and ``init_grad_block`` (``[setup.depth]``:
        per-layer norms of the gradient at initialisation, as
        :func:`gradient_norms`).
    """
    setup = run.setup
    net = model(setup)
    data = jnp.asarray(corpus().train)
    held_out = evaluation_windows(setup.context, setup.eval_windows)
    evaluation = jnp.asarray(np.concatenate([held_out["validation"], held_out["test"]]), jnp.int32)
    _, data_key = _keys(run, key)
    params = init_params(run, key)
    opt = optimizer(run)
    ema_decay = 0.95

    def step_fn(state, step):
        params, opt_state, ema, first = state
        windows = _batch(data, setup, jax.random.fold_in(data_key, step))
        loss, grads = jax.value_and_grad(functools.partial(_loss, net, run))(params, windows)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        ema = ema_decay * ema + (1 - ema_decay) * loss
        # step 0 sees the initial parameters: its loss and gradient norms are those at initialisation
        at_init = {**_layer_norms(grads, setup.depth), "loss": loss}
        first = jax.tree.map(lambda kept, new: jnp.where(step == 0, new, kept), first, at_init)
        metrics = {
            "train_loss": ema / (1 - ema_decay ** (step + 1).astype(jnp.float32)),
            "learning_rate": run.learning_rate(step),
            "grad_norm": optax.tree.norm(grads),
        }
        return (params, opt_state, ema, first), metrics

    zeros = {"fc2": jnp.zeros((setup.depth,)), "block": jnp.zeros((setup.depth,)), "loss": jnp.zeros(())}
    state = (params, opt.init(params), jnp.zeros((), jnp.float32), zeros)
    result = osd.train_loop(step_fn, state, setup.steps, record_every=setup.record_every)
    final = _window_losses(net, run, result.state[0], evaluation)  # validation and test in one pass
    return {
        **result.history,
        "init_loss": result.state[3]["loss"],
        "validation_loss": final[: setup.eval_windows].mean(),
        "test_loss": final[setup.eval_windows :].mean(),
        "diverged_at": result.diverged_at,
        "init_grad_fc2": result.state[3]["fc2"],
        "init_grad_block": result.state[3]["block"],
    }


def _per_layer(trees, depth: int) -> jax.Array:
    """The norm over every leaf of ``trees`` per layer (leaves stacked on a leading layer axis)."""
    leaves = jax.tree.leaves(trees)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x).reshape(depth, -1), axis=1) for x in leaves))


def _layer_norms(grads, depth: int) -> dict[str, jax.Array]:
    layers = grads["params"]["layers"]
    return {"fc2": _per_layer(layers["fc2"]["kernel"], depth), "block": _per_layer(layers, depth)}


def gradient_norms(run: Run, key: jax.Array) -> dict[str, jax.Array]:
    """Per-layer gradient norms at initialisation, on one training batch.

    The batch is the first training batch of :func:`train` for the same seed,
    so these are exactly the norms ``train`` records as ``init_grad_*``.

    Returns ``[setup.depth]`` arrays (zero beyond ``run.depth``): ``fc1`` and
    ``fc2`` (the MLP's two weight matrices; Xiong et al.'s Theorem 1 is about
    the last block's), ``attention`` (query-key-value and output weights) and
    ``block`` (every parameter of the block); the scalars ``head`` (output
    projection) and ``loss``.
    """
    setup = run.setup
    net = model(setup)
    _, data_key = _keys(run, key)
    params = init_params(run, key)
    windows = _batch(jnp.asarray(corpus().train), setup, jax.random.fold_in(data_key, 0))
    loss, grads = jax.value_and_grad(functools.partial(_loss, net, run))(params, windows)
    layers = grads["params"]["layers"]
    return {
        **_layer_norms(grads, setup.depth),
        "fc1": _per_layer(layers["fc1"]["kernel"], setup.depth),
        "attention": _per_layer((layers["qkv"]["kernel"], layers["out"]["kernel"]), setup.depth),
        "head": optax.tree.norm(grads["params"]["head"]["kernel"]),
        "loss": loss,
    }


def warmup_cosine(
    peak_value: float, warmup_steps: int, steps: int, end_fraction: float = 0.1
) -> osd.Schedule:
    """Linear warmup over ``warmup_steps`` to ``peak_value``, then cosine to
    ``end_fraction * peak_value`` at ``steps``: the same total budget for every warmup."""
    cosine = osd.cosine(peak_value, decay_steps=steps - warmup_steps, end_value=end_fraction * peak_value)
    return osd.warmup(cosine, warmup_steps=warmup_steps)
