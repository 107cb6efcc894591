"""A target's messages as the table a run translates; the run's outputs back (Targets, its
failed cells, its report counted into the catalog's).

One row per message: ``id`` (the message id), ``text`` (its source text) and a
column per context name (``key``, ``msgctxt``, ``comment``, ``note``,
``description``, ``plural``, ``count``, ...; empty where a message has none),
so ``--template`` can name any of them (``{msgctxt}``, ``{count}``) in every
format and a template using one makes it part of the unit key, as a table's
context columns are.  Without a template, ``context`` (`note_of`: msgctxt,
comment, note, description, the plural form and its counts) is what the
built-in prompt sends and the key holds; a message with none is text-only, so
identical texts under different keys are asked once.  Back: the translated
column per message id, with ``review`` when QA flagged it (``mt_flags``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from .formats.catalog import Message, Target
from .report import Report

__all__ = [
    "CONTEXT",
    "NOTE",
    "TEXT",
    "add_report",
    "failed_of",
    "frame_of",
    "note_of",
    "translations_of",
]

TEXT = "text"
# Without --template: what tells a message apart, as one value the built-in prompt sends
# and the unit key holds ("" for a message with none: it stays text-only).
NOTE = "context"
# Every format's context names, always columns (so one template works for all formats).
CONTEXT = (
    "key",
    "msgctxt",
    "comment",
    "note",
    "description",
    "placeholders",
    "references",
    "flags",
    "variable",
    "plural",
    "count",
)
_RESERVED = frozenset({"id", TEXT})


def frame_of(messages: Sequence[Message]) -> pl.DataFrame:
    """The messages as cells: ``id``, ``text`` and the context columns, all strings."""
    names = [*CONTEXT, NOTE]
    for message in messages:
        names += [n for n in message.context if n not in names and n not in _RESERVED]
    columns: dict[str, list[str]] = {"id": [], TEXT: [], **{n: [] for n in names}}
    for message in messages:
        context = dict(message.context)
        if message.plural is not None:
            context.setdefault("plural", message.plural)
        context[NOTE] = note_of(context)
        columns["id"].append(message.id)
        columns[TEXT].append(message.text)
        for name in names:
            columns[name].append(context.get(name, ""))
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def note_of(context: Mapping[str, str]) -> str:
    """The disambiguating context of a message, one line: ``msgctxt "month"; plural form
    "few", for counts 2, 3, 4, 22, ...`` (a key alone is not a context: "" then)."""
    parts = [f'{name} "{context[name]}"' for name in _TOLD if context.get(name, "").strip()]
    if context.get("plural"):
        count = context.get("count", "")
        parts.append(
            f'plural form "{context["plural"]}"' + (f", for counts {count}" if count else "")
        )
    return " ".join("; ".join(parts).split())


_TOLD = ("msgctxt", "comment", "note", "description")


def translations_of(output: Path, lang: str) -> dict[str, Target]:
    """The translated messages of a run's output: id -> Target (failed ones absent)."""
    column = f"{TEXT}_{lang}"
    frame = pl.read_parquet(output, columns=["id", column, "mt_error", "mt_flags"])
    done = frame.filter(pl.col(column).is_not_null() & pl.col("mt_error").is_null())
    return {
        key: Target(text, review=flags is not None)
        for key, text, flags in done.select("id", column, "mt_flags").iter_rows()
    }


_SUMMED = [
    "rows",
    "cells",
    "blank_cells",
    "units",
    "translated",
    "reused",
    "cached",
    "new",
    "failed",
    "to_translate",
    "requests",
    "deduplicated",
    "prompt_tokens",
    "completion_tokens",
    "not_sent",
]


def add_report(total: Report, part: Report) -> Report:
    """The catalog's report with one target's run counted in (a new Report: the runner's
    own is not changed)."""
    summed: dict[str, Any] = {n: getattr(total, n) + getattr(part, n) for n in _SUMMED}
    for name in ("retries", "failures", "flags"):
        summed[name] = getattr(total, name) + getattr(part, name)
    return dataclasses.replace(
        total,
        **summed,
        cost_usd=total.cost_usd + part.cost_usd,
        stopped=total.stopped or part.stopped,
        packing=total.packing | part.packing,
    )


def failed_of(path: Path | None, target: Path) -> pl.DataFrame:
    """The failed cells of one target, with the catalog they belong to."""
    if path is None or not path.exists():
        return pl.DataFrame()
    frame = pl.read_parquet(path)
    if not frame.height:
        return pl.DataFrame()
    return frame.drop("row", "column").with_columns(pl.lit(str(target)).alias("file"))
