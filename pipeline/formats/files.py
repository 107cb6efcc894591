"""What every format does with files: check an input, decode its text, write an output atomically.

An output goes to a hidden temporary file beside it (``.NAME.tmp-PID``), is
fsynced and renamed onto its path, and the rename is made durable; polars'
and the OS's errors become one ``OutputError`` line.  The temporaries of a run
killed mid-write (its pid gone) are removed by the next write of that output.
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from ..errors import InputError, OutputError, UsageError
from ..processes import alive

__all__ = [
    "atomic",
    "check_destination",
    "check_readable",
    "codec",
    "commit",
    "decode",
    "decode_error",
    "output_errors",
    "refuse_input",
    "temporary",
    "utf8_error_offset",
]


# -- inputs -------------------------------------------------------------------


def check_readable(path: Path) -> None:
    """A file that exists, can be read and is not empty (0 bytes), or one InputError line.

    A header-only table is not empty: it reads as zero rows."""
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a table; pass the path of a file")
    try:
        with path.open("rb") as fh:
            first = fh.read(1)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file; check the path") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check its permissions") from exc
    if not first:
        raise InputError(f"{path}: file is empty (0 bytes); pass a table with a header row")


def codec(encoding: str | None) -> str | None:
    """The canonical codec name, or None for UTF-8 (read natively by polars)."""
    if encoding is None:
        return None
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise UsageError(f"unknown encoding '{encoding}'; pass e.g. --encoding latin-1") from exc
    return None if name in ("utf-8", "utf-8-sig") else name


def decode(path: Path, data: bytes, codec: str | None) -> str:
    try:
        return data.decode(codec or "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise decode_error(path, codec, exc.start) from exc


def decode_error(path: Path, codec: str | None, offset: int) -> InputError:
    if codec is None:
        return InputError(
            f"{path}: not valid UTF-8 (first bad byte at offset {offset}); "
            "pass --encoding latin-1 (or the encoding the file was saved in)"
        )
    return InputError(f"{path}: cannot decode as {codec} at byte offset {offset}; fix --encoding")


def utf8_error_offset(path: Path) -> int | None:
    """Offset of the first byte that is not UTF-8, reading in chunks; None if all is UTF-8."""
    offset, carry = 0, b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            data = carry + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset, carry = offset + used, data[used:]


# -- outputs ------------------------------------------------------------------


def refuse_input(source: Path, target: Path) -> None:
    same = target.resolve() == source.resolve()
    with contextlib.suppress(OSError):
        same = same or target.samefile(source)
    if same:
        raise OutputError(f"{target}: output would overwrite the input {source}; pass -o")


def check_destination(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"{path}: directory {parent} does not exist; create it or pass -o")
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a directory; pass another -o")
    if path.is_dir():
        raise OutputError(f"{path} is a directory; pass -o with a file path")


def temporary(path: Path) -> Path:
    """The hidden file beside ``path`` that is written first and renamed onto it.  What an
    earlier run of this host left there when it was killed (the temporary and its Parquet
    part files, ``.NAME.tmp-PID[.partN]``, of a pid that is gone) is removed."""
    prefix = f".{path.name}.tmp-"
    with contextlib.suppress(OSError):
        for left in path.parent.glob(glob.escape(prefix) + "*"):
            pid = left.name.removeprefix(prefix).split(".", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
                left.unlink(missing_ok=True)
    return path.with_name(f"{prefix}{os.getpid()}")


def commit(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, rename it onto ``path``, and make the rename durable."""
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside `path`, fsync it, then rename it onto `path`."""
    check_destination(path)
    tmp = temporary(path)
    try:
        with output_errors(path):
            write(tmp)
            commit(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """OSError and polars' errors while writing ``path`` -> one OutputError line."""
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(
            f"{path}: cannot write the output ({reason}); "
            "check free space and permissions, or pass another -o"
        ) from exc


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
