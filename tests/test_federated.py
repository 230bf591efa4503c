"""Specification of federated learning: the round clock, the server optimizers
(FedAvg, FedAvgM, FedAdam, FedYogi) and the whole federation as one program.

A tiny logistic regression on ragged clients keeps every test to seconds.
"""

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Single float32 steps of a few flops: 1e-6 relative is a few ulps; whole compiled
# federations are compared across different programs (XLA may fuse differently): 1e-5.
ULPS, PROGRAMS = 1e-6, 1e-5


def logistic_clients(sizes=(5, 2, 7, 3), seed=0):
    """Ragged clients of a 2-feature logistic regression, each with its own label skew."""
    rng = np.random.default_rng(seed)
    datasets = []
    for i, n in enumerate(sizes):
        x = rng.normal(size=(n, 2)).astype(np.float32) + np.float32(i % 2)
        y = (rng.uniform(size=n) < 0.2 + 0.2 * i).astype(np.float32)
        datasets.append((x, y))
    return datasets


def example_loss(params, batch):
    x, y = batch
    logits = x @ params["w"] + params["b"]
    return optax.sigmoid_binary_cross_entropy(logits, y)


PARAMS = {"w": jnp.array([0.3, -0.2], jnp.float32), "b": jnp.float32(0.1)}


def linear_loss(w, batch):
    """Gradient 1 on every example: a client's delta is minus the sum of its learning rates."""
    return w * batch


# -- the round clock ------------------------------------------------------------------------------


def test_round_clock_reads_the_round_the_local_step_or_the_global_step():
    inner = osd.linear(1.0, 0.0, 10)
    steps = jnp.arange(30)
    rounds, local = np.arange(30) // 4, np.arange(30) % 4
    across = osd.round_clock(inner, local_steps=4, mode="across")
    within = osd.round_clock(inner, local_steps=4, mode="within")
    every = osd.round_clock(inner, local_steps=4, mode="steps")
    np.testing.assert_allclose(across(steps), 1.0 - np.minimum(rounds, 10) / 10, rtol=ULPS)
    np.testing.assert_allclose(within(steps), 1.0 - local / 10, rtol=ULPS)
    np.testing.assert_allclose(every(steps), inner(steps), rtol=ULPS)
    np.testing.assert_array_equal(jax.jit(across)(steps), across(steps))


def test_step_drops_align_with_rounds():
    clock = osd.round_clock(osd.step_decay(0.1, step_size=3, gamma=0.1), local_steps=5)
    values = np.asarray(clock(jnp.arange(40)))
    changes = np.flatnonzero(np.diff(values)) + 1
    assert changes.tolist() == [15, 30]  # the first local step of rounds 3 and 6


def test_round_clock_sweeps_and_replaces_like_any_schedule():
    batch = osd.grid(lambda peak_value: osd.round_clock(osd.cosine(peak_value, 10), local_steps=3),
                     peak_value=[0.1, 0.2])  # fmt: skip
    values = jax.vmap(lambda clock: clock(jnp.int32(7)))(batch.config)
    np.testing.assert_allclose(values, [osd.cosine(p, 10)(2) for p in (0.1, 0.2)], rtol=ULPS)
    clock = osd.round_clock(0.5, local_steps=3)
    assert float(clock.replace(local_steps=1)(7)) == 0.5


def test_round_clock_rejects_bad_arguments():
    with pytest.raises(ValueError, match="local_steps"):
        osd.round_clock(0.1, local_steps=0)
    with pytest.raises(ValueError, match="mode"):
        osd.round_clock(0.1, local_steps=2, mode="epochs")


def run_linear(key, client_clock, clock, local_steps=3, rounds=6):
    clients = osd.pad_clients([np.ones(n, np.float32) for n in (4, 2, 3, 5, 1, 6, 2, 3, 4, 2)])
    return osd.federate(
        linear_loss, jnp.float32(0.0), clients, key, rounds=rounds, local_steps=local_steps,
        client_optimizer=osd.inject(optax.sgd)(learning_rate=clock), server_optimizer=osd.fedavg(1.0),
        participation=0.3, client_clock=client_clock,
    )  # fmt: skip


