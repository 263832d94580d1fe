"""``symgrad gradcheck SPEC --at FILE.npz``: the values to check at, from a NumPy archive.

References: a hand-written NumPy backprop of the matrix form's loss at the file's weights,
and ``sympy.diff`` of the expanded loss at the file's scalar values. Hostile files (not a zip,
a pickle, raw bytes, an unpacked size past the limit, NaN, wrong shapes or names) each give
one line naming the file and exit 2, never a traceback.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import point_file
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


def _zip(path, members: dict[str, bytes] | list, compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a name written twice, which one case means to do
        for name, data in (members.items() if isinstance(members, dict) else members):
            archive.writestr(name, data)


def _npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _npy_header(shape, descr="<f8", data=b"") -> bytes:
    """An .npy member's header declaring ``shape`` of ``descr``, followed by ``data`` (maybe far too little)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + data


def _patched(path, edit) -> None:
    """An archive of one deflated member w1.npy = 0.2, its bytes edited by ``edit(bytearray)``."""
    _zip(path, {"w1.npy": _npy(np.float64(0.2))}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    edit(data)
    path.write_bytes(bytes(data))


def _flag_encrypted(data: bytearray) -> None:
    data[data.find(b"PK\x03\x04") + 6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1


def _method_99(data: bytearray) -> None:
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 8:local + 10] = data[central + 10:central + 12] = struct.pack("<H", 99)


def _garbled_stream(data: bytearray) -> None:
    start = 30 + struct.unpack("<H", data[26:28])[0] + struct.unpack("<H", data[28:30])[0]
    data[start:start + 10] = b"\xff" * 10


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
    # found by hostile testing: each gave a traceback, a silent choice, or a line of megabytes
    "an unparsable .npy header": (lambda p: _zip(p, {"w1.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': f(x)}\n"}),
                                  "the member 'w1' cannot be read"),
    "a header declaring 800 GB": (lambda p: _zip(p, {"w1.npy": _npy_header((10**11,), data=b"\0" * 16)}),
                                  "declares 800,000,000,000 bytes"),
    "a .npy version 5.0": (lambda p: _zip(p, {"w1.npy": b"\x93NUMPY\x05\x00" + _npy_header(())[8:]}),
                           "a .npy file of version 5.0, which symgrad does not read"),
    "a negative shape": (lambda p: _zip(p, {"w1.npy": _npy_header((-1, -1), data=b"\0" * 8)}), "shape (-1, -1)"),
    "an encrypted member": (lambda p: _patched(p, _flag_encrypted), "the member 'w1' is encrypted"),
    "an unknown compression": (lambda p: _patched(p, _method_99), "compression method 99"),
    "a garbled deflate stream": (lambda p: _patched(p, _garbled_stream), "the member 'w1' cannot be read"),
    "a name twice": (lambda p: _zip(p, [("w1.npy", _npy(np.float64(0.1))), ("w1.npy", _npy(np.float64(0.3)))]),
                     "holds 'w1' twice"),
    "w1 and w1.npy": (lambda p: _zip(p, {"w1": _npy(np.float64(0.1)), "w1.npy": _npy(np.float64(0.3))}),
                      "holds 'w1' twice"),
    "a boolean": (lambda p: np.savez(p, w1=np.array(True)), "holds booleans (bool)"),
    "a date": (lambda p: np.savez(p, w1=np.datetime64("2020-01-01")), "holds dates or times (datetime64[D])"),
    "a record": (lambda p: np.savez(p, w1=np.zeros(1, [("a", "f8")])), "holds records or raw bytes"),
    "strings": (lambda p: np.savez(p, w1=np.array(["0.1", "0.2"])), "holds an array of strings"),
    "a 60,000-character name": (lambda p: np.savez(p, **{"w" * 60_000: 1.0}), "it is not a leaf"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_give_one_line_and_exit_2(case, tmp_path, capsys):
    make, expected = HOSTILE[case]
    path = tmp_path / "values.npz"
    make(path)
    status, out, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and out == ""
    assert err.startswith(f"symgrad: error: --at {path}: ") and expected in err, err
    assert "Traceback" not in err and err.count("\n") == 1 and len(err) < 1_000


def test_bytes_are_ascii_strings(tmp_path, capsys):
    path = tmp_path / "values.npz"
    np.savez(path, w1=np.bytes_(b"0.2"))
    status, out, err = _run(capsys, "mazur", "--at", path, "--format", "json")
    assert status == 0 and err == "", err
    spec = tmp_path / "wide.toml"
    spec.write_text(WIDE)
    np.savez(path, reduction=np.bytes_(b"mean"))
    status, out, err = _run(capsys, spec, "--at", path, "--sample", 2, "--directions", 0)
    assert status == 0 and "the mean over them" in out, err
    np.savez(path, reduction=np.bytes_(b"m\xe9an"))
    status, _, err = _run(capsys, spec, "--at", path)
    assert status == 2 and "the member 'reduction' holds bytes that are not ASCII" in err, err


def test_an_empty_at_is_an_error_not_the_default_point(capsys):
    status, out, err = _run(capsys, "mazur", "--at", "")
    assert status == 2 and out == "" and "--at '': give an .npz file" in err, err


def test_a_file_that_cannot_be_opened(tmp_path, capsys, monkeypatch):
    path = tmp_path / "values.npz"
    np.savez(path, w1=0.2)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(zipfile, "ZipFile", denied)  # as root, chmod 0 would not stop the read
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and f"--at {path}: the file cannot be read (Permission denied)" in err, err


def test_more_members_than_any_network_has_leaves(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(point_file, "MAX_NODES", 3)
    path = tmp_path / "values.npz"
    np.savez(path, w1=0.1, w2=0.2, w3=0.3, w4=0.4)
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and "4 members, more than any network has leaves (3, limits.MAX_NODES)" in err, err


MATRIX_HOSTILE = {
    "booleans": ({"W1": np.ones((2, 2001), bool)}, "the member 'W1' holds booleans (bool)"),
    "datetimes": ({"W1": np.zeros((2, 2001), "datetime64[s]")}, "holds dates or times"),
    "records": ({"W1": np.zeros((2, 2001), [("a", "f8")])}, "holds records or raw bytes"),
    "strings of numbers": ({"W1": np.full((2, 2001), "1.5")}, "the member 'W1' holds an array of strings"),
    "reduction as an array": ({"reduction": np.array(["sum", "mean"])}, "the member 'reduction' holds an array of"),
    "reduction as a 1-array": ({"reduction": np.array(["sum"])}, "the member 'reduction' holds an array of"),
    "a long reduction": ({"reduction": np.array("x" * 100_000)}, "give 'sum' or 'mean'"),
    "many unknown names": ({f"name{i:03d}" * 10: np.float64(i) for i in range(300)}, "give arrays by the names"),
}


@pytest.mark.parametrize("case", sorted(MATRIX_HOSTILE))
def test_hostile_matrix_files(case, tmp_path, capsys):
    arrays, expected = MATRIX_HOSTILE[case]
    spec, path = tmp_path / "wide.toml", tmp_path / "values.npz"
    spec.write_text(WIDE)
    np.savez(path, **arrays)
    status, out, err = _run(capsys, spec, "--at", path)
    assert status == 2 and out == "" and err.startswith(f"symgrad: error: --at {path}: ") and expected in err, err
    assert "Traceback" not in err and err.count("\n") == 1 and len(err) < 1_000


def test_a_zero_width_array_of_a_trillion_elements(tmp_path, capsys):
    """Its .npy header declares 10**12 elements of 0 bytes: the file is tiny, its float64 copy 8 TB."""
    spec, path = tmp_path / "wide.toml", tmp_path / "values.npz"
    spec.write_text(WIDE)
    _zip(path, {"inputs.npy": _npy_header((10**12,), "|V0")})
    status, _, err = _run(capsys, spec, "--at", path)
    assert status == 2 and "the member 'inputs' holds records or raw bytes" in err, err


def test_a_missing_file_or_a_folder(tmp_path, capsys):
    for path, problem in ((tmp_path / "nope.npz", "does not exist"), (tmp_path, "is not a regular file")):
        status, _, err = _run(capsys, "mazur", "--at", path)
        assert status == 2 and problem in err and "Traceback" not in err


def test_the_unpacked_size_is_checked_before_reading(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(point_file, "MAX_POINT_FILE_BYTES", 10_000)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w1.npy", b"\0" * 50_000)  # 50 kB of zeros packs into a few hundred bytes
    assert path.stat().st_size < 10_000
    read = []
    monkeypatch.setattr(np, "load", lambda *a, **k: read.append(a))
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and "50,000 bytes (unpacked), above the limit of 10,000" in err and read == []


def test_the_size_on_disk_is_checked_before_the_zip_is_parsed(tmp_path, capsys, monkeypatch):
    """zipfile parses the whole central directory on opening (about 600 bytes of memory per member of
    under 100 bytes): a file over the limit is refused before it is opened."""
    monkeypatch.setattr(point_file, "MAX_POINT_FILE_BYTES", 10_000)
    path = tmp_path / "values.npz"
    np.savez(path, **{f"x{i}": np.float64(i) for i in range(100)})
    assert path.stat().st_size > 10_000
    opened = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: opened.append(a))
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and "above the limit of 10,000" in err and opened == [], err


def test_the_limit_counts_numbers_as_float64(tmp_path, capsys, monkeypatch):
    """An int8 batch is read into float64: 2,000 bytes on disk are 16,000 in memory."""
    monkeypatch.setattr(point_file, "MAX_POINT_FILE_BYTES", 10_000)
    spec, path = tmp_path / "wide.toml", tmp_path / "values.npz"
    spec.write_text(WIDE)
    np.savez(path, inputs=np.ones((1, 2000), np.int8))
    assert path.stat().st_size < 10_000
    status, _, err = _run(capsys, spec, "--at", path)
    assert status == 2 and "16,000 bytes as float64 numbers, above the limit of 10,000" in err, err


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


@pytest.mark.parametrize("order", [1, 2])
def test_the_plotted_sweep_is_at_the_files_values(order, tmp_path, capsys, monkeypatch):
    """--plot sweeps the step at the point checked, not at the spec's own values."""
    from symgrad import cli
    seen = []
    name = "sweep_steps" if order == 1 else "sweep_hvp_steps"
    real = getattr(cli, name)
    monkeypatch.setattr(cli, name, lambda network, **kw: seen.append(kw.get("at")) or real(network, **kw))
    values, plot = tmp_path / "values.npz", tmp_path / "sweep.svg"
    np.savez(values, w1=5.0)
    status, out, err = _run(capsys, "mazur", "--at", values, "--plot", plot, "--order", order)
    assert status == 0 and seen == [{"w1": 5.0}] and plot.exists(), err
    assert values.read_bytes()[:2] == b"PK"


def test_huge_values_are_checked_not_refused(tmp_path, capsys):
    """w1 = 1e200 saturates σ: the exact gradient is 0 and the check's bound stays finite (it overflowed before)."""
    path = tmp_path / "values.npz"
    np.savez(path, w1=1e200)
    for scheme in ("central", "richardson", "complex"):
        status, out, err = _run(capsys, "mazur", "--at", path, "--scheme", scheme, "--format", "json")
        assert status == 0, err
        row = next(r for r in json.loads(out)["rows"] if r["param"] == "w1")
        assert row["exact"] == 0.0 and row["verdict"] == "ok" and np.isfinite(row["bound"])


@pytest.mark.parametrize("members", [6, 65_536])  # 65,536 entries: the count lives in the zip64 end record
def test_the_member_count_is_read_from_the_end_record_before_zipfile_parses_it(tmp_path, capsys, monkeypatch,
                                                                                  members):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for k in range(members):
            archive.writestr(f"w{k}.npy", b"")
    monkeypatch.setattr(point_file, "MAX_NODES", 5)
    opened = []
    monkeypatch.setattr(point_file.zipfile, "ZipFile", lambda *a, **k: opened.append(a))
    status, _, err = _run(capsys, "mazur", "--at", path)
    assert status == 2 and f"{members:,} members, more than any network has leaves" in err and opened == []
