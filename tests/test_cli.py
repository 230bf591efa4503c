"""The optasched command end to end: plotting a spec, clear errors."""

import json

import pytest

from optasched.cli import main

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
        (["plot", '{"family": "cosinus"}'], "unknown family 'cosinus'"),
        (["plot", "not json"], "neither"),
        (["plot", '{"family": "cosine", "init_value": 1, "decay_steps": -3, "end_value": 0, "exponent": 1}'],
         "decay_steps must be >= 0, got -3"),
    ],
)
def test_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
