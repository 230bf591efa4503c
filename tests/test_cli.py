"""The optasched command end to end: a tiny zoo, plotting a spec, clear errors."""

import json

import pytest

from optasched.cli import main

TINY = ["--models", "mlp", "--steps", "20", "--eval-every", "10", "--seeds", "2", "--learning-rates", "0.003,0.01",
        "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo")
    assert main(["zoo", *TINY, "--families", "constant,cosine,plateau,schedule_free", "--out", str(out)]) == 0
    return out


def test_zoo_writes_results_and_plots(tiny_zoo, capsys):
    report = json.loads((tiny_zoo / "results.json").read_text())
    assert {r["family"] for r in report["leaderboard"]} == {"constant", "cosine", "plateau", "schedule_free"}
    for row in report["leaderboard"]:
        assert len(row["test_accuracies"]) == 2 and 0.0 <= row["test_accuracy"] <= 1.0
        assert row["peak_lr"] in (0.003, 0.01)
    assert len(report["test_accuracy_curves"]["mlp"]["cosine"]) == 2  # one point per evaluation
    assert "best_beats_constant_non_overlapping" in report["comparisons"]["mlp"]
    for png in ("lr_curves.png", "test_accuracy.png"):
        assert (tiny_zoo / png).stat().st_size > 2000


def test_zoo_is_deterministic_for_a_seed(tiny_zoo, tmp_path):
    assert main(["zoo", *TINY, "--families", "constant,cosine,plateau,schedule_free", "--out", str(tmp_path)]) == 0
    first = json.loads((tiny_zoo / "results.json").read_text())["leaderboard"]
    again = json.loads((tmp_path / "results.json").read_text())["leaderboard"]
    assert first == again


def test_plot_spec_file(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"family": "cyclic", "base_value": 0.1, "max_value": 1.0, "step_size_up": 10,
                                "gamma": 1.0, "mode": "triangular"}))
    out = tmp_path / "s.png"
    assert main(["plot", str(spec), "--steps", "40", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "step        0: [0.1]" in printed and "step       20: [0.1]" in printed
    assert out.stat().st_size > 2000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["zoo", "--families", "cosine,banana"], "unknown ['banana']"),
        (["zoo", "--steps", "0"], "--steps must be >= 1"),
        (["plot", '{"family": "cosinus"}'], "unknown family 'cosinus'"),
        (["plot", "not json"], "neither"),
        (["plot", '{"family": "cosine", "init_value": 1, "decay_steps": -3, "end_value": 0, "exponent": 1}'],
         "decay_steps must be >= 0, got -3"),
    ],
)
def test_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_zoo_models_match_the_reference_architectures():
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np

    from optasched._zoo import CNN, MLP, Conv1D

    count = lambda model: sum(p.size for p in jax.tree.leaves(model.init(jax.random.key(0), jnp.zeros((1, 40)))))  # noqa: E731
    assert count(MLP()) == 15_210 and count(CNN()) == 5_210  # the MNIST-1D paper's models
    x = jax.random.normal(jax.random.key(1), (3, 40, 4))
    ours = Conv1D(25, kernel_size=5, stride=2, padding=1)
    params = ours.init(jax.random.key(2), x)
    reference = nn.Conv(25, (5,), strides=2, padding=[(1, 1)]).apply(params, x)
    np.testing.assert_allclose(ours.apply(params, x), reference, rtol=1e-5, atol=1e-5)
