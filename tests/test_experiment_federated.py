"""The federated study (issue 19): its partitions, the convex check's optimum and floor, the client
schedules on the round clock, the declared analysis, and the whole study on its smoke config."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import optasched as osd
from experiments.common.testing import run_smoke
from experiments.federated import convex
from experiments.federated.configs import default, quick, smoke
from experiments.federated.partition import dirichlet, label_histogram, one_label, partition
from experiments.federated.train import client_schedule

LABELS = np.repeat(np.arange(10), 60)  # 600 examples, 60 of each label


@pytest.mark.parametrize("kind", ["dir0.1", "dir100", "one_label"])
def test_partitions_are_disjoint_equal_sized_and_seeded(kind):
    index = partition(kind, LABELS, 20, 25, seed=3)
    assert index.shape == (20, 25)
    assert len(np.unique(index)) == index.size  # no example held by two clients
    np.testing.assert_array_equal(index, partition(kind, LABELS, 20, 25, seed=3))
    assert not np.array_equal(index, partition(kind, LABELS, 20, 25, seed=4))


def test_dirichlet_alpha_sets_the_label_skew_and_one_label_is_one_label():
    rng = np.random.default_rng(0)
    labels_held = lambda index: (label_histogram(LABELS, index) > 0).sum(1).mean()  # noqa: E731
    skewed = labels_held(dirichlet(LABELS, 20, 25, 0.1, rng))
    iid = labels_held(dirichlet(LABELS, 20, 25, 100.0, rng))
    assert skewed < 4 < 8 < iid  # alpha 0.1: a few labels a client; alpha 100: nearly all ten
    hist = label_histogram(LABELS, one_label(LABELS, 20, 25, rng))
    assert ((hist > 0).sum(1) == 1).all() and (hist.argmax(1) == np.arange(20) % 10).all()


def test_partition_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="alpha"):
        partition("dir0", LABELS, 10, 10, 0)
    with pytest.raises(ValueError, match="exceeds"):
        partition("dir1", LABELS, 100, 10, 0)
    with pytest.raises(ValueError, match="label 0 has 60 examples, its 2 clients need 62"):
        partition("one_label", np.concatenate([LABELS, np.full(100, 9)]), 20, 31, 0)
    with pytest.raises(ValueError, match="kind"):
        partition("iid", LABELS, 10, 10, 0)


def test_convex_optimum_is_the_pooled_least_squares_solution():
    problem = convex.make_problem(0, clients=4, per_client=30, dim=3, heterogeneity=0.5, noise=0.1)
    x, y = (np.asarray(a, np.float64).reshape(-1, *np.shape(a)[2:]) for a in problem.clients.examples)
    # the normal equations, up to the float32 rounding of the stored data (1e-7 relative, 120 examples)
    np.testing.assert_allclose(x.T @ (x @ problem.optimum - y), 0.0, atol=1e-5)


def test_convex_floor_grows_with_eta_and_vanishes_with_one_local_step():
    problems = [convex.make_problem(s, clients=4, per_client=30, dim=3, heterogeneity=0.5, noise=0.1)
                for s in range(2)]  # fmt: skip
    etas = [0.05, 0.2]
    floor = convex.distances(problems, [osd.constant(e) for e in etas], rounds=300, local_steps=5)
    gd = convex.distances(problems, [osd.constant(e) for e in etas], rounds=300, local_steps=1)
    assert (floor[1] > 2 * floor[0]).all()  # Li et al.: about proportional to eta
    assert (floor[0] > 1e-3).all() and (gd < 1e-4).all()  # float32 GD reaches the optimum; K = 5 does not


def test_client_schedules_on_the_round_clock():
    k, rounds = 3, 9
    step = client_schedule("step", 1.0, rounds, k, rho=1.0, drop_every=3)
    assert [float(step(r * k + 2)) for r in (2, 3)] == pytest.approx([1.0, 0.1])  # drops on a round boundary
    within = client_schedule("within", 1.0, rounds, k, rho=1.0, drop_every=3)
    assert float(within(0)) == float(within(5 * k)) == 1.0 and float(within(5 * k + 2)) < 1.0  # restarts
    constant_in_round = client_schedule("cosine", 1.0, rounds, k, rho=1.0, drop_every=3)
    assert float(constant_in_round(4 * k)) == float(constant_in_round(4 * k + 2))
    with pytest.raises(ValueError, match="family"):
        client_schedule("linear", 1.0, rounds, k, rho=1.0, drop_every=3)


def test_configs_declare_q1_to_q4():
    names = [q.name for q in default.get_config().analyses]
    assert len(names) == 2 + 4 + 3 + 9 and quick.get_config().analyses == default.get_config().analyses
    assert {q.correction_family for q in default.get_config().analyses} == {"q1", "q2", "q3", "q4",
                                                                           "q4_interaction"}  # fmt: skip
    config = smoke.get_config()
    assert config.analyses == default.questions(families=config.families, servers=("fedavgm",))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("federated")
    return out, run_smoke("federated", out)


def test_smoke_run_answers_every_declared_question(smoke_run):
    _, report = smoke_run
    results, config = report["results"], report["config"]
    assert [q["name"] for q in report["analysis_plan"]] == list(results["answers"])
    assert report["provenance"]["commit"]
    for record in results["answers"].values():
        assert record["declared"] and np.isfinite(record["mean"]) and 0 <= record["p_holm"] <= 1
    assert results["answers"]["q1_floor_slope"]["mean"] == pytest.approx(1.0, abs=0.2)  # floor ~ eta
    arms = results["q2"]["E1"]["dir0.1"]
    assert set(arms) == set(config["families"])
    for arm in arms.values():
        assert len(arm["chosen_test_acc"]) == config["seeds"]
        assert all(0 <= v <= 1 for v in arm["chosen_test_acc"])
        assert arm["selection"]["label"] in config["peaks"]
    assert results["exploratory"]["exploratory"] is True


def test_the_report_prints_the_tables_without_jax(smoke_run):
    out, _ = smoke_run
    code = ("import sys; from experiments.federated.report import main; main([sys.argv[1]]); "
            "assert 'jax' not in sys.modules, 'the report imported jax'")  # fmt: skip
    printed = subprocess.run([sys.executable, "-c", code, str(out / "results.json")], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert "q3_own_counter_step" in printed and "| fedavgm |" in printed
