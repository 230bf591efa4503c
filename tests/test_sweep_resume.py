"""Specification of sweeps that survive preemption (issue 21, points 1 and 2).

The checkpoint store (atomic saves, checked loads, fingerprints); a sweep
killed after some chunks (an exception from a host callback, and a real
SIGKILL, each in a fresh process) resumed to the uninterrupted result bit for
bit without recomputing finished chunks; a different sweep refused at the
same folder; and the step-level driver of long members, killed and resumed,
falling back when its newest checkpoint is gone.
"""

import functools
import os
import pathlib
import re
import signal
import subprocess
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from optasched.sweeps import _checkpoint as store

# -- the checkpoint store ------------------------------------------------------------------------


def test_a_saved_tree_loads_back_exactly_with_its_meta(tmp_path):
    tree = {
        "w": [np.arange(6, dtype=np.float32).reshape(2, 3), (jnp.bfloat16(1.5), None)],
        "key": jax.random.key(3),
        "empty": np.zeros((0, 2), np.int32),
        "step": 7,
    }
    path = tmp_path / "state.ckpt"
    store.save_atomic(path, tree, {"step": 7, "note": "x"})
    loaded, meta = store.load_checked(path)
    assert meta == {"step": 7, "note": "x"}
    assert jax.tree.structure(loaded) == jax.tree.structure(tree)
    for got, want in zip(jax.tree.leaves(loaded), jax.tree.leaves(tree)):
        if jnp.issubdtype(got.dtype, jax.dtypes.prng_key):
            got, want = jax.random.key_data(got), jax.random.key_data(want)
        np.testing.assert_array_equal(got, want)
        assert np.asarray(got).dtype == np.asarray(want).dtype
    assert [p.name for p in tmp_path.iterdir()] == ["state.ckpt"]  # no temporary file left


def test_a_custom_node_needs_a_template_and_a_wrong_template_gives_none(tmp_path):
    from optasched import LoopResult

    tree = LoopResult(np.ones(2), {"loss": np.zeros(3)}, np.int32(-1))
    store.save_atomic(tmp_path / "loop.ckpt", tree)
    with pytest.raises(ValueError, match="like="):
        store.load_checked(tmp_path / "loop.ckpt")
    template = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
    loaded, _ = store.load_checked(tmp_path / "loop.ckpt", like=template)
    np.testing.assert_array_equal(loaded.history["loss"], tree.history["loss"])
    wrong_shape = LoopResult(np.ones(3), {"loss": np.zeros(3)}, np.int32(-1))
    assert store.load_checked(tmp_path / "loop.ckpt", like=wrong_shape) is None
    assert store.load_checked(tmp_path / "loop.ckpt", like={"state": np.ones(2)}) is None


def test_missing_truncated_corrupt_and_foreign_files_load_as_none(tmp_path):
    path = tmp_path / "a.ckpt"
    assert store.load_checked(path) is None  # missing
    store.save_atomic(path, {"x": np.arange(1000.0)})
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):  # a kill during a plain write
        (tmp_path / "cut.ckpt").write_bytes(data[:cut])
        assert store.load_checked(tmp_path / "cut.ckpt") is None
    flipped = bytearray(data)
    flipped[200] ^= 0xFF  # inside leaf 0's bytes: the zip's CRC or the sha256 catches it
    (tmp_path / "flip.ckpt").write_bytes(bytes(flipped))
    assert store.load_checked(tmp_path / "flip.ckpt") is None
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    assert store.load_checked(tmp_path / "text.ckpt") is None
    with zipfile.ZipFile(tmp_path / "other.ckpt", "w") as archive:  # a zip, not ours
        archive.writestr("manifest.json", "{}")
    assert store.load_checked(tmp_path / "other.ckpt") is None


def test_a_leaf_whose_bytes_do_not_match_its_checksum_is_refused(tmp_path):
    path = tmp_path / "a.ckpt"
    store.save_atomic(path, {"x": np.arange(4.0)})
    with zipfile.ZipFile(path) as archive:  # rewrite the leaf with a valid zip CRC but other bytes
        manifest = archive.read("manifest.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("leaf_000000.bin", np.arange(1.0, 5.0).tobytes())
        archive.writestr("manifest.json", manifest)
    assert store.load_checked(path) is None


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "a.ckpt"
    store.save_atomic(path, {"x": np.ones(2)}, {"version": 1})
    with pytest.raises(ValueError, match="meta must be JSON"):
        store.save_atomic(path, {"x": np.zeros(2)}, {"version": object()})
    with pytest.raises(ValueError, match="dtype object"):
        store.save_atomic(path, {"x": np.array([None])})
    assert store.load_checked(path)[1] == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]


