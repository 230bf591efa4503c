"""The optasched command end to end: plotting a spec, clear errors."""

import json

import pytest

from optasched.cli import main


def test_plot_spec_file(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "family": "cyclic",
                "base_value": 0.1,
                "max_value": 1.0,
                "step_size_up": 10,
                "gamma": 1.0,
                "mode": "triangular",
            }
        )
    )
    out = tmp_path / "s.png"
    assert main(["plot", str(spec), "--steps", "40", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "step        0: [0.1]" in printed and "step       20: [0.1]" in printed
    assert out.stat().st_size > 2000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["plot", '{"family": "cosinus"}'], "unknown family 'cosinus'"),
        (["plot", "not json"], "neither"),
        (
            [
                "plot",
                '{"family": "cosine", "init_value": 1, "decay_steps": -3, "end_value": 0, "exponent": 1}',
            ],
            "decay_steps must be >= 0, got -3",
        ),
    ],
)
def test_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_version(capsys):
    import jax
    import optax

    import optasched

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .startswith(f"optasched {optasched.__version__} (jax {jax.__version__}, optax {optax.__version__}")
    )


def test_list_shows_every_family_with_the_arguments_of_its_constructor(capsys):
    import inspect

    import optasched as osd

    assert main(["list", "--brief"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split("(")[0]: line for line in lines}
    for name in ("cosine", "warmup", "wsd", "one_cycle", "plateau", "coupled_weight_decay", "join"):
        assert listed[name] == f"{name}{inspect.signature(getattr(osd, name))}"
    assert "Schedule" not in listed and "StatefulSchedule" not in listed
    assert main(["list"]) == 0
    assert "    Cosine decay" in capsys.readouterr().out  # with each family's one-line summary


def test_list_names_shows_the_names_get_schedule_knows(capsys):
    assert main(["list", "--names"]) == 0
    out = capsys.readouterr().out
    assert (
        "CosineAnnealingLR" in out
        and "torch.optim.lr_scheduler.CosineAnnealingLR(peak_value, T_max, eta_min)" in out
    )
    assert "warmup_stable_decay" in out and "CosineLRScheduler" in out


def test_the_installed_command_runs():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "optasched.cli", "list", "--brief"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "cosine(init_value, decay_steps" in out.stdout
