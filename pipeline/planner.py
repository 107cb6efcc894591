"""Planning: units -> pieces -> requests.

Units come in blocks (``CellPlan.units()``, see cells.py); long units are
split into pieces, short pieces are packed per language into numbered-line
requests.  Pure functions over polars frames and small dataclasses, so a
block can be planned anywhere (one process now, a Ray Data task later).
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import polars as pl

from .cells import UNIT_SCHEMA, terms_of
from .config import model_info
from .models import Chunking, Piece, Request, Settings, Unit, piece_key
from .packsize import PackSizer
from .prompts import build_body

__all__ = [
    "Chunking",
    "Packing",
    "estimate_tokens",
    "make_request",
    "pack_text",
    "pieces_of",
    "plan_requests",
    "split_text",
]

_WIDE = r"[\u2e80-\U0010ffff]"  # CJK and other dense scripts; compiled on first use


def estimate_tokens(text: str) -> int:
    """Offline token estimate: ~4 chars per token, ~1.5 per CJK character."""
    if text.isascii():
        return (len(text) + 3) // 4
    wide = len(re.findall(_WIDE, text))
    return (len(text) - wide + 3) // 4 + (wide * 2 + 2) // 3


_CHUNKING = Chunking()


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
    sizer: PackSizer | None = field(default=None, compare=False)  # --pack auto: adapts the size

    def segments(self, lang: str) -> int:
        """The most pieces a pack for ``lang`` may hold now (1: send them singly)."""
        return self.sizer.size(lang) if self.sizer is not None else self.max_segments

    def pack(self, pieces: Sequence[Piece], settings: Settings, lang: str) -> Request:
        """The request of a pack, told to the sizer (--pack auto bounds packs in flight)."""
        if self.sizer is not None:
            self.sizer.handed(lang, len(pieces))
        return make_request(pieces, settings)


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


_COLUMNS = (*UNIT_SCHEMA, "cells")  # the units frame, in the order plan_requests reads it


def plan_requests(
    units: Iterable[pl.DataFrame],
    settings: Settings,
    *,
    chunking: Chunking = _CHUNKING,
    packing: Packing = Packing(enabled=False),
    block_rows: int = 10_000,
    stored_pieces: Container[str] = frozenset(),
) -> Iterator[Request]:
    """Requests for every unit of ``units`` (blocks of frames, as ``CellPlan.units()``
    yields them), lazily, block by block.

    Long units are split into pieces; short pieces are packed per target
    language.  Units of one block are planned together, so packs never wait
    for more than one block.  Pieces of long units in ``stored_pieces``
    (finished by an earlier run) are not sent again.  A unit's glossary entries come
    with it (the ``terms`` column, matched in the key stage), never matched here.
    """
    for block in (b for frame in units for b in frame.iter_slices(block_rows)):
        packs: dict[str, _Pack] = {}
        for key, text, lang, context, terms, cells in block.select(*_COLUMNS).iter_rows():
            unit = Unit(key, text, lang, _context(context), cells, terms_of(terms))
            for piece in _unsent(pieces_of(unit, chunking.max_chars), stored_pieces):
                tokens = estimate_tokens(piece.text)
                if not (packing.enabled and _packable(piece, tokens, packing)):
                    yield make_request((piece,), settings)
                    continue
                pack = packs.setdefault(lang, _Pack())
                if pack.full(tokens, packing, lang):
                    yield packing.pack(pack.pieces, settings, lang)
                    pack.clear()
                pack.add(piece, tokens)
        for lang, pack in packs.items():
            if pack.pieces:
                yield packing.pack(pack.pieces, settings, lang)


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

    def full(self, tokens: int, packing: Packing, lang: str) -> bool:
        count = len(self.pieces)
        return count >= packing.segments(lang) or (
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
