"""JSON Lines: each line kept verbatim, a typed frame for other formats, nested text by path.

Lines are decoded with the stdlib ``json`` module so integers above 2^53 and
mixed types survive; a field polars cannot hold as one type is kept as JSON
text in the frame.  The raw lines stay in the table's ``Lines`` (read by this
module's sink only), so JSON Lines to JSON Lines keeps each line byte for
byte and appends the added keys before its closing brace.  Malformed lines
stop the read with their line number, or with ``--skip-bad-lines`` go to the
rejects file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from ..errors import InputError, OutputError
from .files import check_readable, codec, decode
from .table import ReadOptions, Table, WriteOptions, settle

__all__ = ["Lines", "json_leaf", "sink", "source"]

_EXACT_FLOAT = 2**53  # larger integers are kept exact, as JSON text in the frame


@dataclass(frozen=True, slots=True)
class Lines:
    """Each object's line as it was read: what the JSON Lines sink writes back."""

    raw: pl.Series

    def slice(self, start: int, length: int) -> Lines:
        return Lines(self.raw.slice(start, length))

    def take(self, rows: Sequence[int]) -> Lines:
        return Lines(self.raw[list(rows)])

    def texts(self, column: str) -> pl.Series:
        leaves = (json_leaf(json.loads(line), column) for line in self.raw)
        return pl.Series(column, list(leaves), dtype=pl.String)


@dataclass(frozen=True, slots=True)
class _Jsonl:
    name: str = "jsonl"

    def read(self, path: Path, options: ReadOptions) -> Table:
        check_readable(path)
        text = decode(path, path.read_bytes(), codec(options.encoding))
        rejects = options.rejects if options.skip_bad_lines else None
        frame, raw, bad = _read_lines(text, path, options.skip_bad_lines, rejects)
        table = Table(path, self.name, frame, native=Lines(raw), rejected=bad)
        return settle(table, options, "no JSON objects")

    def open(self, tmp: Path, *, like: Table, options: WriteOptions) -> _Writer:
        return _Writer(tmp.open("wb"))

    def write_frame(self, frame: pl.DataFrame, tmp: Path) -> None:
        frame.write_ndjson(tmp)


def source(name: str) -> _Jsonl:
    return _Jsonl(name)


def sink(name: str) -> _Jsonl:
    return _Jsonl(name)


# -- reading ------------------------------------------------------------------


