"""symgrad.tolerance: the one pass/fail rule, with hand-chosen numbers on each side of each boundary.

Powers of two keep every product exact, so "on the boundary" means exactly on it.
"""

import math

import numpy as np
import pytest

from symgrad.tolerance import F_ULPS, TAU_ULPS, gradient_tolerance, gradient_verdict, loss_error, relative_error

EPS = 2.0 ** -52


def test_the_tolerance_is_ulps_epsilons_of_the_magnitude_plus_the_largest():
    assert gradient_tolerance(EPS, 1.0, 3.0, ulps=64) == 2.0 ** -44  # 64·2⁻⁵²·4
    assert gradient_tolerance(EPS, 0.5, 0.5) == TAU_ULPS * 2.0 ** -52  # the default is TAU_ULPS = 64
    assert TAU_ULPS == 64
    assert gradient_tolerance(2.0 ** -23, 2.0, 2.0, ulps=1) == 2.0 ** -21  # float32's ε
    assert gradient_tolerance(EPS, 1.0, 3.0, ulps=0) == 0.0


@pytest.mark.parametrize("error, verdict", [
    (0.0, "ok"),
    (2.0 ** -44, "ok"),  # exactly the tolerance: still ok
    (math.nextafter(2.0 ** -44, 1.0), "precision"),  # the next float beyond it
    (1e-10, "precision"),  # exactly the bound: still precision
    (math.nextafter(1e-10, 1.0), "mismatch"),
    (math.inf, "mismatch"),
])
def test_ok_within_the_tolerance_precision_within_the_bound_mismatch_beyond(error, verdict):
    assert gradient_verdict(error, 2.0 ** -44, 1e-10) == verdict


def test_a_bound_below_the_tolerance_leaves_no_precision_band():
    assert gradient_verdict(3.0, 4.0, 2.0) == "ok"
    assert gradient_verdict(5.0, 4.0, 2.0) == "mismatch"


def test_one_evaluation_of_the_loss_errs_by_f_ulps_epsilons_of_its_scale():
    assert F_ULPS == 8
    assert loss_error(4.0) == 8 * 2.0 ** -52 * 4  # = 2⁻⁴⁷
    assert loss_error(4.0) == 2.0 ** -47


def test_relative_error_by_hand():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, 0.0) == 1.0
    assert relative_error(3.0, 4.0) == 0.25 == relative_error(4.0, 3.0)
    assert relative_error(-1.0, 1.0) == 2.0  # a flipped sign: the largest possible


def test_truncation_bound_past_float64_range_of_h_to_the_n():
    """C·hⁿ·|f⁽ⁿ⁺¹⁾| where hⁿ alone overflows: the exact product (Fraction), or inf where it is beyond float64."""
    from fractions import Fraction

    from symgrad.finite_differences import SCHEMES, truncation_bound

    for name in ("central", "richardson", "forward"):
        scheme = SCHEMES[name]
        exact = Fraction(scheme.truncation) * Fraction(1e200) ** scheme.order * Fraction(1e-300)
        expected = float(exact) if exact < Fraction(np.finfo(np.float64).max) else math.inf
        assert truncation_bound(scheme, 1e200, 1e-300) == pytest.approx(expected, rel=1e-12)
        assert truncation_bound(scheme, 1e200, 0.0) == 0.0
    assert truncation_bound(SCHEMES["central"], 1e200, 1.0) == math.inf
