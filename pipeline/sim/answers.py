"""What the simulator answers a request with: each segment pseudo-translated or corrupted.

QA faults (``placeholders``, ``echo``, ``dropterms``, ``script``) corrupt a
successful answer per segment: each numbered line of a pack (``[1] ...``,
numbers kept) or else the whole text.  A segment's draw hashes the seed, the
segment, its target and how often it was answered before, so a run corrupts
the same segments in any arrival order and a resend draws again; a segment
that cannot show the fault drawn is answered right (``pseudo.corrupt``).
Markers force one (``[[sim:echo]]``, ``[[sim:breakph]]``,
``[[sim:breakph-always]]``, ``[[sim:latin]]``).  Pack faults (``packs.py``)
then change the format of a whole pack answer, drawn the same way per pack
text.  ``Answerer`` keeps the memories these draws need; the server counts
what each ``Answer`` says was applied.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from .api import Job
from .packs import PACK_FAULTS, deviate
from .pseudo import corrupt, pseudo_translate
from .settings import ANSWER_FAULTS, SimConfig, thresholds

__all__ = ["Answer", "Answerer"]


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer's text and the faults applied to it (QA faults by segment, a pack fault)."""

    text: str
    corrupted: tuple[str, ...] = ()
    pack: str | None = None


class Answerer:
    """Pseudo-translations with seeded QA and pack faults; remembers what it answered."""

    def __init__(self, config: SimConfig) -> None:
        self.seed = config.seed
        self.answer_thresholds = thresholds(config.faults, ANSWER_FAULTS)  # per segment
        self.pack_thresholds = thresholds(config.faults, PACK_FAULTS)  # per pack answer
        self.broken_seen: set[tuple[str, str]] = set()  # (target, segment) of [[sim:breakph]]
        self.answers: Counter[tuple[str, str]] = Counter()  # (target, segment) answered

    def answer(self, job: Job, *, faulty: bool) -> Answer:
        """The answer's text: each segment translated, or corrupted when a QA fault hits it."""
        segments = _segments(job.text)
        corrupted: list[str] = []
        lines = [
            prefix + self._segment(job, segment, faulty, corrupted) for prefix, segment in segments
        ]
        if len(segments) > 1 and not faulty and self.pack_thresholds:
            u, pick = self._hashed("pack", job.target, job.text)
            kind = next((kind for limit, kind in self.pack_thresholds if u < limit), None)
            if kind is not None:
                text = deviate(lines, kind, target=job.target, pick=pick)
                return Answer(text, tuple(corrupted), kind)
        return Answer("\n".join(lines), tuple(corrupted))

    def _hashed(self, group: str, target: str, text: str) -> tuple[float, int]:
        """A draw in [0, 1) and a pick for ``text``: the seed, the text, its target and how
        often it was drawn for before, so any arrival order draws alike and a resend anew."""
        seen = self.answers[group + target, text]
        self.answers[group + target, text] += 1
        key = f"{self.seed}\x1f{group}\x1f{seen}\x1f{target}\x1f{text}".encode()
        digest = hashlib.blake2b(key, digest_size=16).digest()
        return int.from_bytes(digest[:8]) / 2**64, int.from_bytes(digest[8:])

    def _segment(self, job: Job, segment: str, faulty: bool, corrupted: list[str]) -> str:
        fault, pick = (None, 0) if faulty else self._answer_fault(job.target, segment)
        if fault is not None:
            if fault == "echo" and "[[sim:echo]]" in segment:  # echoed, words or not
                right = pseudo_translate(segment, job.target, terms=job.terms)
                wrong = segment if segment != right else None
            else:
                wrong = corrupt(segment, job.target, fault, terms=job.terms, pick=pick)
            if wrong is not None:
                corrupted.append("script" if fault == "latin" else fault)
                return wrong
        return pseudo_translate(segment, job.target, terms=job.terms)

    def _answer_fault(self, target: str, segment: str) -> tuple[str | None, int]:
        """(QA fault, which placeholder) for one segment: its marker, else a hashed draw."""
        if "[[sim:" in segment and (marked := self._marker(target, segment)) is not None:
            return marked, 0
        if not self.answer_thresholds:
            return None, 0
        seen = self.answers[target, segment]
        self.answers[target, segment] += 1
        key = f"{self.seed}\x1f{seen}\x1f{target}\x1f{segment}".encode()
        digest = hashlib.blake2b(key, digest_size=16).digest()
        u = int.from_bytes(digest[:8]) / 2**64
        fault = next((kind for limit, kind in self.answer_thresholds if u < limit), None)
        return fault, int.from_bytes(digest[8:])

    def _marker(self, target: str, segment: str) -> str | None:
        if "[[sim:echo]]" in segment:
            return "echo"
        if "[[sim:latin]]" in segment:
            return "latin"
        if "[[sim:breakph-always]]" in segment:
            return "placeholders"
        if "[[sim:breakph]]" in segment and (target, segment) not in self.broken_seen:
            self.broken_seen.add((target, segment))
            return "placeholders"
        return None


def _segments(text: str) -> list[tuple[str, str]]:
    """A pack's numbered lines as (``"[n] "``, segment); any other text is one segment."""
    lines = text.split("\n")
    prefixes = [f"[{n}] " for n in range(1, len(lines) + 1)]
    if len(lines) > 1 and all(map(str.startswith, lines, prefixes)):
        return [(prefix, line[len(prefix) :]) for prefix, line in zip(prefixes, lines, strict=True)]
    return [("", text)]