def test_every_client_of_a_round_uses_the_round_clock_whatever_its_participation_history():
    """With a gradient of 1 everywhere, the mean delta of round r is minus the sum of the LRs its
    clients used: exactly sum_k lr(r, k) for every draw of participants."""
    clock = osd.round_clock(osd.linear(0.5, 0.05, 12), local_steps=3, mode="steps")
    expected = [sum(float(clock(r * 3 + k)) for k in range(3)) for r in range(6)]
    by_round = jax.jit(lambda key: run_linear(key, "round", clock).history)
    for seed in range(3):  # three different participation histories
        history = by_round(jax.random.key(seed))
        np.testing.assert_allclose(history["update_norm"], expected, rtol=ULPS)
        np.testing.assert_array_equal(history["participants"], 3)
    by_own_counter = jax.jit(lambda key: run_linear(key, "participations", clock).history["update_norm"])
    own = [by_own_counter(jax.random.key(seed)) for seed in (0, 1)]
    # A client's own counter (the bug) lags the round once it has sat rounds out, and differs between draws.
    assert not np.allclose(own[0], expected) and not np.allclose(own[0], own[1])


# -- the server optimizers ------------------------------------------------------------------------


def server_step(server, gradients):
    params = jnp.zeros(2, jnp.float32)
    state = server.init(params)
    updates = []
    for g in gradients:
        u, state = server.update(jnp.asarray(g, jnp.float32), state, params)
        updates.append(np.asarray(u))
    return updates


@pytest.mark.parametrize("yogi", [False, True], ids=["fedadam", "fedyogi"])
def test_fedadam_and_fedyogi_follow_reddi_et_al(yogi):
    lr, b1, b2, tau = 0.03, 0.8, 0.95, 1e-2
    build = osd.fedyogi if yogi else osd.fedadam
    gradients = [np.array([0.5, -2.0]), np.array([-0.1, 0.3])]
    m, v = np.zeros(2), np.full(2, tau**2)
    expected = []
    for g in gradients:
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * g**2 * np.sign(v - g**2) if yogi else b2 * v + (1 - b2) * g**2
        expected.append(-lr * m / (np.sqrt(v) + tau))
    updates = server_step(build(learning_rate=lr, b1=b1, b2=b2, eps=tau), gradients)
    np.testing.assert_allclose(updates, expected, rtol=1e-5)  # sqrt and a division in float32


def test_fedavgm_is_heavy_ball_momentum_on_the_pseudo_gradient():
    gradients = [np.array([1.0, -1.0]), np.array([0.5, 0.25])]
    updates = server_step(osd.fedavgm(learning_rate=0.5, momentum=0.9), gradients)
    np.testing.assert_allclose(updates, [-0.5 * gradients[0], -0.5 * (0.9 * gradients[0] + gradients[1])],
                               rtol=ULPS)  # fmt: skip


def test_server_hyperparameters_are_schedules_of_the_round():
    clients = osd.pad_clients(logistic_clients())
    server_lr = osd.linear(1.0, 0.5, 10)
    result = osd.federate(
        example_loss, PARAMS, clients, jax.random.key(0), rounds=4, local_steps=2,
        client_optimizer=osd.inject(optax.sgd)(learning_rate=0.1),
        server_optimizer=osd.fedavgm(learning_rate=server_lr, momentum=osd.linear(0.0, 0.9, 4)),
    )  # fmt: skip
    logged = osd.hyperparams(result.server_state)
    np.testing.assert_allclose(logged["learning_rate"], server_lr(3), rtol=ULPS)  # the 4th round's
    assert int(result.server_state.count) == 4


# -- the federation ------------------------------------------------------------------------------


