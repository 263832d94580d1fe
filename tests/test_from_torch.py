"""from_torch: symgrad's exact gradients of an imported model agree with torch autograd in float64.

The reference is torch itself (an independent implementation): its float64 autograd on the
same model, loss and batch. Hostile inputs end in one InvalidArgument naming the problem.
"""

from __future__ import annotations

import copy
import sys
from fractions import Fraction

import numpy as np
import pytest

import symgrad
from symgrad.errors import InvalidArgument, MissingDependency
from symgrad.solution import solve
from symgrad.torch_models import from_torch

torch = pytest.importorskip("torch", reason="from_torch needs the torch extra: pip install 'symgrad[torch]'")
nn = torch.nn

RNG = np.random.default_rng(21)
BATCH = RNG.normal(size=(4, 3))
REGRESSION = RNG.uniform(0.1, 0.9, size=(4, 2))
LABELS = np.array([0, 2, 1, 2])
BINARY = np.array([[1.0], [0.0], [0.0], [1.0]])


def _model(*layers) -> nn.Sequential:
    torch.manual_seed(len(layers))
    return nn.Sequential(*layers).double()


def _torch_gradients(model, loss, x, t):
    model.zero_grad()
    target = torch.as_tensor(t)
    target = target.double() if target.is_floating_point() else target
    value = loss(model(torch.as_tensor(x, dtype=torch.float64)), target)
    value.backward()
    return value.item(), {name: p.grad.numpy().copy() for name, p in model.named_parameters()}


CASES = {
    "sigmoid MLP, MSE (mean), batch": (
        lambda: _model(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2), nn.Sigmoid()), nn.MSELoss(), BATCH,
        REGRESSION),
    "tanh hidden, linear output, MSE (sum), one sample": (
        lambda: _model(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)), nn.MSELoss(reduction="sum"), BATCH[0],
        REGRESSION[0]),
    "ReLU and LeakyReLU(0.2), L1": (
        lambda: _model(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)),
        nn.L1Loss(), BATCH, REGRESSION),
    "softmax classifier, cross-entropy on class indices": (
        lambda: _model(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)), nn.CrossEntropyLoss(), BATCH,
        torch.tensor(LABELS)),
    "cross-entropy on one-hot rows, sum": (
        lambda: _model(nn.Linear(3, 3)), nn.CrossEntropyLoss(reduction="sum"), BATCH, np.eye(3)[LABELS]),
    "LogSoftmax and NLL": (
        lambda: _model(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.LogSoftmax(dim=-1)), nn.NLLLoss(), BATCH,
        torch.tensor(LABELS)),
    "Softmax output, MSE": (
        lambda: _model(nn.Linear(3, 3), nn.Softmax(dim=1)), nn.MSELoss(), BATCH, np.eye(3)[LABELS]),
    "sigmoid output, BCE": (
        lambda: _model(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()), nn.BCELoss(), BATCH, BINARY),
    "logits, BCEWithLogits": (
        lambda: _model(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), nn.BCEWithLogitsLoss(), BATCH, BINARY),
}


@pytest.mark.parametrize("case", CASES)
def test_exact_gradients_agree_with_torch_autograd(case):
    build, loss, x, t = CASES[case]
    model = build()
    imported = from_torch(model, loss=loss, example_input=x, example_target=t)
    gradients = symgrad.evaluate_gradients(symgrad.derive(imported.network)).gradients
    ours = imported.gradient_arrays(gradients)
    torch_loss, theirs = _torch_gradients(model, loss, x, t)
    assert set(ours) == set(theirs)
    scale = max(np.max(np.abs(g)) for g in theirs.values())
    for name, reference in theirs.items():
        np.testing.assert_allclose(ours[name], reference, rtol=1e-12, atol=1e-12 * scale, err_msg=name)
    value = float(symgrad.evaluate(imported.network).values["E_total"])
    assert value == pytest.approx(torch_loss, rel=1e-14)


