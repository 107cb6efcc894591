"""The in-process QuotaStore: one run's state, and the core of an actor-held store."""

from __future__ import annotations

from . import rules
from .values import Begin, Booking, Charge, Grant, QuotaState, Settlement, View

__all__ = ["MemoryQuotaStore"]


class MemoryQuotaStore:
    """The state in this process: for one run, and the core of an actor-held store."""

    def __init__(self, state: QuotaState | None = None) -> None:
        self.state = state or QuotaState()

    async def reserve(self, booking: Booking) -> Grant:
        self.state, grant = rules.reserve(self.state, booking)
        return grant

    async def begin(self, begin_: Begin) -> Grant:
        self.state, grant = rules.begin(self.state, begin_)
        return grant

    async def settle(self, settlement: Settlement) -> View:
        self.state, result = rules.settle(self.state, settlement)
        return result

    async def admit(self, charge: Charge) -> bool:
        self.state, ok = rules.admit(self.state, charge)
        return ok

    async def spend(self, charge: Charge) -> None:
        self.state, _ = rules.spend(self.state, charge)
