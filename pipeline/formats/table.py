"""The table seam: a ``Table`` of cells, and the ``Source`` and ``Sink`` every table format is.

A ``Source`` reads a file into a ``Table``: every input column unchanged in
``frame``, the ``columns`` to translate, and ``native``, the format's own
state that only its ``Sink`` reads back (JSON Lines' raw lines, the CSV
delimiter).  A ``Sink`` opens a ``BlockWriter`` on a temporary file and is
given the table block by block with the columns to add; the registry
(``registry.py``) does the temporary file, the rename and the cleanup.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from ..errors import InputError

__all__ = [
    "BlockWriter",
    "Native",
    "ReadOptions",
    "Sink",
    "Source",
    "Table",
    "WriteOptions",
    "choose_columns",
    "choose_ids",
    "nested_as_json",
    "settle",
]


class Native(Protocol):
    """What a format keeps of a table beyond its frame, sliced and taken along with its rows."""

    def slice(self, start: int, length: int) -> Native: ...

    def take(self, rows: Sequence[int]) -> Native: ...

    def texts(self, column: str) -> pl.Series | None:
        """The strings at ``column`` when the format knows better than the frame; else None."""
        ...


@dataclass(frozen=True, slots=True)
class Table:
    """An input table: every input column unchanged, and the columns to translate."""

    path: Path
    format: str
    frame: pl.DataFrame
    columns: tuple[str, ...] = ()
    native: Native | None = None  # the format's own state: only its Sink reads it
    rejected: tuple[int, ...] = ()  # line numbers of input records skipped as bad
    ids: tuple[str, ...] = ()  # the columns that identify a row (copied into failed cells)

    def slice(self, start: int, length: int) -> Table:
        """Rows ``start`` to ``start + length`` (zero-copy)."""
        native = self.native.slice(start, length) if self.native is not None else None
        return replace(self, frame=self.frame.slice(start, length), native=native)

    def take(self, rows: Sequence[int]) -> Table:
        """The rows at the positions ``rows``, in that order (repeats allowed)."""
        native = self.native.take(rows) if self.native is not None else None
        return replace(self, frame=self.frame[list(rows)], native=native)

    def texts(self, column: str) -> pl.Series:
        """The strings of `column` (a name or a dotted path into objects); null elsewhere."""
        known = self.native.texts(column) if self.native is not None else None
        if known is not None:
            return known
        if column in self.frame.columns:
            series = self.frame.get_column(column)
        else:
            head, *rest = column.split(".")
            series = self.frame.get_column(head)
            for part in rest:
                series = series.struct.field(part)
        return series.cast(pl.String).rename(column)

    def nested(self, column: str) -> bool:
        """True if ``column`` is a dotted path into objects, not a column of its own."""
        return column not in self.frame.columns and "." in column


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read an input: the columns to translate and the format's reading options."""

    columns: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # id columns (default: the column named "id", if any)
    delimiter: str | None = None  # CSV and TSV
    encoding: str | None = None  # text formats
    skip_bad_lines: bool = False  # JSON Lines
    rejects: Path | None = None  # JSON Lines: where skipped lines go


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How to write an output: which added columns get spreadsheet formulas defused."""

    escape_formulas: bool = True
    escape_columns: tuple[str, ...] = field(default=())

    @property
    def escaped(self) -> tuple[str, ...]:
        return self.escape_columns if self.escape_formulas else ()


class BlockWriter(Protocol):
    """One output being written to its temporary file, block by block."""

    def write(self, table: Table, added: pl.DataFrame) -> None: ...

    def finish(self) -> None:
        """Everything written and closed: the temporary file is complete."""
        ...

    def close(self) -> None:
        """Release what is open and remove any part file (after finish, or on failure)."""
        ...


class Source(Protocol):
    """A format tables are read from."""

    name: str

    def read(self, path: Path, options: ReadOptions) -> Table: ...


class Sink(Protocol):
    """A format tables are written to."""

    name: str

    def open(self, tmp: Path, *, like: Table, options: WriteOptions) -> BlockWriter: ...

    def write_frame(self, frame: pl.DataFrame, tmp: Path) -> None:
        """A side table (failed cells) written whole to ``tmp``."""
        ...


def nested_as_json(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs as their JSON text, for formats with flat cells (CSV, XLSX)."""
    exprs = []
    for index, (name, dtype) in enumerate(frame.schema.items()):
        if dtype.is_nested():
            column = pl.nth(index)  # by position: a name like "*" would be read as a pattern
            wrapped = pl.struct(column.alias("v")).struct.json_encode()
            text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
            exprs.append(pl.when(column.is_not_null()).then(text).alias(name))
    return frame.with_columns(exprs) if exprs else frame