def test_fingerprints_name_the_part_that_differs():
    batch = {"lr": np.array([0.1, 0.2], np.float32)}
    key = jax.random.key(0)
    base = store.sweep_fingerprint(batch=batch, key=key, program="p", chunk_size=2, strategy="chunked")
    assert store.fingerprint_differences(base, dict(base)) == []

    def differences(**changes):
        parts = dict(batch=batch, key=key, program="p", chunk_size=2, strategy="chunked") | changes
        return store.fingerprint_differences(base, store.sweep_fingerprint(**parts))

    assert differences(batch={"lr": np.array([0.1, 0.3], np.float32)}) == ["batch values"]
    assert differences(batch={"lr": np.array([0.1, 0.2], np.float64)}) == ["batch structure", "batch values"]
    assert differences(batch={"peak": np.array([0.1, 0.2], np.float32)}) == ["batch structure"]
    assert differences(key=jax.random.key(1)) == ["key"]
    assert differences(program="q") == ["program"]
    assert differences(chunk_size=4) == ["chunk size"]
    assert differences(strategy="map") == ["strategy"]


def test_the_program_fingerprint_sees_computation_and_closed_over_constants():
    x = jax.ShapeDtypeStruct((3,), jnp.float32)
    table = np.arange(3.0, dtype=np.float32)
    same = store.program_fingerprint(lambda v: v * 2.0 + table, x)
    assert store.program_fingerprint(lambda v: v * 2.0 + table, x) == same  # another closure, same program
    assert store.program_fingerprint(lambda v: v * 3.0 + table, x) != same
    assert store.program_fingerprint(lambda v: v * 2.0 + table + 1.0, x) != same
    assert store.program_fingerprint(lambda v: v * 2.0 + table[::-1], x) != same



# -- a sweep killed after k chunks -----------------------------------------------------------------

# The sweep, defined once for this process and the killed one. Every member run appends its id to
# $RESUME_WORK/computed.txt (a host callback), so a test counts what a run computed; with a
# $RESUME_WORK/fail file reading "K raise" or "K kill", every member after the first K chunks waits
# until K chunk files are saved, then raises (the sweep fails) or SIGKILLs its own process.
SWEEP = """
import os, pathlib, signal, time
import jax, jax.numpy as jnp, numpy as np
import optasched as osd

MEMBERS, CHUNK = 16, 2
CONFIGS = {
    "peak": np.linspace(0.05, 0.95, MEMBERS).astype(np.float32),
    "id": np.arange(MEMBERS, dtype=np.int32),
}
DEVICES = [jax.devices()[0]]  # one CPU device: the chunks run side by side on threads


def record(member_id):
    work = pathlib.Path(os.environ["RESUME_WORK"])
    with open(work / "computed.txt", "a") as f:
        f.write(f"{int(member_id)}\\n")
    fail = work / "fail"
    if fail.exists():
        after, how = fail.read_text().split()
        if int(member_id) < CHUNK * int(after):
            return
        for _ in range(600):  # the first chunks' saves run on the main thread: wait for them
            if len(list((work / "ckpt").glob("chunk-*.ckpt"))) >= int(after):
                break
            time.sleep(0.05)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("injected failure")


def train(config, key):
    jax.debug.callback(record, config["id"])
    schedule = osd.cosine(config["peak"], 30)
    x0 = jax.random.normal(key, (4,))

    def step(x, t):
        x = x - schedule(t) * (2.0 * x + 0.1 * jnp.sin(x))
        return x, {"loss": jnp.sum(x**2)}

    result = osd.train_loop(step, x0, 30)
    history = result.history["loss"]
    return {"loss": history[-1], "curve": history, "diverged_at": result.diverged_at}


def run(key=0, **options):
    folder = pathlib.Path(os.environ["RESUME_WORK"]) / "ckpt"
    options = {"chunk_size": CHUNK, "devices": DEVICES, "checkpoint_dir": folder} | options
    return osd.sweep(train, CONFIGS, key, **options)
"""
sweep = {}
exec(compile(SWEEP, "SWEEP", "exec"), sweep)
KILLED_AFTER = 3  # chunks saved when the failure strikes (of 8)


