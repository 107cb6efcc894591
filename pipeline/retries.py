"""The retry policy, declared once as tenacity values, and what one request's attempts came to.

RetryPolicy(max_attempts=, max_elapsed=, initial=, maximum=, jitter=)
retrying(policy, sleep=, cap=) -> AsyncRetrying   retries TransientError only; the wait
                                                  is the larger of the server's Retry-After
                                                  and exponential backoff with jitter
Attempts                                          count, billed usage, failure reasons
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from .errors import PermanentError, RequestError, TransientError
from .models import Completion, Outcome, Usage

__all__ = ["Attempts", "RetryPolicy", "retrying"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    max_elapsed: float = 900.0  # seconds across the attempts of one request
    initial: float = 1.0  # first backoff
    maximum: float = 60.0  # cap of one backoff (a server's Retry-After is not capped)
    jitter: float = 1.0


def retrying(
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    cap: Callable[[RequestError], float | None] | None = None,
) -> AsyncRetrying:
    """``cap(error)``: the longest wait allowed after that error, if any."""
    backoff = wait_exponential_jitter(
        multiplier=policy.initial, max=policy.maximum, jitter=policy.jitter
    )
    return AsyncRetrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_elapsed),
        wait=_WaitServerOrBackoff(backoff, cap),
        sleep=sleep,
        reraise=True,
    )


class _WaitServerOrBackoff(wait_base):
    """Wait the larger of the backoff and the delay the server asked for."""

    def __init__(
        self, backoff: wait_base, cap: Callable[[RequestError], float | None] | None = None
    ) -> None:
        self.backoff = backoff
        self.cap = cap  # the longest wait allowed after this error, if any

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = exc.retry_after if isinstance(exc, RequestError) else None
        wait = max(asked or 0.0, self.backoff(retry_state))
        cap = self.cap(exc) if self.cap is not None and isinstance(exc, RequestError) else None
        return wait if cap is None else min(wait, cap)


@dataclass(slots=True)
class Attempts:
    """What the attempts of one `Client.complete` call came to so far."""

    count: int = 0
    billed: Usage = field(default_factory=Usage)
    failures: list[str] = field(default_factory=list)

    def outcome(self, completion: Completion | None, error: RequestError | None) -> Outcome:
        if error is None:
            return Outcome(completion, self.count, self.billed, tuple(self.failures))
        return Outcome(
            None,
            self.count,
            self.billed,
            tuple(self.failures[:-1]),
            error.reason,
            error.message,
            isinstance(error, PermanentError),
        )
