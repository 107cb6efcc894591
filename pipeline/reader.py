"""Read an input table (CSV, TSV, Parquet, JSON Lines) into a `Table`.

CSV and TSV cells come back as the exact strings of the file (no type
inference; an empty field is null, a quoted empty field ""); Parquet keeps its
types; JSON Lines keeps every line verbatim in ``raw_lines`` so the writer can
pass objects through untouched, and builds a typed ``frame`` for output in
other formats (a field whose values are of different JSON types is stored as
their JSON text).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from .errors import InputError, UsageError
from .jsonl import json_leaf, read_jsonl

__all__ = ["FORMATS", "Table", "detect_format", "read_table"]

FORMATS = ("csv", "tsv", "parquet", "jsonl")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_ALIASES = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet", "tab": "tsv"}
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (",", "\t", ";", "|")  # ties go to the earlier one


@dataclass(frozen=True, slots=True)
class Table:
    """An input table: every input column unchanged, and the columns to translate."""

    path: Path
    format: str
    frame: pl.DataFrame
    columns: tuple[str, ...]
    delimiter: str | None = None
    raw_lines: pl.Series | None = None

    def slice(self, start: int, length: int) -> Table:
        """Rows ``start`` to ``start + length`` (zero-copy)."""
        raw = self.raw_lines.slice(start, length) if self.raw_lines is not None else None
        return replace(self, frame=self.frame.slice(start, length), raw_lines=raw)

    def texts(self, column: str) -> pl.Series:
        """The strings of `column` (a name or a dotted path into objects); null elsewhere."""
        if self.raw_lines is not None:
            leaves = (json_leaf(json.loads(line), column) for line in self.raw_lines)
            return pl.Series(column, list(leaves), dtype=pl.String)
        if column in self.frame.columns:
            series = self.frame.get_column(column)
        else:
            head, *rest = column.split(".")
            series = self.frame.get_column(head)
            for part in rest:
                series = series.struct.field(part)
        return series.cast(pl.String).rename(column)


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The format of `path`: `explicit` if given, else from the file extension."""
    if explicit is not None:
        name = _ALIASES.get(explicit.lower(), explicit.lower())
        if name not in FORMATS:
            raise UsageError(f"unknown format '{explicit}'; pass --format {' | '.join(FORMATS)}")
        return name
    suffix = path.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".json":
        raise UsageError(f"{path}: .json is read only as JSON Lines; pass --format jsonl if so")
    raise UsageError(
        f"{path}: cannot tell the format from the extension '{suffix}'; "
        f"pass --format {' | '.join(FORMATS)}"
    )


def read_table(
    path: Path,
    *,
    format: str | None = None,
    columns: Sequence[str] = (),
    delimiter: str | None = None,
    encoding: str | None = None,
    skip_bad_lines: bool = False,
    rejects: Path | None = None,
) -> Table:
    """Read `path` and check that `columns` (default: `text`) are text columns of it."""
    _check_readable(path)
    fmt = detect_format(path, format)
    codec = _codec(encoding)
    raw_lines = None
    sep = None
    if fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "jsonl":
        text = _decode(path, path.read_bytes(), codec)
        frame, raw_lines = read_jsonl(text, path, skip_bad_lines, rejects)
    else:
        frame, sep = _read_delimited(path, fmt, delimiter, codec)
    table = Table(path, fmt, frame, (), sep, raw_lines)
    return replace(table, columns=_choose_columns(table, tuple(dict.fromkeys(columns))))


# -- checks shared by every format ------------------------------------------


def _check_readable(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a table; pass the path of a file")
    try:
        with path.open("rb") as fh:
            empty = not fh.read(1)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file; check the path") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check its permissions") from exc
    if empty:
        raise InputError(f"{path}: file is empty (0 bytes); pass a table with a header row")


def _codec(encoding: str | None) -> str | None:
    """The canonical codec name, or None for UTF-8 (read natively by polars)."""
    if encoding is None:
        return None
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise UsageError(f"unknown encoding '{encoding}'; pass e.g. --encoding latin-1") from exc
    return None if name in ("utf-8", "utf-8-sig") else name


