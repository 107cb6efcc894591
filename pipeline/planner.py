"""Planning: cells -> units keyed by content -> pieces -> requests.

Pure functions over polars frames and small dataclasses, so a block of
rows can be planned anywhere (one process now, a Ray Data task later).

A cell's unit key hashes exactly what changes its translation: the run's
settings fingerprint (model, style, template, source language, output-
changing parameters), the target language, the template context values
and the source text.  Blank cells get no key: they are never sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import polars as pl

from .config import model_info
from .models import Piece, Request, Settings, Unit, piece_key
from .prompts import build_body

__all__ = [
    "UNIT_SCHEMA",
    "CellPlan",
    "Chunking",
    "Packing",
    "cell_keys",
    "estimate_tokens",
    "fingerprint",
    "first_cells",
    "make_request",
    "pack_text",
    "pieces_of",
    "plan_cells",
    "plan_requests",
    "split_text",
]

UNIT_SCHEMA = {"key": pl.String, "text": pl.String, "lang": pl.String, "context": pl.String}


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


def cell_keys(
    texts: pl.Series,
    *,
    fp: str,
    lang: str,
    contexts: pl.Series | None = None,
    terms_for: TermsFor | None = None,
    block_rows: int = 100_000,
) -> pl.Series:
    """The unit key of every cell of ``texts`` (null where the cell is blank).

    Hashed block by block, so a million-row column never becomes a million
    Python strings at once.
    """
    blocks = [
        _keys_block(
            texts.slice(start, block_rows),
            None if contexts is None else contexts.slice(start, block_rows),
            f"{fp}\x1f{lang}\x1f",
            lang,
            terms_for,
        )
        for start in range(0, len(texts), block_rows)
    ]
    if not blocks:
        return pl.Series(texts.name, [], dtype=pl.String)
    return pl.concat(blocks).alias(texts.name)


def _keys_block(
    texts: pl.Series,
    contexts: pl.Series | None,
    prefix: str,
    lang: str,
    terms_for: TermsFor | None,
) -> pl.Series:
    blake = hashlib.blake2b
    values = texts.to_list()
    ctx = contexts.to_list() if contexts is not None else [""] * len(values)
    if terms_for is not None:
        ctx = [
            f"{c or ''}{_terms_json(terms_for(t, lang))}" if t else c
            for t, c in zip(values, ctx, strict=True)
        ]
    keys = [
        blake(f"{prefix}{c or ''}\x1f{t}".encode(), digest_size=16).hexdigest()
        if t and not t.isspace()
        else None
        for t, c in zip(values, ctx, strict=True)
    ]
    return pl.Series(texts.name, keys, dtype=pl.String)


def _terms_json(terms: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(terms, ensure_ascii=False) if terms else ""


_WIDE = r"[\u2e80-\U0010ffff]"  # CJK and other dense scripts; compiled on first use


def estimate_tokens(text: str) -> int:
    """Offline token estimate: ~4 chars per token, ~1.5 per CJK character."""
    if text.isascii():
        return (len(text) + 3) // 4
    wide = len(re.findall(_WIDE, text))
    return (len(text) - wide + 3) // 4 + (wide * 2 + 2) // 3


@dataclass(frozen=True, slots=True)
class Chunking:
    """How long one piece may be, in characters."""

    max_chars: int = 6000


@dataclass(frozen=True, slots=True)
class Packing:
    """How short pieces are packed into one request (numbered lines).

    A piece is packable when it is short and has no line break; a pack holds
    at most ``max_segments`` pieces and ``max_tokens`` estimated source
    tokens, and only pieces for the same target language.
    """

    enabled: bool = True
    max_segments: int = 100
    max_tokens: int = 2000
    max_piece_tokens: int = 200


_LEVELS = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph breaks
    re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+"),  # sentence ends
    re.compile(r"\s+"),  # any white space
)


def split_text(text: str, max_chars: int, *, level: int = 0) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars``; ``"".join`` gives it back.

    Paragraph breaks first, then sentence ends, then white space, then a
    hard cut.  Each chunk keeps the separator that followed it.
    """
    if len(text) <= max_chars:
        return [text]
    if level == len(_LEVELS):
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
    cuts = [m.end() for m in _LEVELS[level].finditer(text)]
    segments = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True) if a < b]
    out: list[str] = []
    current = ""
    for segment in segments:
        if len(segment) > max_chars:
            out += [current] if current else []
            out += split_text(segment, max_chars, level=level + 1)
            current = ""
        elif len(current) + len(segment) > max_chars:
            out.append(current)
            current = segment
        else:
            current += segment
    return [*out, current] if current else out


