"""Cells -> units keyed by content: the columnar plan of a table.

A cell is (row, column, language).  A cell's unit key hashes exactly what
changes its translation: the run's settings fingerprint (model, style,
template, source language, output-changing parameters), the target
language, the template context values, the glossary terms found in the text
and the source text.  Blank cells get no key: they are never sent.  The
terms are matched here, once per distinct text and language, and carried in
the plan (``CellPlan.terms``; the ``terms`` column of the units), so the
planner and the output read them instead of matching again.  Everything here
is polars columns, so a block of rows can be keyed anywhere (one process now,
a Ray Data task later).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import polars as pl

from .models import Settings

__all__ = [
    "UNIT_SCHEMA",
    "CellPlan",
    "TermsFor",
    "cell_keys",
    "fingerprint",
    "first_cells",
    "match_terms",
    "plan_cells",
    "terms_of",
]

# terms: the glossary entries found in the text as JSON ``[[source, target], ...]``; null: none
UNIT_SCHEMA = {
    "key": pl.String,
    "text": pl.String,
    "lang": pl.String,
    "context": pl.String,
    "terms": pl.String,
}


def fingerprint(settings: Settings) -> str:
    """A stable digest of the settings that change the output."""
    payload = json.dumps(
        [
            settings.model,
            settings.style,
            settings.template,
            settings.source_lang,
            settings.params,
            settings.domain,
            settings.memory,
        ],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


# The glossary entries that apply to a text for a target language: part of the key.
TermsFor = Callable[[str, str], tuple[tuple[str, str], ...]]


def match_terms(
    sources: Sequence[pl.Series], lang: str, terms_for: TermsFor, *, block_rows: int = 100_000
) -> list[pl.Series]:
    """Per series of ``sources``, the glossary entries of each cell as JSON (null: none,
    or a blank cell).  Each distinct text is matched once, however many cells hold it;
    the distinct texts are matched block by block, so they never all become Python
    strings at once."""
    if not sources:
        return []
    found = [pl.DataFrame(schema={"text": pl.String, "terms": pl.String})]
    distinct = pl.concat([s.cast(pl.String).alias("text") for s in sources]).drop_nulls().unique()
    for start in range(0, len(distinct), block_rows):
        texts = distinct.slice(start, block_rows)
        matched = [_terms_matched(terms_for, t, lang) for t in texts.to_list()]
        found.append(pl.DataFrame({"text": texts, "terms": pl.Series(matched, dtype=pl.String)}))
    table = pl.concat(found).filter(pl.col("terms").is_not_null())
    return [
        s.cast(pl.String).alias("text").to_frame()
        .join(table, on="text", how="left", maintain_order="left")
        .get_column("terms")
        for s in sources
    ]  # fmt: skip


def _terms_matched(terms_for: TermsFor, text: str, lang: str) -> str | None:
    """The JSON of the entries found in ``text``; a blank text (never sent) has none."""
    if not text or text.isspace():
        return None
    return _terms_json(terms_for(text, lang)) or None


def terms_of(raw: str | None) -> tuple[tuple[str, str], ...]:
    """The glossary entries of a ``terms`` value (``match_terms``) as (source, target) pairs."""
    return tuple((source, target) for source, target in json.loads(raw)) if raw else ()


def cell_keys(
    texts: pl.Series,
    *,
    fp: str,
    lang: str,
    contexts: pl.Series | None = None,
    terms: pl.Series | None = None,
    block_rows: int = 100_000,
) -> pl.Series:
    """The unit key of every cell of ``texts`` (null where the cell is blank); ``terms``:
    the glossary entries of each cell, as ``match_terms`` gives them.

    Hashed block by block, so a million-row column never becomes a million
    Python strings at once.
    """
    blocks = [
        _keys_block(
            texts.slice(start, block_rows),
            None if contexts is None else contexts.slice(start, block_rows),
            None if terms is None else terms.slice(start, block_rows),
            f"{fp}\x1f{lang}\x1f",
        )
        for start in range(0, len(texts), block_rows)
    ]
    if not blocks:
        return pl.Series(texts.name, [], dtype=pl.String)
    return pl.concat(blocks).alias(texts.name)


def _keys_block(
    texts: pl.Series,
    contexts: pl.Series | None,
    terms: pl.Series | None,
    prefix: str,
) -> pl.Series:
    blake = hashlib.blake2b
    values = texts.to_list()
    ctx = contexts.to_list() if contexts is not None else [""] * len(values)
    if terms is not None:  # the terms' JSON follows the context values: part of the key
        ctx = [f"{c or ''}{j or ''}" for c, j in zip(ctx, terms.to_list(), strict=True)]
    keys = [
        blake(f"{prefix}{c or ''}\x1f{t}".encode(), digest_size=16).hexdigest()
        if t and not t.isspace()
        else None
        for t, c in zip(values, ctx, strict=True)
    ]
    return pl.Series(texts.name, keys, dtype=pl.String)


def _terms_json(terms: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(terms, ensure_ascii=False) if terms else ""


@dataclass(frozen=True, slots=True)
class CellPlan:
    """The cells of a table, columnar: a key series per (column, language) pair.

    Nothing here is a Python object per row, so a million-row table costs a
    few bytes per cell.  ``first`` marks the cell that stands for its unit:
    the first with that key in row-major, column, language order.  The unit
    is sent for that cell, and its billed usage lands on that row.
    """

    pairs: tuple[tuple[str, str], ...]  # (column, language code)
    keys: tuple[pl.Series, ...]  # per pair: unit key per row, null for blank cells
    first: tuple[pl.Series, ...]  # per pair: True on the cell that stands for its unit
    shared: pl.DataFrame  # key, cells: the units used by more than one cell (usually few)
    sources: tuple[pl.Series, ...]  # per pair: the source texts
    langs: tuple[str, ...]  # per pair: the target language's name
    contexts: pl.Series | None = None  # per row: template context values as JSON
    terms: tuple[pl.Series, ...] | None = None  # per pair: glossary entries as JSON, or None

    @property
    def rows(self) -> int:
        return len(self.keys[0]) if self.keys else 0

    def slice(self, start: int, length: int) -> CellPlan:
        """The cells of rows ``start`` to ``start + length`` (zero-copy)."""
        terms = self.terms
        return replace(
            self,
            keys=tuple(k.slice(start, length) for k in self.keys),
            first=tuple(f.slice(start, length) for f in self.first),
            sources=tuple(s.slice(start, length) for s in self.sources),
            contexts=self.contexts.slice(start, length) if self.contexts is not None else None,
            terms=tuple(t.slice(start, length) for t in terms) if terms is not None else None,
        )

    def pending(self, skip: pl.Series) -> tuple[pl.Series, ...]:
        """Per pair, True on the cells still to translate: not blank, key not in ``skip``."""
        skipped = skip.implode()
        return tuple(k.is_not_null() & ~k.is_in(skipped).fill_null(False) for k in self.keys)

    def units(
        self, pending: Sequence[pl.Series] | None = None, *, block_rows: int = 10_000
    ) -> Iterator[pl.DataFrame]:
        """The distinct units (of the ``pending`` cells, when given), block by block:
        frames of UNIT_SCHEMA + ``cells`` (how many cells share the unit)."""
        for i, keys in enumerate(self.keys):
            send = self.first[i] if pending is None else self.first[i] & pending[i]
            for start in range(0, len(keys), block_rows):
                mask = send.slice(start, block_rows)
                if not mask.any():
                    continue
                block = self._block(i, start, len(mask)).filter(mask)
                cells = block.join(self.shared, on="key", how="left", maintain_order="left")
                yield cells.with_columns(pl.col("cells").fill_null(1))

    def _block(self, pair: int, start: int, length: int) -> pl.DataFrame:
        nothing = pl.repeat(None, length, dtype=pl.String, eager=True)
        columns = {
            "key": self.keys[pair].slice(start, length),
            "text": self.sources[pair].slice(start, length),
            "lang": pl.repeat(self.langs[pair], length, dtype=pl.String, eager=True),
            "context": nothing if self.contexts is None else self.contexts.slice(start, length),
            "terms": nothing if self.terms is None else self.terms[pair].slice(start, length),
        }
        return pl.DataFrame(columns, schema=UNIT_SCHEMA)


def plan_cells(
    texts: dict[str, pl.Series],
    targets: Sequence[tuple[str, str]],
    *,
    fp: str,
    contexts: pl.Series | None = None,
    terms_for: TermsFor | None = None,
) -> CellPlan:
    """Key every cell of ``texts`` (column -> source series) for every (code, name) target;
    ``terms_for``: the glossary matcher, called here once per distinct text and language."""
    found = _terms_by_pair(texts, targets, terms_for) if terms_for is not None else None
    pairs, keys, sources, langs = [], [], [], []
    for column, source in texts.items():
        for code, name in targets:
            matched = found[column, name] if found is not None else None
            pairs.append((column, code))
            keys.append(cell_keys(source, fp=fp, lang=name, contexts=contexts, terms=matched))
            sources.append(source)
            langs.append(name)
    first, shared = first_cells(keys, langs)
    carried = None
    if found is not None:  # per pair, like the keys
        carried = tuple(found[column, name] for (column, _), name in zip(pairs, langs, strict=True))
    return CellPlan(
        tuple(pairs), tuple(keys), first, shared, tuple(sources), tuple(langs), contexts, carried
    )


def _terms_by_pair(
    texts: dict[str, pl.Series], targets: Sequence[tuple[str, str]], terms_for: TermsFor
) -> dict[tuple[str, str], pl.Series]:
    """(column, language name) -> the terms of each cell: each language is matched once
    over the distinct texts of every column."""
    found: dict[tuple[str, str], pl.Series] = {}
    for name in dict.fromkeys(name for _, name in targets):
        matched = match_terms(list(texts.values()), name, terms_for)
        found |= {(column, name): terms for column, terms in zip(texts, matched, strict=True)}
    return found


def first_cells(
    keys: Sequence[pl.Series], langs: Sequence[str]
) -> tuple[tuple[pl.Series, ...], pl.DataFrame]:
    """Per pair, True on the first cell of each key in row-major, column, language
    order; and the keys used by more than one cell, with their cell counts.

    A key hashes its target language, so only the pairs of one language (the
    columns) can share keys: each language is done on its own, and a single
    column needs no interleaving at all.
    """
    first: dict[int, pl.Series] = {}
    shared = [pl.DataFrame(schema={"key": pl.String, "cells": pl.UInt32})]
    for lang in dict.fromkeys(langs):
        group = [i for i, name in enumerate(langs) if name == lang]
        if len(group) == 1:
            flat = keys[group[0]].alias("key")
        else:  # row-major: row 0 of every column, then row 1, ...
            columns = pl.DataFrame([keys[i].alias(str(i)) for i in group])
            flat = columns.select(pl.concat_list(pl.all()).explode().alias("key")).to_series()
        mask = flat.is_first_distinct() & flat.is_not_null()
        for offset, i in enumerate(group):
            first[i] = mask if len(group) == 1 else mask.gather_every(len(group), offset=offset)
        present = flat.drop_nulls()
        counts = present.filter(present.is_duplicated()).value_counts(name="cells")
        shared.append(counts.with_columns(pl.col("cells").cast(pl.UInt32)))
    return tuple(first[i] for i in range(len(keys))), pl.concat(shared)
