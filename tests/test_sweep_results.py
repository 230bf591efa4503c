"""Sweep results as a newcomer uses them (issue 23, point 3): ``osd.plot`` takes a
sweep with its labels in the legend (or a band over seeds), ``best`` averages
over any axis and agrees with the heatmap, whose title says what the cells are
and fits the figure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import optasched as osd

matplotlib.use("Agg")

STEPS = 100


def build(peak_value, warmup_steps, seed):
    schedule = osd.warmup(osd.cosine(peak_value, STEPS - warmup_steps), warmup_steps)
    return {"schedule": schedule, "seed": seed}


# 4 peaks x 2 warmups x 3 seeds = 24 members
BATCH = osd.grid(build, peak_value=[0.003, 0.01, 0.03, 0.1], warmup_steps=[0, 20], seed=[0, 1, 2])


def train(config, key):
    """A noisy quadratic: the seed draws the gradient noise."""
    noise = jax.random.normal(jax.random.key(config["seed"]), (STEPS,))

    def step(x, t):
        return x - config["schedule"](t) * (2 * x + 3.0 * noise[t]), None

    x, _ = jax.lax.scan(step, jnp.float32(2.0), jnp.arange(STEPS))
    return {"test_accuracy": 1 / (1 + x**2)}


@pytest.fixture(scope="module")
def result():
    return osd.sweep(train, BATCH)


def seed_means_by_hand(result):
    accuracy = result.metric("test_accuracy").astype(np.float64)
    means = {}
    for peak in (0.003, 0.01, 0.03, 0.1):
        for warmup in (0, 20):
            members = [i for i in range(len(BATCH)) if BATCH.values["peak_value"][i] == peak
                       and BATCH.values["warmup_steps"][i] == warmup]  # fmt: skip
            means[(peak, warmup)] = (np.mean(accuracy[members]), members)
    return means


def test_best_averaged_over_seed_is_the_argmax_of_the_seed_mean(result):
    means = seed_means_by_hand(result)
    (peak, warmup), (value, members) = max(means.items(), key=lambda item: item[1][0])
    best = result.best("test_accuracy", mode="max", average_over="seed")
    assert best.label == f"peak_value={peak:.4g}, warmup_steps={warmup}"
    assert best.setting == {"peak_value": peak, "warmup_steps": warmup}
    assert best.value == pytest.approx(value, rel=1e-12) and best.members == tuple(members)
    assert best.index == members[0]
    # The single best member is another setting here: one lucky seed.
    single = result.best("test_accuracy", mode="max")
    assert single.members == (single.index,) and single.index not in best.members
    # Any axis: averaging over seed and warmup leaves the peaks.
    by_peak = result.best("test_accuracy", mode="max", average_over=["seed", "warmup_steps"])
    peak_means = {p: np.mean([means[(p, w)][0] for w in (0, 20)]) for p in (0.003, 0.01, 0.03, 0.1)}
    assert by_peak.setting == {"peak_value": max(peak_means, key=peak_means.get)}


def test_the_heatmap_draws_the_means_and_names_the_same_cell(result):
    best = result.best("test_accuracy", mode="max", average_over="seed")
    fig = result.plot("test_accuracy", mode="max")
    ax = fig.axes[0]
    title = ax.get_title()
    assert title.startswith("mean over seed of test_accuracy")
    peak = best.setting["peak_value"]
    assert f"best cell (max): {best.value:.4g} at peak_value={peak:.3g}, warmup_steps=0" in title
    # The picture agrees: the brightest cell (the largest mean, with mode="max") is the one named.
    cells = np.asarray(ax.images[0].get_array())
    row, column = np.unravel_index(np.nanargmax(cells), cells.shape)
    assert ax.get_xticklabels()[column].get_text() == f"{best.setting['peak_value']:.3g}"
    assert ax.get_yticklabels()[row].get_text() == str(best.setting["warmup_steps"])
    means = seed_means_by_hand(result)
    assert cells[row, column] == pytest.approx(means[(0.03, 0)][0], rel=1e-12)
    (outline,) = ax.patches  # the best cell, outlined
    assert outline.get_xy() == (column - 0.5, row - 0.5)


def test_a_member_that_diverged_sinks_its_cell(result):
    accuracy = result.metric("test_accuracy").copy()
    best = result.best("test_accuracy", mode="max", average_over="seed")
    accuracy[best.members[1]] = np.nan  # one seed of the best setting diverged
    broken = osd.SweepResult({"test_accuracy": accuracy}, result.labels, result.values)
    assert broken.best("test_accuracy", mode="max", average_over="seed").setting != best.setting
    title = broken.plot("test_accuracy", mode="max").axes[0].get_title()
    assert "NaN" in title


def test_titles_fit_the_figure(result):
    wide = osd.SweepResult(
        {"a rather long metric name for the final held-out test accuracy": result.metric("test_accuracy")},
        result.labels,
        {"peak learning rate of the cosine schedule": result.values["peak_value"],
         "number of linear warmup steps before the decay": result.values["warmup_steps"],
         "seed": result.values["seed"]},
    )  # fmt: skip
    figures = [
        wide.plot("a rather long metric name for the final held-out test accuracy", mode="max"),
        osd.plot(osd.warmup(osd.join([osd.cosine(0.1, 300), osd.linear(0.01, 0.0, 300)], [300]), 50), 700)
        .figure,
        osd.plot(BATCH, STEPS).figure,
    ]
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        title = fig.axes[0].title.get_window_extent(renderer)
        width, height = fig.bbox.width, fig.bbox.height
        assert 0 <= title.x0 and title.x1 <= width and title.y1 <= height, (title, width, height)


def test_plot_takes_a_sweep_with_its_labels(tmp_path):
    ax = osd.plot(BATCH, STEPS, path=str(tmp_path / "sweep.png"))
    lines = ax.get_lines()
    assert len(lines) == 24 and [line.get_label() for line in lines] == BATCH.labels
    for i in (0, 7, 23):
        np.testing.assert_allclose(lines[i].get_ydata(), BATCH.config["schedule"][i](np.arange(STEPS)))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == BATCH.labels
    assert ax.get_title() == "a sweep of 24 members over peak_value x warmup_steps x seed"
    assert (tmp_path / "sweep.png").stat().st_size > 5000


def test_plot_a_sweep_with_a_band_over_seeds():
    ax = osd.plot(BATCH, STEPS, band="seed")
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 8 and labels[0] == "peak_value=0.003, warmup_steps=0 (mean, min-max of 3 seed)"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), BATCH.config["schedule"][0](np.arange(STEPS)))
    with pytest.raises(ValueError, match=r"plot: band must name an axis of the sweep \(\['peak_value', "):
        osd.plot(BATCH, STEPS, band="lr")
    with pytest.raises(ValueError, match="plot: band is for a sweep"):
        osd.plot(osd.cosine(0.1, 10), 10, band="seed")


def test_plot_names_each_schedule_of_a_config_with_several():
    batch = osd.grid(lambda peak: {"lr": osd.cosine(peak, 10), "b1": osd.constant(0.9)}, peak=[0.1, 0.2])
    labels = [line.get_label() for line in osd.plot(batch, 10).get_lines()]
    assert sorted(labels) == ["['b1']: peak=0.1", "['b1']: peak=0.2", "['lr']: peak=0.1", "['lr']: peak=0.2"]


def test_best_refuses_an_axis_the_sweep_does_not_have(result):
    with pytest.raises(ValueError, match=r"average_over must name swept axes \(\['peak_value', .*'seeds'"):
        result.best("test_accuracy", average_over="seeds")