def _read_lines(
    text: str, path: Path, skip_bad_lines: bool, rejects: Path | None
) -> tuple[pl.DataFrame, pl.Series, tuple[int, ...]]:
    """(a frame of the parsed objects, each good line verbatim, the line numbers of the
    bad ones skipped) from ``path``'s ``text``."""
    good: list[str] = []
    bad: list[str] = []
    numbers: list[int] = []
    kinds: dict[str, set[str]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        problem = _parse_into(line, kinds)
        if problem is None:
            good.append(line)
        elif skip_bad_lines:
            bad.append(line)
            numbers.append(number)
        else:
            raise InputError(f"{path}: line {number} {problem}; fix it or pass --skip-bad-lines")
    if rejects is not None:
        _write_rejects(rejects, bad)
    raw = pl.Series("raw_lines", good, dtype=pl.String)
    return _frame(good, kinds), raw, tuple(numbers)


def _parse_into(line: str, kinds: dict[str, set[str]]) -> str | None:
    """Record the JSON kind of each field of `line`; say what is wrong with it, if anything."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(obj, dict):
        return f"is a JSON {type(obj).__name__}, not an object"
    for key, value in obj.items():
        kinds.setdefault(key, set()).add(_kind(value))
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if abs(value) <= _EXACT_FLOAT else "bigint"
    return type(value).__name__  # str, float, dict, list


def _uniform(kinds: set[str]) -> bool:
    """True if polars stores these JSON kinds in one column without loss."""
    kinds = kinds - {"null"}
    return len(kinds) <= 1 or kinds in ({"int", "float"}, {"int", "bigint"})


def _frame(good: list[str], kinds: dict[str, set[str]]) -> pl.DataFrame:
    if not good:
        return pl.DataFrame()
    mixed = [key for key, found in kinds.items() if not _uniform(found)]
    data = "\n".join(good).encode()
    try:
        frame = pl.read_ndjson(
            data, infer_schema_length=None, schema_overrides=dict.fromkeys(mixed, pl.String)
        )
    except pl.exceptions.PolarsError:  # e.g. nested fields of clashing types
        return pl.DataFrame(_python_columns(good, kinds, list(kinds)))
    if mixed:
        frame = frame.with_columns(_python_columns(good, kinds, mixed))
    # Series, not names: a key like "*" or "^a.*$" would be read as a pattern
    return frame.select([frame.get_column(key) for key in kinds]) if kinds else frame


def _python_columns(
    good: list[str], kinds: dict[str, set[str]], keys: list[str]
) -> list[pl.Series]:
    objs = [json.loads(line) for line in good]
    return [_python_column(key, [obj.get(key) for obj in objs], kinds[key]) for key in keys]


def _python_column(key: str, values: list[Any], kinds: set[str]) -> pl.Series:
    if _uniform(kinds) and not kinds & {"dict", "list"}:
        return pl.Series(key, values, strict=False)
    texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    return pl.Series(key, texts, dtype=pl.String)


def _write_rejects(rejects: Path, lines: list[str]) -> None:
    try:
        rejects.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise OutputError(
            f"{rejects}: cannot write the rejected lines ({exc.strerror}); pass another path"
        ) from exc


def json_leaf(obj: dict[str, Any], column: str) -> str | None:
    """The string at ``column`` of ``obj``: a key of its own first, else a dotted path."""
    value: Any = obj.get(column)
    if column not in obj:
        value = obj
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


# -- writing ------------------------------------------------------------------


class _Writer:
    """Blocks appended to one open file: raw lines with the added keys, or the frame's rows."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, table: Table, added: pl.DataFrame) -> None:
        if isinstance(table.native, Lines):
            nested = _nested_targets(table, added.columns)
            if nested:
                lines = _nested_lines(table.native.raw, added, nested)
            else:
                lines = _json_lines(table.native.raw, added, table.frame.columns)
            pl.DataFrame({"line": lines}).write_csv(
                self._file, include_header=False, quote_style="never"
            )
            return
        table.frame.with_columns(added.get_columns()).write_ndjson(self._file)

    def finish(self) -> None:
        self._file.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


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


def _nested_targets(table: Table, added: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Added columns of a dotted-path column (``meta.body_de`` of ``meta.body``) -> where
    they go inside the objects (``("meta", "body_de")``)."""
    targets: dict[str, tuple[str, ...]] = {}
    for column in table.columns:
        if not table.nested(column):
            continue
        *parents, leaf = column.split(".")
        for name in added:
            if name.startswith(f"{column}_") and name not in table.frame.columns:
                targets[name] = (*parents, leaf + name[len(column) :])
    return targets


def _nested_lines(
    raw: pl.Series, added: pl.DataFrame, nested: dict[str, tuple[str, ...]]
) -> pl.Series:
    """Each line decoded, the added fields set where they belong, and encoded again."""
    merged = []
    for line, row in zip(raw, added.iter_rows(named=True), strict=True):
        obj = json.loads(line)
        for name, value in row.items():
            if name in nested:
                _set_at(obj, nested[name], value)
            else:
                obj[name] = value
        merged.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return pl.Series("line", merged, dtype=pl.String)


def _set_at(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """``obj[a][b]... = value``; objects on the way are made only for a value that is set."""
    *parents, leaf = path
    at = obj
    for part in parents:
        inner = at.get(part)
        if inner is None and value is not None:
            inner = at[part] = {}
        if not isinstance(inner, dict):
            if value is not None and inner is not None:  # not an object: kept, value flat
                obj[".".join(path)] = value
            return
        at = inner
    at[leaf] = value
