"""Issue 18, size and time: the shared slip search, the generated trajectory code, deep graphs.

References are independent: the 2-2-2 network's gradient descent written out by hand in
mpmath (Mazur's formulas, both biases trained), and the ½-dropped gradient as twice the
hand-computed one.
"""

from __future__ import annotations

import mpmath

import symgrad
from symgrad import claims, descent
from symgrad.slips import MAX_CANDIDATES


def _hand_descent(steps: int, *, layerwise: bool = False, eta: str = "0.5") -> dict:
    """Mazur's 2-2-2 network trained by hand: forward, δ of each layer, simultaneous update, η = 1/2
    (``layerwise``: the output layer first, the hidden δ then taken with its new weights)."""
    i1, i2, t1, t2 = map(mpmath.mpf, ("0.05", "0.1", "0.01", "0.99"))
    w = [mpmath.mpf(x) for x in ("0.15", "0.2", "0.25", "0.3", "0.4", "0.45", "0.5", "0.55")]
    b1, b2, eta = mpmath.mpf("0.35"), mpmath.mpf("0.6"), mpmath.mpf(eta)
    s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
    for _ in range(steps + 1):
        h1, h2 = s(w[0] * i1 + w[1] * i2 + b1), s(w[2] * i1 + w[3] * i2 + b1)
        o1, o2 = s(w[4] * h1 + w[5] * h2 + b2), s(w[6] * h1 + w[7] * h2 + b2)
        loss = (t1 - o1) ** 2 / 2 + (t2 - o2) ** 2 / 2
        if _ == steps:
            return {"w1": w[0], "w5": w[4], "b1": b1, "b2": b2, "E_total": loss}
        d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
        top = [w[4] - eta * d1 * h1, w[5] - eta * d1 * h2, w[6] - eta * d2 * h1, w[7] - eta * d2 * h2]
        w5, w6, w7, w8 = top if layerwise else w[4:]
        e1, e2 = (d1 * w5 + d2 * w7) * h1 * (1 - h1), (d1 * w6 + d2 * w8) * h2 * (1 - h2)
        w = [w[0] - eta * e1 * i1, w[1] - eta * e1 * i2, w[2] - eta * e2 * i1, w[3] - eta * e2 * i2] + top
        b1, b2 = b1 - eta * (e1 + e2), b2 - eta * (d1 + d2)


def test_generated_trajectory_matches_a_hand_written_descent():
    with mpmath.workdps(60):
        hand = _hand_descent(300)
    run = descent.certified_steps(symgrad.derive(symgrad.load("mazur")), 300, digits=30, record=(300,))[300]
    for name, value in hand.items():
        assert abs(run[name] - value) <= abs(value) * mpmath.mpf(10) ** -30, name


def test_generated_layerwise_trajectory_matches_a_hand_written_descent():
    """The layerwise loop reads the output layer's δ once and updates in place: still Mazur's numbers."""
    with mpmath.workdps(60):
        hand = _hand_descent(400, layerwise=True)
    run = descent.certified_steps(symgrad.derive(symgrad.load("mazur")), 400, digits=30, rule="layerwise",
                                  record=(400,))[400]
    for name, value in hand.items():
        assert abs(run[name] - value) <= abs(value) * mpmath.mpf(10) ** -30, name


def test_small_steps_through_the_pade_approximant_match_a_hand_written_descent(monkeypatch):
    """With η = 1/100000 every step's change of each net input is below 2**-21, so the loop takes each
    exp from the Padé approximant; 600 such steps give Mazur's numbers to 30 digits at the first
    precision tried (a retry at twice the precision would take every exp from exp itself)."""
    monkeypatch.setattr(descent, "TRAJECTORY_TRIES", 1)
    with mpmath.workdps(60):
        hand = _hand_descent(600, eta="0.00001")
    run = descent.certified_steps(symgrad.derive(symgrad.load("mazur")), 600, digits=30, learning_rate="1/100000",
                                  record=(600,))[600]
    for name, value in hand.items():
        assert abs(run[name] - value) <= abs(value) * mpmath.mpf(10) ** -30, name


def test_the_pade_step_is_exp_to_the_working_precision():
    """[4/4] Padé of exp at the largest step it is used for, against mpmath's exp at 200 digits."""
    with mpmath.workdps(200):
        for bits in (40, 103, 136, 300):
            for d in (descent.pade_limit(bits), -descent.pade_limit(bits)):
                x = mpmath.mpf(d.numerator) / d.denominator
                p = lambda t: 1 + t / 2 + 3 * t ** 2 / 28 + t ** 3 / 84 + t ** 4 / 1680  # noqa: E731
                error = abs(p(x) / p(-x) / mpmath.exp(x) - 1)
                assert error < mpmath.mpf(2) ** -(bits + 2), (bits, d)
                assert error > mpmath.mpf(2) ** -(bits + 60)  # the bound is not vacuous: d is as large as allowed


def test_a_long_claim_is_judged_against_the_hand_written_descent():
    with mpmath.workdps(40):
        exact = _hand_descent(3000)["E_total"]
    text = mpmath.nstr(exact, 8, min_fixed=-30, max_fixed=30)
    report = symgrad.check_claims(symgrad.load("mazur"), f"E_total@3000 = {text}\n")
    assert report.rows[0].verdict == "right", report.rows[0]


