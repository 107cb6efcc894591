"""The spending limit of a run (``--max-cost``), kept in a QuotaStore.

The money (billed, and reserved by attempts in flight) lives in the store, so
processes sharing one store share one budget: ``admit`` reserves an attempt's
estimated cost there only if billed plus reserved plus it stays within the
limit, in one atomic call.  A run keeps its money in its own in-process store
unless it is given another.
"""

from __future__ import annotations

from .config import cost_usd
from .models import Outcome, Request
from .quota import Charge, MemoryQuotaStore, QuotaStore

__all__ = ["Budget"]


class Budget:
    """Stops new requests before billed plus in-flight estimated spend would pass ``limit``."""

    def __init__(
        self,
        limit: float | None,
        model: str,
        *,
        prices: tuple[float, float] | None = None,
        store: QuotaStore | None = None,
    ) -> None:
        self.limit, self.model, self.prices = limit, model, prices
        self._store: QuotaStore = MemoryQuotaStore() if store is None else store
        self.exhausted = False

    def _estimate(self, request: Request) -> float:
        return cost_usd(
            self.model,
            request.est_prompt_tokens,
            request.est_completion_tokens,
            prices=self.prices,
        )

    async def admit(self, request: Request) -> bool:
        if self.limit is None:
            return True
        if await self._store.admit(Charge(self._estimate(request), self.limit)):
            return True
        self.exhausted = True
        return False

    async def settle(self, request: Request, outcome: Outcome) -> None:
        if self.limit is not None:
            billed = outcome.billed
            cost = cost_usd(
                self.model, billed.prompt_tokens, billed.completion_tokens, prices=self.prices
            )
            await self._store.spend(Charge(cost, reserved=self._estimate(request)))
