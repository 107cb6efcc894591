"""JSON Lines in: each line verbatim, a frame for other formats, nested text by dotted path.

Lines are decoded with the stdlib ``json`` module so integers above 2^53 and
mixed types survive; fields polars cannot hold as one type are kept as JSON
text in the frame (the raw lines stay exact for JSONL output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from .errors import InputError, OutputError

_EXACT_FLOAT = 2**53  # larger integers are kept exact, as JSON text in the frame

__all__ = ["json_leaf", "read_jsonl"]


def read_jsonl(
    text: str, path: Path, skip_bad_lines: bool, rejects: Path | None
) -> tuple[pl.DataFrame, pl.Series]:
    """(a frame of the parsed objects, each good line verbatim) from ``path``'s ``text``."""
    good: list[str] = []
    bad: list[str] = []
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
        else:
            raise InputError(f"{path}: line {number} {problem}; fix it or pass --skip-bad-lines")
    if skip_bad_lines and rejects is not None:
        _write_rejects(rejects, bad)
    return _jsonl_frame(good, kinds), pl.Series("raw_lines", good, dtype=pl.String)


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


def _jsonl_frame(good: list[str], kinds: dict[str, set[str]]) -> pl.DataFrame:
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
    value: Any = obj.get(column)
    if column not in obj:
        value = obj
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


# -- column choice ----------------------------------------------------------
