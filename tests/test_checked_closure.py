"""symgrad.arithmetic.checked_closure: the tree walk's exact values, bit for bit, and its refusals."""

from __future__ import annotations

import mpmath
import pytest
import sympy

from symgrad.arithmetic import CheckedArithmetic, Fallback, checked_closure

x, y, z = sympy.symbols("x y z")
EXPRESSIONS = [x * y + sympy.Rational(1, 3), sympy.exp(-x) / (1 + sympy.exp(-x)), (x - y) ** 2 * z / 7,
               sympy.sqrt(x * x + y * y), x ** sympy.Rational(3, 2) + sympy.pi * y, sympy.log(1 + sympy.exp(z)),
               sympy.tanh(x) * sympy.Max(y, 0) + x - x * (1 + y) + y * x]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
@pytest.mark.parametrize("dps", [15, 45, 90])
def test_same_bits_as_the_walk(expr, dps):
    env = {"x": mpmath.mpf("0.3125"), "y": mpmath.mpf("-1.75"), "z": mpmath.mpf(2) / 3}
    with mpmath.workdps(dps):
        walk = CheckedArithmetic(True, dps - 15)
        env = {k: +v for k, v in env.items()}
        assert checked_closure(expr)(env, walk.floor)._mpf_ == walk.value(expr, env)._mpf_


def test_hand_values():
    with mpmath.workdps(30):
        assert checked_closure(x * y + sympy.Rational(1, 2))({"x": mpmath.mpf(2), "y": mpmath.mpf(3)}, None) == 6.5
        # a sum that cancels below the floor is zero, as the walk makes it
        floor = mpmath.mpf(10) ** -20
        assert checked_closure(x + y)({"x": mpmath.mpf(1), "y": mpmath.mpf(-1) + mpmath.mpf(10) ** -25}, floor) == 0


@pytest.mark.parametrize("expr, env", [(1 / x, {"x": 0}), (sympy.sqrt(x), {"x": -4}), (sympy.exp(x), {"x": 10 ** 9}),
                                       (sympy.log(x), {"x": -1}), (x ** sympy.Rational(1, 3), {"x": -8}),
                                       (x * y, {"x": 1})])
def test_what_the_walk_refuses_falls_back(expr, env):
    with mpmath.workdps(30):
        with pytest.raises(Fallback):
            checked_closure(expr)({k: mpmath.mpf(v) for k, v in env.items()}, None)
