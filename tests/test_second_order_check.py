"""gradcheck(order=2): exact vs compiled vs finite-difference H·v, and a second-order bug zoo.

The users' H·v below are hand-written NumPy backprop for the 2-2-2 (Mazur's) network,
written from the formulas, independent of symgrad: one correct, one missing the σ″ terms,
one with the sign flipped, and a Hessian function.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import InvalidArgument

PARAMS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2")


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _hand_hvp(values, v, *, curvature=True, sign=1.0):
    """Pearlmutter's R-operator by hand: forward R-pass, then the backward pass differentiated."""
    p = {k: values[k] for k in PARAMS}
    i = np.array([values["i1"], values["i2"]])
    t = np.array([values["t1"], values["t2"]])
    W1 = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
    W2 = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
    V1 = np.array([[v["w1"], v["w2"]], [v["w3"], v["w4"]]])
    V2 = np.array([[v["w5"], v["w6"]], [v["w7"], v["w8"]]])
    h = _sig(W1 @ i + p["b1"])
    o = _sig(W2 @ h + p["b2"])
    dh = h * (1 - h)
    do = o * (1 - o)
    # R-pass (tangents)
    Rnet1 = V1 @ i + v["b1"]
    Rh = dh * Rnet1
    Rnet2 = V2 @ h + W2 @ Rh + v["b2"]
    Ro = do * Rnet2
    # backward pass and its tangent
    g_o = o - t
    Rg_o = Ro
    d2 = g_o * do
    Rd2 = Rg_o * do + (g_o * (1 - 2 * o) * Ro if curvature else 0)
    g_h = W2.T @ d2
    Rg_h = V2.T @ d2 + W2.T @ Rd2
    d1 = g_h * dh
    Rd1 = Rg_h * dh + (g_h * (1 - 2 * h) * Rh if curvature else 0)
    RW2 = np.outer(Rd2, h) + np.outer(d2, Rh)
    RW1 = np.outer(Rd1, i)
    out = {"w1": RW1[0, 0], "w2": RW1[0, 1], "w3": RW1[1, 0], "w4": RW1[1, 1],
           "w5": RW2[0, 0], "w6": RW2[0, 1], "w7": RW2[1, 0], "w8": RW2[1, 1],
           "b1": Rd1.sum(), "b2": Rd2.sum()}
    return {k: sign * float(x) for k, x in out.items()}


def test_order_2_passes_on_the_lecture_network_and_a_correct_user_hvp():
    report = symgrad.gradcheck(symgrad.load("mazur"), order=2, against=_hand_hvp)
    assert report.ok and {r.verdict for r in report.rows} == {"ok"}
    assert len(report.rows) == 2 * len(PARAMS)


