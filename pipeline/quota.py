"""The QuotaStore seam: the state that processes on one key and model share.

A ``QuotaStore`` holds one ``QuotaState`` and applies the rules below to it, one
call at a time (atomically).  Every argument and result is a small frozen
value of floats, ints and strings, so an implementation in another process (a
Ray actor, a Redis script) answers each call in one round trip: it holds a
``QuotaState`` and calls the same pure functions (``reserve``, ``begin``,
``settle``, ``admit``, ``spend``) that ``MemoryQuotaStore`` calls.  Times are
wall-clock seconds (``time.time()``) passed in by the caller: the store keeps
no clock.  Calls:

    reserve(Booking) -> Grant   book the next start on the request and token
                                schedules (GCRA, no burst tolerance); start at
                                ``grant.start``
    begin(Begin) -> Grant       say when the booked attempt actually woke: if
                                the last ``per_second`` window (1 s plus
                                headroom) already holds ceil(rpm/60) starts, or
                                a pause came, ``grant.start`` is later: sleep
                                and call begin again; else go
    settle(Settlement) -> View  how an attempt went: billed tokens correct the
                                token schedule; done counts toward the AIMD ramp;
                                a throttle cuts concurrency and rates (once per
                                generation); a pause (Retry-After, a drained
                                window) stops every start until then
    admit(Charge) -> bool       reserve ``cost`` of a budget ``limit`` if spent
                                plus reserved plus cost stays within it
    spend(Charge) -> None       release the reservation, add the billed cost

The concurrency limit, the ramp's success count, the generation of cuts and
the rate cuts are in the state, so every process paces by the same numbers:
N processes behave as one client.  In-flight counts stay per process (a
crashed process would leak a shared one); each process caps its own
in-flight at the shared limit.  A reservation of money by a process that dies
stays reserved: the budget errs on the side of not spending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

from .errors import UsageError

__all__ = [
    "Begin",
    "Booking",
    "Charge",
    "Grant",
    "MemoryQuotaStore",
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
_HORIZON = 86_400.0  # a schedule further ahead than this is from a clock jump: reset


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
    ticket: int = 0  # the last ticket handed out
    concurrency: int = 0  # the AIMD limit; 0 until the first booking sets it
    successes: int = 0  # in a row since the last change of the limit
    generation: int = 0  # bumped by every cut
    rpm_cut: Cut = field(default_factory=Cut)
    tpm_cut: Cut = field(default_factory=Cut)
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


@dataclass(frozen=True, slots=True)
class Settlement:
    now: float
    quota: Quota
    tokens: int = 0  # billed minus estimated (negative: a refund)
    outcome: str = "none"  # done, failed, none, or a throttle kind (KINDS)
    generation: int = 0  # the generation the attempt started in
    pause_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Charge:
    cost: float  # reserve: estimated cost; spend: the billed cost
    limit: float = math.inf
    reserved: float = 0.0  # spend: the estimate reserved before


class QuotaStore(Protocol):
    """One shared QuotaState: see the module docstring for the contract."""

    async def reserve(self, booking: Booking) -> Grant: ...
    async def begin(self, begin: Begin) -> Grant: ...
    async def settle(self, settlement: Settlement) -> View: ...
    async def admit(self, charge: Charge) -> bool: ...
    async def spend(self, charge: Charge) -> None: ...


def rate(full: float | None, share: float, quota: Quota) -> float | None:
    return None if full is None else full * share * (1.0 - quota.headroom)


def _cost(amount: float, full: float | None, share: float, quota: Quota) -> float:
    paced = rate(full, share, quota)
    return 0.0 if paced is None else amount * 60.0 / paced


def view(state: QuotaState) -> View:
    return View(
        state.concurrency,
        state.generation,
        state.rpm_cut,
        state.tpm_cut,
        state.paused_until,
    )


def _fresh(state: QuotaState, now: float, quota: Quota) -> QuotaState:
    """``state``, reset if it is from a clock jump; its limit set on first use."""
    limit = now + _HORIZON
    times = (state.requests, state.tokens, state.paused_until, *(t for _, t in state.starts))
    if not all(math.isfinite(t) and t < limit for t in times):
        state = QuotaState(spent=state.spent, reserved=state.reserved)
    if state.concurrency == 0:
        state = replace(state, concurrency=min(quota.start_concurrency, quota.max_concurrency))
    return state


def _window(quota: Quota) -> tuple[int, float]:
    """At most ``n`` starts in any ``seconds``: the provider's per-second limit, with headroom."""
    if quota.rpm is None:
        return 0, 0.0
    return max(1, math.ceil(quota.rpm / 60.0)), 1.0 + quota.headroom


