"""The fifth lecture's smallest perceptron y = w*x: per-sample updates, then full-batch descent to w*."""

from fractions import Fraction

import sympy

import symgrad

net = symgrad.load("perceptron")
derivation = symgrad.derive(net)
print("dL/dw =", derivation.expression("w"))          # the lecture's -(y - yhat)*x
y, yhat, x = sympy.symbols("y yhat x", real=True)
assert sympy.simplify(derivation.expression("w") - (-(y - yhat) * x)) == 0

# One pass of per-sample updates w <- w + eta*(y - yhat)*x, exactly.
run = symgrad.sgd(derivation, epochs=1, shuffle=False, digits=30)
print("after one SGD epoch: w =", symgrad.to_decimal(run.params["w"], 12))
w, eta = Fraction(1, 2), Fraction(1, 100)              # the spec's starting w and learning rate
for xi, yi in zip(["10", "2", "3.5", "1"], ["10.1", "1.9", "3.4", "1.1"]):
    w += eta * (Fraction(yi) - w * Fraction(xi)) * Fraction(xi)
assert abs(float(run.params["w"]) - float(w)) < 1e-15, (run.params["w"], w)

# Full-batch gradient descent (mean over the four samples) converges to the least-squares w*.
run = symgrad.sgd(derivation, batch_size=4, epochs=150, shuffle=False, digits=None)
w_star = Fraction(2356, 2345)
print(f"full batch, 150 steps: w = {run.params['w']:.12f}; w* = 2356/2345 = {float(w_star):.12f}")
assert abs(run.params["w"] - float(w_star)) < 1e-12
assert f"{run.params['w']:.8f}" == "1.00469083"        # the lecture's w* to its printed digits
