"""Write a `Table` with added columns (translations, token counts, errors), atomically.

Any input format goes to any output format.  JSON Lines from JSON Lines keeps
each input line byte for byte and appends the added keys before its closing
brace; CSV and TSV cells are written back exactly as read, with spreadsheet
formulas in the translated columns defused by a leading quote (OWASP).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import polars as pl

from .errors import OutputError, PipelineError, UsageError
from .reader import Table, detect_format

__all__ = ["TableWriter", "write_frame", "write_table"]

_FORMULA = r"^([=+\-@\t\r])"  # cells a spreadsheet would run as a formula
_DEFAULT_DELIMITER = {"csv": ",", "tsv": "\t"}


def write_table(
    table: Table,
    added: pl.DataFrame,
    path: Path,
    *,
    format: str | None = None,
    escape_formulas: bool = True,
    escape_columns: Sequence[str] = (),
) -> None:
    """Write `table.frame` followed by the columns of `added` to `path`, all or nothing."""
    writer = TableWriter(
        path,
        source=table,
        format=format,
        escape_formulas=escape_formulas,
        escape_columns=escape_columns,
    )
    with writer as out:
        out.write(table, added)


class TableWriter:
    """Write a table block by block, all or nothing::

        with TableWriter(path, source=table) as out:
            for block, added in ...:
                out.write(block, added)   # rows of the input, and the columns to add

    Blocks go to a temporary file beside ``path`` (Parquet: a part file per
    block, joined by polars' streaming engine at the end), which is fsynced
    and renamed onto ``path`` when the ``with`` block ends without error, and
    removed when it does not.  Only one block is ever held in memory.
    """

    def __init__(
        self,
        path: Path,
        *,
        source: Table,
        format: str | None = None,
        escape_formulas: bool = True,
        escape_columns: Sequence[str] = (),
    ) -> None:
        self.path = path
        self.format = detect_format(path, format)
        _refuse_input(source.path, path)
        _check_destination(path)
        same = source.format == self.format and source.delimiter
        self._sep = (
            source.delimiter
            if same and source.delimiter
            else _DEFAULT_DELIMITER.get(self.format, ",")
        )
        self._escape = escape_columns if escape_formulas else ()
        self._tmp = _temporary(path)
        self._parts: list[Path] = []
        self._file: BinaryIO | None = None
        self._blocks = 0

    def __enter__(self) -> TableWriter:
        if self.format != "parquet":
            with _output_errors(self.path):
                self._file = self._tmp.open("wb")
        return self

    def write(self, table: Table, added: pl.DataFrame) -> None:
        """Append the rows of ``table`` (a block of the input) with the columns of ``added``."""
        if added.width and added.height != table.frame.height:
            raise PipelineError(
                f"{self.path}: {added.height} added rows for {table.frame.height} input rows; "
                "this is a bug in mtpipe"
            )
        with _output_errors(self.path):
            self._write(table, added)
        self._blocks += 1

    def _write(self, table: Table, added: pl.DataFrame) -> None:
        if self.format == "jsonl" and table.raw_lines is not None:
            lines = _json_lines(table.raw_lines, added, table.frame.columns)
            assert self._file is not None
            pl.DataFrame({"line": lines}).write_csv(
                self._file, include_header=False, quote_style="never"
            )
            return
        frame = table.frame.with_columns(added.get_columns())  # same name: replaced in place
        if self.format == "parquet":
            part = self._tmp.with_name(f"{self._tmp.name}.part{len(self._parts):06d}")
            self._parts.append(part)
            frame.write_parquet(part)
            return
        assert self._file is not None
        if self.format == "jsonl":
            frame.write_ndjson(self._file)
            return
        ready = _csv_ready(frame, _escape_set(frame, self._escape))
        header = self._blocks == 0
        ready.write_csv(
            self._file, separator=self._sep, quote_style="necessary", include_header=header
        )

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                with _output_errors(self.path):
                    self._finish()
        finally:
            if self._file is not None and not self._file.closed:
                self._file.close()
            for leftover in [*self._parts, self._tmp]:
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)

    def _finish(self) -> None:
        if self.format == "parquet":
            if not self._parts:
                raise PipelineError(f"{self.path}: no block was written; this is a bug in mtpipe")
            pl.scan_parquet(self._parts).sink_parquet(self._tmp)
        else:
            assert self._file is not None
            self._file.close()
        _commit(self._tmp, self.path)  # fsync, rename, fsync the folder


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """A side table (failed cells, rejects) in the format of ``path``'s extension, atomically."""
    fmt = detect_format(path)
    if fmt == "parquet":
        _atomic(path, frame.write_parquet)
    elif fmt == "jsonl":
        _atomic(path, frame.write_ndjson)
    else:
        sep = _DEFAULT_DELIMITER[fmt]
        _atomic(path, lambda tmp: frame.write_csv(tmp, separator=sep, quote_style="necessary"))


def _refuse_input(source: Path, target: Path) -> None:
    same = target.resolve() == source.resolve()
    with contextlib.suppress(OSError):
        same = same or target.samefile(source)
    if same:
        raise OutputError(f"{target}: output would overwrite the input {source}; pass -o")


def _escape_set(frame: pl.DataFrame, columns: Sequence[str]) -> set[str]:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise UsageError(
            f"cannot escape formulas in {', '.join(missing)}: not an output column "
            f"(columns: {', '.join(frame.columns)})"
        )
    return set(columns)


def _csv_ready(frame: pl.DataFrame, escape: Collection[str]) -> pl.DataFrame:
    """Nested values as JSON text, formulas in `escape` columns defused.

    Null and "" both become an empty field: null unquoted, "" quoted (so
    ``a,,""`` reads back as it was written), except that a one-column table
    writes null as "" too: many readers take an empty line for no row at all.
    """
    exprs = []
    for index, (name, dtype) in enumerate(frame.schema.items()):
        column = pl.nth(index)  # by position: a name like "*" would be read as a pattern
        if dtype.is_nested():
            wrapped = pl.struct(column.alias("v")).struct.json_encode()
            text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
            exprs.append(pl.when(column.is_not_null()).then(text).alias(name))
        elif dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
            text = column.cast(pl.String)
            text = text.fill_null("") if frame.width == 1 else text
            text = text.str.replace(_FORMULA, "'$1") if name in escape else text
            exprs.append(text.alias(name))
    return frame.with_columns(exprs)


def _json_lines(raw: pl.Series, added: pl.DataFrame, keys: Sequence[str]) -> pl.Series:
    """Each raw line with the added fields appended as top-level keys."""
    if added.width == 0:
        return raw
    if set(added.columns) & set(keys):  # replace fields in place: decode and re-encode
        rows = added.iter_rows(named=True)
        merged = [
            json.dumps({**json.loads(line), **row}, ensure_ascii=False, separators=(",", ":"))
            for line, row in zip(raw, rows, strict=True)
        ]
        return pl.Series("line", merged, dtype=pl.String)
    extra = added.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    parts = pl.DataFrame(
        {
            "body": raw.str.strip_chars_end().str.strip_suffix("}"),
            "extra": extra.str.strip_prefix("{"),
        }
    )
    empty = pl.col("body").str.strip_chars() == "{"
    sep = pl.when(empty).then(pl.lit("")).otherwise(pl.lit(","))
    return parts.select(pl.concat_str(pl.col("body"), sep, pl.col("extra"))).to_series()


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside `path`, fsync it, then rename it onto `path`."""
    _check_destination(path)
    tmp = _temporary(path)
    try:
        with _output_errors(path):
            write(tmp)
            _commit(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _temporary(path: Path) -> Path:
    """The hidden file beside ``path`` that is written first and renamed onto it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _commit(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, rename it onto ``path``, and make the rename durable."""
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


@contextlib.contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """OSError and polars' errors while writing ``path`` -> one OutputError line."""
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(
            f"{path}: cannot write the output ({reason}); "
            "check free space and permissions, or pass another -o"
        ) from exc


def _check_destination(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"{path}: directory {parent} does not exist; create it or pass -o")
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a directory; pass another -o")
    if path.is_dir():
        raise OutputError(f"{path} is a directory; pass -o with a file path")


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