def python_fedavg_round(params, datasets, client_lr, local_steps, server_lr, round_index):
    """FedAvg as the frameworks write it: each client in turn, then the example-weighted mean."""
    deltas, sizes = [], []
    for x, y in datasets:
        model = params
        trace = jax.tree.map(jnp.zeros_like, params)
        for k in range(local_steps):
            grads = jax.grad(lambda p: jnp.mean(example_loss(p, (x, y))))(model)
            trace = jax.tree.map(lambda t, g: 0.9 * t + g, trace, grads)
            lr = client_lr(round_index * local_steps + k)
            model = jax.tree.map(lambda p, t: p - lr * t, model, trace)
        deltas.append(jax.tree.map(lambda new, old: new - old, model, params))
        sizes.append(len(y))
    weights = np.asarray(sizes, np.float32) / sum(sizes)
    mean = jax.tree.map(lambda *ds: sum(w * d for w, d in zip(weights, ds)), *deltas)
    return jax.tree.map(lambda p, d: p + server_lr * d, params, mean)


def test_one_in_graph_fedavg_round_equals_clients_one_by_one():
    datasets = logistic_clients()
    client_lr = osd.round_clock(osd.exponential(0.5, 1, 0.5), local_steps=3, mode="within")
    result = osd.federate(
        example_loss, PARAMS, osd.pad_clients(datasets), jax.random.key(3), rounds=1, local_steps=3,
        client_optimizer=osd.inject(optax.sgd)(learning_rate=client_lr, momentum=0.9),
        server_optimizer=osd.fedavg(0.7),
    )  # fmt: skip
    expected = python_fedavg_round(PARAMS, datasets, client_lr, 3, 0.7, 0)
    for got, want in zip(jax.tree.leaves(result.params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=PROGRAMS, atol=1e-7)


def test_padding_rows_are_never_used():
    clients = osd.pad_clients(logistic_clients())
    padding = np.arange(clients.examples[0].shape[1])[None, :] >= np.asarray(clients.num_examples)[:, None]

    def spoil(leaf):  # padding rows set to a value that would change any model they touched
        return np.where(padding.reshape(padding.shape + (1,) * (leaf.ndim - 2)), np.float32(1e3), leaf)

    garbage = jax.tree.map(spoil, clients.examples)
    def run(data, batch_size):
        return osd.federate(
            example_loss, PARAMS, data, jax.random.key(1), rounds=3, local_steps=4, batch_size=batch_size,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=0.3), server_optimizer=osd.fedavg(1.0),
            participation=0.5,
        ).params["w"]  # fmt: skip

    for batch_size in (None, 2):
        jitted = jax.jit(run, static_argnums=1)  # the same program for both: padding is data
        spoiled = clients._replace(examples=garbage)
        np.testing.assert_array_equal(jitted(clients, batch_size), jitted(spoiled, batch_size))


def test_local_epochs_give_each_client_its_own_number_of_steps():
    """E epochs of batch B: ceil(E n_i / B) steps, capped by local_steps; gradient 1, LR 0.1."""
    clients = osd.pad_clients([np.ones(n, np.float32) for n in (4, 8, 12)])

    @jax.jit
    def mean_delta(epochs):
        return osd.federate(
            linear_loss, jnp.float32(0.0), clients, jax.random.key(0), rounds=1, local_steps=5, batch_size=4,
            local_epochs=epochs, weighting="uniform", server_optimizer=osd.fedavg(1.0),
            client_optimizer=osd.inject(optax.sgd)(learning_rate=0.1),
        ).params  # fmt: skip

    np.testing.assert_allclose(mean_delta(1.0), -0.1 * (1 + 2 + 3) / 3, rtol=ULPS)
    np.testing.assert_allclose(mean_delta(2.0), -0.1 * (2 + 4 + 5) / 3, rtol=ULPS)  # 6 steps capped at 5
    np.testing.assert_allclose(mean_delta(0.5), -0.1 * (1 + 1 + 2) / 3, rtol=ULPS)


def test_the_federation_traces_once_whatever_the_number_of_rounds():
    clients = osd.pad_clients(logistic_clients())
    traced = {"loss": 0, "train": 0}

    def counted_loss(params, batch):
        traced["loss"] += 1
        return example_loss(params, batch)

    def train(peak, key, rounds):
        traced["train"] += 1
        clock = osd.round_clock(osd.cosine(peak, rounds), local_steps=2)
        return osd.federate(
            counted_loss, PARAMS, clients, key, rounds=rounds, local_steps=2,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=clock), server_optimizer=osd.fedadam(0.01),
            participation=0.5,
        ).history["loss"]  # fmt: skip

    loss_traces = []
    for rounds in (2, 40):
        jitted = jax.jit(train, static_argnums=2)
        traced.update(loss=0, train=0)
        for peak in (0.1, 0.2, 0.4):  # new values: no retrace
            assert jitted(jnp.float32(peak), jax.random.key(0), rounds).shape == (rounds,)
        assert traced["train"] == 1
        loss_traces.append(traced["loss"])
    assert loss_traces[0] == loss_traces[1] >= 1


