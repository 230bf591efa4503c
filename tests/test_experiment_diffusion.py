"""The diffusion study: smoke run end to end (twice: determinism), and the
pieces its conclusions rest on: noise schedules reach pure noise, the exact
denoiser is exact, the curriculum's importance weights restore uniform
sampling, the likelihood ODE reads KL = 0 for a perfect model, and the
interaction analysis finds an interaction that is there (and none that is not),
the declared tests are the ones the config declares and a re-analysis of the
stored members gives the same answers, the report needs no jax, and the
MNIST-1D validation and test samples are separate draws.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from experiments.common import runner, testing, toy2d
from experiments.diffusion import analysis as an
from experiments.diffusion import evaluate as ev
from experiments.diffusion import mnist1d, reanalyse, report
from experiments.diffusion import noise as noise_lib
from experiments.diffusion import train as tr
from experiments.diffusion.configs import default as default_config
from experiments.diffusion.configs import gpu as gpu_config
from experiments.diffusion.configs import smoke as smoke_config


def test_smoke_twice_same_numbers(tmp_path):
    first = testing.run_smoke("diffusion", tmp_path / "a")
    second = testing.run_smoke("diffusion", tmp_path / "b", overrides=["figures=False"])
    results = testing.numbers(first)
    assert results["seeds_completed"] == [0, 1]
    for name in ("question1", "question2", "question3", "declared", "metric_validation", "solver_check"):
        assert name in results, name
    assert "members" in results
    assert "commit" in first["provenance"]
    # the declared questions are written before the run and answered, each of them, whatever they say
    declared = [q["name"] for q in first["analysis_plan"]]
    assert declared == ["interaction:edm:cosine", "alignment:aligned", "alignment:reversed_ic"]
    assert list(results["declared"]) == declared
    assert all(r["declared"] and r["n"] == 2 for r in results["declared"].values())
    # 2 noise x 2 families x 2 seeds: the exploratory F-test is there too
    assert "f_test" in results["question1"]["ema"]["interaction"]["exploratory"]
    # a re-analysis of the stored members gives the study's own answers
    again = json.loads(json.dumps(runner.json_safe(reanalyse.reanalyse(first)["results"])))
    for key in ("selected_multiplier", "question1", "question2", "declared"):
        assert again[key] == results[key], key
    assert "Declared tests" in report.report(str(tmp_path / "a" / "results.json"))
    for member in results["members"]:
        assert np.isfinite(member["kl_test_ema"]) and np.isfinite(member["kl_test_raw"])
    for figure in ("kl_table", "per_level", "samples", "alignment", "schedules"):
        assert (tmp_path / "a" / f"{figure}.png").exists(), figure
    strip = lambda r: {k: v for k, v in r.items() if k != "timing"}
    assert strip(results) == strip(testing.numbers(second))


@pytest.mark.parametrize("name", ["ddpm_linear", "cosine", "min_snr5"])
def test_terminal_log_snr_reaches_pure_noise(name):
    table = noise_lib.log_snr_table(name, 1000)
    assert table[-1] <= -10, table[-1]
    assert np.all(np.diff(table) < 0)  # more noise at every step
    # short chains too, thanks to the 1000/T rescaling of the linear betas
    assert noise_lib.log_snr_table(name, 50)[-1] <= -10


def test_unrescaled_short_linear_chain_is_far_from_noise():
    """The anchor's warning: un-rescaled linear betas with T = 50 end at alpha-bar = 0.6."""
    table = noise_lib.log_snr_table("ddpm_linear", 50, rescale=False)
    alpha_bar = 1 / (1 + np.exp(-table[-1]))
    assert abs(alpha_bar - 0.6) < 0.01


def test_cosine_schedule_matches_the_formula():
    steps, s = 1000, 0.008
    t = np.arange(steps + 1)
    f = np.cos(((t / steps) + s) / (1 + s) * np.pi / 2) ** 2
    got = np.asarray(noise_lib.cosine_alpha_bar(steps, s)(jnp.asarray(t, jnp.float32)))
    np.testing.assert_allclose(got[:-1], f[:-1], atol=2e-6)


def test_edm_table_is_lognormal():
    table = noise_lib.log_snr_table("edm", 4000)
    log_sigma = -table / 2
    assert abs(log_sigma.mean() + 1.2) < 0.01 and abs(log_sigma.std() - 1.2) < 0.02