def _decode(path: Path, data: bytes, codec: str | None) -> str:
    try:
        return data.decode(codec or "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, codec, exc.start) from exc


def _decode_error(path: Path, codec: str | None, offset: int) -> InputError:
    if codec is None:
        return InputError(
            f"{path}: not valid UTF-8 (first bad byte at offset {offset}); "
            "pass --encoding latin-1 (or the encoding the file was saved in)"
        )
    return InputError(f"{path}: cannot decode as {codec} at byte offset {offset}; fix --encoding")


def _utf8_error_offset(path: Path) -> int | None:
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


# -- CSV and TSV ------------------------------------------------------------


def _read_delimited(
    path: Path, fmt: str, delimiter: str | None, codec: str | None
) -> tuple[pl.DataFrame, str]:
    source: Path | bytes = path
    if codec is not None:  # decode here; polars reads only UTF-8
        source = _decode(path, path.read_bytes(), codec).encode()
        head = source[:_SNIFF_BYTES]
    else:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    sample = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    sep = _delimiter(delimiter, fmt, sample)
    try:
        frame, quote = _parse_delimited(source, sep)
    except pl.exceptions.NoDataError:
        return pl.DataFrame(), sep
    except pl.exceptions.PolarsError as exc:
        raise _csv_error(path, fmt, sep, codec, exc) from exc
    return _fix_header(frame, sample, sep, quote), sep


def _parse_delimited(source: Path | bytes, sep: str) -> tuple[pl.DataFrame, str | None]:
    """Every cell as a string; for TSV, quotes are data when quoted parsing fails."""
    read = partial(
        pl.read_csv,
        source,
        separator=sep,
        infer_schema=False,
        glob=False,
        raise_if_empty=True,
    )
    if sep != "\t":
        return read(quote_char='"'), '"'
    try:
        return read(quote_char='"'), '"'
    except pl.exceptions.NoDataError:
        raise
    except pl.exceptions.PolarsError:
        return read(quote_char=None), None


def _delimiter(delimiter: str | None, fmt: str, sample: str) -> str:
    if delimiter is not None:
        sep = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(sep.encode()) != 1:
            raise UsageError(f"--delimiter {delimiter!r} must be one ASCII character, like ';'")
        return sep
    if fmt == "tsv":
        return "\t"
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in sample:  # the header line, outside quotes
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=counts.__getitem__)
    return best if counts[best] else ","


def _fix_header(frame: pl.DataFrame, sample: str, sep: str, quote: str | None) -> pl.DataFrame:
    """Use the csv module's reading of the header: polars keeps doubled quotes in names."""
    text = io.StringIO(sample, newline="")
    if quote:
        reader = csv.reader(text, delimiter=sep)
    else:
        reader = csv.reader(text, delimiter=sep, quoting=csv.QUOTE_NONE)
    names = _dedupe(next(reader, []))
    if len(names) != frame.width or names == frame.columns:
        return frame
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        new, n = name, 0
        while new in seen:
            new, n = f"{name}_duplicated_{n}", n + 1
        seen.add(new)
        out.append(new)
    return out


def _csv_error(
    path: Path, fmt: str, sep: str, codec: str | None, exc: pl.exceptions.PolarsError
) -> InputError:
    if codec is None and (offset := _utf8_error_offset(path)) is not None:
        return _decode_error(path, None, offset)
    reason = str(exc).strip().splitlines()[0]
    return InputError(
        f"{path}: cannot read as {fmt} with delimiter {sep!r} ({reason}); "
        "check the quoting or pass --delimiter"
    )


# -- Parquet ----------------------------------------------------------------


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, glob=False, hive_partitioning=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: not a readable Parquet file ({reason}); check --format") from exc


# -- JSON Lines -------------------------------------------------------------


def _choose_columns(table: Table, requested: tuple[str, ...]) -> tuple[str, ...]:
    path, frame = table.path, table.frame
    if frame.width == 0 and requested:
        what = "no JSON objects" if table.format == "jsonl" else "no header row"
        raise InputError(f"{path} is empty: {what}; pass a table with a header and rows")
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
        if table.raw_lines is not None and table.texts(column).null_count() < frame.height:
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
