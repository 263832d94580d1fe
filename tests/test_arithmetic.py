"""symgrad.arithmetic, the one interpreter of expression trees, in every mode.

References are independent of the code under test: hand-computed values, exact Fractions
(at dyadic points, where mpmath's binary numbers are exact), and SymPy's own ``evalf`` at 60
digits of the expression with the point substituted.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import pytest
import sympy

from symgrad.arithmetic import CheckedArithmetic, Undefined, constant, mp_closure, mp_value
from symgrad.errors import GraphError
from symgrad.functions import logsumexp, max_share, relu, sigmoid, zero_one

x, y, z = sympy.symbols("x y z", real=True)
DPS = 40

# Expressions whose values SymPy's evalf gives independently, at points of every sign.
SMOOTH = [
    x + y, x + y + z, x * y, x * y * z, x ** 3, x ** -2, sympy.sqrt(y), y ** sympy.Rational(3, 2),
    y ** x, sympy.exp(x) * sympy.log(y), sympy.sin(x) + sympy.cos(z), sympy.tanh(x * z),
    sigmoid(x + z), logsumexp(x, y, z), sympy.pi * x + sympy.E, sympy.Rational(1, 3) * x - 7,
    sympy.Abs(x) + sympy.Max(x, z, y) - sympy.Min(x, y),
]
POINTS = [{"x": Fraction(-3, 4), "y": Fraction(5, 2), "z": Fraction(1, 8)},
          {"x": Fraction(7, 3), "y": Fraction(1, 10), "z": Fraction(-2)}]


def _reference(expr: sympy.Expr, point: dict) -> mpmath.mpf:
    """SymPy's evalf of ``expr`` at ``point`` (exact rationals substituted), to 60 digits."""
    at = {sympy.Symbol(k, real=True): sympy.Rational(v.numerator, v.denominator) for k, v in point.items()}
    return mpmath.mpmathify(str(sympy.N(expr.xreplace(at).rewrite(sympy.exp) if expr.has(sigmoid, logsumexp)
                                        else expr.xreplace(at), 60)))


def _mp_env(point: dict) -> dict:
    return {k: mpmath.mpf(v.numerator) / v.denominator for k, v in point.items()}


def _close(a, b, digits: int = DPS - 5) -> bool:
    return abs(a - b) <= mpmath.mpf(10) ** -digits * max(1, abs(b))


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("expr", SMOOTH, ids=sympy.sstr)
def test_every_mode_agrees_with_sympy_evalf(expr, point):
    with mpmath.workdps(60):
        ref = _reference(expr, point)
    with mpmath.workdps(DPS):
        env = _mp_env(point)
        checked = CheckedArithmetic(True, None).value(expr, env)
        plain = mp_value(expr, env)
        slot = {k: i for i, k in enumerate(sorted(point))}
        closed = mp_closure(expr, slot)([env[k] for k in sorted(point)])
        for got in (checked, plain, closed):
            assert _close(got, ref), (got, ref)
    floats = CheckedArithmetic(False, None).value(expr, {k: float(v) for k, v in point.items()})
    assert isinstance(floats, float)
    assert math.isclose(floats, float(ref), rel_tol=1e-13, abs_tol=1e-13)


def _fraction(value) -> Fraction:
    mantissa, exponent = mpmath.mpf(value).man_exp
    return Fraction(mantissa) * Fraction(2) ** exponent


def test_polynomials_at_dyadic_points_are_exact():
    # 3/8 and -5/4 are exact binary numbers: a polynomial in them is exact in mpmath too.
    expr = x ** 3 * y - 2 * x * y ** 2 + sympy.Rational(1, 4) * x + y ** 2
    fx, fy = Fraction(3, 8), Fraction(-5, 4)
    exact = fx ** 3 * fy - 2 * fx * fy ** 2 + Fraction(1, 4) * fx + fy ** 2
    assert exact == Fraction(857, 2048)  # -135/2048 - 75/64 + 3/32 + 25/16, by hand
    with mpmath.workdps(50):
        env = {"x": mpmath.mpf(3) / 8, "y": mpmath.mpf(-5) / 4}
        for got in (CheckedArithmetic(True, None).value(expr, env), mp_value(expr, env),
                    mp_closure(expr, {"x": 0, "y": 1})([env["x"], env["y"]])):
            assert _fraction(got) == exact