def test_weights_and_preconditioning_reduce_to_the_papers():
    sigma_data = 0.7
    lam = jnp.linspace(-8.0, 8.0, 9)
    snr = np.exp(np.asarray(lam))
    eps = noise_lib.noise_schedule("cosine", 100, sigma_data)
    np.testing.assert_allclose(noise_lib.loss_weight(eps, lam), snr, rtol=1e-5)  # = epsilon MSE
    min_snr = noise_lib.noise_schedule("min_snr5", 100, sigma_data)
    np.testing.assert_allclose(noise_lib.loss_weight(min_snr, lam), np.minimum(snr, 5.0), rtol=1e-5)
    edm = noise_lib.noise_schedule("edm", 100, sigma_data)
    sigma2 = 1 / snr
    expected = (sigma2 + sigma_data**2) / (sigma2 * sigma_data**2)  # Karras et al. 2022, lambda(sigma)
    np.testing.assert_allclose(noise_lib.loss_weight(edm, lam), expected, rtol=1e-5)
    # EDM preconditioning: with F = 0 the denoiser is c_skip * y
    x_t = jnp.ones((9, 2))
    alpha, _ = noise_lib.alpha_sigma(lam)
    _, output = noise_lib.precondition(edm, x_t, lam)
    c_skip = sigma_data**2 / (sigma2 + sigma_data**2)
    np.testing.assert_allclose(output(jnp.zeros((9, 2)))[:, 0], c_skip / np.asarray(alpha), rtol=1e-5)


def test_exact_denoiser_matches_monte_carlo():
    mixture = toy2d.ring(8, 1.0, 0.1)
    x0 = np.asarray(toy2d.sample(mixture, jax.random.key(0), 1_000_000), np.float64)
    for log_snr, x_t in ((-2.0, (0.3, -0.2)), (0.0, (0.7, 0.1)), (3.0, (0.05, 0.95))):
        alpha, sigma = (float(v) for v in noise_lib.alpha_sigma(jnp.float32(log_snr)))
        x_t = np.asarray(x_t)
        log_w = -np.sum((x_t[None, :] - alpha * x0) ** 2, axis=1) / (2 * sigma**2)
        w = np.exp(log_w - log_w.max())
        monte_carlo = (w[:, None] * x0).sum(0) / w.sum()
        exact = np.asarray(toy2d.denoiser(mixture, jnp.asarray(x_t[None, :], jnp.float32), alpha, sigma))[0]
        np.testing.assert_allclose(exact, monte_carlo, atol=5e-3)


def test_exact_denoiser_has_zero_kl_and_the_solver_converges():
    config = dataclasses.replace(
        smoke_config.get_config(), ode_steps=16, kl_test_points=256, sample_points=256
    )
    validation, _ = ev.validate_metrics(config)
    single, double = validation["exact_kl_16_steps"], validation["exact_kl_32_steps"]
    assert abs(single) < 0.03 and abs(double) < 0.005 and abs(double) < abs(single)


def test_curriculum_importance_weights_restore_uniform_sampling():
    steps = 50
    uniform = jax.random.uniform(jax.random.key(1), (2_000_000,))
    for tilt in (-0.8, 0.0, 0.8):
        t, weight = tr.sample_timesteps(jnp.float32(tilt), uniform, steps, jnp.float32(1.0))
        mass = np.bincount(np.asarray(t) - 1, weights=np.asarray(weight), minlength=steps) / len(uniform)
        np.testing.assert_allclose(mass, 1 / steps, rtol=0.05)
        t_tilted, weight_off = tr.sample_timesteps(jnp.float32(tilt), uniform, steps, jnp.float32(0.0))
        assert np.all(np.asarray(weight_off) == 1)
        high_noise = float(np.mean(np.asarray(t_tilted) > steps / 2))
        assert abs(high_noise - (0.5 + tilt / 4)) < 0.01  # p(u) = 1 + c(2u - 1): mass above 1/2 is 1/2 + c/4


