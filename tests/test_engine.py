"""Specification of the sweep engine: every strategy equals separate runs,
one compilation serves any sweep size, divergence is isolated, sharding over
devices (and processes) gives the same results."""

import collections
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

TRACES = collections.Counter()
STEPS = 30
X = jax.random.normal(jax.random.key(1), (64, 8))
Y = (X @ jnp.arange(8.0) > 0).astype(jnp.int32)


def train(config, key):
    """A tiny logistic regression, SGD with a scheduled LR, written for ONE config."""
    TRACES["train"] += 1
    optimizer = optax.sgd(config["schedule"], momentum=config["momentum"])
    params = {"w": 0.1 * jax.random.normal(key, (8, 2)), "b": jnp.zeros(2)}

    def loss_fn(p):
        logits = X @ p["w"] + p["b"][None, :]
        return optax.softmax_cross_entropy_with_integer_labels(logits, Y).mean() + 1e-3 * jnp.sum(p["w"] ** 2)

    def step(state, t):
        p, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), {"loss": loss}

    result = osd.train_loop(step, (params, optimizer.init(params)), STEPS)
    final = loss_fn(result.state[0])
    return {"loss": final, "curve": result.history["loss"], "diverged_at": result.diverged_at}


def make(peak_value, warmup_steps, momentum=0.9):
    return {"schedule": osd.warmup(osd.cosine(peak_value, STEPS), warmup_steps), "momentum": momentum}


BATCH = osd.grid(make, peak_value=[0.05, 0.2, 0.5], warmup_steps=[0, 5, 10])


def separate_runs(batch, key=jax.random.key(0)):
    single = jax.jit(train)
    runs = [single(jax.tree.map(lambda x, i=i: x[i], batch.config), key) for i in range(len(batch))]
    return jax.tree.map(lambda *xs: np.stack(xs), *runs)


EXPECTED = None


def expected():
    global EXPECTED
    if EXPECTED is None:
        EXPECTED = separate_runs(BATCH)
    return EXPECTED


@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "vmap", "devices": jax.devices()[:1]},
        {"strategy": "chunked", "chunk_size": 4, "devices": jax.devices()[:1]},  # 9 members: padded last chunk
        {"strategy": "map", "devices": jax.devices()[:1]},
        {"strategy": "auto"},  # sharded over the 4 CPU devices of conftest
        {"strategy": "chunked", "chunk_size": 2},  # chunks rounded up to the device count
    ],
    ids=["vmap", "chunked", "map", "auto-sharded", "chunked-sharded"],
)
def test_every_strategy_equals_separate_runs(options):
    result = osd.sweep(train, BATCH, jax.random.key(0), **options)
    assert result.labels == BATCH.labels and len(result) == 9
    for name in ("loss", "curve"):
        np.testing.assert_allclose(result.metric(name), expected()[name], rtol=2e-5, atol=1e-6)
    assert result.chunk_size % result.num_devices == 0


def test_sharding_uses_every_device():
    assert len(jax.devices()) == 4, "conftest forces 4 CPU devices"
    result = osd.sweep(train, BATCH, jax.random.key(0))
    assert result.num_devices == 4


def test_one_compilation_for_any_sweep_size_and_values():
    devices = jax.devices()[:1]
    osd.sweep(train, osd.grid(make, peak_value=[0.1, 0.2], warmup_steps=[0, 3, 6]), chunk_size=4, devices=devices)
    before = TRACES["train"]
    for peaks, warmups in [([0.3], [1, 2, 3, 4, 5]), ([0.01, 0.02, 0.03], [0, 7, 9, 11, 13])]:
        batch = osd.grid(make, peak_value=peaks, warmup_steps=warmups)  # 5 and 15 members
        result = osd.sweep(train, batch, chunk_size=4, devices=devices)
        assert len(result) == len(batch)
    assert TRACES["train"] == before


def test_split_keys_give_each_member_its_own_key():
    batch = osd.stack([make(0.1, 0)] * 3)
    shared = osd.sweep(train, batch, jax.random.key(3), devices=jax.devices()[:1])
    split = osd.sweep(train, batch, jax.random.key(3), split_keys=True, devices=jax.devices()[:1])
    assert np.ptp(shared.metric("loss")) == 0
    assert np.ptp(split.metric("loss")) > 0
    member_2 = jax.jit(train)(jax.tree.map(lambda x: x[2], batch), jax.random.fold_in(jax.random.key(3), 2))
    np.testing.assert_allclose(split.metric("loss")[2], member_2["loss"], rtol=2e-5)


