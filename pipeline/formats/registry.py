"""Formats by name and extension; reading a table and writing one, all or nothing.

Each format is one module of this package that the registry imports on first
use; a table format's module offers ``source(name)`` and ``sink(name)``.  A
localization catalog registers here the same way (``kind="catalog"``), so a
new format is one entry in ``_KNOWN`` and one module, nothing outside
``formats/``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import polars as pl

from ..errors import PipelineError, UsageError
from .files import atomic, check_destination, commit, output_errors, refuse_input, temporary
from .table import BlockWriter, ReadOptions, Sink, Source, Table, WriteOptions

__all__ = [
    "FORMATS",
    "Format",
    "TableWriter",
    "detect_format",
    "format_for",
    "read_table",
    "register",
    "sink_for",
    "source_for",
    "write_frame",
    "write_table",
]


@dataclass(frozen=True, slots=True)
class Format:
    """A format: its name, the module of this package that implements it, its extensions."""

    name: str
    module: str
    extensions: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    kind: str = "table"  # "table": a Source and a Sink; "catalog": a catalog.CatalogFormat


_KNOWN: dict[str, Format] = {}


def register(fmt: Format) -> None:
    """Make ``fmt`` known by its name, aliases and extensions."""
    _KNOWN[fmt.name] = fmt


for _fmt in (
    Format("csv", "csv", (".csv",)),
    Format("tsv", "csv", (".tsv", ".tab"), ("tab",)),
    Format("parquet", "parquet", (".parquet", ".pq"), ("pq",)),
    Format("jsonl", "jsonl", (".jsonl", ".ndjson"), ("ndjson", "json")),
    Format("xlsx", "xlsx", (".xlsx",), ("excel",)),
):
    register(_fmt)

FORMATS = tuple(name for name, fmt in _KNOWN.items() if fmt.kind == "table")


def format_for(path: Path, explicit: str | None = None) -> Format:
    """The format of ``path``: ``explicit`` if given (a name or alias), else by extension."""
    if explicit is not None:
        wanted = explicit.lower()
        for fmt in _KNOWN.values():
            if wanted == fmt.name or wanted in fmt.aliases:
                return fmt
        raise UsageError(f"unknown format '{explicit}'; pass --format {' | '.join(_KNOWN)}")
    suffix = path.suffix.lower()
    for fmt in _KNOWN.values():
        if suffix in fmt.extensions:
            return fmt
    if suffix == ".json":
        raise UsageError(f"{path}: .json is read only as JSON Lines; pass --format jsonl if so")
    known = ", ".join(ext for fmt in _KNOWN.values() for ext in fmt.extensions)
    raise UsageError(
        f"{path}: cannot tell the format from the extension '{suffix}' (known: {known}); "
        f"pass --format {' | '.join(_KNOWN)}"
    )


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The name of the format of `path`: `explicit` if given, else from the file extension."""
    return format_for(path, explicit).name


def _module(fmt: Format) -> ModuleType:
    return importlib.import_module(f"{__package__}.{fmt.module}")


def source_for(path: Path, format: str | None = None) -> Source:
    """The Source that reads ``path`` (by ``format``, else by its extension)."""
    fmt = format_for(path, format)
    source: Source = _module(fmt).source(fmt.name)
    return source


def sink_for(path: Path, format: str | None = None) -> Sink:
    """The Sink that writes ``path`` (by ``format``, else by its extension)."""
    fmt = format_for(path, format)
    sink: Sink = _module(fmt).sink(fmt.name)
    return sink


def read_table(
    path: Path,
    *,
    format: str | None = None,
    columns: Sequence[str] = (),
    ids: Sequence[str] = (),
    delimiter: str | None = None,
    encoding: str | None = None,
    skip_bad_lines: bool = False,
    rejects: Path | None = None,
) -> Table:
    """Read `path` and check that `columns` (default: `text`) are text columns of it."""
    options = ReadOptions(tuple(columns), tuple(ids), delimiter, encoding, skip_bad_lines, rejects)
    return source_for(path, format).read(path, options)


class TableWriter:
    """Write a table block by block, all or nothing::

        with TableWriter(path, source=table) as out:
            for block, added in ...:
                out.write(block, added)   # rows of the input, and the columns to add

    Blocks go to a temporary file beside ``path`` (Parquet: a part file per
    block, joined at the end), which is fsynced and renamed onto ``path`` when
    the ``with`` block ends without error, and removed when it does not.
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
        self._sink = sink_for(path, format)
        self.format = self._sink.name
        refuse_input(source.path, path)
        check_destination(path)
        self._like = source
        self._options = WriteOptions(escape_formulas, tuple(escape_columns))
        self._tmp = temporary(path)
        self._out: BlockWriter | None = None

    def __enter__(self) -> TableWriter:
        with output_errors(self.path):
            self._out = self._sink.open(self._tmp, like=self._like, options=self._options)
        return self

    def write(self, table: Table, added: pl.DataFrame) -> None:
        """Append the rows of ``table`` (a block of the input) with the columns of ``added``."""
        if added.width and added.height != table.frame.height:
            raise PipelineError(
                f"{self.path}: {added.height} added rows for {table.frame.height} input rows; "
                "this is a bug in mtpipe"
            )
        assert self._out is not None, "write() outside the with block"
        with output_errors(self.path):
            self._out.write(table, added)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None and self._out is not None:
                with output_errors(self.path):
                    self._out.finish()
                    commit(self._tmp, self.path)  # fsync, rename, fsync the folder
        finally:
            if self._out is not None:
                self._out.close()
            with contextlib.suppress(OSError):
                self._tmp.unlink(missing_ok=True)


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


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """A side table (failed cells, rejects) in the format of ``path``'s extension, atomically."""
    sink = sink_for(path)
    atomic(path, lambda tmp: sink.write_frame(frame, tmp))