def test_curriculum_follows_the_learning_rate():
    lr = tr.lr_schedule("cosine", 2e-3, 1000)
    aligned = tr.curriculum_tilt(lr, 2e-3, 0.8, 1.0)
    reverse = tr.curriculum_tilt(lr, 2e-3, 0.8, -1.0)
    assert float(aligned(50)) == pytest.approx(0.8, abs=1e-4)  # LR at its peak: high noise
    assert float(aligned(999)) == pytest.approx(-0.8, abs=1e-3)  # LR near 0: low noise
    assert float(reverse(50)) == pytest.approx(-0.8, abs=1e-4)


def test_edm2_inverse_sqrt_and_wsd_shapes():
    steps = 1000
    s = tr.lr_schedule("inverse_sqrt", 1.0, steps, warmup_fraction=0.05, inverse_sqrt_ref_fraction=0.1)
    for t in (100, 200, 400, 999):
        assert float(s(t)) == pytest.approx(1 / np.sqrt(max(t / 100, 1)), rel=1e-5)
    w = tr.lr_schedule("wsd", 1.0, steps, warmup_fraction=0.05, wsd_decay_fraction=0.2)
    assert float(w(700)) == pytest.approx(1.0) and float(w(900)) == pytest.approx(1 - np.sqrt(0.5), abs=1e-5)


def test_lr_families_group_into_one_sweep_each():
    config = default_config.get_config()
    noise = noise_lib.noise_schedule("cosine", 100, 0.7)
    members = [
        tr.member(tr.lr_of(config, f, 1e-3), 1e-3, noise, seed) for f in config.lr_families for seed in (0, 1)
    ]
    groups = tr.stack_members(members)
    if hasattr(osd, "switch"):
        assert len(groups) <= len(config.lr_families)
    else:
        assert len(groups) == len(config.lr_families)
    assert sorted(i for indices, _ in groups for i in indices) == list(range(len(members)))


def test_interaction_analysis_sees_an_interaction_that_is_there():
    rng = np.random.default_rng(0)
    seeds, noise, family = 6, 3, 3
    base = rng.normal(size=(seeds, 1, 1)) + np.arange(noise)[None, :, None] + np.arange(family)[None, None, :]
    null = base + 0.05 * rng.normal(size=(seeds, noise, family))
    crossed = null.copy()
    crossed[:, 2, 2] += 1.0  # one cell responds differently
    names_n, names_f = ["a", "b", "c"], ["x", "y", "z"]
    no = an.interaction_analysis(null, names_n, names_f)
    yes = an.interaction_analysis(crossed, names_n, names_f)
    assert no["exploratory"]["f_test"]["p_value"] > 0.01 and not no["any_significant"]
    assert yes["exploratory"]["f_test"]["p_value"] < 1e-6
    assert yes["largest_contrast"]["noise"] == "c" and yes["largest_contrast"]["family"] == "z"
    assert yes["largest_contrast"]["mean"] == pytest.approx(1.0, abs=0.1)
    # the declared test (per-seed t, Holm over the 4 contrasts) finds the crossed cell, with the smallest p
    strongest = min(yes["contrasts"], key=lambda c: c["p_holm"])
    assert (strongest["noise"], strongest["family"]) == ("c", "z") and strongest["significant"]


def test_interaction_contrast_per_seed_t_by_hand():
    """One contrast from 3 seeds: its per-seed values, t interval and p against a hand computation."""
    table = np.zeros((3, 2, 2))
    table[:, 1, 1] = [0.1, 0.3, 0.2]  # contrast per seed = these values
    c = an.interaction_analysis(table, ["n0", "n1"], ["f0", "f1"])["contrasts"][0]
    assert c["per_seed"] == pytest.approx([0.1, 0.3, 0.2])
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(2) 97.5% quantile x sd / sqrt(n)
    assert (c["low"], c["high"]) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    assert c["p_value"] == pytest.approx(0.07418, abs=1e-4)  # t = 2 sqrt(3) = 3.464 on 2 df


def test_alignment_declared_average_is_paired_over_seeds():
    arms = {"a": {"x": np.array([1.0, 2.0, 4.0])}, "b": {"x": np.array([2.0, 2.0, 5.0])}}
    uniform = {"a": np.array([0.5, 1.5, 3.0]), "b": np.array([1.0, 2.5, 4.0])}
    result = an.alignment_analysis(arms, uniform)["averaged_over_noise"]["x"]
    # per seed: mean over noise of arm minus uniform = (0.5 + 1)/2, (0.5 - 0.5)/2, (1 + 1)/2
    assert result["mean"] == pytest.approx(np.mean([0.75, 0.0, 1.0]))
    assert result["n"] == 3 and result["p_holm"] == result["p_value"]  # one arm: Holm changes nothing


