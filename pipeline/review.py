"""Review: one request's outcome -> unit results to record, and requests to send again.

    outcome -> piece results (split packs by number, share usage)
            -> a pack's pieces its answer does not give for certain (``align``):
               resend just those, as one smaller pack when some did align,
               else one by one; a pack refused permanently: resend in halves
            -> unit results (join the pieces of long units)
            -> QA: a unit whose placeholders broke is resent alone once, then
               kept but flagged; other flags are recorded (or, with
               ``qa="strict"``, fail the unit so --retry-failed can resend it)

Nothing here does I/O: the runner records what comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from . import qa
from .models import Outcome, Request, Result, Settings, Status, Unit
from .packsize import PackSizer
from .planner import Chunking, make_request, pieces_of
from .splitter import Joiner, PieceResult, halves, piece_results

__all__ = ["QA_MODES", "Reviewed", "Reviewer"]

QA_MODES = ("warn", "strict", "off")


@dataclass(frozen=True, slots=True)
class Reviewed:
    results: list[tuple[Result, int]] = field(default_factory=list)  # (result, cells covered)
    resend: list[Request] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)  # why requests are resent
    notes: list[str] = field(default_factory=list)  # pack size changes, for the run's log


class Reviewer:
    def __init__(
        self,
        settings: Settings,
        *,
        chunking: Chunking,
        qa_mode: str = "warn",
        stored: Mapping[str, Result] | None = None,
        sizer: PackSizer | None = None,
    ) -> None:
        self._sizer = sizer
        self._settings = settings
        self._chunking = chunking
        self._qa = qa_mode
        self._joiner = Joiner(settings.model, stored)
        self._qa_retried: set[str] = set()

    def review(self, request: Request, outcome: Outcome) -> Reviewed:
        pieces = piece_results(request, outcome)
        if pieces is None:
            self._joiner.reject(request, outcome)
            resend = [make_request(half, self._settings) for half in halves(request.pieces)]
            return Reviewed(resend=resend, retries=[f"pack_{outcome.error_reason}"])
        reviewed = Reviewed()
        unmatched = [p for p in pieces if p.unmatched]
        if self._sizer is not None and outcome.completion is not None:
            lang = request.pieces[0].unit.target_lang
            note = self._sizer.observe(
                lang, segments=len(pieces), unmatched=len(unmatched), billed=outcome.billed
            )
            reviewed.notes.extend([note] if note else [])
        if unmatched:
            self._resend_unmatched(unmatched, len(unmatched) < len(pieces), reviewed)
        for piece in pieces:
            if piece.unmatched:
                continue
            result, record = self._joiner.add(piece)
            if record is not None:
                reviewed.results.append((record, 0))
            if result is not None:
                self._inspect(piece.piece.unit, result, reviewed)
        return reviewed

    def _resend_unmatched(
        self, unmatched: list[PieceResult], some_aligned: bool, reviewed: Reviewed
    ) -> None:
        """Send again what a pack's answer did not give for certain: one smaller pack of just
        those when the rest aligned, else one by one (never the whole pack in halves)."""
        for result in unmatched:
            self._joiner.hold(result)
        pieces = tuple(result.piece for result in unmatched)
        groups = [pieces] if some_aligned and len(pieces) > 1 else [(p,) for p in pieces]
        reviewed.resend.extend(make_request(group, self._settings) for group in groups)
        reviewed.retries.append("pack_misaligned")

    def _inspect(self, unit: Unit, result: Result, reviewed: Reviewed) -> None:
        if result.status is not Status.DONE or self._qa == "off" or result.translation is None:
            reviewed.results.append((result, unit.cells))
            return
        flags = qa.check(
            unit.text,
            result.translation,
            target_lang=unit.target_lang,
            source_lang=self._settings.source_lang,
            terms=unit.terms,
        )
        if "placeholders" in flags and unit.key not in self._qa_retried:
            self._qa_retried.add(unit.key)
            self._joiner.carry(result)
            pieces = pieces_of(unit, self._chunking.max_chars)
            reviewed.resend.extend(make_request((p,), self._settings) for p in pieces)
            reviewed.retries.append("qa_placeholders")
            return
        if flags and self._qa == "strict":
            message = "flagged by QA: " + ", ".join(flags)
            result = replace(
                result,
                status=Status.FAILED_PERMANENT,
                translation=None,
                error="qa",
                message=message,
                source=unit.text,
            )
        reviewed.results.append((replace(result, flags=flags) if flags else result, unit.cells))
