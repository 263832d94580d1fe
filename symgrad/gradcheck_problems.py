"""What gradcheck differentiates: a scalar-form network (exact values exist) or a matrix-form-only one.

Both answer the same question, the compiled float64 losses and gradients at many points in
one call (``losses``); the scalar form also gives the exact loss, gradient and values at a
point, and the complex step.
"""

from __future__ import annotations

import math
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import mpmath
import numpy as np
import sympy
from numpy.lib import format as npy_format

from .arithmetic import mp_value_at
from .chain import derive
from .compile import compile_gradient, compile_network
from .errors import InvalidArgument
from .evaluation import evaluate_gradients
from .gradcheck_exact import ExactProgram, exact_program
from .graph import Network
from .kinks import Kink, kink_arguments
from .limits import GRADCHECK_NETWORKS_KEPT, MAX_GRADCHECK_POINTS, MAX_NODES, MAX_POINT_FILE_BYTES
from .precision import FLOAT64_DIGITS, GRADCHECK_DIGITS

__all__ = ["ExactPoint", "ScalarProblem", "MatrixProblem", "matrix_problem", "scalar_problem", "loss_at",
           "MATRIX_BATCH_KEYS", "read_point_file"]

_PREPARED: dict = {}  # the network's shape (_shape) -> (derivation, compiled code, kinks, exact program)