def test_select_peaks_skips_diverged_and_flags_edges():
    def record(multiplier, seed, val, diverged=-1):
        return {"part": "grid", "noise": "n", "family": "f", "multiplier": multiplier, "seed": seed,
                "diverged_at": diverged, "kl_val_ema": val, "kl_val_raw": val}  # fmt: skip

    records = [record(0.5, 0, 1.0), record(0.5, 1, 1.0), record(1.0, 0, 0.5), record(1.0, 1, 0.6),
               record(2.0, 0, 0.1), record(2.0, 1, 0.1, diverged=300)]  # fmt: skip
    selection, edges = an.select_peaks(records, ["n"], ["f"], [0.5, 1.0, 2.0])
    assert selection["ema"]["n"]["f"] == 1.0 and not edges  # 2.0 diverged on seed 1: not eligible
    records[-1] = record(2.0, 1, 0.1)
    selection, edges = an.select_peaks(records, ["n"], ["f"], [0.5, 1.0, 2.0])
    assert selection["ema"]["n"]["f"] == 2.0 and {e["weights"] for e in edges} == {"ema", "raw"}


def test_declared_questions_follow_the_grid_and_a_stale_plan_is_refused(tmp_path):
    config = default_config.get_config()
    names = [q.name for q in config.analyses]
    assert len(names) == 3 * 3 + 4
    assert names[0] == "interaction:cosine:cosine" and names[-1] == "alignment:reversed_ic"
    assert {q.correction_family for q in config.analyses} == {an.INTERACTION_FAMILY, an.ALIGNMENT_FAMILY}
    assert all(q.unit == "seed" for q in config.analyses)
    stale = dataclasses.replace(smoke_config.get_config(), lr_families=("constant", "cosine", "wsd"))
    from experiments.diffusion import study

    with pytest.raises(ValueError, match="config.analyses"):
        study.study(stale, None)


def test_gpu_config_is_defined_by_the_config_alone():
    config = gpu_config.get_config()
    fields = {f.name for f in dataclasses.fields(config)}
    assert not fields & {"deadline_s", "post_seconds", "seed_block", "mnist1d_seconds"}
    assert config.seeds == 10 and config.mnist1d
    assert [q.name for q in config.analyses] == [q.name for q in default_config.get_config().analyses]


def test_default_peak_grid_has_room_on_both_sides_of_the_old_choices():
    """The old grid's choices sat at 0.5x (constant) and 2x (cosine, inverse-sqrt): both are inside now."""
    grid = default_config.get_config().peak_multipliers
    assert min(grid) < 0.5 and max(grid) > 2.0


def test_mnist1d_validation_and_test_samples_are_separate_draws(monkeypatch):
    monkeypatch.setattr(mnist1d.ev, "generate", lambda config, denoiser, draws, steps: draws)
    config = dataclasses.replace(smoke_config.get_config(), mnist1d_samples=16)
    mnist1d._make_sampler.cache_clear()
    out = mnist1d._make_sampler(config, 4)({"weights": None, "noise": None}, None)
    mnist1d._make_sampler.cache_clear()
    assert out["val"].shape == out["test"].shape == (16, 4)
    assert not np.allclose(out["val"], out["test"])


def test_report_tools_do_not_import_jax():
    code = (
        "import sys; import experiments.diffusion.report, experiments.diffusion.reanalyse, "
        "experiments.diffusion.analysis; print('jax' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_stored_gpu_reanalysis_matches_its_source():
    """The historical gpu file's declared tests recompute from its stored members to the committed numbers."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "experiments" / "diffusion" / "results"
    stored = json.loads((folder / "gpu_historical_reanalysis.json").read_text())
    source = json.loads((folder / "gpu_historical.json").read_text())
    again = reanalyse.reanalyse(source, stored["reanalysis"]["source"])
    assert json.loads(json.dumps(runner.json_safe(again["results"]))) == stored["results"]
