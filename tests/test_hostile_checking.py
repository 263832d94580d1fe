"""Hostile input to gradcheck and the property helpers (issue 21): one line and exit 2, or InvalidArgument.

The references are independent: the exact values (1/w at w = 1e-200 has dL/dw = −1e400) are
written out by hand, and "a wrong gradient never passes" is checked with a gradient that is
0 everywhere, against the exact gradient the hand calculation of mazur gives.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import symgrad
from symgrad.cli import main
from symgrad.testing import GradientMismatch, assert_gradients_match

HOSTILE_FUNCTIONS = '''
class Boom(BaseException):
    pass


def base(values):
    raise Boom("from the user's code")


def generator_exit(values):
    raise GeneratorExit()


def system_exit(values):
    raise SystemExit(0)


class Hostile(dict):
    def __getitem__(self, key):
        raise SystemExit(0)

    def __contains__(self, key):
        return True

    def __iter__(self):
        return iter(["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2"])


def hostile_mapping(values):
    return Hostile()


def zeros(values):
    return dict.fromkeys(["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2"], 0.0)
'''

INVERSE = """
[symbols]
params = ["w"]
[values]
w = 1e-200
[nodes]
L = "1/w"
"""

CUBE = """
[symbols]
params = ["w"]
[values]
w = 1e200
[nodes]
L = "w**3"
"""


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "hostile_grad.py"
    path.write_text(HOSTILE_FUNCTIONS)
    return path


@pytest.mark.parametrize("function, raised", [("base", "Boom: from the user's code"),
                                              ("generator_exit", "GeneratorExit"),
                                              ("system_exit", "SystemExit: 0"),
                                              ("hostile_mapping", "SystemExit")])
def test_a_user_function_raising_anything_is_the_users_error(user_file, function, raised, capsys):
    status, out, err = _run(["gradcheck", "mazur", "--against", f"{user_file}:{function}"], capsys)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and raised in err and function in err and "Traceback" not in err


@pytest.mark.parametrize("body, raised", [("class Boom(BaseException):\n    pass\n\nraise Boom('at import')\n",
                                           "Boom: at import"),
                                          ("raise GeneratorExit()\n", "GeneratorExit"),
                                          ("raise SystemExit(3)\n", "SystemExit: 3")])
def test_a_user_file_raising_anything_at_import_is_the_users_error(tmp_path, body, raised, capsys):
    path = tmp_path / "bad_import.py"
    path.write_text(body)
    status, out, err = _run(["gradcheck", "mazur", "--against", f"{path}:grad"], capsys)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and raised in err and "importing" in err and str(path) in err


@pytest.mark.parametrize("scheme, step", [("complex", "100"), ("complex", "1e10"), ("central", "100"),
                                          ("richardson", "1000"), ("forward", "1e10")])
def test_no_step_lets_an_all_zero_gradient_pass(user_file, scheme, step, capsys):
    status, out, _ = _run(["gradcheck", "mazur", "--against", f"{user_file}:zeros", "--scheme", scheme,
                           "--step", step], capsys)
    # every exact gradient of mazur is nonzero (the lecture's hand calculation), so every row is wrong
    assert status == 1 and "MISMATCH: 10 checked (10 mismatch)" in out


def test_a_value_beyond_float64_is_printed_as_the_exact_value_it_is(tmp_path, capsys):
    spec = tmp_path / "inverse.toml"
    spec.write_text(INVERSE)
    status, out, _ = _run(["gradcheck", str(spec)], capsys)
    # dL/dw = −1/w² = −1e400 exactly, beyond float64 (max 1.8e308): the compiled code overflows to −inf
    assert status == 1
    row = next(line for line in out.splitlines() if line.startswith("w "))
    assert row.split()[1] == "-1.0000000000000000e+400" and "nan" not in out
    assert "beyond float64's range" in out
    status, out, _ = _run(["gradcheck", str(spec), "--format", "json"], capsys)

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    data = json.loads(out, parse_constant=refuse)
    assert data["rows"][0]["exact"] == "-1.0000000000000000e+400" and data["ok"] is False
    assert data["rows"][0]["compiled"] is None


def test_overflow_is_not_blamed_on_the_domain_and_names_the_spec(tmp_path, capsys):
    spec = tmp_path / "cube.toml"
    spec.write_text(CUBE)
    status, out, err = _run(["gradcheck", str(spec)], capsys)
    # L = w³ = 1e600 at w = 1e200
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert str(spec) in err and "1.00000e+600" in err and "float64" in err and "domain" not in err


def test_directions_are_bounded(capsys):
    status, out, err = _run(["gradcheck", "mazur", "--directions", "1000000000"], capsys)
    assert status == 2 and out == "" and "at most 1,000" in err


@pytest.mark.parametrize("kwargs, words", [(dict(sample="3"), "sample must be"),
                                           (dict(directions=3.5), "directions must be"),
                                           (dict(directions=10**5), "at most 1,000"),
                                           (dict(at=[1]), r"at=\[1\]: give a dict")])
def test_gradcheck_options_are_checked(kwargs, words):
    with pytest.raises(symgrad.InvalidArgument, match=words):
        symgrad.gradcheck(symgrad.load("mazur"), **kwargs)


def test_gradcheck_of_a_name_says_to_load_it():
    with pytest.raises(symgrad.InvalidArgument, match=r"symgrad.load\('mazur'\)"):
        symgrad.gradcheck("mazur")


NET = symgrad.mlp([2, 2, 1], activation="tanh")


def _unused(Ws, bs, X, T):
    raise AssertionError("never called")


@pytest.mark.parametrize("batch, words", [
    (symgrad.Batch(np.array([["a", "b"]]), np.array([["c"]])), "string values"),
    (symgrad.Batch(np.array([[1j, 2.0]]), np.array([[1.0]])), "complex values"),
    (symgrad.Batch(np.array([[np.nan, 2.0]]), np.array([[1.0]])), "NaN"),
    (symgrad.Batch(np.zeros((1001, 2)), np.zeros((1001, 1))), "at most 1,000"),
])
def test_a_bad_batch_is_refused(batch, words):
    with pytest.raises(symgrad.InvalidArgument, match=words):
        assert_gradients_match(_unused, NET, batch=batch)


def test_point_as_a_list_is_refused():
    with pytest.raises(symgrad.InvalidArgument, match="point=.*give a dict"):
        assert_gradients_match(lambda values: {}, NET, point=[1.0, 2.0])


def test_a_ragged_gradient_is_named():
    def ragged(Ws, bs, X, T):
        return [[[1.0, 2.0], [3.0]], np.zeros((1, 2))], [np.zeros(2), np.zeros(1)]

    with pytest.raises(GradientMismatch, match=r"dWs\[0\] = .*not an array"):
        assert_gradients_match(ragged, NET)


def test_a_hostile_mapping_is_the_users_error():
    class Hostile(dict):
        def __getitem__(self, key):
            raise SystemExit(0)

        def __contains__(self, key):
            return True

        def __iter__(self):
            return iter(NET.params)

    with pytest.raises(GradientMismatch, match="cannot be read"):
        assert_gradients_match(lambda values: Hostile(), NET)


@pytest.mark.parametrize("make", [lambda st: st.points(NET, max_value=1e7),
                                  lambda st: st.points(NET, min_value=-2e6),
                                  lambda st: st.expressions(min_value=-1e9),
                                  lambda st: st.batches(NET, max_value=math.inf)])
def test_generated_bounds_beyond_the_magnitude_limit_are_refused(make):
    strategies = pytest.importorskip("symgrad.strategies", reason="strategies need the test extra (hypothesis)")
    with pytest.raises(symgrad.InvalidArgument):
        make(strategies)
