"""The QuotaStore's values: the limits, the shared state, each call's argument and answer.

Every value is small and frozen, of floats, ints and strings, so a store in
another process answers a call in one round trip (see the package docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import UsageError

__all__ = [
    "KINDS",
    "LEASE",
    "POLL",
    "Begin",
    "Booking",
    "Charge",
    "Cut",
    "Grant",
    "Quota",
    "QuotaState",
    "QuotaStore",
    "Settlement",
    "View",
]

KINDS = frozenset({"requests", "tokens", "burst", "other"})
_HOLD = 10.0  # seconds a rate cut holds before it creeps back
_CREEP = 0.1 / 20  # share of the full rate regained per second after the hold: 10% in 20 s
_FLOOR = 0.25  # repeated cuts never go below this share of the full rate
LONE = 60.0  # a "requests" throttle with none in the last minute is jitter: it cuts no rate
LEASE = 180.0  # seconds an attempt holds its shared slot at most: a process that died never
# settles, and its slots come free after this (longer than the default 120 s timeout), or as
# soon as a store that can tell finds its holder gone (the flock file: a dead pid on its host)
POLL = 0.01  # seconds a start waits before asking again while every shared slot is held


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
class Cut:
    """A share of the full rate: ``level`` until ``hold_until``, then creeping back to 1."""

    level: float = 1.0
    hold_until: float = 0.0

    def share(self, now: float) -> float:
        return min(1.0, self.level + max(0.0, now - self.hold_until) * _CREEP)

    def cut(self, now: float, by: float) -> Cut:
        return Cut(max(_FLOOR, self.share(now) * (1.0 - by)), now + _HOLD)


@dataclass(frozen=True, slots=True)
class QuotaState:
    """Everything shared: schedules, recent starts, AIMD, cuts, pause and money."""

    requests: float = 0.0  # theoretical arrival time of the next request
    tokens: float = 0.0  # ... and of the next token
    paused_until: float = 0.0
    starts: tuple[tuple[int, float], ...] = ()  # (ticket, start time), oldest first
    leases: tuple[tuple[int, float, str], ...] = ()  # (ticket, lapses at, holder): in flight
    ticket: int = 0  # the last ticket handed out
    concurrency: int = 0  # the AIMD limit; 0 until the first booking sets it
    successes: int = 0  # in a row since the last change of the limit
    generation: int = 0  # bumped by every cut
    rpm_cut: Cut = field(default_factory=Cut)
    tpm_cut: Cut = field(default_factory=Cut)
    requests_throttled: float = -math.inf  # when the last "requests" throttle cut a round
    spent: float = 0.0  # money billed
    reserved: float = 0.0  # money of attempts admitted and not yet settled


@dataclass(frozen=True, slots=True)
class View:
    """What a process paces by, as of one call."""

    concurrency: int
    generation: int
    rpm_cut: Cut  # the share of the full rate in force
    tpm_cut: Cut
    paused_until: float


@dataclass(frozen=True, slots=True)
class Booking:
    now: float
    tokens: int  # estimated tokens of the attempt
    quota: Quota


@dataclass(frozen=True, slots=True)
class Grant:
    start: float  # go at this time (at once if it is not after now)
    ticket: int  # the booking's place in the start log
    view: View


@dataclass(frozen=True, slots=True)
class Begin:
    now: float  # when the attempt woke
    ticket: int
    quota: Quota
    holder: str = ""  # who holds the slot of a go: "host:pid" (``holders.holder()``)


@dataclass(frozen=True, slots=True)
class Settlement:
    now: float
    quota: Quota
    tokens: int = 0  # billed minus estimated (negative: a refund)
    outcome: str = "none"  # done, failed, none, or a throttle kind (KINDS)
    generation: int = 0  # the generation the attempt started in
    pause_until: float = 0.0
    ticket: int = 0  # the attempt's booking: its shared slot comes free (0: none held)


@dataclass(frozen=True, slots=True)
class Charge:
    cost: float  # reserve: estimated cost; spend: the billed cost
    limit: float = math.inf
    reserved: float = 0.0  # spend: the estimate reserved before


class QuotaStore(Protocol):
    """One shared QuotaState: see the package docstring for the contract."""

    async def reserve(self, booking: Booking) -> Grant: ...
    async def begin(self, begin: Begin) -> Grant: ...
    async def settle(self, settlement: Settlement) -> View: ...
    async def admit(self, charge: Charge) -> bool: ...
    async def spend(self, charge: Charge) -> None: ...
