"""Quota pacing and adaptive concurrency: when may the next attempt start?

    pacer = Pacer(Quota(rpm=60, tpm=100_000))            # or store=FileQuotaStore(path)
    async with pacer.slot(est_tokens) as slot:   # waits for its turn, then the attempt runs
        ...
        slot.done(billed)  |  slot.throttled("requests", retry_after)  |  slot.failed(billed)

Every attempt passes five gates, in this order:

    concurrency   an AIMD limit: start_concurrency at first, +1 after `limit` successes in a
                  row, halved by a throttle (once per round: slots that started before the
                  last cut do not cut again); it counts the attempts in flight of every
                  process on the store (each go holds a lease until it settles)
    requests      a GCRA schedule with no burst tolerance: starts at least 60/rpm s apart
    tokens        the same for tokens: t estimated tokens move the schedule t*60/tpm;
                  done(billed) corrects it by the difference, a throttle refunds it
    per second    on waking, a start waits while the last 1 s (plus headroom) already holds
                  ceil(rpm/60) starts, counted at the times they really woke: a late
                  wake-up never puts one start too many in any second
    pause         nothing starts before a server's Retry-After has passed

Throttles by kind: "requests" halves concurrency and slows the request
schedule by 10% (not the first in a minute: paced at the limit, a lone one is
jitter, and its pause is enough); "burst" halves concurrency and restarts the ramp (starts
are already evenly spaced); "tokens" slows the token schedule by 20%;
"other" halves concurrency.  A cut rate holds for 10 s, then creeps back at
10% per 20 s.  ``headroom`` leaves 2% of both rates unused for the jitter
between a scheduled start and the server counting it.

All of that state lives in a ``QuotaStore`` (pipeline/quota/: the contract):
in this process by default, in a file under ``flock`` for processes sharing a
key and model (pipeline/quotafile.py), so they pace as one client.  The slot
says how the attempt went to the store as it closes; ``hold`` is kept until then.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from .quota import (
    KINDS,
    Begin,
    Booking,
    Cut,
    Grant,
    MemoryQuotaStore,
    Quota,
    QuotaStore,
    Settlement,
    View,
    holder,
    rate,
)

__all__ = ["Pacer", "PacerStatistics", "Quota", "Slot"]


@dataclass(frozen=True, slots=True)
class PacerStatistics:
    concurrency: int  # the current concurrency limit
    in_flight: int
    rpm_limit: float | None  # the request rate paced at now (cuts and headroom applied)
    tpm_limit: float | None
    throttled: Counter[str] = field(default_factory=Counter)  # by kind, in this process
    paused_until: float | None = None  # clock time before which nothing starts


class Slot:
    """One attempt's place in the quota; say how it went exactly once (later calls are ignored).

    Leaving the ``async with`` without a word (an exception, a cancellation)
    keeps the token estimate and neither grows nor cuts concurrency.
    """

    __slots__ = ("_estimate", "_pacer", "outcome", "pause_until", "tokens")

    def __init__(self, pacer: Pacer, estimate: int) -> None:
        self._pacer = pacer
        self._estimate = estimate
        self.outcome: str | None = None
        self.tokens = 0  # billed minus estimated
        self.pause_until = 0.0

    def done(self, tokens: int) -> None:
        """Success: ``tokens`` billed corrects the estimate; counts toward the ramp-up."""
        self._settle("done", tokens - self._estimate)

    def throttled(self, kind: str, retry_after: float | None) -> None:
        """A rate-limit answer: ``kind`` is requests, tokens, burst or other."""
        if kind not in KINDS:
            raise ValueError(f"unknown throttle kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if self._settle(kind, -self._estimate):  # a refused attempt is not billed
            self._pacer._throttled[kind] += 1
            if retry_after:
                self.pause_until = self._pacer._clock() + retry_after
                self._pacer._note_pause(self.pause_until)

    def failed(self, tokens: int | None = None) -> None:
        """Another failure: ``tokens`` billed for it if known (None keeps the estimate)."""
        self._settle("failed", 0 if tokens is None else tokens - self._estimate)

    def _settle(self, outcome: str, tokens: int) -> bool:
        if self.outcome is not None:
            return False
        self.outcome, self.tokens = outcome, tokens
        return True


class Pacer:
    """Starts attempts within a Quota: see the module docstring."""

    def __init__(
        self,
        quota: Quota,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        store: QuotaStore | None = None,
    ) -> None:
        self.quota = quota
        self._clock = clock
        self._sleep = sleep
        self._store: QuotaStore = MemoryQuotaStore() if store is None else store
        limit = min(quota.start_concurrency, quota.max_concurrency)
        self._view = View(limit, 0, Cut(), Cut(), 0.0)
        self._limiter = anyio.CapacityLimiter(limit)
        self._gate = anyio.Lock()  # one task per process holds a reservation at a time
        self._in_flight = 0
        self._throttled: Counter[str] = Counter()
        self._paused_until = 0.0  # the latest pause this process knows of
        self._hold_until = 0.0  # a hold not yet told to the store
        self._holder = holder()

    @contextlib.asynccontextmanager
    async def slot(self, est_tokens: int) -> AsyncIterator[Slot]:
        """Wait for a concurrency slot, the schedules, the per-second window and any pause."""
        owner = object()
        await self._limiter.acquire_on_behalf_of(owner)
        try:
            async with self._gate:
                grant = await self._wait_turn(est_tokens)
            self._in_flight += 1
            slot = Slot(self, est_tokens)
            try:
                yield slot
            finally:
                self._in_flight -= 1
                with anyio.CancelScope(shield=True):
                    await self._close(slot, grant)
        finally:
            self._limiter.release_on_behalf_of(owner)

    def statistics(self) -> PacerStatistics:
        now, view = self._clock(), self._view
        return PacerStatistics(
            concurrency=view.concurrency,
            in_flight=self._in_flight,
            rpm_limit=rate(self.quota.rpm, view.rpm_cut.share(now), self.quota),
            tpm_limit=rate(self.quota.tpm, view.tpm_cut.share(now), self.quota),
            throttled=Counter(self._throttled),
            paused_until=self._paused_until if self._paused_until > now else None,
        )

    def hold(self, seconds: float) -> None:
        """Start nothing for ``seconds``: the server said its window is used up
        (``x-ratelimit-remaining-*: 0`` with ``x-ratelimit-reset-*``)."""
        if seconds > 0:
            self._hold_until = max(self._hold_until, self._clock() + seconds)
            self._note_pause(self._hold_until)

    async def _wait_turn(self, est_tokens: int) -> Grant:
        """Book a start, sleep until it, then begin: again while the store says later.

        Returns the go: its ticket holds a shared slot, its view the generation of cuts
        the attempt starts in."""
        now = self._clock()
        grant = await self._store.reserve(Booking(now, est_tokens, self.quota))
        self._apply(grant.view)
        start = grant.start
        while True:
            if start > now:
                await self._sleep(start - now)
                now = self._clock()
            grant = await self._store.begin(Begin(now, grant.ticket, self.quota, self._holder))
            self._apply(grant.view)
            start = max(grant.start, self._paused_until)  # a pause this process heard of
            if start <= now:
                return grant

    async def _close(self, slot: Slot, grant: Grant) -> None:
        """Say how the attempt went, and free its shared slot (an attempt left without a word
        settles as "none": only the slot and any hold)."""
        pause = max(slot.pause_until, self._hold_until)
        self._hold_until = 0.0
        outcome, generation = slot.outcome or "none", grant.view.generation
        settlement = Settlement(
            self._clock(), self.quota, slot.tokens, outcome, generation, pause, grant.ticket
        )
        self._apply(await self._store.settle(settlement))

    def _note_pause(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)

    def _apply(self, view: View) -> None:
        self._view = view
        self._note_pause(view.paused_until)
        self._limiter.total_tokens = view.concurrency