@pytest.mark.parametrize("strategy,chunk_size", [("chunked", 2), ("vmap", None)])
def test_divergent_member_is_frozen_and_others_are_bit_identical(strategy, chunk_size):
    good = [make(0.1, 0), make(0.3, 5), make(0.2, 2)]
    bad = make(1e8, 0)  # the L2 term grows geometrically to inf
    devices = jax.devices()[:1]
    with_bad = osd.sweep(train, osd.stack(good[:2] + [bad] + good[2:]), strategy=strategy, chunk_size=chunk_size, devices=devices)
    # The reference has the same shape (the bad member swapped for a good one): the same compiled
    # program, so bit-identity is guaranteed; a 3-member batch would be another program.
    replaced = osd.stack(good[:2] + [make(0.25, 3)] + good[2:])
    without = osd.sweep(train, replaced, strategy=strategy, chunk_size=chunk_size, devices=devices)
    np.testing.assert_array_equal(with_bad.diverged(), [False, False, True, False])
    assert 0 <= with_bad.metric("diverged_at")[2] < STEPS
    kept = [0, 1, 3]
    for name in ("loss", "curve"):
        np.testing.assert_array_equal(with_bad.metric(name)[kept], without.metric(name)[kept])
    stop = with_bad.metric("diverged_at")[2]
    curve = with_bad.metric("curve")[2]
    assert np.all(np.isfinite(curve[:stop])) and np.all(np.isnan(curve[stop:]))  # frozen from the divergence on
    assert with_bad.best("loss").index in kept


def test_memory_budget_shrinks_the_chunk():
    devices = jax.devices()[:1]
    whole = osd.sweep(train, BATCH, strategy="vmap", devices=devices)
    assert whole.memory_bytes and whole.chunk_size == 9
    limited = osd.sweep(train, BATCH, strategy="chunked", chunk_size=8, memory_budget=whole.memory_bytes // 3, devices=devices)
    assert limited.chunk_size < 8 and limited.memory_bytes <= whole.memory_bytes // 3
    np.testing.assert_allclose(limited.metric("loss"), whole.metric("loss"), rtol=2e-5)


def test_results_table_json_best_and_plot(tmp_path, capsys):
    result = osd.sweep(train, BATCH, progress=True)
    assert "chunks" in capsys.readouterr().err
    best = result.best("loss")
    assert best.value == pytest.approx(np.min(result.metric("loss")))
    assert best.label == BATCH.labels[best.index]
    table = result.table(sort_by="loss")
    lines = table.splitlines()
    # One column per swept hyperparameter, then the metrics; the best member comes first.
    assert lines[0].split() == ["member", *BATCH.values, "diverged_at", "loss"]
    assert lines[2].split()[0] == str(best.index)
    data = json.loads(result.to_json(str(tmp_path / "r.json")))
    assert data["labels"] == BATCH.labels and len(data["metrics"]["loss"]) == 9
    assert json.loads((tmp_path / "r.json").read_text()) == data
    result.plot("loss", str(tmp_path / "loss.png"))
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_bad_arguments():
    with pytest.raises(ValueError, match="strategy must be one of"):
        osd.sweep(train, BATCH, strategy="parallel")
    with pytest.raises(ValueError, match="leading member axis"):
        osd.sweep(train, make(0.1, 0))
    with pytest.raises(ValueError, match="labels must have one entry per member"):
        osd.sweep(train, BATCH, labels=["a"])
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        osd.sweep(train, BATCH, chunk_size=0)
    with pytest.raises(ValueError, match="no metric 'acc'"):
        osd.sweep(train, BATCH).best("acc")
    with pytest.raises(ValueError, match="record_every must be a positive divisor"):
        osd.train_loop(lambda s, t: (s, {}), 0.0, 10, record_every=3)


WORKER = textwrap.dedent(
    """
    import sys, json
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
    sys.path.insert(0, sys.argv[3])
    import numpy as np
    import optasched as osd
    from test_engine import BATCH, train
    result = osd.sweep(train, BATCH, jax.random.key(0))
    print(json.dumps({"devices": result.num_devices, "loss": np.asarray(result.metric("loss")).tolist()}))
    """
)


def test_sweep_split_over_two_processes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = 20000 + os.getpid() % 10000
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1", "JAX_PLATFORMS": "cpu"}
    tests_dir = os.path.dirname(__file__)
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), f"127.0.0.1:{port}", str(i), tests_dir],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["devices"] == 2 for r in results)
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"])
    np.testing.assert_allclose(results[0]["loss"], expected()["loss"], rtol=2e-5, atol=1e-6)


# -- the CPU chunk size, chosen by measurement (timings faked: the logic, not the machine) ---------

from optasched.sweeps import _executor, _tuner  # noqa: E402

# Seconds per member for each chunk size of a made-up machine: 16 is fastest.
FAKE_SECONDS_PER_MEMBER = {1: 5.0, 2: 4.0, 4: 3.0, 8: 2.0, 16: 1.0, 32: 1.5, 64: 3.0}


@pytest.fixture
def fake_timer(monkeypatch, tmp_path):
    """Chunks run for real; their wall time comes from FAKE_SECONDS_PER_MEMBER. The chunk cache
    lives in tmp_path, and no choice of an earlier test is remembered."""
    monkeypatch.setenv("OPTASCHED_CACHE", str(tmp_path))
    monkeypatch.setattr(_tuner, "_TUNED", {})
    timed = []

    def run_timed(executable, arguments):
        out = executable(*arguments)
        size = len(arguments[2])
        timed.append(size)
        return out, size * FAKE_SECONDS_PER_MEMBER[size]

    monkeypatch.setattr(_executor, "run_timed", run_timed)
    return timed


