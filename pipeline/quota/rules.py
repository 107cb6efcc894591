"""The QuotaStore's rules: pure functions of (state, call) -> (state, answer).

Each store applies them one call at a time (atomically): ``MemoryQuotaStore``
in this process, ``quotafile.FileQuotaStore`` under a file lock, another store
wherever it holds its ``QuotaState``.  See the package docstring for what each
call means.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .values import (
    KINDS,
    LEASE,
    LONE,
    POLL,
    Begin,
    Booking,
    Charge,
    Grant,
    Quota,
    QuotaState,
    Settlement,
    View,
)

__all__ = ["admit", "begin", "forget", "rate", "reserve", "settle", "spend", "view"]

_HORIZON = 86_400.0  # a schedule further ahead than this is from a clock jump: reset


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
    logs = (*(t for _, t in state.starts), *(t for _, t, _ in state.leases))
    times = (state.requests, state.tokens, state.paused_until, *logs)
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
    """Go now, or later if the last window is full, a pause came or every shared slot is
    held (the AIMD limit counts the attempts in flight in every process); the log holds
    the start, and a go holds a slot until it settles or its lease lapses."""
    now, quota = call.now, call.quota
    state = _fresh(state, now, quota)
    n, seconds = _window(quota)
    others = sorted(t for k, t in state.starts if k != call.ticket and now - seconds < t <= now)
    start = max(now, state.paused_until)
    if n and len(others) >= n:
        start = max(start, others[len(others) - n] + seconds)
    leases = tuple(lease for lease in state.leases if lease[0] != call.ticket and lease[1] > now)
    if start <= now and len(leases) >= state.concurrency:
        start = now + POLL
    elif start <= now:
        leases += ((call.ticket, now + LEASE, call.holder),)
    state = replace(state, leases=leases)
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
        leases=tuple(lease for lease in state.leases if lease[0] != call.ticket),
    )
    if call.outcome == "done":
        state = replace(state, successes=state.successes + 1)
        if state.successes >= state.concurrency and state.concurrency < quota.max_concurrency:
            state = replace(state, concurrency=state.concurrency + 1, successes=0)
    elif call.outcome in KINDS and call.generation >= state.generation:
        state = _cut(state, call.outcome, now)
    return state, view(state)


def _cut(state: QuotaState, kind: str, now: float) -> QuotaState:
    """One throttle per round: halve concurrency (tokens: cut the token rate instead).

    A "requests" throttle also slows the request schedule, unless it is the first in a
    minute (``LONE``): paced at the limit, a lone one is the jitter between a start and
    the server counting it, and its Retry-After pause is answer enough; a 10% cut held
    for half a minute would cost more of the quota than the jitter does."""
    state = replace(state, generation=state.generation + 1, successes=0)
    if kind == "tokens":
        return replace(state, tpm_cut=state.tpm_cut.cut(now, 0.2))
    state = replace(state, concurrency=max(1, state.concurrency // 2))
    if kind == "requests":
        lone = now - state.requests_throttled >= LONE
        state = replace(state, requests_throttled=now)
        if not lone:
            state = replace(state, rpm_cut=state.rpm_cut.cut(now, 0.1))
    return state


def forget(state: QuotaState, holders: frozenset[str]) -> QuotaState:
    """``state`` without the slots of ``holders`` (processes known to be gone)."""
    if not holders:
        return state
    return replace(state, leases=tuple(lease for lease in state.leases if lease[2] not in holders))


def admit(state: QuotaState, charge: Charge) -> tuple[QuotaState, bool]:
    if state.spent + state.reserved + charge.cost > charge.limit:
        return state, False
    return replace(state, reserved=state.reserved + charge.cost), True


def spend(state: QuotaState, charge: Charge) -> tuple[QuotaState, None]:
    reserved = max(0.0, state.reserved - charge.reserved)
    return replace(state, reserved=reserved, spent=state.spent + charge.cost), None
