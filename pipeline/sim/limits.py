"""The simulator's quota mode: sliding windows of accepted requests and billed tokens.

``Limits.admit`` is checked as a request arrives, before any latency, and
says which 429 the provider would answer (``LIMIT_REPLIES``: its own code
and message) and the ``Retry-After``; ``Limits.bill`` counts a request's
tokens once it is answered.  See ``server.py`` for the three codes.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Protocol

from .api import Reply, error

__all__ = ["LIMIT_REPLIES", "Limits", "QuotaConfig"]


LIMIT_REPLIES: dict[str, Reply] = {
    code: error(429, code, message)
    for code, message in (
        ("limit_requests", "Requests rate limit exceeded, please try again later."),
        ("limit_burst_rate", "Request rate increased too quickly. To ensure system stability, "
         "please adjust your client logic to scale requests more smoothly over time."),
        ("insufficient_quota", "Allocated quota exceeded, please increase your quota limit."),
    )
}  # fmt: skip


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class QuotaConfig(Protocol):
    """The quota settings of ``SimConfig`` that ``Limits`` reads."""

    @property
    def rpm(self) -> float | None: ...
    @property
    def tpm(self) -> float | None: ...
    @property
    def per_second(self) -> bool: ...
    @property
    def burst(self) -> bool: ...


class Limits:
    """Sliding 60 s windows of accepted request times and billed tokens (monotonic seconds)."""

    def __init__(self, config: QuotaConfig) -> None:
        self.config = config
        self.times: deque[float] = deque()
        self.billed: deque[tuple[float, int]] = deque()
        self.tokens = 0  # sum of ``billed``

    def admit(self, now: float) -> tuple[str, str] | None:
        """None, and the request counts; or (429 code, Retry-After) and it does not."""
        self._prune(now)
        refused = self._requests(now) or self._tokens(now)
        if refused is None:
            self.times.append(now)
        return refused

    def bill(self, now: float, tokens: int) -> None:
        if self.config.tpm is not None:
            self.billed.append((now, tokens))
            self.tokens += tokens

    def _prune(self, now: float) -> None:
        while self.times and self.times[0] <= now - 60:
            self.times.popleft()
        while self.billed and self.billed[0][0] <= now - 60:
            self.tokens -= self.billed.popleft()[1]

    def _requests(self, now: float) -> tuple[str, str] | None:
        rpm = self.config.rpm
        if rpm is None:
            return None
        second = bisect.bisect_right(self.times, now - 1)  # index of the last second's first
        last = len(self.times) - second + 1  # this request included
        before = second - bisect.bisect_right(self.times, now - 11)
        frees = self.times[second] + 1 - now if second < len(self.times) else 1.0
        if self.config.burst and last > rpm / 60 and last > 2 * before / 10:
            return "limit_burst_rate", _retry_after(frees)
        if len(self.times) >= rpm:
            return "limit_requests", _retry_after(self.times[0] + 60 - now)
        if self.config.per_second and last > math.ceil(rpm / 60):
            return "limit_requests", _retry_after(frees)
        return None

    def _tokens(self, now: float) -> tuple[str, str] | None:
        tpm = self.config.tpm
        if tpm is None or self.tokens < tpm:
            return None
        left = self.tokens
        for when, tokens in self.billed:
            left -= tokens
            if left < tpm:
                return "insufficient_quota", _retry_after(when + 60 - now)
        raise AssertionError("unreachable: the window sums to at least tpm")  # pragma: no cover
