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
                                headroom) already holds ceil(rpm/60) starts, a
                                pause came, or every slot of the concurrency
                                limit is held, ``grant.start`` is later: sleep
                                and call begin again; else go (holding a slot)
    settle(Settlement) -> View  how an attempt went (its slot comes free): billed
                                tokens correct the token schedule; done counts
                                toward the AIMD ramp;
                                a throttle cuts concurrency and rates (once per
                                generation); a pause (Retry-After, a drained
                                window) stops every start until then
    admit(Charge) -> bool       reserve ``cost`` of a budget ``limit`` if spent
                                plus reserved plus cost stays within it
    spend(Charge) -> None       release the reservation, add the billed cost

The concurrency limit, the ramp's success count, the generation of cuts and
the rate cuts are in the state, so every process paces by the same numbers:
N processes behave as one client.  The attempts in flight are in the state
too, as leases: a go holds one until its attempt settles, a begin that finds
as many live leases as the limit says "later" (``POLL``), and the leases of a
process that died lapse after ``LEASE`` seconds, or at once where a store can
tell it is gone (``begin_here``: the flock file, and the Ray actor for the
processes of its own host, check their pids).  A reservation of money by a
process that dies stays reserved: the budget errs on the side of not spending.

The package: ``values`` (the frozen values every call passes, the limits and
``QuotaStore`` itself), ``rules`` (the pure functions of state and call),
``holders`` (who holds a slot, and whether it is alive), ``memory``
(``MemoryQuotaStore``); ``quotafile`` holds the flock-file store.
"""

from __future__ import annotations

from .holders import begin_here, gone, holder
from .memory import MemoryQuotaStore
from .rules import admit, begin, forget, rate, reserve, settle, spend, view
from .values import (
    KINDS,
    LEASE,
    POLL,
    Begin,
    Booking,
    Charge,
    Cut,
    Grant,
    Quota,
    QuotaState,
    QuotaStore,
    Settlement,
    View,
)

__all__ = [
    "KINDS",
    "LEASE",
    "POLL",
    "Begin",
    "Booking",
    "Charge",
    "Cut",
    "Grant",
    "MemoryQuotaStore",
    "Quota",
    "QuotaState",
    "QuotaStore",
    "Settlement",
    "View",
    "admit",
    "begin",
    "begin_here",
    "forget",
    "gone",
    "holder",
    "rate",
    "reserve",
    "settle",
    "spend",
    "view",
]