def test_a_user_hessian_function_is_multiplied_by_v():
    torch = pytest.importorskip("torch")
    net = symgrad.load("mazur")

    def hessian(values):
        def loss(theta):
            p = dict(zip(PARAMS, theta))
            h1 = torch.sigmoid(p["w1"] * values["i1"] + p["w2"] * values["i2"] + p["b1"])
            h2 = torch.sigmoid(p["w3"] * values["i1"] + p["w4"] * values["i2"] + p["b1"])
            o1 = torch.sigmoid(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
            o2 = torch.sigmoid(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
            return 0.5 * (values["t1"] - o1) ** 2 + 0.5 * (values["t2"] - o2) ** 2
        theta = torch.tensor([values[p] for p in PARAMS], dtype=torch.float64)
        return torch.func.hessian(loss)(theta).numpy()

    assert symgrad.gradcheck(net, order=2, against=hessian).ok


def test_bug_zoo_missing_sigma_second_derivative_is_caught_and_named():
    report = symgrad.gradcheck(symgrad.load("mazur"), order=2,
                               against=lambda values, v: _hand_hvp(values, v, curvature=False))
    assert not report.ok
    assert any(r.verdict == "mismatch" for r in report.rows)
    assert any(d.startswith("missing σ″") for d in report.diagnoses), report.diagnoses
    assert not any(d.startswith("wrong sign") for d in report.diagnoses)


def test_bug_zoo_wrong_sign_is_caught_and_named():
    report = symgrad.gradcheck(symgrad.load("mazur"), order=2,
                               against=lambda values, v: _hand_hvp(values, v, sign=-1.0))
    assert not report.ok
    assert any(d.startswith("wrong sign") for d in report.diagnoses), report.diagnoses


def test_compiled_and_numerical_columns_match_the_hand_hvp():
    net = symgrad.load("mazur")
    report = symgrad.gradcheck(net, order=2, seed=3)
    rng = np.random.default_rng(3)
    values = {k: float(x) for k, x in net.point().items()}
    for k in range(2):
        v = dict(zip(PARAMS, rng.standard_normal(len(PARAMS))))
        hand = _hand_hvp(values, v)
        for p in PARAMS:
            row = next(r for r in report.rows if r.param == f"(H·v{k + 1})[{p}]")
            assert row.compiled == pytest.approx(hand[p], rel=1e-12, abs=1e-16)
            assert row.numerical == pytest.approx(hand[p], rel=1e-7, abs=1e-12)
            assert float(row.exact) == pytest.approx(hand[p], rel=1e-12, abs=1e-16)


def test_relu_kink_at_the_point_gives_kink_rows():
    net = symgrad.Network()
    net.input("x", "0.5")
    net.param("w", 2)
    net.param("b", "-1")
    net.node("h", "relu(w*x + b)")
    net.node("E", "h*h*w")
    report = symgrad.gradcheck(net, order=2)
    assert {r.verdict for r in report.rows} == {"kink"}
    assert any("does not exist" in n for n in report.notes)


def test_bad_options_are_refused():
    net = symgrad.load("mazur")
    for kwargs, pattern in (({"order": 3}, "order=3"), ({"order": 2, "scheme": "forward"}, "first-order option"),
                            ({"order": 2, "step": 1e-3}, "first-order option"),
                            ({"order": 2, "directions": 0}, "directions=0"),
                            ({"order": 2, "against": 42}, "against must be")):
        with pytest.raises(InvalidArgument, match=pattern):
            symgrad.gradcheck(net, **kwargs)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_order_2_against_hostile_and_buggy_files(tmp_path: Path):
    (tmp_path / "hostile.py").write_text("class Bad(dict):\n    def __getitem__(self, k):\n        raise SystemExit(3)\n"
                                         "def hvp(values, v):\n    return Bad({k: 0.0 for k in v})\n")
    (tmp_path / "shape.py").write_text("def hessian(values):\n    return [[1.0, 2.0]]\n")
    (tmp_path / "sign.py").write_text("import symgrad\nd = symgrad.derive(symgrad.load('mazur'))\n"
                                      "def hvp(values, v):\n    p = symgrad.hvp(d, v, at=values, digits=20).product\n"
                                      "    return {k: -float(x) for k, x in p.items()}\n")
    for name, pattern in (("hostile.py:hvp", "cannot be read"), ("shape.py:hessian", "shape"),
                          ("missing.py:hvp", "does not exist"), ("sign.py:nope", "no function")):
        result = _cli("gradcheck", "mazur", "--order", "2", "--against", name, cwd=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert pattern in result.stderr and "Traceback" not in result.stderr, (name, result.stderr)
    result = _cli("gradcheck", "mazur", "--order", "2", "--against", "sign.py:hvp", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["ok"] is False
    text = _cli("gradcheck", "mazur", "--order", "2", "--against", "sign.py:hvp", cwd=tmp_path).stdout
    assert "diagnosis: wrong sign" in text


def test_a_float32_user_hvp_is_judged_by_float32_rounding():
    def hvp32(values, v):
        return {k: np.float32(x) for k, x in _hand_hvp(values, v).items()}

    report = symgrad.gradcheck(symgrad.load("mazur"), order=2, against=hvp32)
    assert report.ok and {r.verdict for r in report.rows} == {"ok"}
    assert max(r.rel_error for r in report.rows) > 1e-9  # float32 rounding is visible, and accepted
    assert any("coarser than float64" in n for n in report.notes)


def test_gradcheck_order_2_passes_on_random_correct_networks():
    from hypothesis import HealthCheck, given, settings

    from symgrad.strategies import networks

    @settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(networks(max_depth=2, max_width=2))
    def check(net):
        report = symgrad.gradcheck(net, order=2)
        assert report.ok, report.table()
        assert all(r.verdict == "ok" for r in report.rows), report.table()

    check()


def _hand_gradient(values):
    """The 2-2-2's gradient by hand in numpy float64 (the backward pass of ``_hand_hvp``)."""
    p = {k: values[k] for k in PARAMS}
    i = np.array([values["i1"], values["i2"]])
    t = np.array([values["t1"], values["t2"]])
    W1 = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
    W2 = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
    h = _sig(W1 @ i + p["b1"])
    o = _sig(W2 @ h + p["b2"])
    d2 = (o - t) * o * (1 - o)
    d1 = (W2.T @ d2) * h * (1 - h)
    g2, g1 = np.outer(d2, h), np.outer(d1, i)
    return np.array([g1[0, 0], g1[0, 1], g1[1, 0], g1[1, 1], g2[0, 0], g2[0, 1], g2[1, 0], g2[1, 1], d1.sum(), d2.sum()])


def test_the_second_order_sweep_is_the_finite_difference_hvps_error():
    """Against a hand-written gradient and R-operator: the measured error of (∇E(x + h·e) − ∇E(x − h·e)) / 2h
    against H·e, where truncation dominates, and its slope 2 (fitted here, independently)."""
    net = symgrad.load("mazur")
    sweep = symgrad.sweep_hvp_steps(net, param="w5")
    values = {k: float(v) for k, v in net.point().items()}
    column = np.array([_hand_hvp(values, {p: float(p == "w5") for p in PARAMS})[p] for p in PARAMS])
    k = PARAMS.index("w5")
    assert sweep.param == "H·v, v = e_w5" and sweep.expected == 2 and sweep.ok
    low, high = sweep.fit_range
    fitted_steps, hand_errors = [], []
    for h, error, truncation in zip(sweep.steps, sweep.errors, sweep.truncation):
        plus, minus = dict(values), dict(values)
        plus["w5"] += h
        minus["w5"] -= h
        hand = float(np.max(np.abs((_hand_gradient(plus) - _hand_gradient(minus)) / (2 * h) - column)))
        if low <= h <= high:
            assert abs(error - hand) <= 0.02 * hand, (h, error, hand)
            assert error <= 1.5 * truncation  # the bound's truncation term covers the measured error
            fitted_steps.append(h)
            hand_errors.append(hand)
    assert len(fitted_steps) >= 10
    slope = np.polyfit(np.log(fitted_steps), np.log(hand_errors), 1)[0]
    assert abs(slope - 2) < 0.05 and abs(sweep.slope - slope) < 0.05
    assert sweep.errors[-1] > 1e3 * min(sweep.errors)  # round-off takes over at the smallest steps


def test_cli_order_2_plot_draws_the_second_order_sweep(tmp_path: Path):
    result = _cli("gradcheck", "mazur", "--order", "2", "--plot", "hv.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "step sweep of H·v, v = e_" in result.stdout and "plot saved to hv.svg" in result.stdout
    svg = (tmp_path / "hv.svg").read_text()
    assert "step sweep of H·v" in svg and "<polyline" in svg
    first = _cli("gradcheck", "mazur", "--plot", "g.svg", cwd=tmp_path)
    assert first.returncode == 0 and "step sweep of b2:" in first.stdout and "H·v" not in first.stdout  # order 1: the gradient
    with pytest.raises(InvalidArgument, match="not a parameter"):
        symgrad.sweep_hvp_steps(symgrad.load("mazur"), param="i1")
