"""Formats by name and extension; reading a table and writing one, all or nothing.

Each format is one module of this package that the registry imports on first
use; a table format's module offers ``source(name)`` and ``sink(name)``.  A
localization catalog registers here the same way (``kind="catalog"``, its
module's ``catalog.CatalogFormat`` class named by ``factory``), so a new format
is one entry in ``_KNOWN`` and one module, nothing outside ``formats/``.

Two extensions are shared, so the file's content decides (``sniff``): ``.xml``
is an Android resource file when its root is ``<resources>`` or it sits in a
``res/values*/`` folder; ``.json`` is an i18next/FormatJS catalog when the whole
file is one JSON object, and JSON Lines (a table) otherwise.  A name given with
``--format`` always wins.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import polars as pl

from ..errors import PipelineError, UsageError
from .catalog import CatalogFormat
from .files import atomic, check_destination, commit, output_errors, refuse_input, temporary
from .table import BlockWriter, ReadOptions, Sink, Source, Table, WriteOptions

__all__ = [
    "CATALOGS",
    "FORMATS",
    "Format",
    "TableWriter",
    "catalog_for",
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
    factory: str = ""  # a catalog: the class of ``module`` implementing CatalogFormat


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
    Format("po", "po", (".po", ".pot"), ("pot", "gettext"), "catalog", "PoFormat"),
    Format("xliff", "xliff", (".xlf", ".xliff", ".xlf2"), ("xlf",), "catalog", "XliffFormat"),
    Format("android", "android", (".xml",), (), "catalog", "AndroidFormat"),
    Format("strings", "apple", (".strings",), (), "catalog", "StringsFormat"),
    Format("stringsdict", "stringsdict", (".stringsdict",), (), "catalog", "StringsdictFormat"),
    Format("xcstrings", "xcstrings", (".xcstrings",), (), "catalog", "XcstringsFormat"),
    Format("arb", "arb", (".arb",), (), "catalog", "ArbFormat"),
    Format("i18next", "i18next", (".json",), ("formatjs",), "catalog", "I18nextFormat"),
):
    register(_fmt)

FORMATS = tuple(name for name, fmt in _KNOWN.items() if fmt.kind == "table")
CATALOGS = tuple(name for name, fmt in _KNOWN.items() if fmt.kind == "catalog")
_VALUES = re.compile(r"^values(-[^/]*)?$")


def format_for(path: Path, explicit: str | None = None) -> Format:
    """The format of ``path``: ``explicit`` if given (a name or alias), else by extension
    (and, for ``.xml`` and ``.json``, by the file's content: see ``sniff``)."""
    if explicit is not None:
        wanted = explicit.lower()
        for fmt in _KNOWN.values():
            if wanted == fmt.name or wanted in fmt.aliases:
                return fmt
        raise UsageError(f"unknown format '{explicit}'; pass --format {' | '.join(_KNOWN)}")
    suffix = path.suffix.lower()
    if suffix in (".xml", ".json"):
        return sniff(path)
    for fmt in _KNOWN.values():
        if suffix in fmt.extensions:
            return fmt
    known = ", ".join(dict.fromkeys(ext for fmt in _KNOWN.values() for ext in fmt.extensions))
    raise UsageError(
        f"{path}: cannot tell the format from the extension '{suffix}' (known: {known}); "
        f"pass --format {' | '.join(_KNOWN)}"
    )


def sniff(path: Path) -> Format:
    """``.xml``: Android by its ``<resources>`` root or its ``res/values*/`` folder;
    ``.json``: an i18next catalog when the whole file is one JSON object, else JSON Lines."""
    head = _head(path)
    if path.suffix.lower() == ".xml":
        if _VALUES.match(path.parent.name) or re.search(rb"<resources[\s>/]", head):
            return _KNOWN["android"]
        raise UsageError(
            f"{path}: an .xml file is read only as an Android resource file (root <resources>, "
            "or in res/values*/); pass --format android if it is one"
        )
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and _one_object(path):
        return _KNOWN["i18next"]
    if path.exists():
        return _KNOWN["jsonl"]
    raise UsageError(
        f"{path}: .json is an i18next catalog (one JSON object) or JSON Lines; "
        "pass --format i18next or --format jsonl"
    )


def _head(path: Path) -> bytes:
    """The first 4 KiB of ``path``, or nothing when it cannot be read (the reader says why)."""
    try:
        with path.open("rb") as file:
            return file.read(4096)
    except OSError:
        return b""


def _one_object(path: Path) -> bool:
    """True when the whole file parses as one JSON object (not one object per line)."""
    try:
        return isinstance(json.loads(path.read_bytes().decode("utf-8-sig")), dict)
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def catalog_for(path: Path, explicit: str | None = None) -> CatalogFormat | None:
    """The catalog format of ``path`` (by ``explicit``, else extension and content), or None
    when ``path`` is a table."""
    fmt = format_for(path, explicit)
    if fmt.kind != "catalog":
        return None
    catalog: CatalogFormat = getattr(_module(fmt), fmt.factory)()
    return catalog


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The name of the format of `path`: `explicit` if given, else from the file extension."""
    return format_for(path, explicit).name


def _module(fmt: Format) -> ModuleType:
    return importlib.import_module(f"{__package__}.{fmt.module}")


def _table(path: Path, format: str | None) -> Format:
    fmt = format_for(path, format)
    if fmt.kind != "table":
        tables = " | ".join(FORMATS)
        raise UsageError(
            f"{path}: a {fmt.name} catalog is not a table; catalogs are translated into "
            f"catalogs (mtpipe translate CATALOG --to LANGS -o DIR), tables into --format {tables}"
        )
    return fmt


def source_for(path: Path, format: str | None = None) -> Source:
    """The Source that reads ``path`` (by ``format``, else by its extension)."""
    fmt = _table(path, format)
    source: Source = _module(fmt).source(fmt.name)
    return source


def sink_for(path: Path, format: str | None = None) -> Sink:
    """The Sink that writes ``path`` (by ``format``, else by its extension)."""
    fmt = _table(path, format)
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