def test_parameters_keep_their_exact_values_and_say_where_they_came_from():
    model = _model(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    imported = from_torch(model, loss="mse", example_input=BATCH[0], example_target=REGRESSION[0])
    net = imported.network
    assert net.params[:2] == ("layer0_weight_0_0", "layer0_weight_0_1")
    assert "layer2_bias_1" in net.params and len(net.params) == 3 * 4 + 4 + 4 * 2 + 2
    assert imported.sources["layer0_weight_1_2"] == symgrad.model_import.ParamSource("0.weight", (1, 2))
    weight = model[0].weight[1, 2].item()
    assert Fraction(int(net.values["layer0_weight_1_2"].p), int(net.values["layer0_weight_1_2"].q)) == Fraction(weight)
    assert net.inputs == ("x_0", "x_1", "x_2") and net.targets == ("t_0", "t_1")
    assert "z0_3" in net.nodes and "a1_3" in net.nodes and net.output == "E_total"


def test_a_loss_by_name_is_the_loss_module_with_reduction_mean():
    model = _model(nn.Linear(3, 3))
    by_name = from_torch(model, loss="cross_entropy", example_input=BATCH, example_target=LABELS)
    by_module = from_torch(model, loss=nn.CrossEntropyLoss(), example_input=BATCH, example_target=LABELS)
    assert by_name.network.expanded("E_total") == by_module.network.expanded("E_total")


def test_float32_models_are_taken_at_their_float32_values():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 1))  # float32
    imported = from_torch(model, loss="mse", example_input=[0.5, -1.0], example_target=[1.0])
    assert float(imported.network.values["layer0_weight_0_0"]) == model[0].weight[0, 0].item()


@pytest.fixture(scope="module")
def imported_classifier():
    model = _model(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2))
    imported = from_torch(model, loss=nn.CrossEntropyLoss(), example_input=BATCH[0, :2], example_target=1)
    _, reference = _torch_gradients(model, nn.CrossEntropyLoss(), BATCH[0, :2], torch.tensor(1))
    return imported, reference


def test_the_report_of_an_imported_model_shows_its_gradients(imported_classifier):
    imported, reference = imported_classifier
    text = symgrad.report(imported.network, digits=9, params=["layer2_weight_1_0"])
    expected = symgrad.format_number(reference["2.weight"][1, 0], 9)
    assert "dE_total/dlayer2_weight_1_0" in text
    assert f"= {expected}" in text


def test_gradcheck_passes_on_an_imported_model(imported_classifier):
    imported, reference = imported_classifier
    report = symgrad.gradcheck(imported.network)
    assert report.ok
    row = next(r for r in report.rows if r.param == "layer0_weight_1_1")
    assert row.exact == pytest.approx(reference["0.weight"][1, 1], rel=1e-14)


def test_a_picture_of_an_imported_model(imported_classifier, tmp_path):
    imported, reference = imported_classifier
    solution = solve(symgrad.derive(imported.network), digits=6)
    layout = symgrad.layout_circuit(solution, digits=6)
    assert layout.quantity("layer0_bias_1").gradient == symgrad.format_number(reference["0.bias"][1], 6)
    pytest.importorskip("matplotlib", reason="drawing needs the plot extra")
    path = tmp_path / "circuit.svg"
    symgrad.draw_circuit(solution, path)
    assert path.stat().st_size > 1000 and "layer0_bias_1" in path.read_text()


# -- hostile input -------------------------------------------------------------------------


def _refused(match: str, module, loss="mse", x=BATCH[0], t=REGRESSION[0, :1]):
    with pytest.raises(InvalidArgument, match=match):
        from_torch(module, loss=loss, example_input=x, example_target=t)


def test_unsupported_layers_are_named_with_what_is_supported():
    _refused(r"layer 1 \(Dropout\) is not supported; from_torch supports Linear, Sigmoid",
             nn.Sequential(nn.Linear(3, 1), nn.Dropout()))
    _refused(r"layer 0 \(Conv1d\)", nn.Sequential(nn.Conv1d(1, 1, 2)))
    _refused(r"layer 0 \(Sequential\)", nn.Sequential(nn.Sequential(nn.Linear(3, 1))))


def test_the_mistakes_people_make_are_refused_with_what_to_do():
    _refused(r"layer 1 \(Dropout\) is not supported.*remove it from the Sequential",
             nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1)))
    _refused(r"layer 0 \(Conv2d\) is not supported.*not convolutions", nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()))
    _refused(r"MSELoss\(reduction='none'\).*use reduction='mean' or 'sum'", nn.Sequential(nn.Linear(3, 1)),
             loss=nn.MSELoss(reduction="none"))


