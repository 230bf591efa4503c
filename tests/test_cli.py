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


# -- bad specs and closed pipes (issue 17) -----------------------------------------------------------


@pytest.mark.parametrize(
    "spec,message",
    [
        ('{"family": ["cosine"]}', "'family' must be a family name (a string), got ['cosine']"),
        ('{"family": {"a": 1}}', "'family' must be a family name"),
        ('{"name": "no_such_name"}', "no_such_name"),
        ('{"init_value": 0.1}', "needs a 'family' key"),
        ("[1, 2]", "expected a dict with a 'family' key"),
        ('{"family": "cosine", "init_value": [1, "a"], "decay_steps": 9}', "init_value"),
        ('{"family": "cosine", "init_value": 0.1, "decay_steps": 9', "neither"),
    ],
)
def test_any_bad_spec_gives_one_line_and_a_non_zero_status(spec, message, capsys, tmp_path):
    assert main(["plot", spec, "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("optasched plot: error: ") and "Traceback" not in err


def test_a_bad_yaml_spec_gives_one_line(tmp_path, capsys):
    pytest.importorskip("yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text("family: [cosine\n")
    assert main(["plot", str(spec), "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "is not valid YAML" in err and err.count("\n") == 1


def test_plot_a_name_get_schedule_knows(tmp_path, capsys):
    import optasched as osd

    spec = {"name": "cosine", "peak_value": 0.1, "num_warmup_steps": 10, "num_training_steps": 100}
    assert main(["plot", json.dumps(spec), "--steps", "100", "--out", str(tmp_path / "s.png")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("step       50:"))
    printed = float(line.split("[")[1].rstrip("]"))
    assert printed == pytest.approx(float(osd.get_schedule(**spec)(50)), abs=1e-6)  # printed to 6 digits


def test_a_closed_pipe_ends_quietly():
    """``optasched list | head -1``: the reader goes away; no BrokenPipeError traceback."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "optasched.cli", "list"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.close()  # before the command writes anything: every write meets a closed pipe
        err = process.stderr.read().decode()
        status = process.wait()
    assert status == 141, err  # 128 + SIGPIPE, as for a tool the shell saw stopped by the pipe
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""