@functools.cache
def uninterrupted():
    """The sweep run to the end without checkpoints (computed once, shared by the tests)."""
    work = pathlib.Path(os.environ.get("RESUME_WORK_REFERENCE", "/nonexistent"))
    assert work.is_dir()
    return sweep["run"](checkpoint_dir=None).metrics


def computed(work):
    """The member ids the runs computed since the last call (and forget them)."""
    path = work / "computed.txt"
    ids = [int(line) for line in path.read_text().split()] if path.exists() else []
    path.unlink(missing_ok=True)
    return ids


def saved_members(folder):
    """Members held by the valid chunk files in ``folder``, per file."""
    found = {}
    for path in sorted(folder.glob("chunk-*.ckpt")):
        loaded = store.load_checked(path)
        if loaded is not None:
            found[path.name] = loaded[0]["indices"].tolist()
    return found


@pytest.fixture
def work(tmp_path, tmp_path_factory, monkeypatch):
    reference = tmp_path_factory.getbasetemp() / "resume-reference"
    reference.mkdir(exist_ok=True)
    monkeypatch.setenv("RESUME_WORK_REFERENCE", str(reference))
    monkeypatch.setenv("RESUME_WORK", str(reference))
    uninterrupted()  # its callback writes in the reference folder
    monkeypatch.setenv("RESUME_WORK", str(tmp_path))
    return tmp_path


