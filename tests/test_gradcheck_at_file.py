"""``symgrad gradcheck SPEC --at FILE.npz``: the values to check at, from a NumPy archive.

References: a hand-written NumPy backprop of the matrix form's loss at the file's weights,
and ``sympy.diff`` of the expanded loss at the file's scalar values. Hostile files (not a zip,
a pickle, raw bytes, an unpacked size past the limit, NaN, wrong shapes or names) each give
one line naming the file and exit 2, never a traceback.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import gradcheck_problems
from symgrad.cli import main

# a first layer wider than limits.MAX_SCALAR_FAN_IN: built in matrix form only
WIDE = "description = \"wide\"\n[mlp]\nwidths = [2001, 2, 1]\n"


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main(["gradcheck", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def _hand_gradient(W1, b1, W2, b2, X, T) -> dict[str, np.ndarray]:
    """½Σ(t − o)² with sigmoid layers, the mean over the batch, by the textbook backward pass."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = sig(X @ W1.T + b1)
    o = sig(h @ W2.T + b2)
    d2 = (o - T) * o * (1 - o) / len(X)
    d1 = (d2 @ W2) * h * (1 - h)
    return {"W1": d1.T @ X, "b1": d1.sum(0), "W2": d2.T @ h, "b2": d2.sum(0)}


def test_matrix_form_weights_and_batch_from_the_file(tmp_path, capsys):
    spec = tmp_path / "wide.toml"
    spec.write_text(WIDE)
    rng = np.random.default_rng(4)
    W1, W2 = rng.normal(size=(2, 2001)) * 0.05, rng.normal(size=(1, 2)) * 0.5
    X, T = rng.normal(size=(5, 2001)), rng.uniform(size=(5, 1))
    values = tmp_path / "point.npz"
    np.savez(values, W1=W1, W2=W2, inputs=X, targets=T, reduction=np.array("mean"))
    status, out, err = _run(capsys, spec, "--at", values, "--sample", 6, "--directions", 0)
    assert status == 0 and "at the given W1, W2 (b1, b2 seeded); 5 samples, the mean over them" in out, err
    status, out, err = _run(capsys, spec, "--at", values, "--sample", 6, "--directions", 0, "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    net = symgrad.load(str(spec))
    seeded = symgrad.compile_network(net, form="matrix").initial_params(net)
    expected = _hand_gradient(W1, seeded["b1"], W2, seeded["b2"], X, T)
    assert len(report["rows"]) == 6
    for row in report["rows"]:
        name, index = row["param"].split("[")
        entry = expected[name][tuple(int(k) for k in index.rstrip("]").split(","))]
        assert row["compiled"] == pytest.approx(entry, rel=1e-9, abs=1e-15), row


def test_scalar_values_from_the_file(tmp_path, capsys):
    values = tmp_path / "point.npz"
    np.savez(values, w1=0.2, w5=np.float32(0.5), i1=np.int64(1))
    status, out, err = _run(capsys, "mazur", "--at", values, "--format", "json")
    assert status == 0, err
    net = symgrad.load("mazur")
    point = {net.symbol(k): sympy.Rational(v) for k, v in net.point().items()}
    point |= {net.symbol("w1"): sympy.Rational("0.2"), net.symbol("w5"): sympy.Rational("0.5"),
              net.symbol("i1"): sympy.Integer(1)}
    loss = net.expanded(net.output)
    for row in json.loads(out)["rows"]:
        reference = sympy.N(sympy.diff(loss, net.symbol(row["param"])).xreplace(point), 30)
        assert row["exact"] == pytest.approx(float(reference), rel=1e-12), row["param"]


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


HOSTILE = {
    "not a zip": (lambda p: p.write_text("w1 = 0.2"), "not a NumPy .npz archive"),
    "a single .npy": (lambda p: np.save(open(p, "wb"), np.ones(3)), "not a NumPy .npz archive"),
    "pickled objects": (lambda p: np.savez(p, w1=np.array([{"a": 1}], dtype=object)), "pickled"),
    "raw bytes member": (lambda p: _zip(p, {"w1.npy": b"garbage"}), "the member 'w1' is not a NumPy array"),
    "empty archive": (lambda p: np.savez(p), "holds no values"),
    "NaN": (lambda p: np.savez(p, w1=np.nan), "not finite"),
    "an array for a number": (lambda p: np.savez(p, w1=np.ones(3)), "which is not a number"),
    "a complex number": (lambda p: np.savez(p, w1=np.array(1 + 2j)), "which is not a number"),
    "not a leaf": (lambda p: np.savez(p, zz=1.0), "cannot set 'zz'"),
    "a look-alike name": (lambda p: np.savez(p, **{"w\u0031\u200b": 1.0}), "it is not a leaf"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_give_one_line_and_exit_2(case, tmp_path, capsys):
    make, expected = HOSTILE[case]
    path = tmp_path / "values.npz"
    make(path)
    status, out, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and out == ""
    assert err.startswith(f"symgrad: error: --at {path}: ") and expected in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_missing_file_or_a_folder(tmp_path, capsys):
    for path, problem in ((tmp_path / "nope.npz", "does not exist"), (tmp_path, "is not a regular file")):
        status, _, err = _run(capsys, "mazur", "--at", path)
        assert status == 2 and problem in err and "Traceback" not in err


def test_the_unpacked_size_is_checked_before_reading(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gradcheck_problems, "MAX_POINT_FILE_BYTES", 10_000)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w1.npy", b"\0" * 50_000)  # 50 kB of zeros packs into a few hundred bytes
    assert path.stat().st_size < 10_000
    read = []
    monkeypatch.setattr(np, "load", lambda *a, **k: read.append(a))
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and "50,000 bytes (unpacked), above the limit of 10,000" in err and read == []


def test_matrix_form_shape_and_name_errors_name_the_file(tmp_path, capsys):
    spec = tmp_path / "wide.toml"
    spec.write_text(WIDE)
    for arrays, expected in (({"W1": np.ones((3, 2))}, "at['W1'] has shape (3, 2)"),
                             ({"V1": np.ones(2)}, "at names 'V1'"),
                             ({"reduction": np.array("median")}, "at['reduction'] = 'median'")):
        path = tmp_path / "values.npz"
        np.savez(path, **arrays)
        status, _, err = _run(capsys, spec, "--at", path)
        assert status == 2 and err.startswith(f"symgrad: error: --at {path}: ") and expected in err, err
