"""The spending limit of a run (``--max-cost``)."""

from __future__ import annotations

from .config import cost_usd
from .models import Outcome, Request

__all__ = ["Budget"]


class Budget:
    """Stops new requests before billed plus in-flight estimated spend would pass ``limit``."""

    def __init__(
        self, limit: float | None, model: str, *, prices: tuple[float, float] | None = None
    ) -> None:
        self.limit, self.model, self.prices = limit, model, prices
        self.spent = self.in_flight = 0.0
        self.exhausted = False

    def _estimate(self, request: Request) -> float:
        return cost_usd(
            self.model,
            request.est_prompt_tokens,
            request.est_completion_tokens,
            prices=self.prices,
        )

    def admit(self, request: Request) -> bool:
        if self.limit is None:
            return True
        cost = self._estimate(request)
        if self.spent + self.in_flight + cost > self.limit:
            self.exhausted = True
            return False
        self.in_flight += cost
        return True

    def settle(self, request: Request, outcome: Outcome) -> None:
        if self.limit is not None:
            self.in_flight -= self._estimate(request)
            billed = outcome.billed
            self.spent += cost_usd(
                self.model, billed.prompt_tokens, billed.completion_tokens, prices=self.prices
            )
