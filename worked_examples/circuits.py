"""The second lecture's circuits: every path of the multi-path circuit, and df/dx3 = 1 - sigma'*w3."""

import math

import sympy

import symgrad

derivation = symgrad.derive(symgrad.load("circuit_multipath"))
paths = derivation.paths("x3")
for path in paths:
    print(" * ".join(f"{f.leibniz} [{f.expr}]" for f in path.factors))
print("df/dx3 =", derivation.expression("x3"))
grads = symgrad.evaluate_gradients(derivation, digits=15)
print("df/dx3 at the spec's point =", symgrad.to_decimal(grads.adjoints["x3"], 15))

# x3 reaches f twice: directly through x1 = x3 + x5, and through sigmoid(w3*x3 + w4*x4).
assert len(paths) == 2
x2, w3 = sympy.symbols("x2 w3", real=True)
assert sympy.simplify(derivation.expression("x3") - (1 - x2 * (1 - x2) * w3)) == 0
# The lecture's formula by hand at x3 = 2, x4 = -1, w3 = 0.5, w4 = 0.25.
s = 1 / (1 + math.exp(-(0.5 * 2 + 0.25 * -1)))
assert abs(float(grads.adjoints["x3"]) - (1 - s * (1 - s) * 0.5)) < 1e-15
