"""CSV and TSV: cells as the exact strings of the file, written back as read.

Reading does no type inference: an empty field is null, a quoted empty field
"".  The delimiter is detected from the header line (outside quotes) unless
given; a TSV whose quotes do not balance is read with quotes as data.  Writing
keeps the input's delimiter when the output is the same format, defuses
spreadsheet formulas in the translated columns with a leading quote (OWASP),
and writes nested values as JSON text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ..errors import InputError, UsageError
from .files import check_readable, codec, decode, decode_error, utf8_error_offset
from .table import ReadOptions, Table, WriteOptions, nested_as_json, settle

__all__ = ["Delimited", "sink", "source"]

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (",", "\t", ";", "|")  # ties go to the earlier one
_DEFAULT_DELIMITER = {"csv": ",", "tsv": "\t"}
_FORMULA = r"^([=+\-@\t\r])"  # cells a spreadsheet would run as a formula


@dataclass(frozen=True, slots=True)
class Delimited:
    """What a CSV or TSV table keeps for its sink: the delimiter it was read with."""

    delimiter: str

    def slice(self, start: int, length: int) -> Delimited:
        return self

    def take(self, rows: Sequence[int]) -> Delimited:
        return self

    def texts(self, column: str) -> pl.Series | None:
        return None


@dataclass(frozen=True, slots=True)
class _Format:
    name: str  # "csv" or "tsv"

    def read(self, path: Path, options: ReadOptions) -> Table:
        check_readable(path)
        frame, sep = _read_delimited(path, self.name, options.delimiter, codec(options.encoding))
        table = Table(path, self.name, frame, native=Delimited(sep))
        return settle(table, options, "no header row")

    def open(self, tmp: Path, *, like: Table, options: WriteOptions) -> _Writer:
        same = like.format == self.name and isinstance(like.native, Delimited)
        sep = like.native.delimiter if same else _DEFAULT_DELIMITER[self.name]  # type: ignore[union-attr]
        return _Writer(tmp.open("wb"), sep, options.escaped)

    def write_frame(self, frame: pl.DataFrame, tmp: Path) -> None:
        ready = nested_as_json(frame)
        ready.write_csv(tmp, separator=_DEFAULT_DELIMITER[self.name], quote_style="necessary")


def source(name: str) -> _Format:
    return _Format(name)


def sink(name: str) -> _Format:
    return _Format(name)


class _Writer:
    """Blocks appended to one open file; the header with the first."""

    def __init__(self, file: BinaryIO, sep: str, escape: Sequence[str]) -> None:
        self._file, self._sep, self._escape = file, sep, escape
        self._blocks = 0

    def write(self, table: Table, added: pl.DataFrame) -> None:
        frame = table.frame.with_columns(added.get_columns())  # same name: replaced in place
        ready = _csv_ready(frame, _escape_set(frame, self._escape))
        header = self._blocks == 0
        ready.write_csv(
            self._file, separator=self._sep, quote_style="necessary", include_header=header
        )
        self._blocks += 1

    def finish(self) -> None:
        self._file.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


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
    schema = frame.schema  # before: nested columns' JSON text is neither filled nor escaped
    frame = nested_as_json(frame)
    exprs = []
    for index, (name, dtype) in enumerate(schema.items()):
        if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
            text = pl.nth(index).cast(pl.String)  # by position: "*" is a name, not a pattern
            text = text.fill_null("") if frame.width == 1 else text
            text = text.str.replace(_FORMULA, "'$1") if name in escape else text
            exprs.append(text.alias(name))
    return frame.with_columns(exprs)


# -- reading ------------------------------------------------------------------


def _read_delimited(
    path: Path, fmt: str, delimiter: str | None, codec: str | None
) -> tuple[pl.DataFrame, str]:
    source: Path | bytes = path
    if codec is not None:  # decode here; polars reads only UTF-8
        source = decode(path, path.read_bytes(), codec).encode()
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
        raise _csv_error(path, source, fmt, sep, codec, exc) from exc
    frame = _without_blank_lines(frame, source, sep, quote)
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


def _without_blank_lines(
    frame: pl.DataFrame, source: Path | bytes, sep: str, quote: str | None
) -> pl.DataFrame:
    """A blank physical line is not a record (``csv.DictReader`` and pandas skip it too);
    polars reads it as a row of nulls.  Only rows of nulls are looked at twice.  In a
    one-column table a blank line is an empty cell: the only way to write one unquoted."""
    if frame.width < 2 or frame.height == 0:
        return frame
    nulls = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    if not nulls.any():
        return frame
    blank = _blank_records(source, sep, quote)
    if len(blank) != frame.height:  # the two readers disagree on records: keep every row
        return frame
    return frame.filter(~(nulls & pl.Series(blank, dtype=pl.Boolean)))


def _blank_records(source: Path | bytes, sep: str, quote: str | None) -> list[bool]:
    """Per record after the header, True if it is a blank line, as the csv module reads it."""
    text = _text(source)
    if quote:
        reader = csv.reader(text, delimiter=sep)
    else:
        reader = csv.reader(text, delimiter=sep, quoting=csv.QUOTE_NONE)
    next(reader, None)
    return [not record for record in reader]


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
    path: Path,
    source: Path | bytes,
    fmt: str,
    sep: str,
    codec: str | None,
    exc: pl.exceptions.PolarsError,
) -> InputError:
    if codec is None and (offset := utf8_error_offset(path)) is not None:
        return decode_error(path, None, offset)
    reason = str(exc).strip().splitlines()[0]
    if "more fields" in reason and (ragged := _first_long_row(source, sep)) is not None:
        line, fields, header = ragged
        return InputError(
            f"{path}: line {line} has {fields} fields, the header has {header}; "
            f"fix the row or quote the field that holds the delimiter {sep!r}"
        )
    return InputError(
        f"{path}: cannot read as {fmt} with delimiter {sep!r} ({reason}); "
        "check the quoting or pass --delimiter"
    )


def _first_long_row(source: Path | bytes, sep: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first record longer than the header."""
    text = _text(source)
    reader = csv.reader(text, delimiter=sep)
    header = len(next(reader, []))
    line = reader.line_num + 1
    for record in reader:
        if len(record) > header:
            return line, len(record), header
        line = reader.line_num + 1
    return None


def _text(source: Path | bytes) -> io.StringIO:
    """The whole input as text, for the csv module (read only to explain or fix a case)."""
    if isinstance(source, Path):
        return io.StringIO(source.read_text(encoding="utf-8-sig"), newline="")
    return io.StringIO(source.decode("utf-8-sig"), newline="")