def reserve(state: QuotaState, booking: Booking) -> tuple[QuotaState, Grant]:
    now, quota = booking.now, booking.quota
    state = _fresh(state, now, quota)
    step = _cost(1, quota.rpm, state.rpm_cut.share(now), quota)
    tokens = _cost(booking.tokens, quota.tpm, state.tpm_cut.share(now), quota)
    start = max(now, state.requests, state.tokens, state.paused_until)
    ticket = state.ticket + 1
    n, _ = _window(quota)
    starts = (*state.starts, (ticket, start))[-(2 * n + 8) :] if n else ()
    state = replace(
        state, requests=start + step, tokens=start + tokens, starts=starts, ticket=ticket
    )
    return state, Grant(start, ticket, view(state))


def begin(state: QuotaState, call: Begin) -> tuple[QuotaState, Grant]:
    """Go now, or later if the last window is full or a pause came; the log holds the start."""
    now, quota = call.now, call.quota
    state = _fresh(state, now, quota)
    n, seconds = _window(quota)
    others = sorted(t for k, t in state.starts if k != call.ticket and now - seconds < t <= now)
    start = max(now, state.paused_until)
    if n and len(others) >= n:
        start = max(start, others[len(others) - n] + seconds)
    booked = next((t for k, t in state.starts if k == call.ticket), now)
    starts = tuple((k, start if k == call.ticket else t) for k, t in state.starts)
    state = replace(state, starts=tuple(sorted(starts, key=lambda s: s[1])))
    if start - booked > quota.headroom / 2:  # a stalled wake-up or a wait: the grid moves
        step = _cost(1, quota.rpm, state.rpm_cut.share(now), quota)
        state = replace(state, requests=max(state.requests, start + step))
    return state, Grant(start, call.ticket, view(state))


def settle(state: QuotaState, call: Settlement) -> tuple[QuotaState, View]:
    now, quota = call.now, call.quota
    state = _fresh(state, now, quota)
    shift = _cost(call.tokens, quota.tpm, state.tpm_cut.share(now), quota)
    state = replace(
        state,
        tokens=state.tokens + shift,
        paused_until=max(state.paused_until, call.pause_until),
    )
    if call.outcome == "done":
        state = replace(state, successes=state.successes + 1)
        if state.successes >= state.concurrency and state.concurrency < quota.max_concurrency:
            state = replace(state, concurrency=state.concurrency + 1, successes=0)
    elif call.outcome in KINDS and call.generation >= state.generation:
        state = _cut(state, call.outcome, now)
    return state, view(state)


def _cut(state: QuotaState, kind: str, now: float) -> QuotaState:
    """One throttle per round: halve concurrency (tokens: cut the token rate instead)."""
    state = replace(state, generation=state.generation + 1, successes=0)
    if kind == "tokens":
        return replace(state, tpm_cut=state.tpm_cut.cut(now, 0.2))
    state = replace(state, concurrency=max(1, state.concurrency // 2))
    if kind == "requests":
        state = replace(state, rpm_cut=state.rpm_cut.cut(now, 0.1))
    return state


def admit(state: QuotaState, charge: Charge) -> tuple[QuotaState, bool]:
    if state.spent + state.reserved + charge.cost > charge.limit:
        return state, False
    return replace(state, reserved=state.reserved + charge.cost), True


def spend(state: QuotaState, charge: Charge) -> tuple[QuotaState, None]:
    reserved = max(0.0, state.reserved - charge.reserved)
    return replace(state, reserved=reserved, spent=state.spent + charge.cost), None


class MemoryQuotaStore:
    """The state in this process: for one run, and the core of an actor-held store."""

    def __init__(self, state: QuotaState | None = None) -> None:
        self.state = state or QuotaState()

    async def reserve(self, booking: Booking) -> Grant:
        self.state, grant = reserve(self.state, booking)
        return grant

    async def begin(self, begin_: Begin) -> Grant:
        self.state, grant = begin(self.state, begin_)
        return grant

    async def settle(self, settlement: Settlement) -> View:
        self.state, result = settle(self.state, settlement)
        return result

    async def admit(self, charge: Charge) -> bool:
        self.state, ok = admit(self.state, charge)
        return ok

    async def spend(self, charge: Charge) -> None:
        self.state, _ = spend(self.state, charge)
