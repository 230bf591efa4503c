"""The study's plots (PNG, headless): the KL table, per-noise-level errors,
samples against the data, the alignment contrasts, the schedules themselves and
convergence per noise level."""

from __future__ import annotations

import numpy as np

from experiments.common import plotting

from . import train as tr
from .analysis import LABELS


def _label(name: str) -> str:
    return LABELS.get(name, name)


def kl_table(config, context, results) -> None:
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, which in zip(axes, ("ema", "raw")):
        cells = results["question1"][which]["cells"]
        values = np.array(
            [[cells[n][f]["kl_test"]["mean"] for f in config.lr_families] for n in config.noise_schedules]
        )
        # (not plotting.heatmap: its Colormap.set_bad raises a PendingDeprecationWarning under pytest)
        image = ax.imshow(
            np.ma.masked_invalid(values),
            origin="lower",
            aspect="auto",
            cmap=plt.get_cmap("viridis_r").with_extremes(bad="0.8"),
        )
        ax.set_xticks(range(len(config.lr_families)), [_label(f) for f in config.lr_families], fontsize=7)
        ax.set_yticks(
            range(len(config.noise_schedules)), [_label(n) for n in config.noise_schedules], fontsize=7
        )
        ax.set_xlabel("LR schedule")
        ax.set_ylabel("noise schedule")
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                multiplier = cells[config.noise_schedules[i]][config.lr_families[j]]["multiplier"]
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.3f}\nx{multiplier:g}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="w",
                )
        fig.colorbar(image, ax=ax, label="test KL (nats)")
        ax.set_title(f"{which.upper()} weights, peak chosen on validation", fontsize=9)
    plotting.save(fig, context.path("kl_table.png"), dpi=80)


def per_level(config, context, results) -> None:
    plt = plotting.pyplot()
    q3 = results["question3"]
    edges = np.asarray(q3["bin_edges"])
    centres = 0.5 * (edges[1:] + edges[:-1])
    names = list(config.noise_schedules)
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 5.6), squeeze=False, sharey="row")
    mmse = _mmse(config, centres)
    for j, name in enumerate(names):
        for family in config.lr_families:
            cell = q3["cells"][name][family]
            axes[0, j].plot(
                centres, np.maximum(cell["ema_eps"], 1e-6), marker="o", ms=3, label=_label(family)
            )
            axes[1, j].plot(
                centres,
                np.maximum(np.asarray(cell["ema_x0"]) / mmse, 1e-6),
                marker="o",
                ms=3,
                label=_label(family),
            )
        axes[0, j].set_title(_label(name), fontsize=9)
        axes[1, j].set_xlabel("log-SNR bin centre")
        for ax in axes[:, j]:
            ax.set_yscale("log")
    axes[0, 0].set_ylabel("excess eps error\n(= 2 x excess -ELBO, nats per unit log-SNR)")
    axes[1, 0].set_ylabel("excess x0 error / MMSE")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Where quality is lost: learned minus exact denoiser, EMA weights", fontsize=10)
    plotting.save(fig, context.path("per_level.png"), dpi=80)

    curriculum = q3["curriculum"]
    if curriculum:
        fig, axes = plt.subplots(
            1, len(curriculum), figsize=(3.4 * len(curriculum), 3.2), squeeze=False, sharey=True
        )
        for ax, (name, arms) in zip(axes[0], curriculum.items()):
            for arm, cell in arms.items():
                ax.plot(centres, np.maximum(cell["ema_eps"], 1e-6), marker="o", ms=3, label=arm)
            ax.set_yscale("log")
            ax.set_title(f"{_label(name)}, warmup+cosine", fontsize=9)
            ax.set_xlabel("log-SNR bin centre")
        axes[0, 0].set_ylabel("excess eps error (EMA)")
        axes[0, 0].legend(fontsize=7)
        plotting.save(fig, context.path("per_level_curriculum.png"), dpi=80)


def _mmse(config, centres):
    """The exact denoiser's x0 error at each bin centre (for the relative plot), by Monte Carlo."""
    import jax
    import jax.numpy as jnp

    from experiments.common import toy2d

    from . import noise as noise_lib

    mixture = tr.mixture_of(config)

    @jax.jit
    def mmse(log_snr):
        x0 = toy2d.sample(mixture, jax.random.key(7), 4096)
        eps = jax.random.normal(jax.random.key(8), x0.shape)

        def one(lam):
            alpha, sigma = noise_lib.alpha_sigma(lam)
            exact = toy2d.denoiser(mixture, alpha * x0 + sigma * eps, alpha, sigma)
            return jnp.mean(jnp.sum((exact - x0) ** 2, axis=-1))

        return jax.lax.map(one, log_snr)

    return np.asarray(mmse(jnp.asarray(centres, jnp.float32)), np.float64)


def samples(config, context, runner, results, exact_samples, sets) -> None:
    plt = plotting.pyplot()
    q1 = results["question1"]["ema"]
    panels = [("data", np.asarray(sets.reference)[: config.plot_points]), ("exact denoiser", exact_samples)]
    for name in config.noise_schedules:
        family = q1["best_family_by_validation"][name]
        multiplier = q1["cells"][name][family]["multiplier"]
        rows = [
            i
            for i in runner.find(part="grid", noise=name, family=family, multiplier=multiplier)
            if "_samples" in runner.records[i]
        ]
        if rows:
            record = runner.records[rows[0]]
            panels.append(
                (
                    (
                        f"{_label(name)}, {_label(family)} (EMA)\nSW2 {record.get('sliced_w2_ema', np.nan):.3f}, "
                        f"KL {record['kl_test_ema']:.3f}"
                    ),
                    record["_samples"]["ema"],
                )
            )
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.2), squeeze=False)
    means = np.asarray(tr.mixture_of(config).means)
    for ax, (title, points) in zip(axes[0], panels):
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4)
        ax.scatter(means[:, 0], means[:, 1], s=12, c="red", marker="x")
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    plotting.save(fig, context.path("samples.png"), dpi=80)


