"""One QuotaStore for a whole Ray cluster: the state in a named actor.

    store = cluster_store("mtpipe-quota-<digest>")   # created once, found by every process
    Pacer(quota, store=store); Budget(limit, model, store=store)

The actor holds one ``QuotaState`` and applies the pure rules of
``pipeline.quota`` to it, one call at a time (a Ray actor runs its methods
one after another), so every block translator on every node paces by the same
schedules, per-second window, AIMD limit and pauses, and spends from the same
budget: N actors behave as one client.  A call is one round trip (about a
millisecond on loopback); a request makes three (reserve, begin, settle) and
two more under ``--max-cost``, and a start that finds every slot of the
concurrency limit held asks ``begin`` again every ``POLL`` (10 ms).  A killed
actor's slots come free at the next ``begin`` when its pid is gone from this
actor's host (``holders.begin_here``), else when they lapse.

``get_if_exists``: the first process to ask creates the actor, the others get
the same one by name.  The name of the pacing store is a digest of (base URL,
model, key), as ``quotafile.shared_path`` names its file, so runs on one key
share it and the key never appears in a name Ray shows.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any

import ray

from .. import quota as rules
from ..quota import (
    Begin,
    Booking,
    Charge,
    Grant,
    Quota,
    QuotaState,
    Settlement,
    View,
    begin_here,
)

__all__ = ["NAMESPACE", "ClusterQuotaStore", "cluster_store", "pacing_name"]

NAMESPACE = "mtpipe"
_SLACK = 0.01  # seconds a "go" may take to arrive before it is asked again
_TRIES = 4
_HEADROOM = 0.03  # share of the quota left unused across a cluster (see _wide)


def pacing_name(base_url: str, model: str, api_key: str | None) -> str:
    """The actor name of one key and model's quota (a digest: the key is never shown)."""
    ident = "\x1f".join((base_url, model, api_key or ""))
    return "mtpipe-quota-" + hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()


def _wide(quota: Quota) -> Quota:
    """``quota`` with at least ``_HEADROOM`` left unused.  A start is logged when the "go"
    arrives, the request reaches the server later: a process's scheduling delay, and the
    server's.  Ten starts are kept 1 s + headroom apart (at 600 a minute), so a request
    may arrive that much late before a server second holds eleven: 20 ms at the local 2%,
    too little for several processes on a loaded machine (a 429 costs 10% of the rate
    for 10 s and more); 30 ms at 3%."""
    return quota if quota.headroom >= _HEADROOM else replace(quota, headroom=_HEADROOM)


@ray.remote(num_cpus=0)  # a sync actor runs one call at a time
class _QuotaActor:
    """The shared state; each method is one atomic step of the rules."""

    def __init__(self) -> None:
        self._state = QuotaState()

    def reserve(self, booking: Booking) -> Grant:
        self._state, grant = rules.reserve(
            self._state, replace(booking, quota=_wide(booking.quota))
        )
        return grant

    def begin(self, call: Begin) -> Grant:
        call = replace(call, quota=_wide(call.quota))
        self._state, grant = begin_here(self._state, call)  # killed holders on this host
        return grant

    def settle(self, call: Settlement) -> View:
        self._state, result = rules.settle(self._state, replace(call, quota=_wide(call.quota)))
        return result

    def admit(self, charge: Charge) -> bool:
        self._state, ok = rules.admit(self._state, charge)
        return ok

    def spend(self, charge: Charge) -> None:
        self._state, _ = rules.spend(self._state, charge)

    def state(self) -> QuotaState:
        return self._state


class ClusterQuotaStore:
    """A QuotaStore whose calls go to the named actor; picklable (it is its name)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._actor: Any = None

    def __reduce__(self) -> tuple[type[ClusterQuotaStore], tuple[str]]:
        return ClusterQuotaStore, (self.name,)

    @property
    def actor(self) -> Any:
        if self._actor is None:
            self._actor = _QuotaActor.options(  # type: ignore[attr-defined]
                name=self.name, namespace=NAMESPACE, get_if_exists=True
            ).remote()
        return self._actor

    async def reserve(self, booking: Booking) -> Grant:
        grant: Grant = await self.actor.reserve.remote(booking)
        return grant

    async def begin(self, begin: Begin) -> Grant:
        """As the rules say, with one correction for the round trip: a "go" that took longer
        than ``_SLACK`` to arrive logged a start earlier than the request will really leave,
        so it is asked again with the time it arrived (a few times at most)."""
        call = begin
        for _ in range(_TRIES):
            grant: Grant = await self.actor.begin.remote(call)
            arrived = time.time()
            if grant.start > call.now or arrived - call.now <= _SLACK:
                break
            call = replace(call, now=arrived)
        if grant.start <= call.now:  # go: said in the caller's clock
            return replace(grant, start=begin.now)
        return grant

    async def settle(self, settlement: Settlement) -> View:
        view: View = await self.actor.settle.remote(settlement)
        return view

    async def admit(self, charge: Charge) -> bool:
        ok: bool = await self.actor.admit.remote(charge)
        return ok

    async def spend(self, charge: Charge) -> None:
        await self.actor.spend.remote(charge)

    def state(self) -> QuotaState:
        """The state as of now (for reports and tests)."""
        state: QuotaState = ray.get(self.actor.state.remote())
        return state


def cluster_store(name: str) -> ClusterQuotaStore:
    """The store of ``name``, its actor created now if no process has yet."""
    store = ClusterQuotaStore(name)
    ray.get(store.actor.state.remote())  # created (or found) before any actor needs it
    return store