def test_a_traced_participation_rate_draws_that_many_clients():
    clients = osd.pad_clients(logistic_clients(sizes=(3,) * 10))

    @jax.jit
    def participants(rate):
        return osd.federate(
            example_loss, PARAMS, clients, jax.random.key(0), rounds=3, local_steps=1,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=0.1), server_optimizer=osd.fedavg(),
            participation=rate,
        ).history["participants"]  # fmt: skip

    for rate, count in ((0.1, 1), (0.3, 3), (1.0, 10)):
        np.testing.assert_array_equal(participants(jnp.float32(rate)), count)


def test_bernoulli_participation_may_leave_a_round_empty_and_then_changes_nothing():
    clients = osd.pad_clients(logistic_clients())
    result = osd.federate(
        example_loss, PARAMS, clients, jax.random.key(0), rounds=30, local_steps=1,
        client_optimizer=osd.inject(optax.sgd)(learning_rate=0.1), server_optimizer=osd.fedavgm(1.0, 0.9),
        participation=0.15, sampling="bernoulli", evaluate=lambda p: {"w": p["w"]},
    )  # fmt: skip
    empty = np.flatnonzero(np.asarray(result.history["participants"]) == 0)
    assert 0 < len(empty) < 30
    w = np.asarray(result.history["w"])
    for r in empty[empty > 0]:
        np.testing.assert_array_equal(w[r], w[r - 1])


def test_a_sweep_over_client_schedules_equals_separate_runs():
    clients = osd.pad_clients(logistic_clients())
    batch = osd.grid(
        lambda peak_value: {"clock": osd.round_clock(osd.cosine(peak_value, 5), local_steps=2)},
        peak_value=[0.2, 0.6],
    )  # fmt: skip

    def train(config, key):
        result = osd.federate(
            example_loss, PARAMS, clients, key, rounds=5, local_steps=2, batch_size=2,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=config["clock"]),
            server_optimizer=osd.fedyogi(0.05), participation=0.5,
        )  # fmt: skip
        return {"loss": result.history["loss"], "w": result.params["w"]}

    swept = osd.sweep(train, batch, jax.random.key(2), strategy="vmap")
    for i in range(2):
        member = jax.tree.map(lambda leaf: leaf[i], batch.config)  # noqa: B023
        alone = jax.jit(train)(member, jax.random.key(2))
        np.testing.assert_allclose(swept.metrics["loss"][i], alone["loss"], rtol=PROGRAMS)
        np.testing.assert_allclose(swept.metrics["w"][i], alone["w"], rtol=PROGRAMS, atol=1e-7)


def test_the_federation_differentiates_with_respect_to_a_schedule_hyperparameter():
    clients = osd.pad_clients(logistic_clients())

    def final_loss(peak):
        clock = osd.round_clock(osd.cosine(peak, 4), local_steps=2)
        params = osd.federate(
            example_loss, PARAMS, clients, jax.random.key(0), rounds=4, local_steps=2,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=clock),
            server_optimizer=osd.fedavgm(1.0, 0.5),
        ).params  # fmt: skip
        x, y = clients.examples
        return jnp.mean(example_loss(params, (x[0, :5], y[0, :5])))

    peak, h = jnp.float32(0.4), 1e-2
    slope = jax.jit(jax.grad(final_loss))(peak)
    # Central difference: O(h^2) truncation plus float32 rounding ~1e-7 / h, well under 2%.
    difference = (final_loss(peak + h) - final_loss(peak - h)) / (2 * h)
    np.testing.assert_allclose(slope, difference, rtol=2e-2)