# -- which columns to translate ----------------------------------------------


def settle(table: Table, options: ReadOptions, empty: str) -> Table:
    """``table`` with its columns to translate and its id columns checked and chosen."""
    columns = choose_columns(table, options.columns, empty)
    return replace(table, columns=columns, ids=choose_ids(table, options.ids))


def choose_ids(table: Table, requested: Sequence[str]) -> tuple[str, ...]:
    """The id columns: those ``requested``, each a column of ``table``; by default ``id``."""
    names = table.frame.columns
    if not requested:
        return ("id",) if "id" in names else ()
    for column in requested:
        if column not in names:
            hint = _nearest(column, names)
            raise InputError(
                f"{table.path}: id column '{column}' not found (columns: {', '.join(names)}); "
                + (f"did you mean '{hint}'?" if hint else "pass --id-column with one of them")
            )
    return tuple(dict.fromkeys(requested))


def choose_columns(table: Table, requested: Sequence[str], empty: str) -> tuple[str, ...]:
    """Check that ``requested`` (default: ``text``) are text columns of ``table``.

    ``empty`` says what a table with no columns lacks (``no header row``).
    """
    path, frame = table.path, table.frame
    requested = tuple(dict.fromkeys(requested))
    if frame.width == 0 and requested:
        raise InputError(f"{path} is empty: {empty}; pass a table with a header and rows")
    texts = _text_paths(frame.schema)
    if not requested:
        if frame.width == 0:
            return ()
        if "text" not in frame.columns:
            raise InputError(
                f"{path}: no column named 'text'; pass --column with one of: {', '.join(texts)}"
            )
        requested = ("text",)
    for column in requested:
        _check_column(table, column, texts)
    return requested


def _check_column(table: Table, column: str, texts: list[str]) -> None:
    path, frame = table.path, table.frame
    dtype = _dtype_at(frame.schema, column)
    if dtype is None:
        known = table.native.texts(column) if table.native is not None else None
        if known is not None and known.null_count() < frame.height:
            return  # a path into a field of mixed types: some rows hold strings there
        hint = _nearest(column, [*frame.columns, *texts])
        raise InputError(
            f"{path}: column '{column}' not found (columns: {', '.join(frame.columns)}); "
            + (f"did you mean '{hint}'?" if hint else "pass --column with one of them")
        )
    if not _is_text(dtype):
        raise InputError(
            f"{path}: column '{column}' holds {dtype}, not text; "
            f"pass --column with one of: {', '.join(texts) or '(no text columns)'}"
        )


def _dtype_at(schema: pl.Schema, column: str) -> pl.DataType | None:
    if column in schema:
        return schema[column]
    head, *rest = column.split(".")
    dtype: Any = schema.get(head)
    for part in rest:
        if not isinstance(dtype, pl.Struct):
            return None
        dtype = {field.name: field.dtype for field in dtype.fields}.get(part)
    return dtype if rest else None


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _text_paths(schema: pl.Schema, prefix: str = "") -> list[str]:
    """Names of the text columns, with dotted paths to text fields of structs."""
    paths: list[str] = []
    for name, dtype in schema.items():
        if _is_text(dtype):
            paths.append(prefix + name)
        elif isinstance(dtype, pl.Struct):
            inner = pl.Schema({field.name: field.dtype for field in dtype.fields})
            paths += _text_paths(inner, f"{prefix}{name}.")
    return paths


def _nearest(column: str, candidates: list[str]) -> str | None:
    folded = column.strip().casefold()
    for candidate in candidates:
        if candidate.strip().casefold() == folded:
            return candidate
    close = difflib.get_close_matches(column, candidates, n=1)
    return close[0] if close else None
