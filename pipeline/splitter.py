"""Responses -> piece results -> unit results.

``piece_results`` is pure: it turns one request's outcome into one result
per piece, sharing the billed usage among the pieces by length.  ``Joiner``
collects the pieces of long units and hands back whole unit results.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Outcome, Piece, Request, Result, Status, Usage

__all__ = ["Joiner", "PieceResult", "piece_results", "share"]


@dataclass(frozen=True, slots=True)
class PieceResult:
    piece: Piece
    translation: str | None
    usage: Usage
    attempts: int
    status: Status
    error: str | None = None
    message: str | None = None


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


def piece_results(request: Request, outcome: Outcome) -> list[PieceResult]:
    """One result per piece of ``request``."""
    pieces = request.pieces
    weights = [len(p.text) for p in pieces]
    prompt = share(outcome.billed.prompt_tokens, weights)
    completion = share(outcome.billed.completion_tokens, weights)
    texts = _translations(request, outcome)
    status = _status(outcome)
    return [
        PieceResult(
            piece,
            texts[i] if texts is not None else None,
            Usage(prompt[i], completion[i]),
            outcome.attempts,
            status,
            outcome.error_reason,
            outcome.error_message,
        )
        for i, piece in enumerate(pieces)
    ]


def _translations(request: Request, outcome: Outcome) -> list[str] | None:
    if outcome.completion is None:
        return None
    return [outcome.completion.text.strip()]


def _status(outcome: Outcome) -> Status:
    if outcome.completion is not None:
        return Status.DONE
    return Status.FAILED_PERMANENT if outcome.permanent else Status.FAILED_TRANSIENT


class Joiner:
    """Collects piece results until a unit is complete."""

    def __init__(self) -> None:
        self._open: dict[str, list[PieceResult | None]] = {}

    def add(self, result: PieceResult) -> Result | None:
        """The unit's result once its last piece has arrived, else None."""
        piece = result.piece
        if piece.count == 1:
            return _unit_result(piece.unit.key, [result])
        slots = self._open.setdefault(piece.unit.key, [None] * piece.count)
        slots[piece.index] = result
        if any(slot is None for slot in slots):
            return None
        del self._open[piece.unit.key]
        return _unit_result(piece.unit.key, [s for s in slots if s is not None])

    @property
    def pending_units(self) -> int:
        return len(self._open)


def _unit_result(key: str, parts: list[PieceResult]) -> Result:
    usage = sum((p.usage for p in parts), Usage())
    attempts = sum(p.attempts for p in parts)
    failed = next((p for p in parts if p.status is not Status.DONE), None)
    if failed is not None:
        return Result(key, failed.status, None, usage, attempts, failed.error, failed.message)
    text = "".join(p.piece.lead + (p.translation or "") + p.piece.trail for p in parts)
    return Result(key, Status.DONE, text, usage, attempts)