def _compiled_at(compiled, point: Mapping[str, float], moved: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Compiled losses (P,) and gradients {param: (P,)} at P points, MAX_GRADCHECK_POINTS per call.

    The one place that evaluates the compiled code (``reduction="none"``) at perturbed points:
    ``point`` gives every leaf, ``moved`` the leaves that vary, P values each. Constants keep
    their compiled values, as ``point`` gives only parameters, inputs and targets.
    """
    fixed = {n: point[n] for n in (*compiled.params, *compiled.inputs, *compiled.targets)}
    count = len(next(iter(moved.values())))
    losses, grads = [], []
    with np.errstate(all="ignore"):
        for start in range(0, count, MAX_GRADCHECK_POINTS):
            chunk = {n: values[start:start + MAX_GRADCHECK_POINTS] for n, values in moved.items()}
            result = compiled.at(fixed | chunk)
            losses.append(result.loss)
            grads.append(result.gradients)
    if len(losses) == 1:
        return losses[0], grads[0]
    return np.concatenate(losses), {p: np.concatenate([g[p] for g in grads]) for p in grads[0]}


@dataclass(frozen=True)
class ExactPoint:
    """The exact loss, gradient over the checked coordinates, and every quantity's value, at one point."""

    loss: object  # mpmath.mpf
    gradient: list  # mpmath.mpf per coordinate
    values: dict  # quantity name -> mpmath.mpf for every quantity, or kink argument -> mpmath.mpf


@dataclass(frozen=True)
class ScalarProblem:
    """A network with named scalar leaves: exact values exist."""

    network: Network
    derivation: object
    compiled: object
    names: tuple[str, ...]  # the coordinates: params, or inputs when there are none
    point: dict[str, float]
    kinks: list[Kink]
    program: ExactProgram | None = None  # the exact side as generated gmpy2 code, where it can be written

    def losses(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Compiled losses (P,) and gradients over ``names`` (P, n) at the rows of xs, in one call."""
        loss, grads = _compiled_at(self.compiled, self.point, {n: xs[:, k] for k, n in enumerate(self.names)})
        if set(self.names) <= set(grads):
            return loss, np.stack([grads[n] for n in self.names], axis=1)
        return loss, None  # derivatives by inputs: the compiled code has none

    def exact(self, x: np.ndarray, *, along: np.ndarray | None = None) -> ExactPoint:
        """Exact loss, exact gradient over ``names`` and every value, at float64 point x.

        ``along``: a direction v; only the gradient entries where v is not 0 are then sure to be there.
        """
        if self.program is not None:
            entries = None if along is None else np.flatnonzero(along).tolist()
            fast = self.program.at(self.point | dict(zip(self.names, x.tolist())), along=entries)
            if fast is not None:
                return ExactPoint(*fast)
        at = {k: sympy.Rational(v) for k, v in self.point.items()}
        at |= {n: sympy.Rational(float(v)) for n, v in zip(self.names, x)}
        g = evaluate_gradients(self.derivation, at=at, digits=GRADCHECK_DIGITS)
        grads = g.gradients
        grad = [grads[n] if n in grads else g.adjoints.get(n, mpmath.mpf(0)) for n in self.names]
        return ExactPoint(g.values[self.derivation.output], grad, g.values)

    def complex_step(self, x: np.ndarray, v: np.ndarray, h: float) -> float:
        """Im f(x + i·h·v) / h, every node evaluated in float64-sized complex arithmetic."""
        env = {k: mpmath.mpf(val) for k, val in self.point.items()}
        for n, xi, vi in zip(self.names, x, v):
            env[n] = mpmath.mpc(float(xi), h * float(vi)) if vi else mpmath.mpf(float(xi))
        for name, node in self.network.nodes.items():
            env[name] = mp_value_at(node.expr, env, FLOAT64_DIGITS)
        return float(mpmath.im(env[self.derivation.output])) / h


@dataclass(frozen=True)
class MatrixProblem:
    """A matrix-form-only [mlp] network: compiled code, no scalar symbols, no exact values."""

    compiled: object
    names: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    inputs: np.ndarray
    targets: np.ndarray

    def unflatten(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out, k = {}, 0
        for key, shape in self.shapes.items():
            size = int(np.prod(shape))
            out[key] = x[k:k + size].reshape(shape) if shape else np.float64(x[k])
            k += size
        return out

    def losses(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compiled losses (P,) and gradients (P, n) at the rows of xs: one call per point, since the
        matrix form batches over samples, not over parameter points (``at`` is scalar-form only)."""
        out = []
        with np.errstate(all="ignore"):
            for x in xs:
                loss, grads = self.compiled(self.unflatten(x), self.inputs, self.targets)
                out.append((float(loss), np.concatenate([np.ravel(grads[k]) for k in self.shapes])))
        return np.array([f for f, _ in out]), np.array([g for _, g in out])


def scalar_problem(network: Network, at: Mapping[str, object] | None) -> ScalarProblem:
    """The scalar-form problem at the network's point (``at`` overrides leaves).

    Deriving, compiling and writing the exact side cost more than a small check itself, and a
    campaign checks the same network, or networks of the same shape, at many points: they are
    kept for the last ``limits.GRADCHECK_NETWORKS_KEPT`` shapes (which they keep in memory),
    keyed by what they depend on (the leaves and their kinds, the nodes, the output, the
    constants' values and any data; not the other leaves' values, which every check gives), so a
    new network object of the same shape (``copy.deepcopy``, ``symgrad.load`` again, the same
    ``mlp`` with other weights) reuses them, and a network changed since is prepared again.

    >>> import symgrad
    >>> problem = scalar_problem(symgrad.load("mazur"), {"w1": 0.2})
    >>> problem.names[:2], problem.point["w1"], problem.program is not None
    (('w1', 'w2'), 0.2, True)
    """
    key = _shape(network)
    kept = _PREPARED.get(key)
    if kept is None or _shape(kept[0].network) != key:  # absent, or its network was changed in place since
        derivation = derive(network)
        compiled = compile_gradient(derivation, reduction="none")
        names = tuple(network.params or network.inputs)
        kinks = kink_arguments(network, network.ancestors(network.output))
        arguments = tuple(dict.fromkeys(arg for *_, arg in kinks))
        kept = (derivation, compiled, kinks, exact_program(derivation, names, arguments))
        _PREPARED.pop(key, None)
        _PREPARED[key] = kept
        while len(_PREPARED) > GRADCHECK_NETWORKS_KEPT:
            del _PREPARED[next(iter(_PREPARED))]
    derivation, compiled, kinks, program = kept
    point = {k: float(v) for k, v in network.point(at).items()}
    return ScalarProblem(network, derivation, compiled, tuple(network.params or network.inputs), point, kinks, program)


def _shape(network: Network) -> tuple:
    """What the prepared derivation, compiled code and exact side depend on: everything but the
    values of parameters, inputs and targets (constants are compiled in as literals)."""
    constants = tuple((n, network.values.get(n)) for n, leaf in network.leaves.items() if leaf.kind == "constant")
    return (tuple(network.leaves.items()), tuple(network.nodes.items()), constants, tuple(network.data.items()),
            network._output)


def loss_at(problem: ScalarProblem | MatrixProblem, x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Compiled loss and gradient at the one point x."""
    losses, grads = problem.losses(x[np.newaxis, :])
    return float(losses[0]), (grads[0] if grads is not None else None)


MATRIX_BATCH_KEYS = ("inputs", "targets", "reduction")  # at= keys of a matrix-form point beside W1, b1, …


def matrix_problem(network: Network, at: Mapping[str, object] | None = None) -> tuple[MatrixProblem, np.ndarray]:
    """The matrix-form problem of an [mlp] network, and its parameters flattened as the point x.

    Without ``at``: mlp's seeded weights, one sample (the network's inputs and targets), the sum
    over it. ``at`` gives any of the parameter arrays by the matrix form's names (``W1``, ``b1``,
    …; the others keep their seeded values), ``inputs`` and ``targets`` (one sample per row, or
    one sample) and ``reduction`` ("sum" or "mean" over the batch).

    >>> import numpy as np, symgrad
    >>> net = symgrad.mlp([2, 1], scalar=False)
    >>> problem, x = matrix_problem(net, {"W1": np.array([[0.5, -1.0]]), "inputs": np.ones((3, 2)),
    ...                                   "targets": np.zeros((3, 1)), "reduction": "mean"})
    >>> problem.names, x.tolist(), problem.inputs.shape
    (('W1[0,0]', 'W1[0,1]', 'b1[0]'), [0.5, -1.0, 0.0], (3, 2))
    """
    at = dict(at or {})
    reduction = at.pop("reduction", "sum")
    if reduction not in ("sum", "mean"):
        raise InvalidArgument(f"at['reduction'] = {reduction!r}: give 'sum' or 'mean' (over the batch's samples)")
    compiled = compile_network(network, form="matrix", reduction=reduction)
    params = compiled.initial_params(network)
    unknown = sorted(set(at) - set(params) - set(MATRIX_BATCH_KEYS), key=str)
    if unknown:
        raise InvalidArgument(f"at names {', '.join(map(repr, unknown))}, which this matrix-form network does not "
                              f"have; give arrays by the names {', '.join(params)} and optionally "
                              f"{', '.join(MATRIX_BATCH_KEYS)}")
    for key in params.keys() & at.keys():
        params[key] = _finite_array(at[key], f"at[{key!r}]", np.shape(params[key]))
    point = network.point()
    inputs = np.array([[float(point[n]) for n in network.inputs]])
    targets = np.array([[float(point[n]) for n in network.targets]])
    if "inputs" in at:
        inputs = _batch_rows(at["inputs"], "at['inputs']", len(network.inputs))
    if "targets" in at:
        targets = _batch_rows(at["targets"], "at['targets']", len(network.targets))
    if len(inputs) != len(targets):
        raise InvalidArgument(f"at gives {len(inputs)} input rows and {len(targets)} target rows; give one target "
                              "row per input row")
    shapes = {k: np.shape(v) for k, v in params.items()}
    names = []
    for key, shape in shapes.items():
        names += [f"{key}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)] if shape else [key]
    x = np.concatenate([np.ravel(params[k]) for k in shapes]).astype(np.float64)
    return MatrixProblem(compiled, tuple(names), shapes, inputs, targets), x


def _finite_array(value: object, what: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """``value`` as a finite float64 array (of ``shape`` where given), or InvalidArgument."""
    try:
        if np.iscomplexobj(value):
            raise TypeError
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} is not an array of real numbers: {str(value)[:60]!r}") from None
    if shape is not None and array.shape != shape:
        raise InvalidArgument(f"{what} has shape {array.shape}; this network's has shape {shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{what} holds NaN or infinite values; give finite numbers")
    return array


def _batch_rows(value: object, what: str, width: int) -> np.ndarray:
    """A batch as rows of ``width`` numbers: a 2-D array (B, width), or one sample of ``width`` numbers."""
    array = _finite_array(value, what, None)
    if array.ndim == 1 and array.shape == (width,):
        return array.reshape(1, width)
    if array.ndim != 2 or array.shape[1] != width or not len(array):
        raise InvalidArgument(f"{what} has shape {array.shape}; give one sample per row, (B, {width}), or one "
                              f"sample of {width} numbers")
    return array


_SAVE_HINT = "save the values with numpy.savez(FILE, W1=..., inputs=..., ...) or numpy.savez(FILE, w1=0.15, ...)"


def read_point_file(path: str) -> dict[str, object]:
    """The values in a NumPy ``.npz`` file, as ``gradcheck(at=...)`` takes them (``symgrad gradcheck --at``).

    A number per leaf name for a scalar-form network, or the matrix form's arrays (``W1``, ``b1``,
    …, ``inputs``, ``targets``) and a ``reduction`` string. The file is untrusted: its size, its
    members' count and unpacked sizes (``limits.MAX_POINT_FILE_BYTES``) and each member's .npy
    header (its dtype, and a shape that the member's bytes can hold) are checked before any array
    is read, and no object array (no pickle, no code) is loaded. Numbers are kept as arrays of
    integers or floats; a 0-d string (or ASCII bytes) is a string; booleans, dates, records and
    arrays of strings are refused, as is a name given twice. Every problem is one InvalidArgument.

    >>> read_point_file("no_such_file.npz")
    Traceback (most recent call last):
    ...
    symgrad.errors.InvalidArgument: --at no_such_file.npz: the file does not exist; give an .npz file (save the values with numpy.savez(FILE, W1=..., inputs=..., ...) or numpy.savez(FILE, w1=0.15, ...))
    """
    where = f"--at {path or repr(path)}"
    file = Path(path)
    if not path or not file.is_file():
        problem = "" if not path else "the file is not a regular file; " if file.exists() else \
            "the file does not exist; "
        raise InvalidArgument(f"{where}: {problem}give an .npz file ({_SAVE_HINT})")
    size = file.stat().st_size  # before zipfile parses the central directory (some 600 bytes a member in memory)
    if size > MAX_POINT_FILE_BYTES:
        raise InvalidArgument(f"{where}: {size:,} bytes, above the limit of {MAX_POINT_FILE_BYTES:,} "
                              "(limits.MAX_POINT_FILE_BYTES); give a smaller batch")
    entries = _declared_entries(file)
    if entries is not None and entries > MAX_NODES:  # before zipfile builds one ZipInfo (~600 bytes) per entry
        raise InvalidArgument(f"{where}: {entries:,} members, more than any network has leaves "
                              f"({MAX_NODES:,}, limits.MAX_NODES); {_SAVE_HINT}")
    try:
        archive = zipfile.ZipFile(file)
    except OSError as exc:  # permission denied, an I/O error
        raise InvalidArgument(f"{where}: the file cannot be read ({exc.strerror or exc}); {_SAVE_HINT}") from None
    except Exception:  # BadZipFile, and what a damaged central directory raises inside zipfile
        raise InvalidArgument(f"{where}: not a NumPy .npz archive; {_SAVE_HINT}") from None
    with archive:
        members = _point_members(where, archive.infolist())
        as_float64 = sum(_read_member(where, key, archive, info, values=False) for key, info in members.items())
        if as_float64 > MAX_POINT_FILE_BYTES:  # an int8 or float16 file is 8 or 4 times larger once converted
            raise InvalidArgument(f"{where}: {as_float64:,} bytes as float64 numbers, above the limit of "
                                  f"{MAX_POINT_FILE_BYTES:,} (limits.MAX_POINT_FILE_BYTES); give a smaller batch")
        values = {key: _read_member(where, key, archive, info, values=True) for key, info in members.items()}
    if not values:
        raise InvalidArgument(f"{where}: the archive holds no values; {_SAVE_HINT}")
    return values


def _declared_entries(file: Path) -> int | None:
    """The member count a zip archive's end record declares (zip64 too), read without parsing the
    central directory; None where no end record is found (zipfile then says what is wrong).

    Written here, not taken from zipfile, whose reader is private: the record is 22 bytes at the
    end (after a comment of at most 65,535 bytes), its total count at offset 10; a count of
    0xFFFF points to the zip64 record, found through the 20-byte locator just before it.
    """
    try:
        with open(file, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            tail_start = max(0, size - (22 + 65_535))
            handle.seek(tail_start)
            tail = handle.read()
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or at + 22 > len(tail):
                return None
            (total,) = struct.unpack_from("<H", tail, at + 10)
            if total != 0xFFFF:
                return total
            locator = at - 20
            if locator < 0 or tail[locator:locator + 4] != b"PK\x06\x07":
                return None
            (record,) = struct.unpack_from("<Q", tail, locator + 8)
            handle.seek(record)
            zip64 = handle.read(56)
            if len(zip64) < 40 or zip64[:4] != b"PK\x06\x06":
                return None
            return struct.unpack_from("<Q", zip64, 32)[0]
    except (OSError, struct.error, ValueError):
        return None


def _point_members(where: str, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by value name (``w1.npy`` is ``w1``), each checked before it is read."""
    if len(infos) > MAX_NODES:
        raise InvalidArgument(f"{where}: {len(infos):,} members, more than any network has leaves "
                              f"({MAX_NODES:,}, limits.MAX_NODES); {_SAVE_HINT}")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_POINT_FILE_BYTES:
        raise InvalidArgument(f"{where}: {unpacked:,} bytes (unpacked), above the limit of "
                              f"{MAX_POINT_FILE_BYTES:,} (limits.MAX_POINT_FILE_BYTES); give a smaller batch")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        member = f"{where}: the member {key[:40]!r}"
        if key in members:
            raise InvalidArgument(f"{where}: the archive holds {key[:40]!r} twice; save each name once ({_SAVE_HINT})")
        if info.flag_bits & 0x1:
            raise InvalidArgument(f"{member} is encrypted; save the values without a password ({_SAVE_HINT})")
        if info.compress_type not in _ZIP_METHODS:
            raise InvalidArgument(f"{member} uses compression method {info.compress_type}, which NumPy never "
                                  f"writes; {_SAVE_HINT}")
        members[key] = info
    return members


_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_REFUSED_KINDS = {"b": "booleans", "M": "dates or times", "m": "dates or times", "V": "records or raw bytes"}


def _read_member(where: str, key: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, values: bool) -> object:
    """One member's .npy header, checked (its dtype; bytes enough for its shape), and then: with ``values``,
    its value (``_point_value``); without, its size once its numbers are float64 (a string: its own size)."""
    member = f"{where}: the member {key[:40]!r}"
    try:
        with archive.open(info) as stream:
            if stream.read(len(npy_format.MAGIC_PREFIX)) != npy_format.MAGIC_PREFIX:
                raise InvalidArgument(f"{member} is not a NumPy array; {_SAVE_HINT}")
            stream.seek(0)
            version = npy_format.read_magic(stream)
            if version not in ((1, 0), (2, 0)):
                raise InvalidArgument(f"{member} is a .npy file of version {version[0]}.{version[1]}, which symgrad "
                                      f"does not read (NumPy writes numbers in 1.0 or 2.0); {_SAVE_HINT}")
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(stream)
            _check_member_dtype(member, dtype, shape)
            declared = math.prod(shape) * dtype.itemsize
            if min(shape, default=0) < 0 or declared > info.file_size:
                raise InvalidArgument(f"{member} declares {declared:,} bytes (shape {shape[:8]}) but holds "
                                      f"{info.file_size:,}: a damaged or forged file; {_SAVE_HINT}")
            if not values:
                return math.prod(shape) * max(8, dtype.itemsize)
            stream.seek(0)
            return _point_value(member, npy_format.read_array(stream, allow_pickle=False))
    except InvalidArgument:
        raise
    except Exception as exc:  # zlib, bz2, lzma, CRC and .npy header errors of a damaged member
        raise InvalidArgument(f"{member} cannot be read ({type(exc).__name__}: {str(exc)[:80]}): a damaged "
                              f"archive; {_SAVE_HINT}") from None


def _check_member_dtype(member: str, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """Numbers (integers, floats, complex) of any shape, or one string; nothing else, and never objects."""
    if dtype.hasobject:
        raise InvalidArgument(f"{member} holds Python objects (pickled), which symgrad never loads; {_SAVE_HINT}")
    if dtype.kind in _REFUSED_KINDS:
        raise InvalidArgument(f"{member} holds {_REFUSED_KINDS[dtype.kind]} ({str(dtype)[:40]}); give numbers "
                              f"({_SAVE_HINT})")
    if dtype.kind in "US" and shape != ():
        raise InvalidArgument(f"{member} holds an array of strings, shape {shape[:8]}; give numbers, or one string "
                              f"such as reduction=numpy.array('mean') ({_SAVE_HINT})")


def _point_value(member: str, array: np.ndarray) -> object:
    """A 0-d array as the number or string (from str, or ASCII bytes) it holds; any other array as it is."""
    if array.ndim == 0 and array.dtype.kind == "S":
        try:
            return bytes(array[()]).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidArgument(f"{member} holds bytes that are not ASCII; save it as a str, such as "
                                  f"reduction=numpy.array('mean') ({_SAVE_HINT})") from None
    if array.ndim == 0 and array.dtype.kind == "U":
        return str(array)
    if array.ndim == 0 and array.dtype.kind in "iuf":
        return float(array)
    return array