def test_client_work_shards_over_devices_and_gives_the_same_federation():
    assert jax.device_count() == 4  # tests/conftest.py
    clients = osd.pad_clients(logistic_clients(sizes=(5, 2, 7, 3, 4, 6)))

    def run(devices):
        federation = jax.jit(lambda: osd.federate(
            example_loss, PARAMS, clients, jax.random.key(0), rounds=3, local_steps=2, batch_size=2,
            participation=0.5, client_optimizer=osd.inject(optax.sgd)(learning_rate=0.3),
            server_optimizer=osd.fedadam(0.05), devices=devices,
        ).params)  # fmt: skip
        return federation(), federation.lower().compile().as_text()

    alone, program = run(None)
    sharded, sharded_program = run(jax.devices())  # 3 clients a round in 4 slots, one per device
    assert "num_partitions=4" in sharded_program and "num_partitions=4" not in program
    for got, want in zip(jax.tree.leaves(sharded), jax.tree.leaves(alone)):
        np.testing.assert_allclose(got, want, rtol=PROGRAMS, atol=1e-7)


# -- bad input -----------------------------------------------------------------------------------


def federate_with(**changes):
    arguments = dict(
        example_loss=example_loss, params=PARAMS, clients=osd.pad_clients(logistic_clients()),
        key=jax.random.key(0), rounds=1, local_steps=1, client_optimizer=optax.sgd(0.1),
        server_optimizer=osd.fedavg(),
    )  # fmt: skip
    return osd.federate(**{**arguments, **changes})


@pytest.mark.parametrize("rate", [0.0, -0.5, 1.5, float("nan")])
def test_a_participation_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(ValueError, match=r"participation must be a rate in \(0, 1\]"):
        federate_with(participation=rate)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"rounds": 0}, "rounds must be a positive int"),
        ({"local_steps": 2.0}, "local_steps must be a positive int"),
        ({"batch_size": 0}, "batch_size"),
        ({"sampling": "poisson"}, "sampling must be one of"),
        ({"client_clock": "own"}, "client_clock must be one of"),
        ({"weighting": "loss"}, "weighting must be one of"),
        ({"max_participants": 9}, "max_participants"),
        ({"local_epochs": 0.0}, "local_epochs must be a positive number"),
        ({"devices": []}, "devices must be a non-empty list"),
        ({"devices": [jax.devices()[0]] * 2}, "devices must not repeat"),
        ({"clients": [np.ones(3)]}, "clients must be a ClientData"),
        ({"clients": osd.ClientData(np.ones((2, 3)), jnp.zeros(2, jnp.int32))}, "at least one example"),
        ({"clients": osd.ClientData(np.ones((2, 3)), jnp.ones(3, jnp.int32))}, "clients.examples"),
        ({"clients": osd.ClientData(np.ones((2, 3)), jnp.array([1, 4], jnp.int32))}, "num_examples must lie"),
    ],
)
def test_bad_arguments_are_refused_naming_them(changes, match):
    with pytest.raises(ValueError, match=match):
        federate_with(**changes)


def test_pad_clients_refuses_no_clients_no_examples_and_mismatched_arrays():
    with pytest.raises(ValueError, match="datasets must hold at least one client"):
        osd.pad_clients([])
    with pytest.raises(ValueError, match="at least one example"):
        osd.pad_clients([np.ones((0, 2)), np.ones((0, 2))])
    with pytest.raises(ValueError, match=r"datasets\[1\]'s arrays must share their first"):
        osd.pad_clients([(np.ones((2, 2)), np.ones(2)), (np.ones((3, 2)), np.ones(2))])
    with pytest.raises(ValueError, match=r"datasets\[1\] has structure"):
        osd.pad_clients([(np.ones((2, 2)), np.ones(2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="trailing shapes"):
        osd.pad_clients([np.ones((2, 2)), np.ones((2, 3))])


# -- the README's example ------------------------------------------------------------------------


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Federated learning", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_example_runs():
    blocks = readme_blocks()
    assert blocks, "README's Federated learning section has no python block"
    namespace = {"__name__": "readme_federated"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md, Federated learning block {i}", "exec"), namespace)  # noqa: S102
