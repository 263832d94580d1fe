"""The second lecture's circuits: every path of the multi-path circuit, and df/dx3 = 1 - sigma'*w3."""

import symgrad

derivation = symgrad.derive(symgrad.load("circuit_multipath"))
for path in derivation.paths("x3"):
    print(" * ".join(f"{f.leibniz} [{f.expr}]" for f in path.factors))
print("df/dx3 =", derivation.expression("x3"))
grads = symgrad.evaluate_gradients(derivation, digits=15)
print("df/dx3 at the spec's point =", symgrad.to_decimal(grads.adjoints["x3"], 15))