def test_a_module_that_is_not_a_sequential_is_refused():
    _refused(r"takes a torch.nn.Sequential, got Linear", nn.Linear(3, 1))

    class Net(nn.Module):
        def forward(self, x):
            return x

    _refused(r"got Net", Net())
    _refused(r"got str", "mlp")
    _refused(r"empty", nn.Sequential())
    _refused(r"no Linear layer", nn.Sequential(nn.Tanh()))


def test_wrong_shapes_are_refused_with_the_expected_shape():
    _refused(r"layer 0 \(Linear\(3, 1\)\) receives 2 features per sample", nn.Sequential(nn.Linear(3, 1)),
             x=BATCH[0, :2])
    _refused(r"layer 2 \(Linear\(5, 1\)\) receives 4 features from the layer before",
             nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(5, 1)))
    _refused(r"example_target has shape \(2,\); the mse loss needs the model's output shape \(1,\)",
             nn.Sequential(nn.Linear(3, 1)), t=[0.5, 0.5])
    _refused(r"example_input has shape \(1, 1, 3\)", nn.Sequential(nn.Linear(3, 1)), x=np.ones((1, 1, 3)))
    _refused(r"class indices outside 0..2", nn.Sequential(nn.Linear(3, 3)), loss=nn.CrossEntropyLoss(),
             t=torch.tensor(3))
    _refused(r"class indices of shape \(2,\).*so give shape \(4,\)", nn.Sequential(nn.Linear(3, 3)), loss=nn.CrossEntropyLoss(),
             x=BATCH, t=torch.tensor([0, 1]))
    _refused(r"dimension", nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=0)), x=BATCH, t=np.eye(3)[LABELS])


def _autograd(model, loss, x, t):
    model.zero_grad()
    value = loss(model(x), t)
    value.backward()
    return float(value.detach()), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


def _assert_close(ours: dict, theirs: dict, rel: float = 1e-12):
    assert set(ours) == set(theirs)
    for name, g in theirs.items():
        assert ours[name].shape == g.shape, name
        np.testing.assert_allclose(ours[name], g, rtol=rel, atol=rel * np.abs(g).max(), err_msg=name)


def test_a_784_100_10_model_is_imported_in_the_matrix_form_and_agrees_with_torch_autograd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 100), nn.Tanh(), nn.Linear(100, 10)).double()
    x, labels = torch.randn(16, 784, dtype=torch.float64), torch.randint(0, 10, (16,))
    imported = from_torch(model, loss=nn.CrossEntropyLoss(), example_input=x, example_target=labels)
    assert imported.form == "matrix" and imported.network.structure.widths == (784, 100, 10)
    assert np.array_equal(imported.params["W1"], model[0].weight.detach().numpy())  # the torch values, carried
    loss, grads = imported.compiled_gradients()
    torch_loss, torch_grads = _autograd(model, nn.CrossEntropyLoss(), x, labels)
    assert loss == pytest.approx(torch_loss, rel=1e-13)
    _assert_close(grads, torch_grads)


@pytest.mark.parametrize("activation, last, loss, target", [
    (nn.Sigmoid, None, nn.MSELoss(), "regression"),                    # mse: the mean over K outputs too
    (nn.ReLU, None, nn.MSELoss(reduction="sum"), "regression"),        # sse, summed over the batch
    (lambda: nn.LeakyReLU(0.2), None, nn.CrossEntropyLoss(reduction="sum"), "labels"),
    (nn.Tanh, nn.LogSoftmax(dim=-1), nn.NLLLoss(), "labels"),
    (nn.Tanh, nn.Sigmoid(), nn.BCELoss(reduction="sum"), "probabilities"),
])
def test_matrix_form_imports_agree_with_torch_autograd(activation, last, loss, target):
    torch.manual_seed(1)
    layers = [nn.Linear(60, 90), activation(), nn.Linear(90, 3)] + ([last] if last is not None else [])
    model = nn.Sequential(*layers).double()  # 5,763 parameters: beyond the scalar form
    x = torch.randn(5, 60, dtype=torch.float64)
    t = {"regression": torch.randn(5, 3, dtype=torch.float64), "labels": torch.tensor([0, 2, 1, 1, 0]),
         "probabilities": torch.rand(5, 3, dtype=torch.float64)}[target]
    imported = from_torch(model, loss=loss, example_input=x, example_target=t)
    assert imported.form == "matrix"
    value, grads = imported.compiled_gradients()
    torch_value, torch_grads = _autograd(model, loss, x, t)
    assert value == pytest.approx(torch_value, rel=1e-12)
    _assert_close(grads, torch_grads)


