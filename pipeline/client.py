"""One Chat Completions request, classified and retried: body -> Completion or a failed Outcome.

    Client.complete_once(body) -> Completion    one attempt; raises
        TransientError   timeout, connection, invalid_json, no_content, truncated,
                         rate_limit_requests, rate_limit_burst, rate_limit_tokens,
                         http_429, http_408, http_409, http_5xx
        PermanentError   moderation, invalid_parameter, request_bug, http_<4xx>
        ProviderConfigError   401/403 key, 404 model, billing 429s: stops the run;
                              also connection errors before any request of the
                              client has succeeded, once ``unreachable_after``
                              seconds have passed since its first attempt
    Client.complete(body) -> Outcome            retries TransientError (tenacity);
        returns every RequestError in the Outcome; ProviderConfigError propagates

The client sends through a `Transport` (transport.py: one production
implementation, the aiohttp session of `make_session`; tests fake that seam
only), so every run and every test drive the same parsing, classification and
retries.  With a ``Pacer``, every attempt (retries too: they count against the
quota) waits for ``pacer.slot(est_tokens)`` and reports back: billed tokens on
success, the kind of a rate limit and its Retry-After on a 429.

The retry policy is declared once (retries.py); the wait is the larger of the
server's Retry-After and exponential backoff with jitter.  No message ever
contains the API key: provider text is redacted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import anyio

from .answers import invalid_json, read_answer, read_stream
from .config import MODELS
from .errors import (
    ProviderConfigError,
    RequestError,
    TransientError,
    TransportError,
)
from .models import Completion, Outcome, Usage
from .pacing import Pacer, Slot
from .replies import classify, clean, quota_reset
from .retries import Attempts, RetryPolicy, retrying
from .transport import Transport, make_session

__all__ = ["Client", "RetryPolicy", "make_session"]

_RETRY = RetryPolicy()
_THROTTLE_KINDS = {
    "rate_limit_requests": "requests",
    "rate_limit_burst": "burst",
    "rate_limit_tokens": "tokens",
    "http_429": "other",
}


class Client:
    """POST ``{base_url}/chat/completions`` through a transport (``make_session``'s)."""

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        api_key: str | None,
        retry: RetryPolicy = _RETRY,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        timeout: float | None = None,
        pacer: Pacer | None = None,
        unreachable_after: float = 10.0,
    ) -> None:
        self._transport = transport
        self._host = _host(base_url)
        self._unreachable_after = unreachable_after
        self._first_attempt: float | None = None
        self._succeeded = False  # any request of this client, so of the run
        self.last_error: str | None = None  # the latest failed attempt's, for the progress line
        self._pacer = pacer
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key or None
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        self._retrying = retrying(retry, sleep=sleep, cap=self._unreachable_wait)

    async def complete(self, body: dict[str, Any], *, est_tokens: int = 0) -> Outcome:
        """Send ``body`` until it succeeds, fails for good, or the policy gives up.

        ``est_tokens`` (prompt + completion) books the attempt on the pacer's token schedule.
        """
        attempts = Attempts()
        started = time.monotonic()
        try:
            completion = await self._attempt(body, attempts, est_tokens)
            return attempts.outcome(completion, None)
        except TransientError as first:
            return await self._retry(body, attempts, est_tokens, first, started)
        except RequestError as exc:
            return attempts.outcome(None, exc)

    async def _retry(
        self,
        body: dict[str, Any],
        attempts: Attempts,
        est_tokens: int,
        first: TransientError,
        started: float,
    ) -> Outcome:
        """The attempts after a failed first one, under the retry policy.

        The first attempt runs outside tenacity: most requests succeed at once, and
        tenacity's per-call machinery (a copy, a retry state, async wrappers) cost a
        quarter of the client's CPU per request.  Its failure is replayed as
        tenacity's attempt 1, so the stop, the wait and Retry-After apply unchanged,
        and the elapsed time counts from when the first attempt started.
        """
        replay: list[TransientError] = [first]
        try:
            async for attempt in self._retrying.copy():
                with attempt:
                    if replay:
                        attempt.retry_state.start_time = started
                        raise replay.pop()
                    completion = await self._attempt(body, attempts, est_tokens)
                    return attempts.outcome(completion, None)
        except RequestError as exc:
            return attempts.outcome(None, exc)
        raise AssertionError("tenacity ended without an attempt")  # pragma: no cover

    async def _attempt(
        self, body: dict[str, Any], attempts: Attempts, est_tokens: int
    ) -> Completion:
        attempts.count += 1
        if self._first_attempt is None:
            self._first_attempt = time.monotonic()
        async with self._slot(est_tokens) as slot:
            try:
                completion = await self.complete_once(body)
            except RequestError as exc:
                attempts.billed += exc.usage or Usage()
                attempts.failures.append(exc.reason)
                if slot is not None:
                    _report(slot, exc)
                self.last_error = f"{exc.reason} ({self._host})"
                self._check_reachable(exc)
                raise
            if slot is not None:
                slot.done(completion.usage.total_tokens)
        self._succeeded = True
        self.last_error = None
        attempts.billed += completion.usage
        return completion

    def _unreachable_wait(self, exc: RequestError) -> float | None:
        """Before any success, how long a connection error may still be retried (None: no
        deadline applies); 0 once it has passed."""
        if self._succeeded or exc.reason != "connection" or self._first_attempt is None:
            return None
        left = self._first_attempt + self._unreachable_after - time.monotonic()
        return max(left, 0.0)

    def _check_reachable(self, exc: RequestError) -> None:
        """Stop the run when the endpoint has never answered and keeps refusing connections.

        After a first success a lost connection is retried as before (a blip).
        """
        if self._unreachable_wait(exc) != 0.0:
            return
        lost = exc.__cause__
        cause = lost.cause if isinstance(lost, TransportError) else "connection failed"
        raise ProviderConfigError(
            self.clean(f"cannot reach {self._host}: {cause}; check --base-url")
        ) from None

    def _slot(self, est_tokens: int) -> AbstractAsyncContextManager[Slot | None]:
        return nullcontext() if self._pacer is None else self._pacer.slot(est_tokens)

    async def complete_once(self, body: dict[str, Any]) -> Completion:
        """One attempt: a usable Completion, or a RequestError / ProviderConfigError."""
        data = json.dumps(body, ensure_ascii=False).encode()
        model = str(body.get("model", ""))
        post = self._transport.post(self._url, data, headers=self._headers, timeout=self._timeout)
        try:
            async with post as reply:
                if body.get("stream") and reply.status < 300 and not _json_type(reply.headers):
                    whole = MODELS[model].streams_whole_text if model in MODELS else None
                    return await read_stream(reply.lines(), whole=whole, api_key=self._api_key)
                status, headers, raw = reply.status, reply.headers, await reply.read()
        except TransportError as exc:
            raise TransientError(exc.reason, self.clean(exc.detail)) from exc
        if self._pacer is not None and (wait := quota_reset(headers)):
            self._pacer.hold(wait)
        return self._parse(status, headers, raw, model)

    def _parse(self, status: int, headers: Mapping[str, str], raw: bytes, model: str) -> Completion:
        ok = 200 <= status < 300
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
            if ok:
                raise invalid_json(raw, self._api_key) from None
        if not ok:
            raise classify(
                status,
                payload if payload is not None else raw.decode("utf-8", "replace"),
                headers,
                api_key=self._api_key,
                model=model or None,
            )
        return read_answer(payload, api_key=self._api_key)

    def clean(self, message: str) -> str:
        return clean(message, self._api_key)


def _report(slot: Slot, exc: RequestError) -> None:
    """Tell the pacer how an attempt failed: a rate limit, or tokens billed for nothing."""
    kind = _THROTTLE_KINDS.get(exc.reason)
    if kind is not None:
        slot.throttled(kind, exc.retry_after)
    else:
        slot.failed(exc.usage.total_tokens if exc.usage is not None else None)


def _host(base_url: str) -> str:
    """Host and port of ``base_url``, never its user info."""
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or base_url
    return f"{host}:{port}" if port else host


def _json_type(headers: Mapping[str, str]) -> bool:
    return "json" in headers.get("content-type", "")
