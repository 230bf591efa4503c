"""The transformer-warmup study: smoke run end to end (twice: determinism), and
the pieces its conclusions rest on: the pinned corpus split by book, one
program for Adam and RAdam that is each of them exactly, the traced
architecture and depth that are the models they stand for, and the LR
sensitivity formula."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common import testing, text
from experiments.transformer_warmup import questions as qs
from experiments.transformer_warmup import reanalyse
from experiments.transformer_warmup import study as st
from experiments.transformer_warmup import train as tr


def test_smoke_twice_same_numbers(tmp_path):
    first = testing.run_smoke("transformer_warmup", tmp_path / "a")
    second = testing.run_smoke("transformer_warmup", tmp_path / "b")
    results = testing.numbers(first)
    for name in (
        "failure_map",
        "beta2",
        "tolerable_lr",
        "lr_sensitivity",
        "optimizers",
        "gradient_norms",
        "runs",
    ):
        assert name in results, name
    assert results["corpus"]["sha256"] == text.KJV_SHA256
    for run in results["runs"]:
        assert run["validation_loss"] is not None and run["init_loss"] > run["validation_loss"] - 1.0
    for figure in results["figures"]:
        assert (tmp_path / "a" / figure.split("/")[-1]).exists(), figure
    strip = lambda r: {k: v for k, v in r.items() if k not in ("sweeps", "figures")}
    assert strip(results) == strip(testing.numbers(second))
    # question 2's declared tests are answered exactly as declared, and the plan is in the file
    declared = [q.name for q in st_config().analyses]
    assert [q["name"] for q in first["analysis_plan"]] == declared
    for entry in results["beta2"].values():
        assert list(entry["declared"]) == declared
        records = entry["declared"].values()
        assert all(d["declared"] and d["test"] in ("paired_t", "one_sample_t") for d in records)
    for entry in results["optimizers"].values():
        for noam in entry["noam"]:  # inverse square root after W: the last step's LR over the peak
            expected = (noam["warmup"] / (st_config().steps - 1)) ** 0.5
            np.testing.assert_allclose(noam["last_step_over_peak"], expected, rtol=1e-5)
    # the stored run records give the same numbers again without training (reanalyse.py)
    again = testing.runner.json_safe(reanalyse.reanalyse(first))
    for name in ("failure_map", "beta2", "tolerable_lr", "lr_sensitivity", "optimizers", "failure_criterion"):
        assert again[name] == results[name], name


def test_report_reads_results_without_jax():
    import subprocess
    import sys

    modules = ("report", "questions", "reanalyse")
    code = "import sys; " + "; ".join(f"import experiments.transformer_warmup.{m}" for m in modules)
    subprocess.run([sys.executable, "-c", code + "; assert 'jax' not in sys.modules"], check=True)


def test_noam_closed_form_is_the_schedule():
    steps = np.arange(0, 400)
    for width, warmup in ((64, 25), (64, 100), (128, 7)):
        schedule = osd.noam(width, warmup_steps=warmup)
        np.testing.assert_allclose(
            qs.noam_lr(width, warmup, steps), np.asarray(jax.vmap(schedule)(steps)), rtol=2e-6, atol=0
        )


def test_critical_warmup_per_seed_by_hand():
    failed = np.array([[True, True, False], [False, True, False], [False, False, True]])  # [warmup, seed]
    # seed 0 trains from W 25 on; seed 1 from 100; seed 2 fails at the longest warmup: none
    assert qs._critical_warmups(failed, [0, 25, 100]) == [25, 100, None]


def test_beta2_config_reaches_the_rule_and_declares_before_the_run():
    from experiments.transformer_warmup.configs import beta2, gpu

    config = beta2.get_config()
    st.check(config)
    assert config.steps >= 1000 and config.seeds >= 8
    assert max(config.beta2_warmups) >= 2 * max(st.rule_warmup(b) for b in config.beta2s)
    assert {q.correction_family for q in config.analyses} == {"q2_rule", None}
    bad = dataclasses.replace(config, beta2_warmups=(0, 50, 100, 200))  # no W = 25 (half of 0.96's 50)
    try:
        st.check(bad)
    except ValueError as error:
        assert "beta2_warmups" in str(error)
    else:
        raise AssertionError("expected a ValueError")
    assert not hasattr(gpu.get_config(), "time_budget")  # the gpu config is the file, not the clock


def test_corpus_is_pinned_and_split_by_book():
    corpus = tr.corpus()
    assert corpus.sha256 == text.KJV_SHA256
    assert corpus.vocab_size == 63 and "\n" in corpus.alphabet
    assert set(corpus.documents["validation"]) == set(text.KJV_VALIDATION_BOOKS)
    assert set(corpus.documents["test"]) == set(text.KJV_TEST_BOOKS)
    names = [n for split in corpus.documents.values() for n in split]
    assert len(names) == len(set(names)) == 66  # every book in exactly one split
    assert corpus.decode(corpus.validation[:30]).startswith("Now after the death of Moses")
    assert (
        len(corpus.train) + len(corpus.validation) + len(corpus.test) == 4_139_375 + 63
    )  # books + separators
    # the plateau a failed run sits on: the unigram loss, well above one character of context
    assert 2.9 < text.unigram_cross_entropy(corpus.train, corpus.validation, corpus.vocab_size) < 3.1
    assert text.bigram_cross_entropy(corpus.train, corpus.validation, corpus.vocab_size) < 2.4


def test_split_rejects_unknown_and_shared_documents():
    docs = [("a", "xy"), ("b", "yz"), ("c", "zx")]
    corpus = text.split_by_document(docs, ["b"], ["c"], name="toy")
    assert corpus.decode(corpus.train) == "xy" and corpus.decode(corpus.test) == "zx"
    for validation, test in ((["d"], ["c"]), (["b"], ["b"])):
        try:
            text.split_by_document(docs, validation, test, name="toy")
        except ValueError:
            continue
        raise AssertionError("expected a ValueError")


def test_adam_or_radam_is_each_exactly():
    params = {"w": jnp.linspace(-1.0, 1.0, 6), "b": jnp.ones(2)}
    grad = lambda t: jax.tree.map(lambda x: jnp.sin(3.0 * x + t), params)
    for rectified, reference in ((0.0, optax.adam), (1.0, optax.radam)):
        mine = tr.adam_or_radam(1e-2, 0.9, 0.95, 1e-9, jnp.float32(rectified))
        theirs = reference(1e-2, b1=0.9, b2=0.95, eps=1e-9)
        a, b, sa, sb = params, params, mine.init(params), theirs.init(params)
        for t in range(10):  # RAdam's rectification switches on at step 6 for b2 = 0.95
            ua, sa = mine.update(grad(t), sa, a)
            ub, sb = theirs.update(grad(t), sb, b)
            a, b = optax.apply_updates(a, ua), optax.apply_updates(b, ub)
        jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)


def _setup(depth):
    return tr.Setup(
        depth=depth,
        width=16,
        heads=2,
        mlp=32,
        context=8,
        batch_size=2,
        steps=4,
        record_every=2,
        eval_windows=4,
    )


def test_traced_depth_is_the_shallower_model():
    deep, shallow = tr.model(_setup(4)), tr.model(_setup(2))
    tokens = jnp.arange(16, dtype=jnp.int32).reshape(2, 8) % 60
    params = deep.init(jax.random.key(1), tokens, True, 4)
    cut = jax.tree.map(lambda x: x, params)
    cut["params"]["layers"] = jax.tree.map(lambda x: x[:2], params["params"]["layers"])
    for post in (True, False):
        np.testing.assert_allclose(
            deep.apply(params, tokens, post, 2), shallow.apply(cut, tokens, post, 2), rtol=1e-5, atol=1e-5
        )


def test_traced_architecture_is_post_or_pre_ln():
    """One block by hand: Post-LN is LN(x + f(x)), Pre-LN is x + f(LN(x))."""
    block = tr.Block(width=16, heads=2, mlp=32)
    x = jax.random.normal(jax.random.key(0), (2, 8, 16))
    params = block.init(jax.random.key(1), x, True, 1, 0)
    post, _ = block.apply(params, x, True, 1, 0)
    pre, _ = block.apply(params, x, False, 1, 0)
    skipped, _ = block.apply(params, x, True, 1, 1)  # index >= depth: the block is absent
    np.testing.assert_array_equal(np.asarray(skipped), np.asarray(x))
    assert np.allclose(np.asarray(post).mean(-1), 0.0, atol=1e-5)  # ends in a LayerNorm
    assert np.allclose(np.asarray(post).std(-1), 1.0, atol=1e-2)
    assert not np.allclose(
        np.asarray(pre).std(-1), 1.0, atol=1e-2
    )  # Pre-LN's residual stream is not normalised


def test_stacked_runs_mix_schedule_families_in_one_program():
    setup = _setup(1)
    runs = tr.stack_runs(
        [
            tr.make_run(setup, tr.warmup_cosine(1e-2, 2, 4), seed=0, post_ln=True),
            tr.make_run(setup, osd.noam(16, 2), seed=1, post_ln=False, rectified=True),
        ]
    )
    values = jax.vmap(lambda r: r.learning_rate(2))(runs)
    np.testing.assert_allclose(np.asarray(values), [1e-2, (16 * 2) ** -0.5], rtol=1e-6)


def test_lr_sensitivity_by_hand():
    config = dataclasses.replace(st_config(), peaks=(1e-3, 1e-2, 1e-1), seeds=2)
    outcomes = qs.Outcomes(margin_threshold=2.9)
    row = [qs.Arm("post", 2, 32, 0, p, config.b2) for p in config.peaks]
    # per seed: losses at the three LRs, init 4.0; the diverged third run counts as the init loss
    table = {0: ([3.0, 2.0, 5.0], [-1, -1, -1]), 1: ([2.5, 2.2, 1.0], [-1, -1, 7])}
    for seed, (losses, diverged) in table.items():
        for arm, loss, div in zip(row, losses, diverged):
            outcomes.add(arm, seed, {"validation_loss": loss, "init_loss": 4.0, "diverged_at": div})
    sensitivity = qs._sensitivity(outcomes, row)
    np.testing.assert_allclose(sensitivity, [(3.0 + 2.0 + 4.0) / 3 - 2.0, (2.5 + 2.2 + 4.0) / 3 - 2.2])
    assert list(outcomes.failed(row[2])) == [True, True]  # above the plateau threshold; diverged
    assert list(outcomes.failed(row[1])) == [False, False]


def st_config():
    from experiments.transformer_warmup.configs import smoke

    return smoke.get_config()
