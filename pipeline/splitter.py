"""Responses -> piece results -> unit results.

``piece_results`` is pure: it turns one request's outcome into one result
per piece, sharing the billed usage among the pieces by length.  A pack's
answer is matched to its pieces by ``align``: a piece it cannot match for
certain comes back ``unmatched`` (its usage kept), for the caller to send
again; a pack refused permanently gives None, for the caller to split in
halves (``halves``), so one moderated cell does not fail a hundred.
``Joiner`` collects the pieces of long units, adds the usage of rejected
packs, and hands back whole unit results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .align import align
from .models import Outcome, Piece, Request, Result, Status, Usage, piece_key

__all__ = ["Joiner", "PieceResult", "halves", "piece_results", "share", "shares"]


@dataclass(frozen=True, slots=True)
class PieceResult:
    piece: Piece
    translation: str | None
    usage: Usage
    attempts: int
    status: Status
    error: str | None = None
    message: str | None = None
    unmatched: bool = False  # a pack's answer did not give this piece's line for certain


def share(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights``; integer shares summing to ``total``.

    Largest-remainder rounding, so per-row token columns add up exactly to
    what was billed.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1] * len(weights), len(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: shares[i] - exact[i])
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def piece_results(request: Request, outcome: Outcome) -> list[PieceResult] | None:
    """One result per piece of ``request``; None when a refused pack must be split.

    A pack that failed permanently is resent in halves (one moderated cell
    must not fail a hundred); the pieces of an answered pack that its answer
    does not give for certain are ``unmatched``, to be sent again.
    """
    pieces = request.pieces
    if len(pieces) > 1 and outcome.completion is None and outcome.permanent:
        return None
    texts = _translations(request, outcome)
    usages = shares(outcome.billed, pieces)
    status = _status(outcome)
    return [
        PieceResult(
            piece,
            texts[i],
            usages[i],
            outcome.attempts,
            status,
            outcome.error_reason,
            outcome.error_message,
            unmatched=status is Status.DONE and texts[i] is None,
        )
        for i, piece in enumerate(pieces)
    ]


def shares(usage: Usage, pieces: Sequence[Piece]) -> list[Usage]:
    """``usage`` split among ``pieces`` by length, summing exactly."""
    if len(pieces) == 1:
        return [usage]
    weights = [len(p.text) for p in pieces]
    prompt = share(usage.prompt_tokens, weights)
    completion = share(usage.completion_tokens, weights)
    return [Usage(p, c) for p, c in zip(prompt, completion, strict=True)]


def halves(pieces: Sequence[Piece]) -> list[tuple[Piece, ...]]:
    middle = len(pieces) // 2
    return [tuple(pieces[:middle]), tuple(pieces[middle:])]


def _translations(request: Request, outcome: Outcome) -> list[str | None]:
    count = len(request.pieces)
    if outcome.completion is None:
        return [None] * count
    text = outcome.completion.text
    return [text.strip()] if count == 1 else align(text, count)


def _status(outcome: Outcome) -> Status:
    if outcome.completion is not None:
        return Status.DONE
    return Status.FAILED_PERMANENT if outcome.permanent else Status.FAILED_TRANSIENT


class Joiner:
    """Collects piece results until a unit is complete.

    Each finished piece of a long unit is also handed back as a ``Status.PIECE``
    record to checkpoint, and ``stored`` (such records from an earlier run)
    fills a unit's slots, so a crash in the middle of a long document does not
    pay for its finished pieces again.  A stored translation keeps its
    surrounding white space.
    """

    def __init__(self, model: str = "", stored: Mapping[str, Result] | None = None) -> None:
        self._model = model
        self._stored = stored or {}
        self._open: dict[str, list[PieceResult | None]] = {}
        self._carried: dict[str, tuple[Usage, int]] = {}

    def reject(self, request: Request, outcome: Outcome) -> None:
        """Remember what a rejected pack billed, to add it to its units' results.

        Its attempts are not the units' own: a pack refused and split in halves
        down to the one cell moderation rejects leaves that cell at 1 attempt."""
        usages = shares(outcome.billed, request.pieces)
        for piece, usage in zip(request.pieces, usages, strict=True):
            before, attempts = self._carried.get(piece.unit.key, (Usage(), 0))
            self._carried[piece.unit.key] = (before + usage, attempts)

    def hold(self, result: PieceResult) -> None:
        """Remember what an unmatched piece of a pack billed, to add it when it is resent."""
        before, attempts = self._carried.get(result.piece.unit.key, (Usage(), 0))
        self._carried[result.piece.unit.key] = (before + result.usage, attempts)

    def carry(self, result: Result) -> None:
        """Remember what a unit result that is being redone billed (QA retry)."""
        before, attempts = self._carried.get(result.key, (Usage(), 0))
        self._carried[result.key] = (before + result.usage, attempts + result.attempts)

    def add(self, result: PieceResult) -> tuple[Result | None, Result | None]:
        """(the unit's result once its last piece has arrived, the piece's own record)."""
        piece = result.piece
        key = piece.unit.key
        if piece.count == 1:
            return self._result([result]), None
        slots = self._open.get(key) or self._open.setdefault(key, self._slots(piece))
        slots[piece.index] = result
        record = _piece_record(result, self._model) if result.status is Status.DONE else None
        if any(slot is None for slot in slots):
            return None, record
        del self._open[key]
        return self._result([s for s in slots if s is not None]), record

    def _slots(self, piece: Piece) -> list[PieceResult | None]:
        """A long unit's slots, those finished in an earlier run filled in."""
        slots: list[PieceResult | None] = [None] * piece.count
        for index in range(piece.count):
            stored = self._stored.get(piece_key(piece.unit.key, index))
            if stored is not None and stored.translation is not None:
                whole = Piece(piece.unit, index, piece.count, "")  # white space included
                slots[index] = PieceResult(
                    whole, stored.translation, stored.usage, stored.attempts, Status.DONE
                )
        return slots

    def _result(self, parts: list[PieceResult]) -> Result:
        unit = parts[0].piece.unit
        usage, attempts = self._carried.pop(unit.key, (Usage(), 0))
        for part in parts:
            usage += part.usage
            attempts += part.attempts
        failed = next((p for p in parts if p.status is not Status.DONE), None)
        if failed is not None:
            return Result(
                unit.key,
                failed.status,
                None,
                usage,
                attempts,
                failed.error,
                failed.message,
                (),
                self._model,
                unit.target_lang,
                unit.text,
            )
        text = "".join(p.piece.lead + (p.translation or "") + p.piece.trail for p in parts)
        return Result(
            unit.key,
            Status.DONE,
            text,
            usage,
            attempts,
            None,
            None,
            (),
            self._model,
            unit.target_lang,
        )

    @property
    def pending_units(self) -> int:
        return len(self._open)


def _piece_record(result: PieceResult, model: str) -> Result:
    piece = result.piece
    text = piece.lead + (result.translation or "") + piece.trail
    return Result(
        piece_key(piece.unit.key, piece.index),
        Status.PIECE,
        text,
        result.usage,
        result.attempts,
        model=model,
        lang=piece.unit.target_lang,
    )