def test_a_large_model_outside_what_the_matrix_form_takes_is_refused_with_the_reason():
    big = lambda *tail: nn.Sequential(nn.Linear(3, 1300), nn.Tanh(), nn.Linear(1300, 3), *tail)  # noqa: E731
    t3 = np.zeros(3)
    _refused(r"one activation between each two", nn.Sequential(nn.Linear(3, 1300), nn.Linear(1300, 3)), t=t3)
    _refused(r"one hidden activation for every layer",
             nn.Sequential(nn.Linear(3, 1300), nn.Tanh(), nn.Linear(1300, 4), nn.ReLU(), nn.Linear(4, 3)), t=t3)
    _refused(r"after Softmax is not one the matrix form computes", big(nn.Softmax(dim=-1)), t=t3)
    _refused(r"divides by them too", big(nn.Sigmoid()), loss=nn.BCELoss(), t=t3)
    _refused(r"starts with a Linear layer", nn.Sequential(nn.Tanh(), nn.Linear(3, 1300), nn.Tanh(),
                                                          nn.Linear(1300, 3)), t=t3)


def test_nan_weights_and_data_are_named():
    model = nn.Sequential(nn.Linear(3, 1)).double()
    with torch.no_grad():
        model[0].weight[0, 2] = float("nan")
    _refused(r"layer 0's weight\[0, 2\] is nan", model)
    _refused(r"example_input\[1\] is inf", nn.Sequential(nn.Linear(3, 1)), x=[0.0, float("inf"), 1.0])


def test_unsupported_losses_and_options_are_named():
    model = nn.Sequential(nn.Linear(3, 1))
    _refused(r"HuberLoss.*is not supported; give one of MSELoss", model, loss=nn.HuberLoss())
    _refused(r"reduction='none'.*use reduction='mean' or 'sum'", model, loss=nn.MSELoss(reduction="none"))
    _refused(r"label_smoothing", model, loss=nn.CrossEntropyLoss(label_smoothing=0.1))
    _refused(r"weight", model, loss=nn.BCELoss(weight=torch.ones(1)))
    _refused(r"unknown loss 'hinge'", model, loss="hinge")


def test_without_torch_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependency, match=r'pip install "symgrad\[torch\]"'):
        from_torch(object(), loss="mse", example_input=[1.0], example_target=[1.0])


def test_a_matrix_form_import_says_what_works_on_it():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(60, 90), nn.Tanh(), nn.Linear(90, 3)).double()  # 5,763 parameters
    x, labels = torch.randn(4, 60, dtype=torch.float64), torch.tensor([0, 2, 1, 1])
    imported = from_torch(model, loss=nn.CrossEntropyLoss(), example_input=x, example_target=labels)
    for document in (symgrad.report, symgrad.derive):  # one line: the reason, the limit, what to use instead
        with pytest.raises(symgrad.SymgradError, match=r"^this network exists in matrix form only \(more than "
                                                       r"5,000 parameters.*compile_gradient\(network, form='matrix'\)"):
            document(imported.network)
    report = symgrad.gradcheck(imported.network)  # the compiled matrix code of this architecture and loss
    assert report.ok and any("matrix form only" in note for note in report.notes)


def _checked_entries(report, imported) -> dict[str, tuple[str, tuple[int, ...], float]]:
    """Each coordinate row ``W1[3,5]`` as (torch's name, index, the compiled value the row shows)."""
    out = {}
    for row in report.rows:
        if row.param.startswith("direction"):
            continue
        key, index = row.param.rstrip("]").split("[")
        index = tuple(int(i) for i in index.split(","))
        source = imported.matrix_sources[key]
        out[row.param] = (source.name, index[::-1] if source.transposed else index, row.compiled)
    return out