def test_wrong_claims_share_one_slip_search_and_are_each_diagnosed(monkeypatch):
    """A class of wrong claims of the same quantity costs one search: the evaluations do not grow with the claims."""
    net = symgrad.load("mazur")
    calls = []
    real = claims.evaluate_gradients
    monkeypatch.setattr(claims, "evaluate_gradients", lambda *a, **k: calls.append(1) or real(*a, **k))
    twice = mpmath.nstr(2 * _gradient_w5(), 6)  # ½ of the squared error dropped, by hand
    counts = []
    for n in (5, 50):
        calls.clear()
        report = symgrad.check_claims(net, f"dE_total/dw5 = {twice}\n" * n)
        counts.append(len(calls))
        assert all(r.verdict == "wrong" and "½" in r.explanation for r in report.rows)
    assert counts[0] == counts[1] and counts[0] > 0


def _gradient_w5():
    with mpmath.workdps(40):
        s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
        h1, h2 = s(mpmath.mpf("0.3775")), s(mpmath.mpf("0.3925"))
        o1 = s(mpmath.mpf("0.4") * h1 + mpmath.mpf("0.45") * h2 + mpmath.mpf("0.6"))
        return (o1 - mpmath.mpf("0.01")) * o1 * (1 - o1) * h1


def test_the_slip_search_is_bounded():
    assert MAX_CANDIDATES == 64
    net = symgrad.load("mazur")
    judge = claims._Judge(net, symgrad.parse_claims("dE_total/dw1 = 0.12\n", net))
    judge.judge()
    searched = [v for k, v in judge.memo.items() if k[0] == "slip"]
    assert searched and all(len(found) <= MAX_CANDIDATES for found in searched)


def _dag() -> symgrad.Network:
    lines = ['output = "n30"', "[symbols]", 'inputs = ["x"]', 'params = ["a"]', "[values]", "x = 0.5", "a = 0.9",
             "[nodes]", 'n1 = "a*x"', 'n2 = "n1*a + x"']
    lines += [f'n{k} = "n{k - 1}*n{k - 2} + a*n{k - 1}"' for k in range(3, 31)]
    return symgrad.loads("\n".join(lines) + "\n")


def test_a_deep_graph_is_judged_without_writing_out_its_closed_form():
    net = _dag()
    rows = symgrad.check_claims(net, "n30 = n30\nn30 = n29*n28 + a*n29\nn30 = n29*n28 + a*n28\n").rows
    assert [r.verdict for r in rows] == ["right", "right", "undecided"]
    assert "20,000" in rows[2].explanation


def _small_dag() -> symgrad.Network:
    """The 30-node DAG at values where it stays small: its derivative written out still grows exponentially."""
    lines = ['output = "n30"', "[symbols]", 'inputs = ["x"]', 'params = ["a"]', "[values]", "x = 0.5", "a = 0.25",
             "[nodes]", 'n1 = "a*x"', 'n2 = "n1*a + x"']
    lines += [f'n{k} = "n{k - 1}*n{k - 2} + a*n{k - 1}"' for k in range(3, 31)]
    return symgrad.loads("\n".join(lines) + "\n")


def _hand_forward_mode(x, a):
    """dn30/da by forward-mode differentiation written out by hand (value, derivative) in mpmath."""
    n = {1: (a * x, x)}
    n[2] = (n[1][0] * a + x, n[1][1] * a + n[1][0])
    for k in range(3, 31):
        (p, dp), (q, dq) = n[k - 1], n[k - 2]
        n[k] = (p * q + a * p, dp * q + p * dq + p + a * dp)
    return n[30][1]


def test_a_symbolic_gradient_on_a_deep_graph_is_decided_without_writing_it_out(monkeypatch):
    def never(*_a, **_k):
        raise AssertionError("the derivative was written out")
    monkeypatch.setattr(claims, "compare", never)
    with mpmath.workdps(50):
        truth = _hand_forward_mode(mpmath.mpf("0.5"), mpmath.mpf("0.25"))
    (row,) = symgrad.check_claims(_small_dag(), "dn30/da = a\n").rows
    assert row.verdict == "wrong"
    assert f"the derivative is {mpmath.nstr(truth, 12)}" in row.explanation
    assert "more than 20,000 terms" in row.explanation
    (row,) = symgrad.check_claims(_dag(), "dn30/da = a\n").rows  # the values overflow there: undecided, one line
    assert row.verdict == "undecided" and "cannot be evaluated" in row.explanation


def test_a_trajectory_is_certified_to_the_digits_its_claims_state(monkeypatch):
    from symgrad.precision import CLAIM_GUARD_DIGITS, CLAIM_STEPS_MIN_DIGITS
    asked = []
    real = claims.certified_steps
    monkeypatch.setattr(claims, "certified_steps", lambda *a, **k: asked.append(k["digits"]) or real(*a, **k))
    with mpmath.workdps(40):
        exact = _hand_descent(200)["E_total"]
    net = symgrad.load("mazur")
    for digits in (4, 16):
        asked.clear()
        (row,) = symgrad.check_claims(net, f"E_total@200 = {mpmath.nstr(exact, digits)}\n").rows
        assert row.verdict == "right"
        assert asked and set(asked) == {max(digits + CLAIM_GUARD_DIGITS, CLAIM_STEPS_MIN_DIGITS)}
