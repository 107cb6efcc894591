"""How many segments go in one pack, per target language, learnt from the answers.

``PackSizer`` starts each language at a small pack (``start``) and doubles it
after every pack that aligns, up to the ``--pack-segments`` ceiling.  After
``streak`` (3) misaligned packs in a row it halves the size, down to 1:
packing off.  Off, it sends singles and probes again with a pack of 2 after
``probe`` singles, that wait doubling after each probe that fails.

A waste budget bounds the worst case: what misaligned packs billed for the
segments they did not give (and the requests they cost) may not exceed
``waste`` (10%) of what the language's requests billed in all, once a few
requests are in; past it packing goes off at once.  Before any pack of a
language has given a segment, the packs in flight are all a bet: with
``expected`` (the unique texts the run sends per language) such packs may
not pass ``waste`` of it, each counted as its segments plus one (the
planner reports each pack with ``handed``); past it the language's texts go
singly until an answer comes.  A failed pack bills no more than its segments
sent singly plus one, so on a server that never aligns a run of any size
costs at most ~1.1x ``--pack off``.

The planner asks ``size(lang)`` for each pack; the reviewer tells
``observe(...)`` what each answer came to.  Nothing here does I/O: changes
come back as one-line messages for the run's log and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Usage

__all__ = ["LanguagePacking", "PackSizer"]


@dataclass(slots=True)
class LanguagePacking:
    """One target language's pack size and what it has seen (the report's ``packing``)."""

    size: int
    packs: int = 0  # answers to packs of 2 or more
    misaligned: int = 0  # of those, answers with a segment not given for certain
    streak: int = 0  # misaligned packs in a row
    tokens: int = 0  # billed for this language, every request
    requests: int = 0
    wasted_tokens: int = 0  # billed for segments a pack did not give
    wasted_requests: int = 0  # packs that gave nothing
    singles_until_probe: int = 0
    probe: int = 0
    unproven: int = 0  # segments handed out in packs before any pack gave one
    proven: bool = False  # a pack of this language gave at least one segment
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"size": self.size, "packs": self.packs, "misaligned": self.misaligned,
                "wasted_tokens": self.wasted_tokens, "wasted_requests": self.wasted_requests,
                "events": list(self.events)}  # fmt: skip


class PackSizer:
    def __init__(
        self,
        *,
        ceiling: int,
        start: int = 8,
        streak: int = 3,
        probe: int = 32,
        waste: float = 0.1,
        model: str = "",
        expected: int | None = None,
    ) -> None:
        self._ceiling, self._start, self._streak = ceiling, min(start, ceiling), streak
        self._probe, self._waste, self._model = probe, waste, model
        self._bet = None if expected is None else int(waste * expected)  # unproven segments
        self.languages: dict[str, LanguagePacking] = {}

    def _lang(self, lang: str) -> LanguagePacking:
        state = self.languages.get(lang)
        if state is None:
            state = self.languages[lang] = LanguagePacking(self._start, probe=self._probe)
        return state

    def size(self, lang: str) -> int:
        """The most segments the next pack for ``lang`` may hold; 1 means send singles."""
        state = self._lang(lang)
        # a pack on the bet costs its segments and its own request (the pack rule)
        left = None if state.proven or self._bet is None else self._bet - state.unproven - 1
        if left is not None and left < 2:
            return 1  # the bet on packs is spent until one gives a segment
        if state.size == 1 and self._ceiling > 1 and state.singles_until_probe <= 0:
            state.singles_until_probe = state.probe  # one probe at a time
            return 2
        return state.size if left is None else min(state.size, left)

    def handed(self, lang: str, segments: int) -> None:
        """The planner made a pack of ``segments`` for ``lang``."""
        state = self._lang(lang)
        if segments > 1 and not state.proven:
            state.unproven += segments + 1

    def observe(self, lang: str, *, segments: int, unmatched: int, billed: Usage) -> str | None:
        """Account one answer; a message when the pack size for ``lang`` changed."""
        state = self._lang(lang)
        state.tokens += billed.total_tokens
        state.requests += 1
        if segments == 1:
            state.singles_until_probe -= 1
            return None
        state.packs += 1
        state.proven |= unmatched < segments
        if unmatched == 0:
            state.streak = 0
            return self._grow(lang, state)
        state.misaligned += 1
        state.streak += 1
        state.wasted_tokens += billed.total_tokens * unmatched // segments
        state.wasted_requests += unmatched == segments
        if state.size == 1:  # a probe that failed: wait twice as long
            state.probe *= 2
            state.singles_until_probe = state.probe
            return None
        if self._over_budget(state):
            return self._set(lang, state, 1, "the waste budget is spent")
        if state.streak >= self._streak:
            state.streak = 0
            return self._set(lang, state, state.size // 2, f"{self._streak} misaligned packs")
        return None

    def _over_budget(self, state: LanguagePacking) -> bool:
        if state.requests < 4:
            return False
        return (
            state.wasted_tokens > self._waste * state.tokens
            or state.wasted_requests > self._waste * state.requests
        )

    def _grow(self, lang: str, state: LanguagePacking) -> str | None:
        if state.size == 1:
            state.probe = self._probe
            return self._set(lang, state, 2, "a probe pack aligned")
        grown = min(state.size * 2, self._ceiling)
        if grown != state.size:
            state.size = grown  # growing is routine: not logged
        return None

    def _set(self, lang: str, state: LanguagePacking, size: int, why: str) -> str:
        state.size = max(1, size)
        if state.size == 1:
            state.singles_until_probe = state.probe
            message = f"packing off for {lang} after {why}"
        else:
            message = f"pack size for {lang} now {state.size} after {why}"
        message = f"{self._model}: {message}" if self._model else message
        state.events.append(message)
        return message
