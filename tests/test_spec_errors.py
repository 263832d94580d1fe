"""Bad specs: one clear line naming the file, the key and the problem; exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from symgrad.cli import main

GOOD_HEAD = """
output = "f"
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 2
w = 3
"""

CASES = {
    "unknown_name": (GOOD_HEAD + '[nodes]\nf = "w*y"\n', "nodes.f", "unknown name 'y'"),
    "used_before_defined": (GOOD_HEAD + '[nodes]\nf = "g*w"\ng = "x + 1"\n', "nodes.f", "used before it is defined"),
    "cycle": (GOOD_HEAD + '[nodes]\nf = "g*w"\ng = "f + x"\n', "nodes.f", "cycle f -> g -> f"),
    "self_cycle": (GOOD_HEAD + '[nodes]\nf = "f*w"\n', "nodes.f", "cycle f -> f"),
    "duplicate_name": (GOOD_HEAD + '[nodes]\nw = "x + 1"\nf = "w*x"\n', "nodes.w", "duplicate name 'w'"),
    "duplicate_symbol": ('[symbols]\ninputs = ["x"]\nparams = ["x"]\n[values]\nx = 1\n[nodes]\nf = "x"\n',
                         "symbols.params", "duplicate name 'x'"),
    "missing_value": ('output = "f"\n[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 2\n[nodes]\nf = "w*x"\n',
                      "values", "missing value for 'w'"),
    "non_numeric_value": (GOOD_HEAD.replace("w = 3", 'w = "three"') + '[nodes]\nf = "w*x"\n',
                          "values.w", "the value of 'w' is 'three', which is not a number"),
    "boolean_value": (GOOD_HEAD.replace("w = 3", "w = true") + '[nodes]\nf = "w*x"\n', "values.w", "not a number"),
    "bad_identifier": ('[symbols]\ninputs = ["1x"]\n[nodes]\nf = "2"\n', "symbols.inputs", "'1x' is not a valid name"),
    "bad_node_identifier": (GOOD_HEAD + '[nodes]\n"my node" = "w*x"\n', "nodes.my node", "is not a valid name"),
    "invalid_toml": ("[symbols\ninputs = [\n", "", "invalid TOML"),
    "zero_one_gradient": ('[mlp]\nwidths = [2, 1]\nloss = "zero_one"\n', "", "zero_one"),
    "injection": (GOOD_HEAD + '[nodes]\nf = "__import__(\'os\').system(\'echo pwned\')"\n', "nodes.f", "not allowed"),
    "attribute": (GOOD_HEAD + '[nodes]\nf = "x.__class__"\n', "nodes.f", "attribute access"),
    "huge_power": (GOOD_HEAD + '[nodes]\nf = "x**(10**10**10)"\n', "nodes.f", "exponents are limited"),
    "unknown_top_key": ('colour = "red"\n' + GOOD_HEAD + '[nodes]\nf = "w*x"\n', "colour", "unknown key"),
    "unknown_output": (GOOD_HEAD.replace('output = "f"', 'output = "g"') + '[nodes]\nf = "w*x"\n', "output", "'g' is not a node"),
    "bad_learning_rate": (GOOD_HEAD + '[nodes]\nf = "w*x"\n[train]\nlearning_rate = -1\n', "train.learning_rate", "positive"),
    "bad_mlp_activation": ('[mlp]\nwidths = [2, 1]\nactivation = "swish"\n', "mlp", "unknown activation 'swish'"),
    "value_for_node": (GOOD_HEAD + 'f = 2\n[nodes]\nf = "w*x"\n', "values.f", "is a node"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_exits_2_with_one_clear_line(case, tmp_path, capsys):
    text, key, fragment = CASES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(textwrap.dedent(text))
    status = main(["report", str(path)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    message = captured.err.strip()
    assert "\n" not in message and "Traceback" not in message
    assert str(path) in message
    assert f"{path}: {key}" in message if key else True
    assert fragment in message


def test_injection_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.toml"
    path.write_text(GOOD_HEAD + f'[nodes]\nf = "__import__(\'os\').system(\'touch {marker}\')"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "symgrad", "report", str(path)], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 2
    assert not marker.exists()
    assert "Traceback" not in proc.stderr


def test_missing_file_names_the_builtin_examples(capsys):
    assert main(["report", "no_such_example"]) == 2
    err = capsys.readouterr().err
    assert "no_such_example" in err and "mazur" in err


def test_zero_one_can_be_evaluated_but_not_differentiated():
    import symgrad

    net = symgrad.mlp([2, 1], loss="zero_one")
    values = symgrad.evaluate(net, digits=5)
    assert values.values["E_total"] in (0, 1)
    with pytest.raises(symgrad.NotDifferentiable, match="node 'E_o1'"):
        symgrad.derive(net)


def test_bad_digits_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "mazur", "--digits", "zero"])
    assert exc.value.code == 2
