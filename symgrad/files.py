"""Writing files safely: whole or not at all, and never over one of the command's inputs.

Every file symgrad writes goes to a temporary file in the destination's folder and is renamed
into place once complete, so a failed write (a full disk, ``ulimit -f``) leaves the old file
whole. The rename replaces a symbolic link rather than writing through it, and a destination
that is the same file as an input (the spec, a claims file, a user's module) is refused before
anything is written.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text(folder / "report.md", "# w5\\n")
>>> (folder / "report.md").read_text()
'# w5\\n'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from .errors import InvalidArgument

__all__ = ["replacing", "same_file", "write_bytes", "write_text"]

PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one existing file (through links, ``..`` or another spelling)."""
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def _refuse_inputs(path: Path, inputs: Iterable[PathLike]) -> None:
    for source in inputs:
        if source is None:
            continue
        if same_file(path, source) or (path.is_symlink() and same_file(path.resolve(), source)):
            raise InvalidArgument(f"refusing to write {path}: it is the input {source}; "
                                  "choose another output file with -o")


@contextlib.contextmanager
def replacing(path: PathLike, *, inputs: Iterable[PathLike] = ()) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` when the block ends without an error.

    On an error nothing at ``path`` changes, and an ``OSError`` becomes ``InvalidArgument``
    naming the file.
    """
    target = Path(path)
    _refuse_inputs(target, inputs)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}; choose a writable path with -o") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}; choose a writable path with -o; "
                              "the old file, if any, is unchanged") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _mode(target: Path) -> int:
    """The existing file's permissions, or what a new file gets under the current umask.

    The umask can only be read by setting it; it is set back at once (mkstemp's own 0o600
    would make every report private to its writer).
    """
    try:
        if not target.is_symlink():
            return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes(path: PathLike, data: bytes, *, inputs: Iterable[PathLike] = ()) -> None:
    """Write ``data`` to ``path`` whole or not at all (see ``replacing``)."""
    with replacing(path, inputs=inputs) as handle:
        handle.write(data)


def write_text(path: PathLike, text: str, *, inputs: Iterable[PathLike] = ()) -> None:
    """Write ``text`` as UTF-8 to ``path`` whole or not at all (see ``replacing``)."""
    write_bytes(path, text.encode("utf-8"), inputs=inputs)
