"""The fourth lecture's 2-2-2 network, derived and checked against every printed number."""

import symgrad

LECTURE = {
    "out_h1": "0.593269992",
    "out_o1": "0.75136507",
    "E_total": "0.298371109",
    "dE_total/dw5": "0.082167041",
    "w5+": "0.35891648",
    "w1+": "0.149780716",
}

derivation = symgrad.derive(symgrad.load("mazur"))
grads = symgrad.evaluate_gradients(derivation, digits=20)
update = symgrad.step(derivation, digits=20)
ours = {
    "out_h1": grads.values["out_h1"],
    "out_o1": grads.values["out_o1"],
    "E_total": grads.values["E_total"],
    "dE_total/dw5": grads.gradients["w5"],
    "w5+": update.after["w5"],
    "w1+": update.after["w1"],
}
for name, printed in LECTURE.items():
    decimals = len(printed.split(".")[1])
    value = f"{float(ours[name]):.{decimals}f}"
    status = "ok" if value == printed else "MISMATCH"
    print(f"{name:>14} lecture {printed:<12} symgrad {symgrad.to_decimal(ours[name], 15):<20} {status}")
    assert value == printed, name
