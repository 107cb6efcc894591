"""Quota pacing and adaptive concurrency: when may the next attempt start?

    pacer = Pacer(Quota(rpm=60, tpm=100_000))
    async with pacer.slot(est_tokens) as slot:   # waits for its turn, then the attempt runs
        ...
        slot.done(billed)  |  slot.throttled("requests", retry_after)  |  slot.failed(billed)

Every attempt passes four gates, in this order:

    concurrency   an AIMD limit: start_concurrency at first, +1 after `limit` successes in a
                  row, halved by a throttle (once per round: slots that started before the
                  last cut do not cut again)
    requests      a GCRA schedule with no burst tolerance: starts at least 60/rpm s apart,
                  so at most rpm/60 start in any second
    tokens        the same for tokens: t estimated tokens move the schedule t*60/tpm;
                  done(billed) corrects it by the difference, a throttle refunds it
    pause         nothing starts before a server's Retry-After has passed

Throttles by kind: "requests" halves concurrency and slows the request
schedule by 10%; "burst" halves concurrency and restarts the ramp (starts
are already evenly spaced); "tokens" slows the token schedule by 20%;
"other" halves concurrency.  A cut rate holds for 10 s, then creeps back at
10% per 20 s: a stray 429 costs about two seconds of rate, a quota set too
high is cut again until it fits.  ``headroom`` leaves 2% of both rates unused
for the jitter between a scheduled start and the server counting it.

With ``shared=PATH`` the schedules and the pause live in a 28-byte file
guarded by ``fcntl.flock``, in wall-clock seconds, read-modify-written on
each acquisition (and on each correction or throttle), so processes using
one key and model keep together within rpm and tpm; the concurrency limit
and the rate cuts stay per process.  A transaction takes about 13 us on
ext4, so it runs in the event loop (a worker-thread hop alone costs ~55 us).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

import anyio

from .errors import UsageError

__all__ = ["Pacer", "PacerStatistics", "Quota", "Slot"]

_KINDS = frozenset({"requests", "tokens", "burst", "other"})
_HOLD = 10.0  # seconds a rate cut holds before it creeps back
_CREEP = 0.1 / 20  # share of the full rate regained per second after the hold: 10% in 20 s
_FLOOR = 0.25  # repeated cuts never go below this share of the full rate
_HORIZON = 86_400.0  # a shared schedule further ahead than this is from a clock jump: reset
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Quota:
    """The provider's limits for one key and model, and how concurrency may grow."""

    rpm: float | None = None  # requests per minute; None = unlimited
    tpm: float | None = None  # tokens per minute (prompt + completion); None = unlimited
    max_concurrency: int = 16
    start_concurrency: int = 4  # ramp from here
    headroom: float = 0.02  # share of rpm and tpm left unused (scheduling and network jitter)

    def __post_init__(self) -> None:
        for name, rate in (("rpm", self.rpm), ("tpm", self.tpm)):
            if rate is not None and not (rate > 0 and math.isfinite(rate)):
                raise UsageError(f"{name} must be a positive number, not {rate}")
        if min(self.max_concurrency, self.start_concurrency) < 1:
            raise UsageError("max_concurrency and start_concurrency must be at least 1")
        if not 0.0 <= self.headroom < 1.0:
            raise UsageError(f"headroom must be within 0..1, not {self.headroom}")


@dataclass(frozen=True, slots=True)
class PacerStatistics:
    concurrency: int  # the current concurrency limit
    in_flight: int
    rpm_limit: float | None  # the request rate paced at now (cuts and headroom applied)
    tpm_limit: float | None
    throttled: Counter[str] = field(default_factory=Counter)  # by kind
    paused_until: float | None = None  # clock time before which nothing starts


@dataclass(frozen=True, slots=True)
class _Cut:
    """A share of the full rate: ``level`` until ``hold_until``, then creeping back to 1."""

    level: float = 1.0
    hold_until: float = 0.0

    def share(self, now: float) -> float:
        return min(1.0, self.level + max(0.0, now - self.hold_until) * _CREEP)

    def cut(self, now: float, by: float) -> _Cut:
        return _Cut(max(_FLOOR, self.share(now) * (1.0 - by)), now + _HOLD)


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Theoretical arrival times of the next request and token, and the server's pause."""

    requests: float = 0.0
    tokens: float = 0.0
    paused_until: float = 0.0

    def start(self, now: float) -> float:
        """The earliest time the next attempt may start."""
        return max(now, self.requests, self.tokens, self.paused_until)

    def book(self, now: float, step: float, tokens: float) -> tuple[_Schedule, float]:
        """Book the next start at ``start(now)``, moving the schedules ``step`` and ``tokens``."""
        start = self.start(now)
        return _Schedule(start + step, start + tokens, self.paused_until), start

    def regrid(self, earliest: float) -> tuple[_Schedule, float]:
        """The next request no sooner than ``earliest``; and the pause."""
        return replace(self, requests=max(self.requests, earliest)), self.paused_until