def test_chunk_search_climbs_to_the_fastest_size():
    for fastest in (1, 2, 4, 8, 16, 32, 64):
        cost = {c: 1.0 + abs(np.log2(c) - np.log2(fastest)) for c in FAKE_SECONDS_PER_MEMBER}  # unimodal
        search = _tuner.ChunkSearch(start=8, unit=1, largest=64)
        search.record(8, 8 * cost[8])
        tried = [8]
        while (proposal := search.proposal()) is not None:
            assert proposal not in tried and 1 <= proposal <= 64
            tried.append(proposal)
            search.record(proposal, proposal * cost[proposal])
        assert search.best() == fastest
        assert len(tried) <= abs(np.log2(fastest) - 3) + 3  # one step up, straight there, one step past


def test_chunk_search_respects_devices_and_the_largest_size():
    search = _tuner.ChunkSearch(start=8, unit=4, largest=16)
    search.record(8, 8.0)
    assert search.proposal() == 16
    search.record(16, 16.0 * 0.97)  # 3% faster per member: noise, the start stays
    assert search.best() == 8 and search.proposal() == 4
    search.record(4, 4.0 * 0.9)  # 10% faster: a real difference
    assert search.best() == 4 and search.proposal() is None  # 8 tried; 2 rounds up to the 4 devices


def test_a_trial_must_pay_for_itself():
    # one compilation (2 s) plus redoing 16 members at 0.1 s against 10% of what is left
    assert _tuner.worth_trying(16, remaining=1000, seconds_per_member=0.1, compile_seconds=2.0)
    assert not _tuner.worth_trying(16, remaining=100, seconds_per_member=0.1, compile_seconds=2.0)
    assert not _tuner.worth_trying(16, remaining=10, seconds_per_member=1e3, compile_seconds=0.0)  # too few


def test_sweep_finds_the_fastest_chunk_and_remembers_it(fake_timer, monkeypatch, tmp_path):
    monkeypatch.setattr(_tuner, "TUNE_BUDGET", 1.0)
    peaks = list(np.linspace(0.05, 0.5, 20))
    batch = osd.grid(make, peak_value=peaks, warmup_steps=[0, 2, 4, 6, 8])  # 100 members
    devices = jax.devices()[:1]
    tuned = osd.sweep(train, batch, jax.random.key(0), devices=devices)
    assert tuned.chunk_size == 16
    assert fake_timer == [8, 8, 16, 32]  # the start twice, then up until slower
    fixed = osd.sweep(train, batch, jax.random.key(0), strategy="chunked", chunk_size=16, devices=devices)
    for name in ("loss", "curve"):  # members timed at 8 and 32 were run again at 16
        np.testing.assert_array_equal(tuned.metric(name), fixed.metric(name))
    saved = json.loads((tmp_path / "sweep_chunks.json").read_text())
    (entry,) = saved[_tuner.machine()].values()
    assert entry["chunk"] == 16 and set(entry["seconds_per_member"]) == {"8", "16", "32"}

    fake_timer.clear()
    monkeypatch.setattr(_tuner, "_TUNED", {})  # a new process: the choice comes from disk
    again = osd.sweep(train, osd.grid(make, peak_value=[0.1, 0.2, 0.3], warmup_steps=list(range(10))),
                      devices=devices)  # fmt: skip
    assert again.chunk_size == 16 and fake_timer == []


def test_no_search_when_it_cannot_pay_or_is_not_asked_for(fake_timer, monkeypatch, tmp_path):
    devices = jax.devices()[:1]
    batch = osd.grid(make, peak_value=list(np.linspace(0.05, 0.5, 10)), warmup_steps=[0, 5])  # 20 members
    result = osd.sweep(train, batch, devices=devices)  # 20 members: a trial could never pay for itself
    assert result.chunk_size == _tuner.CPU_CHUNK and fake_timer == [8, 8]
    assert not (tmp_path / "sweep_chunks.json").exists()
    fake_timer.clear()
    for options in ({"chunk_size": 4}, {"strategy": "chunked"}, {"strategy": "vmap"}, {"strategy": "map"}):
        osd.sweep(train, batch, devices=devices, **options)
    assert fake_timer == []


def test_cpu_chunks_side_by_side_equal_chunks_one_at_a_time():
    # On one CPU device the chunks run one per core at once; a memory budget keeps them one at a
    # time. Both run the same compiled chunk program, so the results are identical to the bit.
    devices = jax.devices()[:1]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _executor.cpu_workers(devices, None, None, 5) == min(cores, 5)
    assert _executor.cpu_workers(devices, None, 10**12, 5) == 1
    side = osd.sweep(train, BATCH, strategy="chunked", chunk_size=2, devices=devices)
    alone = osd.sweep(train, BATCH, strategy="chunked", chunk_size=2, devices=devices, memory_budget=2**40)
    assert side.chunk_size == alone.chunk_size == 2
    jax.tree.map(np.testing.assert_array_equal, side.metrics, alone.metrics)