def test_hand_values_of_the_non_smooth_functions():
    cases = [
        (relu(x), {"x": -2}, 0), (relu(x), {"x": 3}, 3),
        (sympy.Heaviside(x, sympy.Rational(1, 2)), {"x": 0}, Fraction(1, 2)),
        (sympy.Heaviside(x, 0), {"x": 1}, 1), (sympy.sign(x), {"x": -5}, -1),
        (max_share(x, x, y), {"x": 2, "y": 2}, Fraction(1, 2)),  # a tie: half each
        (max_share(x, x, y), {"x": 1, "y": 2}, 0),
        (zero_one(x), {"x": 0}, 1), (zero_one(x), {"x": Fraction(1, 10)}, 0),
        (sympy.Abs(x), {"x": -7}, 7), (sympy.Max(x, y, 4), {"x": 1, "y": 9}, 9),
    ]
    for expr, point, expected in cases:
        env = {k: mpmath.mpf(Fraction(v).numerator) / Fraction(v).denominator for k, v in point.items()}
        slot = {k: i for i, k in enumerate(env)}
        assert CheckedArithmetic(True, None).value(expr, env) == expected, expr
        assert mp_value(expr, env) == expected, expr
        assert mp_closure(expr, slot)(list(env.values())) == expected, expr


def test_constants_are_exact_rationals_or_high_precision():
    with mpmath.workdps(30):
        assert constant(sympy.Rational(1, 20)) == mpmath.mpf(1) / 20
        assert constant(sympy.Integer(-3)) == -3
        pi = constant(sympy.pi)
    assert mpmath.nstr(pi, 30) == "3.14159265358979323846264338328"  # π to 30 digits, by hand


# -- the complex step --------------------------------------------------------------------
def test_complex_step_of_a_cubic_is_the_hand_derivative():
    # (2 + ih)^3 = 8 - 6h² + i(12h - h³): Im/h = 12 - h².
    h = mpmath.mpf(2) ** -20
    with mpmath.workprec(200):
        for value in (mp_value(x ** 3, {"x": mpmath.mpc(2, h)}), mp_closure(x ** 3, {"x": 0})([mpmath.mpc(2, h)])):
            assert mpmath.im(value) / h == 12 - h * h
            assert mpmath.re(value) == 8 - 6 * h * h


@pytest.mark.parametrize("expr", [logsumexp(x, y), sigmoid(x) * sympy.log(y), sympy.sqrt(x + y) ** 3,
                                  sympy.tanh(x) / y], ids=sympy.sstr)
def test_complex_arguments_agree_with_sympy(expr):
    a, b = sympy.Rational(1, 3) + sympy.I / 7, sympy.Rational(5, 2) - sympy.I / 5
    reference = sympy.N(expr.rewrite(sympy.exp).xreplace({x: a, y: b}), 60)
    with mpmath.workdps(60):
        ref = mpmath.mpc(str(sympy.re(reference)), str(sympy.im(reference)))
    with mpmath.workdps(DPS):
        env = {"x": mpmath.mpc(1, 0) / 3 + mpmath.mpc(0, 1) / 7, "y": mpmath.mpc(5, 0) / 2 - mpmath.mpc(0, 1) / 5}
        for got in (mp_value(expr, env), mp_closure(expr, {"x": 0, "y": 1})([env["x"], env["y"]])):
            assert abs(got - ref) <= mpmath.mpf(10) ** -(DPS - 5) * abs(ref), (got, ref)


def test_logsumexp_of_large_complex_arguments_does_not_overflow():
    with mpmath.workdps(30):
        value = mp_value(logsumexp(x, y), {"x": mpmath.mpc(10 ** 6, 1e-20), "y": mpmath.mpf(10 ** 6)})
        # log(e^(a+iε) + e^a) = a + log 2 + iε/2, to first order in ε
        assert abs(mpmath.re(value) - (10 ** 6 + mpmath.log(2))) < 1e-18
        assert abs(mpmath.im(value) - mpmath.mpf(1e-20) / 2) < 1e-35


def test_square_root_of_a_negative_is_complex_when_unchecked():
    assert mp_value(sympy.sqrt(x), {"x": mpmath.mpf(-9)}) == mpmath.mpc(0, 3)