class _Store(Protocol):
    def transact(self, change: Callable[[_Schedule], tuple[_Schedule, _T]]) -> _T: ...


class _MemoryStore:
    def __init__(self) -> None:
        self._schedule = _Schedule()

    def transact(self, change: Callable[[_Schedule], tuple[_Schedule, _T]]) -> _T:
        self._schedule, result = change(self._schedule)
        return result


_FORMAT = struct.Struct("<4sddd")
_MAGIC = b"mtq1"


class _FileStore:
    """The schedule in a small file, read-modify-written under an exclusive ``flock``."""

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self._path = path
        self._clock = clock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.transact(lambda schedule: (schedule, None))
        except OSError as exc:
            raise UsageError(
                f"{path}: cannot use this file for the shared quota ({exc}); pass another path"
            ) from exc

    def transact(self, change: Callable[[_Schedule], tuple[_Schedule, _T]]) -> _T:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes
            raw = os.pread(fd, 64, 0)
            old = self._decode(raw)
            new, result = change(old)
            if new != old or len(raw) != _FORMAT.size:
                os.pwrite(fd, _FORMAT.pack(_MAGIC, new.requests, new.tokens, new.paused_until), 0)
                os.ftruncate(fd, _FORMAT.size)
            return result
        finally:
            os.close(fd)

    def _decode(self, raw: bytes) -> _Schedule:
        """The stored schedule; a fresh one if the file is new, corrupt or from a clock jump."""
        if len(raw) != _FORMAT.size or raw[:4] != _MAGIC:
            return _Schedule()
        values = _FORMAT.unpack(raw)[1:]
        limit = self._clock() + _HORIZON
        if not all(math.isfinite(v) and v < limit for v in values):
            return _Schedule()
        return _Schedule(*values)


class Slot:
    """One attempt's place in the quota; say how it went exactly once (later calls are ignored).

    Leaving the ``async with`` without a word (an exception, a cancellation)
    keeps the token estimate and neither grows nor cuts concurrency.
    """

    __slots__ = ("_estimate", "_generation", "_pacer", "_settled")

    def __init__(self, pacer: Pacer, estimate: int, generation: int) -> None:
        self._pacer = pacer
        self._estimate = estimate
        self._generation = generation
        self._settled = False

    def done(self, tokens: int) -> None:
        """Success: ``tokens`` billed corrects the estimate; counts toward the ramp-up."""
        if self._settle():
            self._pacer._on_done(tokens - self._estimate)

    def throttled(self, kind: str, retry_after: float | None) -> None:
        """A rate-limit answer: ``kind`` is requests, tokens, burst or other."""
        if kind not in _KINDS:
            raise ValueError(f"unknown throttle kind {kind!r}; known: {', '.join(sorted(_KINDS))}")
        if self._settle():
            self._pacer._on_throttled(kind, retry_after, self._estimate, self._generation)

    def failed(self, tokens: int | None = None) -> None:
        """Another failure: ``tokens`` billed for it if known (None keeps the estimate)."""
        if self._settle() and tokens is not None:
            self._pacer._correct(tokens - self._estimate)

    def _settle(self) -> bool:
        first, self._settled = not self._settled, True
        return first


