"""The fourth lecture's 2-2-2 network, derived and checked against every printed number."""

import symgrad

LECTURE = {  # every number the lecture prints for this network, as printed
    "net_h1": "0.3775",
    "out_h1": "0.593269992",
    "out_h2": "0.596884378",
    "net_o1": "1.105905967",
    "out_o1": "0.75136507",
    "out_o2": "0.772928465",
    "E_o1": "0.274811083",
    "E_o2": "0.023560026",
    "E_total": "0.298371109",
    "dE_total/dout_o1": "0.74136507",
    "dout_o1/dnet_o1": "0.186815602",
    "dnet_o1/dw5": "0.593269992",
    "dE_total/dw5": "0.082167041",
    "w5+": "0.35891648",
    "w6+": "0.408666186",
    "w7+": "0.511301270",
    "w8+": "0.561370121",
    "w1+": "0.149780716",  # hidden updates, every gradient taken at the old weights
    "w2+": "0.19956143",
    "w3+": "0.24975114",
    "w4+": "0.29950229",
}

derivation = symgrad.derive(symgrad.load("mazur"))
grads = symgrad.evaluate_gradients(derivation, digits=20)
update = symgrad.step(derivation, digits=20)
ours = {
    **{name: grads.values[name] for name in LECTURE if name in grads.values},
    "dE_total/dout_o1": grads.adjoints["out_o1"],
    "dout_o1/dnet_o1": grads.factors["out_o1", "net_o1"],
    "dnet_o1/dw5": grads.factors["net_o1", "w5"],
    "dE_total/dw5": grads.gradients["w5"],
    **{f"{p}+": update.after[p] for p in ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")},
}
assert set(ours) == set(LECTURE)
mismatches = []
for name, printed in LECTURE.items():
    decimals = len(printed.split(".")[1])
    value = f"{float(ours[name]):.{decimals}f}"  # rounded by Python, not by symgrad
    status = "ok" if value == printed else "MISMATCH"
    print(f"{name:>16} lecture {printed:<12} symgrad {symgrad.to_decimal(ours[name], 15):<20} {status}")
    if value != printed:
        mismatches.append(name)
assert not mismatches, mismatches
