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


def test_bad_checkpoint_arguments_are_value_errors_naming_them(work):
    with pytest.raises(ValueError, match="overwrite must be True or False, got 'yes'"):
        sweep["run"](overwrite="yes")
    with pytest.raises(ValueError, match="checkpoint_dir must be a folder path .* got 3"):
        sweep["run"](checkpoint_dir=3)
    (work / "file").write_text("")
    with pytest.raises(ValueError, match="checkpoint_dir=.*file' exists and is not a folder"):
        sweep["run"](checkpoint_dir=work / "file")