def kill_a_sweep(work, how):
    """Run the sweep in a fresh process that fails (``how``) once KILLED_AFTER chunks are saved."""
    (work / "fail").write_text(f"{KILLED_AFTER} {how}")
    child = subprocess.run(
        [sys.executable, "-c", SWEEP + "\nrun()\n"], env=os.environ | {"RESUME_WORK": str(work)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (work / "fail").unlink()
    return child


def assert_same_metrics(got, want):
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)  # bit for bit (NaN-free here)
        assert a.dtype == b.dtype


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_killed_sweep_resumes_to_the_uninterrupted_result_without_recomputing(work, how):
    child = kill_a_sweep(work, how)
    if how == "kill":
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    else:
        assert child.returncode == 1 and "injected failure" in child.stderr, child.stderr[-2000:]
    saved = saved_members(work / "ckpt")
    done = sorted(i for members in saved.values() for i in members)
    assert done == list(range(2 * KILLED_AFTER))  # exactly the first chunks finished and were saved
    computed(work)  # what the killed run computed
    result = sweep["run"]()
    assert sorted(computed(work)) == sorted(set(range(16)) - set(done))  # finished chunks not recomputed
    assert_same_metrics(result.metrics, uninterrupted())
    assert result.chunk_size == 2
    # run again: everything is loaded, nothing computed
    assert_same_metrics(sweep["run"]().metrics, uninterrupted())
    assert computed(work) == []


def test_a_truncated_chunk_file_and_a_stray_temporary_are_ignored(work, capsys):
    sweep["run"]()
    folder = work / "ckpt"
    assert len(saved_members(folder)) == 8
    victim = sorted(folder.glob("chunk-*.ckpt"))[2]
    lost = store.load_checked(victim)[0]["indices"].tolist()
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # a torn write
    (folder / ".chunk-00000004+2.ckpt.x1.tmp").write_bytes(b"half a save")  # a kill during save_atomic
    computed(work)
    result = sweep["run"](progress=True)
    assert sorted(computed(work)) == lost
    assert_same_metrics(result.metrics, uninterrupted())
    assert "1 chunks run, 7 loaded from checkpoint" in capsys.readouterr().err


def test_a_different_sweep_in_the_folder_is_refused_naming_what_differs(work):
    sweep["run"]()
    other = dict(sweep["CONFIGS"])
    other["peak"] = other["peak"] * 2
    different = {
        "key": dict(key=1),
        "batch values": dict(configs=other),
        "batch structure": dict(configs=sweep["CONFIGS"] | {"extra": np.zeros(16, np.float32)}),
        "chunk size": dict(chunk_size=4),
        "split keys": dict(split_keys=True),
    }
    for name, change in different.items():
        configs = change.pop("configs", sweep["CONFIGS"])
        with pytest.raises(ValueError, match=f"checkpoint_dir=.* holds a different sweep: its {name}[ ,]"):
            osd.sweep(sweep["train"], configs, change.pop("key", 0), **{
                "chunk_size": 2, "devices": sweep["DEVICES"], "checkpoint_dir": work / "ckpt"} | change)
    with pytest.raises(ValueError, match="its program differs"):
        osd.sweep(lambda config, key: {"loss": config["peak"] * 2}, sweep["CONFIGS"], 0, chunk_size=2,
                  devices=sweep["DEVICES"], checkpoint_dir=work / "ckpt")  # fmt: skip
    computed(work)
    replaced = sweep["run"](key=1, overwrite=True)
    assert sorted(computed(work)) == list(range(16))  # nothing of the old sweep was used
    again = sweep["run"](key=1)  # the folder now holds the new sweep
    assert computed(work) == []
    assert_same_metrics(again.metrics, replaced.metrics)
    assert not np.array_equal(replaced.metrics["loss"], uninterrupted()["loss"])


def test_a_sharded_sweep_resumes_too(work):
    devices = jax.devices()[:4]
    full = sweep["run"](devices=devices, chunk_size=4, checkpoint_dir=None)
    sweep["run"](devices=devices, chunk_size=4)
    (work / "ckpt" / "chunk-00000004+4.ckpt").unlink()
    computed(work)
    resumed = sweep["run"](devices=devices, chunk_size=4)
    assert sorted(computed(work)) == [4, 5, 6, 7]
    assert_same_metrics(resumed.metrics, full.metrics)


def test_a_tuned_chunk_size_is_recorded_and_kept_on_resume(work, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTASCHED_CACHE", str(tmp_path / "cache"))  # no remembered chunk: the tuner measures
    first = sweep["run"](chunk_size=None)  # strategy "auto" on one CPU device: trial chunks, then the rest
    computed(work)
    assert sorted(i for members in saved_members(work / "ckpt").values() for i in members) == list(range(16))
    again = sweep["run"](chunk_size=None)
    assert computed(work) == [] and again.chunk_size == first.chunk_size
    assert_same_metrics(again.metrics, first.metrics)


def test_bad_checkpoint_arguments_are_value_errors_naming_them(work):
    with pytest.raises(ValueError, match="overwrite must be True or False, got 'yes'"):
        sweep["run"](overwrite="yes")
    with pytest.raises(ValueError, match="checkpoint_dir must be a folder path .* got 3"):
        sweep["run"](checkpoint_dir=3)
    (work / "file").write_text("")
    with pytest.raises(ValueError, match="checkpoint_dir=.*file' exists and is not a folder"):
        sweep["run"](checkpoint_dir=work / "file")


# -- long members: the step-level driver ------------------------------------------------------------

# A tiny regression trained with adam on a cosine schedule; its state holds a typed PRNG key (fresh
# noise every step). Member 2's learning rate diverges. Each segment appends its first step to
# $RESUME_WORK/segments.txt; with $RESUME_WORK/fail reading "K", the process SIGKILLs itself when a
# segment starts after K checkpoints are complete (orbax renames a finished step folder into place).
STEPS = """
import os, pathlib, signal
import jax, jax.numpy as jnp, numpy as np, optax
import optasched as osd

TOTAL, EVERY = 40, 10
CONFIGS = {"peak": np.array([0.01, 0.05, 1e5, 0.1], np.float32)}
X = jnp.linspace(-1.0, 1.0, 8)


def segment_started(step, peak):
    if peak > 1.0:  # the diverged member stays at step 0
        return
    work = pathlib.Path(os.environ["RESUME_WORK"])
    with open(work / "segments.txt", "a") as f:
        f.write(f"{int(step)}\\n")
    fail = work / "fail"
    if fail.exists():
        done = [p for p in (work / "steps").iterdir() if p.name.isdigit()]
        if len(done) >= int(fail.read_text()):
            os.kill(os.getpid(), signal.SIGKILL)


def optimizer(config):
    return optax.adam(osd.cosine(config["peak"], TOTAL))


def init(config, key):
    params = {"w": jnp.zeros(()), "b": jnp.zeros(())}
    return {"params": params, "opt": optimizer(config).init(params), "rng": key}


def advance(config, state, num_steps):
    jax.debug.callback(segment_started, state["opt"][0].count, config["peak"])  # adam's step count
    opt = optimizer(config)

    def step(state, t):
        rng, noise_key = jax.random.split(state["rng"])
        y = 3.0 * X + 1.0 + 0.1 * jax.random.normal(noise_key, X.shape)
        loss_fn = lambda p: jnp.mean((p["w"] * X + p["b"] - y) ** 2)
        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, opt_state = opt.update(grads, state["opt"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        params = jax.tree.map(lambda p: p * jnp.exp(config["peak"] - 0.01), params)  # member 2 blows up
        return {"params": params, "opt": opt_state, "rng": rng}, {"loss": loss}

    return osd.train_loop(step, state, num_steps)


def run(**options):
    folder = pathlib.Path(os.environ["RESUME_WORK"]) / "steps"
    defaults = {"total_steps": TOTAL, "checkpoint_every": EVERY, "checkpoint_dir": folder, "max_to_keep": 3}
    return osd.stepped_sweep(init, advance, CONFIGS, 0, **(defaults | options))
"""
steps = {}
exec(compile(STEPS, "STEPS", "exec"), steps)


@functools.cache
def straight_run():
    """The stepped sweep without checkpoints (once, shared)."""
    return steps["run"](checkpoint_dir=None)


def started_segments(work):
    path = work / "segments.txt"
    found = sorted({int(line) for line in path.read_text().split()}) if path.exists() else []
    path.unlink(missing_ok=True)
    return found


def assert_same_run(got, want):
    for a, b in zip(jax.tree.leaves((got.state, got.metrics, got.diverged_at)),
                    jax.tree.leaves((want.state, want.metrics, want.diverged_at))):  # fmt: skip
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(a, b)  # bit for bit, NaN where both are NaN


def test_the_straight_stepped_run_isolates_the_diverging_member(work):
    result = straight_run()
    assert result.diverged_at.tolist()[2] >= 0 and [result.diverged_at[i] for i in (0, 1, 3)] == [-1, -1, -1]
    assert result.metrics["loss"].shape == (4, 4, 10)  # members, segments, steps per segment
    assert np.isfinite(result.metrics["loss"][[0, 1, 3]]).all()
    assert all(np.isfinite(x[2]).all() for x in jax.tree.leaves(result.state["params"]))  # last finite state
    assert result.resumed_from == 0


def test_a_member_whose_plain_advance_diverges_is_frozen_at_its_segment_start():
    def init(config, key):
        return {"x": jnp.float32(1.0), "step": jnp.int32(0)}

    def advance(config, state, num_steps):  # no train_loop: (state, metrics)
        x = state["x"] * config["factor"] ** num_steps
        return {"x": x, "step": state["step"] + num_steps}, {"x": x}

    factors = {"factor": np.array([0.5, 1e12, 2.0], np.float32)}  # member 1 overflows in segment 2
    run = osd.stepped_sweep(init, advance, factors, total_steps=9, checkpoint_every=3)
    assert run.diverged_at.tolist() == [-1, 3, -1]
    assert run.state["step"].tolist() == [9, 3, 9]  # member 1 kept its state of step 3: x = 1e12**3
    assert np.isfinite(run.state["x"][1]) and run.state["x"][1] > 1e35
    np.testing.assert_array_equal(np.isnan(run.metrics["x"][1]), [False, True, True])
    np.testing.assert_array_equal(run.metrics["x"][2], [8.0, 64.0, 512.0])


def test_a_sharded_stepped_sweep_resumes_bit_identically(work):
    import shutil

    devices = jax.devices()[:4]  # one member per device
    straight = steps["run"](devices=devices, checkpoint_dir=None)
    steps["run"](devices=devices)
    shutil.rmtree(work / "steps" / "4")
    shutil.rmtree(work / "steps" / "3")
    resumed = steps["run"](devices=devices)
    assert resumed.resumed_from == 20
    assert_same_run(resumed, straight)


def test_a_killed_stepped_sweep_resumes_bit_identically(work):
    (work / "fail").write_text("2")
    (work / "steps").mkdir()
    child = subprocess.run(
        [sys.executable, "-c", STEPS + "\nrun()\n"], env=os.environ | {"RESUME_WORK": str(work)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (work / "fail").unlink()
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert sorted(p.name for p in (work / "steps").iterdir() if p.name.isdigit()) == ["1", "2"]
    assert started_segments(work) == [0, 10, 20]  # the third segment was killed
    resumed = steps["run"]()
    assert resumed.resumed_from == 20
    assert started_segments(work) == [20, 30]  # the first two were not run again
    assert_same_run(resumed, straight_run())


def test_deleting_the_newest_checkpoint_falls_back_to_the_one_before(work):
    import shutil

    steps["run"]()
    assert sorted(p.name for p in (work / "steps").iterdir() if p.name.isdigit()) == ["2", "3", "4"]
    shutil.rmtree(work / "steps" / "4")
    started_segments(work)
    resumed = steps["run"]()
    assert resumed.resumed_from == 30 and started_segments(work) == [30]
    assert_same_run(resumed, straight_run())
    again = steps["run"]()  # complete: nothing to run
    assert again.resumed_from == 40 and started_segments(work) == []
    assert_same_run(again, straight_run())


def test_a_different_stepped_sweep_is_refused_unless_overwritten(work):
    steps["run"]()
    with pytest.raises(ValueError, match="holds a different sweep: its key differs"):
        osd.stepped_sweep(steps["init"], steps["advance"], steps["CONFIGS"], 1, total_steps=40,
                          checkpoint_every=10, checkpoint_dir=work / "steps")  # fmt: skip
    with pytest.raises(ValueError, match="its batch values differ"):
        osd.stepped_sweep(
            steps["init"], steps["advance"], {"peak": steps["CONFIGS"]["peak"] * 2}, 0, total_steps=40,
            checkpoint_every=10, checkpoint_dir=work / "steps",
        )  # fmt: skip
    with pytest.raises(ValueError, match="its total steps differs"):
        steps["run"](total_steps=50)
    started_segments(work)
    replaced = steps["run"](total_steps=20, overwrite=True)
    assert replaced.resumed_from == 0 and started_segments(work) == [0, 10]


def test_bad_stepped_sweep_arguments_are_value_errors_naming_them(work):
    cases = {
        "total_steps must be a positive int, got 0": dict(total_steps=0),
        "checkpoint_every must divide total_steps=40 .* got 15": dict(checkpoint_every=15),
        "checkpoint_every must be a positive int, got 2.5": dict(checkpoint_every=2.5),
        "max_to_keep must be a positive int, got 0": dict(max_to_keep=0),
        "overwrite must be True or False, got 1": dict(overwrite=1),
        "checkpoint_dir must be a folder path .* got 5": dict(checkpoint_dir=5),
    }
    for message, change in cases.items():
        with pytest.raises(ValueError, match=message):
            steps["run"](**change)
    with pytest.raises(ValueError, match="advance must be a function advance"):
        osd.stepped_sweep(steps["init"], None, steps["CONFIGS"], total_steps=4, checkpoint_every=2)
    with pytest.raises(ValueError, match="init must be a function init"):
        osd.stepped_sweep(3, steps["advance"], steps["CONFIGS"], total_steps=4, checkpoint_every=2)


# -- the README's examples ---------------------------------------------------------------------------

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def readme_blocks():
    """The code blocks of the README's "Resuming after preemption" subsection."""
    text = README.read_text()
    section = text.split("### Resuming after preemption\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_examples_run_as_written(tmp_path, monkeypatch, capsys):
    blocks = readme_blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(blocks[0], "README.md, resuming, block 0", "exec"), namespace)
    captured = capsys.readouterr()
    assert "holds a different sweep: its key differs from this one's; pass overwrite=True" in captured.out
    assert "0 chunks run, 2 loaded from checkpoint" in captured.err  # chunks of 2 rounded up to 4 devices
    namespace = {"__name__": "readme_example"}
    exec(compile(blocks[1], "README.md, resuming, block 1", "exec"), namespace)
    assert "(3, 4, 50)" in capsys.readouterr().out
    assert namespace["run"].resumed_from == 0 and namespace["again"].resumed_from == 200