# -- checked evaluation ---------------------------------------------------------------------
@pytest.mark.parametrize("expr, point, reason", [
    (sympy.sqrt(x), {"x": -1}, "sqrt(x) is not a real number there (a negative number to the power 1/2)"),
    (sympy.log(x), {"x": 0}, "log(x) is infinite there"),
    (1 / x, {"x": 0}, "1/x divides by zero there"),
    (sympy.exp(x), {"x": 10 ** 6}, "exp(x) exceeds 10^"),
    (x ** 100000, {"x": 10 ** 20}, "x**100000 exceeds 10^"),
    (sympy.log(x), {"x": -1}, "log(x) is not a real number there (0 + 3.14159i)"),
])
def test_checked_evaluation_names_what_has_no_real_value(expr, point, reason):
    env = {k: mpmath.mpf(v) for k, v in point.items()}
    with pytest.raises(Undefined) as info:
        CheckedArithmetic(True, None).value(expr, env)
    assert str(info.value).startswith(reason), str(info.value)


def test_long_expressions_are_shortened_in_messages():
    long = sympy.sqrt(sum(sympy.Symbol(f"a{k}", real=True) for k in range(30)))
    env = {f"a{k}": mpmath.mpf(-1) for k in range(30)}
    with pytest.raises(Undefined) as info:
        CheckedArithmetic(True, None).value(long, env)
    quoted = str(info.value).split(" is not a real number")[0]
    assert len(quoted) == 60 and quoted.endswith("...")


def test_a_sum_that_cancels_to_round_off_is_zero_but_a_small_sum_is_a_value():
    with mpmath.workdps(50):
        tiny = mpmath.mpf(2) ** -100  # about 7.9e-31: far below 20 digits, far above 50 digits' round-off
        env = {"x": mpmath.mpf(1), "y": -(1 + tiny)}
        assert CheckedArithmetic(True, 20).value(x + y, env) == -tiny
        # sigmoid(z) + sigmoid(-z) - 1 is 0 exactly; at 50 digits it computes as round-off
        z = sympy.Rational(3, 10)
        noisy = mpmath.mpf(1) / (1 + mpmath.exp(-mpmath.mpf(z))) + mpmath.mpf(1) / (1 + mpmath.exp(mpmath.mpf(z)))
        env = {"x": noisy, "y": mpmath.mpf(-1)}
        assert CheckedArithmetic(True, 20).value(x + y, env) == 0


def test_a_saturated_sigmoid_s_gradient_is_not_cancelled_at_few_digits(tmp_path):
    # f = x·σ(w·x) at x = 20, w = 1: df/dw = x²·σ(20)·(1 − σ(20)) = 8.2446144557…e-7, by hand in mpmath
    import symgrad

    spec = tmp_path / "sat.toml"
    spec.write_text('[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 20\nw = 1\n'
                    '[nodes]\nout = "sigmoid(w*x)"\nf = "x*out"\n', encoding="utf-8")
    with mpmath.workdps(40):
        s = 1 / (1 + mpmath.exp(-20))
        expected = 400 * s * (1 - s)
    for digits in (3, 9, 30):
        got = symgrad.evaluate_gradients(symgrad.derive(symgrad.load(spec)), digits=digits).gradients["w"]
        assert abs(got - expected) <= abs(expected) * mpmath.mpf(10) ** (1 - digits)


def test_float64_mode_lets_inf_and_nan_through():
    arith = CheckedArithmetic(False, None)
    assert arith.value(sympy.exp(x), {"x": 1000.0}) == math.inf
    assert arith.value(1 / x, {"x": 0.0}) == math.inf
    assert math.isnan(arith.value(sympy.log(x), {"x": -1.0}))
    assert arith.value(sigmoid(x), {"x": -1000.0}) == 0.0


def test_a_missing_symbol_or_unknown_function_is_a_graph_error():
    f = sympy.Function("f")
    for evaluate in (lambda e, env: CheckedArithmetic(True, None).value(e, env), mp_value,
                     lambda e, env: mp_closure(e, {k: i for i, k in enumerate(env)})(list(env.values()))):
        with pytest.raises(GraphError, match="no value for 'y'"):
            evaluate(x + y, {"x": mpmath.mpf(1)})
        with pytest.raises(GraphError, match="cannot evaluate f"):
            evaluate(f(x), {"x": mpmath.mpf(1)})


def test_closure_constants_are_taken_at_the_precision_of_compilation():
    pi = "3.14159265358979323846264338327950288419716939937510"  # π to 50 decimals, by hand
    with mpmath.workdps(15):
        coarse = mp_closure(sympy.pi * x, {"x": 0})
    with mpmath.workdps(50):
        fine = mp_closure(sympy.pi * x, {"x": 0})
        one = [mpmath.mpf(1)]
        assert abs(fine(one) - mpmath.mpf(pi)) < mpmath.mpf(10) ** -48
        assert abs(coarse(one) - mpmath.mpf(pi)) > mpmath.mpf(10) ** -25