def test_gradcheck_of_a_784_100_10_import_is_at_the_torch_weights_and_batch():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(784, 100), nn.Tanh(), nn.Linear(100, 10)).double()
    x, labels = torch.randn(16, 784, dtype=torch.float64), torch.randint(0, 10, (16,))
    imported = from_torch(model, loss=nn.CrossEntropyLoss(), example_input=x, example_target=labels)
    report = imported.gradcheck(sample=30)
    assert report.ok and all(row.verdict == "ok" for row in report.rows) and len(report.rows) == 30 + 3
    assert "at the given W1, b1, W2, b2; 16 samples, the mean over them" in report.notes
    _, grads = _autograd(model, nn.CrossEntropyLoss(), x, labels)  # torch's float64 autograd
    entries = _checked_entries(report, imported)
    assert {name for name, _, _ in entries.values()} >= {"0.weight"}
    for name, index, compiled in entries.values():
        assert compiled == pytest.approx(grads[name][index], rel=1e-12, abs=1e-12 * np.abs(grads[name]).max())
    # the same through gradcheck itself, the arrays given by the matrix form's names
    at = dict(imported.params) | {"inputs": imported.inputs, "targets": imported.targets, "reduction": "mean"}
    assert symgrad.gradcheck(imported.network, at=at, sample=30).rows == report.rows


def test_a_planted_wrong_weight_changes_the_checked_gradients():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(60, 90), nn.Sigmoid(), nn.Linear(90, 3)).double()  # 5,763 parameters
    x, t = torch.randn(5, 60, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    loss = nn.MSELoss(reduction="sum")
    imported = from_torch(model, loss=loss, example_input=x, example_target=t)
    planted = np.array(imported.params["W2"])
    planted[1, 7] += 3.0  # one wrong weight: every W1 and b1 gradient of hidden unit 7 moves
    report = imported.gradcheck(sample=60, at={"W2": planted})
    assert report.ok and "at the given W1, b1, W2, b2; 5 samples, the sum over them" in report.notes
    wrong = copy.deepcopy(model)
    with torch.no_grad():
        wrong[2].weight[1, 7] += 3.0
    _, right_grads = _autograd(model, loss, x, t)
    _, planted_grads = _autograd(wrong, loss, x, t)
    moved = 0
    for name, index, compiled in _checked_entries(report, imported).values():
        scale = 1e-12 * np.abs(planted_grads[name]).max()
        assert compiled == pytest.approx(planted_grads[name][index], rel=1e-12, abs=scale)
        moved += abs(planted_grads[name][index] - right_grads[name][index]) > 1e-6 * np.abs(right_grads[name]).max()
    assert moved >= 5  # the planted value is used: these rows differ from the model's own gradients
    seeded = symgrad.gradcheck(imported.network, sample=60)  # mlp's seeded weights, one sample: not torch's
    assert [r.compiled for r in seeded.rows] != [r.compiled for r in report.rows]


def test_gradcheck_of_a_scalar_form_import_is_gradcheck_of_its_network(imported_classifier):
    imported, _ = imported_classifier
    assert imported.gradcheck().rows == symgrad.gradcheck(imported.network).rows


def test_a_matrix_form_gradcheck_refuses_a_user_gradient_and_a_bad_point():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(60, 90), nn.Tanh(), nn.Linear(90, 3)).double()
    imported = from_torch(model, loss=nn.MSELoss(), example_input=np.ones((2, 60)), example_target=np.ones((2, 3)))
    with pytest.raises(InvalidArgument, match="without --against"):
        imported.gradcheck(against=lambda values: {})
    with pytest.raises(InvalidArgument, match=r"at\['W2'\] has shape \(2, 2\); this network's has shape \(3, 90\)"):
        imported.gradcheck(at={"W2": np.ones((2, 2))})
    with pytest.raises(InvalidArgument, match="at gives 3 input rows and 2 target rows"):
        imported.gradcheck(at={"inputs": np.ones((3, 60))})