class Pacer:
    """Starts attempts within a Quota: see the module docstring."""

    def __init__(
        self,
        quota: Quota,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        shared: Path | None = None,
    ) -> None:
        self.quota = quota
        self._clock = clock
        self._sleep = sleep
        self._store: _Store = _MemoryStore() if shared is None else _FileStore(shared, clock)
        self._limit = min(quota.start_concurrency, quota.max_concurrency)
        self._limiter = anyio.CapacityLimiter(self._limit)
        self._gate = anyio.Lock()  # one task per process holds a reservation at a time
        self._in_flight = 0
        self._successes = 0
        self._generation = 0  # bumped by every cut
        self._rpm_cut = _Cut()
        self._tpm_cut = _Cut()
        self._throttled: Counter[str] = Counter()
        self._paused_until = 0.0  # the latest pause this process knows of

    @contextlib.asynccontextmanager
    async def slot(self, est_tokens: int) -> AsyncIterator[Slot]:
        """Wait for a concurrency slot, the request and token schedules and any pause."""
        owner = object()
        await self._limiter.acquire_on_behalf_of(owner)
        try:
            async with self._gate:
                await self._wait_turn(est_tokens)
            self._in_flight += 1
            try:
                yield Slot(self, est_tokens, self._generation)
            finally:
                self._in_flight -= 1
        finally:
            self._limiter.release_on_behalf_of(owner)

    def statistics(self) -> PacerStatistics:
        now = self._clock()
        return PacerStatistics(
            concurrency=self._limit,
            in_flight=self._in_flight,
            rpm_limit=self._rate(self.quota.rpm, self._rpm_cut, now),
            tpm_limit=self._rate(self.quota.tpm, self._tpm_cut, now),
            throttled=Counter(self._throttled),
            paused_until=self._paused_until if self._paused_until > now else None,
        )

    async def _wait_turn(self, est_tokens: int) -> None:
        """Book the next start on the schedules and sleep until it; again if a pause came.

        The request schedule moves by a fixed step per booking, so starts stay
        on a grid 60/rpm apart, each off it by its own wake-up delay: any one
        second holds at most rpm/60 starts unless two delays differ by more
        than ``headroom`` seconds (20 ms at 2%).  A wake-up later than half that
        (a stalled event loop) moves the grid to it.  One task per process
        books and waits at a time (the gate), so a pause wastes one booking.
        """
        while True:
            now = self._clock()
            step = self._cost(1, self.quota.rpm, self._rpm_cut, now)
            tokens = self._cost(est_tokens, self.quota.tpm, self._tpm_cut, now)
            start = self._store.transact(partial(_Schedule.book, now=now, step=step, tokens=tokens))
            if start <= now:
                return
            await self._sleep(start - now)
            woke = self._clock()
            late = woke - start > self.quota.headroom / 2
            earliest = woke + step if late else 0.0
            paused = self._store.transact(partial(_Schedule.regrid, earliest=earliest))
            self._paused_until = max(self._paused_until, paused)
            if paused <= start:
                return

    def _rate(self, full: float | None, cut: _Cut, now: float) -> float | None:
        return None if full is None else full * cut.share(now) * (1.0 - self.quota.headroom)

    def hold(self, seconds: float) -> None:
        """Start nothing for ``seconds``: the server said its window is used up
        (``x-ratelimit-remaining-*: 0`` with ``x-ratelimit-reset-*``)."""
        if seconds > 0:
            until = self._clock() + seconds
            self._correct(0, pause_until=until)
            self._paused_until = max(self._paused_until, until)

    def _cost(self, amount: int, full: float | None, cut: _Cut, now: float) -> float:
        rate = self._rate(full, cut, now)
        return 0.0 if rate is None else amount * 60.0 / rate

    def _correct(self, tokens: int, pause_until: float = 0.0) -> None:
        """Move the token schedule by ``tokens`` (negative: back) and pause until then."""
        shift = self._cost(tokens, self.quota.tpm, self._tpm_cut, self._clock())
        if shift or pause_until:

            def change(old: _Schedule) -> tuple[_Schedule, None]:
                paused = max(old.paused_until, pause_until)
                return replace(old, tokens=old.tokens + shift, paused_until=paused), None

            self._store.transact(change)

    def _set_limit(self, limit: int) -> None:
        self._limit = limit
        self._limiter.total_tokens = limit

    def _on_done(self, correction: int) -> None:
        self._correct(correction)
        self._successes += 1
        if self._successes >= self._limit and self._limit < self.quota.max_concurrency:
            self._set_limit(self._limit + 1)
            self._successes = 0

    def _on_throttled(
        self, kind: str, retry_after: float | None, estimate: int, generation: int
    ) -> None:
        now = self._clock()
        self._throttled[kind] += 1
        until = now + retry_after if retry_after else 0.0
        self._paused_until = max(self._paused_until, until)
        self._correct(-estimate, until)  # a refused attempt is not billed
        if generation < self._generation:
            return  # started before the last cut, which already answered this round
        self._generation += 1
        self._successes = 0
        if kind == "tokens":
            self._tpm_cut = self._tpm_cut.cut(now, 0.2)
            return
        self._set_limit(max(1, self._limit // 2))
        if kind == "requests":
            self._rpm_cut = self._rpm_cut.cut(now, 0.1)