def pieces_of(unit: Unit, max_chars: int) -> list[Piece]:
    """The pieces of ``unit``: chunks with their surrounding white space set aside.

    Models drop leading and trailing white space; keeping it out of the
    request and putting it back when joining keeps the cell byte-exact.
    """
    parts: list[tuple[str, str, str]] = []
    carry = ""
    for chunk in split_text(unit.text, max_chars):
        core = chunk.strip()
        if not core:
            carry += chunk
            continue
        start = chunk.index(core)
        parts.append((carry + chunk[:start], core, chunk[start + len(core) :]))
        carry = ""
    if carry:
        lead, core, trail = parts[-1]
        parts[-1] = (lead, core, trail + carry)
    return [
        Piece(unit, i, len(parts), core, lead, trail) for i, (lead, core, trail) in enumerate(parts)
    ]


def plan_requests(
    units: pl.DataFrame | Iterable[pl.DataFrame],
    settings: Settings,
    *,
    chunking: Chunking = Chunking(),
    packing: Packing = Packing(enabled=False),
    block_rows: int = 10_000,
    terms_for: TermsFor | None = None,
    stored_pieces: Container[str] = frozenset(),
) -> Iterator[Request]:
    """Requests for every unit of ``units`` (a frame, or blocks of frames as
    ``CellPlan.units()`` yields them), lazily, block by block.

    Long units are split into pieces; short pieces are packed per target
    language.  Units of one block are planned together, so packs never wait
    for more than one block.  Pieces of long units in ``stored_pieces``
    (finished by an earlier run) are not sent again.
    """
    frames = [units] if isinstance(units, pl.DataFrame) else units
    for block in (b for frame in frames for b in frame.iter_slices(block_rows)):
        packs: dict[str, _Pack] = {}
        for key, text, lang, context, cells in block.iter_rows():
            terms = terms_for(text, lang) if terms_for is not None else ()
            unit = Unit(key, text, lang, _context(context), cells, terms)
            for piece in _unsent(pieces_of(unit, chunking.max_chars), stored_pieces):
                tokens = estimate_tokens(piece.text)
                if not (packing.enabled and _packable(piece, tokens, packing)):
                    yield make_request((piece,), settings)
                    continue
                pack = packs.setdefault(lang, _Pack())
                if pack.full(tokens, packing):
                    yield make_request(pack.pieces, settings)
                    pack.clear()
                pack.add(piece, tokens)
        for pack in packs.values():
            if pack.pieces:
                yield make_request(pack.pieces, settings)


def _unsent(pieces: list[Piece], stored: Container[str]) -> list[Piece]:
    """The pieces still to send; at least the last, so the unit is joined and recorded."""
    if len(pieces) == 1 or not stored:
        return pieces
    return [p for p in pieces if piece_key(p.unit.key, p.index) not in stored] or pieces[-1:]