def alignment(config, context, results) -> None:
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=False)
    for ax, which in zip(axes, ("ema", "raw")):
        by_noise = results["question2"][which]["by_noise"]
        x = 0
        ticks, names = [], []
        for name, arms in by_noise.items():
            for arm in config.curriculum_arms:
                if arm not in arms:
                    continue
                d = arms[arm]
                low, high = d["low"], d["high"]
                err = (
                    None
                    if not (np.isfinite(low) and np.isfinite(high))
                    else [[d["mean"] - low], [high - d["mean"]]]
                )
                ax.errorbar(
                    x,
                    d["mean"],
                    yerr=err,
                    fmt="o",
                    color="C0" if "aligned" in arm else "C1",
                    mfc="white" if arm.endswith("_ic") else None,
                    capsize=3,
                )
                ticks.append(x)
                names.append(f"{_label(name)}\n{arm}")
                x += 1
            x += 0.5
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(ticks, names, rotation=90, fontsize=6)
        ax.set_ylabel("test KL minus uniform (nats)")
        ax.set_title(f"curriculum arms, {which.upper()} weights (95% CI over seeds)", fontsize=9)
    plotting.save(fig, context.path("alignment.png"), dpi=80)


def schedules(config, context, noises, base_lr) -> None:
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    t = np.arange(1, config.diffusion_steps + 1)
    for name, noise in noises.items():
        style = "--" if name == "min_snr5" else "-"  # the cosine schedule with another weighting
        axes[0].plot(t / config.diffusion_steps, np.asarray(noise["log_snr"](t)), style, label=_label(name))
    axes[0].axhline(-10, color="k", lw=0.6, ls=":")
    axes[0].set_xlabel("diffusion time t / T")
    axes[0].set_ylabel("log-SNR")
    axes[0].legend(fontsize=7)
    axes[0].set_title("noise schedules (terminal log-SNR line at -10)", fontsize=9)
    steps = np.arange(config.steps)
    for family in config.lr_families:
        schedule = tr.lr_schedule(
            family,
            1.0,
            config.steps,
            warmup_fraction=config.warmup_fraction,
            wsd_decay_fraction=config.wsd_decay_fraction,
            inverse_sqrt_ref_fraction=config.inverse_sqrt_ref_fraction,
        )
        axes[1].plot(steps, np.asarray(schedule(steps)), label=_label(family))
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel("LR / peak")
    axes[1].legend(fontsize=7)
    axes[1].set_title("LR schedules", fontsize=9)
    lr = tr.lr_schedule("cosine", 1.0, config.steps, warmup_fraction=config.warmup_fraction)
    u = np.linspace(0, 1, 101)
    for direction, style in ((1.0, "-"), (-1.0, "--")):
        tilt = tr.curriculum_tilt(lr, 1.0, config.curriculum_strength, direction)
        for k, colour in zip(
            (
                config.steps // 10,
                config.steps // 4,
                config.steps // 2,
                3 * config.steps // 4,
                config.steps - 1,
            ),
            plt.cm.viridis(np.linspace(0, 1, 5)),
        ):
            c = float(tilt(k))
            axes[2].plot(
                u, 1 + c * (2 * u - 1), style, color=colour, label=f"step {k}" if direction > 0 else None
            )
    axes[2].set_xlabel("diffusion time u (1 = pure noise)")
    axes[2].set_ylabel("timestep density")
    axes[2].set_title("aligned (solid) / reversed (dashed) curriculum", fontsize=9)
    axes[2].legend(fontsize=6)
    plotting.save(fig, context.path("schedules.png"), dpi=80)


def convergence(config, context, results) -> None:
    conv = results["question3"]["convergence"]
    if not conv:
        return
    plt = plotting.pyplot()
    edges = np.asarray(results["question3"]["bin_edges"])
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, axes = plt.subplots(1, len(conv), figsize=(3.2 * len(conv), 3.0), squeeze=False, sharey=True)
    colours = plt.cm.coolwarm(np.linspace(0, 1, len(centres)))
    for ax, (name, data) in zip(axes[0], conv.items()):
        curves = np.asarray(data["ema_eps_by_checkpoint"])
        x = np.arange(1, curves.shape[0] + 1) * config.steps / curves.shape[0]
        for b, colour in enumerate(colours):
            ax.plot(
                x,
                np.maximum(curves[:, b] / max(curves[-1, b], 1e-12), 1e-3),
                color=colour,
                label=f"log-SNR {centres[b]:.0f}" if b in (0, len(centres) - 1) else None,
            )
        ax.set_yscale("log")
        ax.set_title(f"{_label(name)}, constant LR (EMA)", fontsize=9)
        ax.set_xlabel("training step")
    axes[0, 0].set_ylabel("excess eps error / final")
    axes[0, 0].legend(fontsize=7)
    plotting.save(fig, context.path("convergence.png"), dpi=80)


def all_figures(config, context, runner, results, noises, base_lr, exact_samples, sets) -> None:
    kl_table(config, context, results)
    per_level(config, context, results)
    samples(config, context, runner, results, exact_samples, sets)
    alignment(config, context, results)
    schedules(config, context, noises, base_lr)
    convergence(config, context, results)
