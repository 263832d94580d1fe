"""The values a gradient check is asked to use, read from a NumPy ``.npz`` file (``symgrad gradcheck --at``).

The file is untrusted input, read as a spec file is: nothing in it runs (no pickle), and its
size, its member count, each member's unpacked size and each ``.npy`` header are checked
before any array is read. ``read_point_file`` gives what ``gradcheck(at=...)`` takes.
"""

from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from .errors import InvalidArgument
from .limits import MAX_NODES, MAX_POINT_FILE_BYTES

__all__ = ["read_point_file"]

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