class _Pack:
    """Pieces waiting to be packed for one language, with their token estimate."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.tokens = 0

    def full(self, tokens: int, packing: Packing) -> bool:
        count = len(self.pieces)
        return count == packing.max_segments or (
            count > 0 and self.tokens + tokens > packing.max_tokens
        )

    def add(self, piece: Piece, tokens: int) -> None:
        self.pieces.append(piece)
        self.tokens += tokens + 2  # the "[n] " prefix and the line break

    def clear(self) -> None:
        self.pieces, self.tokens = [], 0


def _packable(piece: Piece, tokens: int, packing: Packing) -> bool:
    return "\n" not in piece.text and not piece.unit.context and tokens <= packing.max_piece_tokens


def _context(raw: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(json.loads(raw).items()) if raw else ()


def pack_text(pieces: Sequence[Piece]) -> str:
    """The text of a pack: one numbered line per piece, ``[1] ...``."""
    return "\n".join(f"[{i}] {p.text}" for i, p in enumerate(pieces, 1))


def make_request(pieces: Sequence[Piece], settings: Settings) -> Request:
    """One request carrying ``pieces``: a piece alone, or several as numbered lines."""
    first = pieces[0]
    packed = len(pieces) > 1
    text = pack_text(pieces) if packed else first.text
    terms = tuple(dict.fromkeys(term for p in pieces for term in p.unit.terms))
    body = build_body(
        settings,
        text,
        first.unit.target_lang,
        dict(first.unit.context),
        terms=terms,
        packed=packed,
    )
    est = estimate_tokens(text)
    cap = model_info(settings.model).max_output_tokens
    expected = min(cap, est * 3 // 2 + 16)
    if body.get("max_tokens", cap) < expected:  # a given max_tokens must not cut a chunk
        body["max_tokens"] = expected
    return Request(tuple(pieces), body, est + 45, expected)


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

    @property
    def rows(self) -> int:
        return len(self.keys[0]) if self.keys else 0

    def slice(self, start: int, length: int) -> CellPlan:
        """The cells of rows ``start`` to ``start + length`` (zero-copy)."""
        return replace(
            self,
            keys=tuple(k.slice(start, length) for k in self.keys),
            first=tuple(f.slice(start, length) for f in self.first),
            sources=tuple(s.slice(start, length) for s in self.sources),
            contexts=self.contexts.slice(start, length) if self.contexts is not None else None,
        )

    def units(
        self, skip: pl.Series | None = None, *, block_rows: int = 10_000
    ) -> Iterator[pl.DataFrame]:
        """The distinct units, less those whose key is in ``skip``, block by block:
        frames of UNIT_SCHEMA + ``cells`` (how many cells share the unit)."""
        for i, keys in enumerate(self.keys):
            send = self.first[i]
            if skip is not None and len(skip):
                send = send & ~keys.is_in(skip.implode()).fill_null(False)
            for start in range(0, len(keys), block_rows):
                mask = send.slice(start, block_rows)
                if not mask.any():
                    continue
                block = self._block(i, start, len(mask)).filter(mask)
                cells = block.join(self.shared, on="key", how="left", maintain_order="left")
                yield cells.with_columns(pl.col("cells").fill_null(1))

    def _block(self, pair: int, start: int, length: int) -> pl.DataFrame:
        contexts = (
            self.contexts.slice(start, length)
            if self.contexts is not None
            else pl.repeat(None, length, dtype=pl.String, eager=True)
        )
        columns = {
            "key": self.keys[pair].slice(start, length),
            "text": self.sources[pair].slice(start, length),
            "lang": pl.repeat(self.langs[pair], length, dtype=pl.String, eager=True),
            "context": contexts,
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
    """Key every cell of ``texts`` (column -> source series) for every (code, name) target."""
    pairs, keys, sources, langs = [], [], [], []
    for column, source in texts.items():
        for code, name in targets:
            pairs.append((column, code))
            keys.append(cell_keys(source, fp=fp, lang=name, contexts=contexts, terms_for=terms_for))
            sources.append(source)
            langs.append(name)
    first, shared = first_cells(keys, langs)
    return CellPlan(
        tuple(pairs), tuple(keys), first, shared, tuple(sources), tuple(langs), contexts
    )


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
