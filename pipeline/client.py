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

With a ``Pacer``, every attempt (retries too: they count against the quota)
waits for ``pacer.slot(est_tokens)`` and reports back: billed tokens on
success, the kind of a rate limit and its Retry-After on a 429.

The retry policy is declared once (`RetryPolicy` -> tenacity values); the
wait is the larger of the server's Retry-After and exponential backoff with
jitter.  No message ever contains the API key: provider text is redacted.
"""

from __future__ import annotations

import errno
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import urlsplit

import aiohttp
import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from .config import MODELS, model_info
from .errors import (
    PermanentError,
    ProviderConfigError,
    RequestError,
    TransientError,
    UsageError,
)
from .models import Completion, Outcome, Usage
from .pacing import Pacer, Slot
from .replies import (
    accept,
    classify,
    clean,
    error_fields,
    first_choice,
    quota_reset,
    usage_of,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["Client", "RetryPolicy", "make_http_client", "make_session"]

_THROTTLE_KINDS = {
    "rate_limit_requests": "requests",
    "rate_limit_burst": "burst",
    "rate_limit_tokens": "tokens",
    "http_429": "other",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    max_elapsed: float = 900.0  # seconds across the attempts of one request
    initial: float = 1.0  # first backoff
    maximum: float = 60.0  # cap of one backoff (a server's Retry-After is not capped)
    jitter: float = 1.0


# httpx is imported only where an httpx client is used: runs send through aiohttp.
Http = Union["httpx.AsyncClient", aiohttp.ClientSession]


def make_http_client(*, concurrency: int, timeout: float) -> httpx.AsyncClient:
    """An httpx client on the aiohttp transport, ``concurrency`` connections.

    httpx's own pool collapses under hundreds of concurrent requests
    (encode/httpx#3215).  asyncio only; close it with ``aclose()``.
    """
    import httpx
    from httpx_aiohttp import HttpxAiohttpClient

    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=15.0
    )
    return HttpxAiohttpClient(limits=limits, timeout=httpx.Timeout(timeout))


def make_session(*, concurrency: int) -> aiohttp.ClientSession:
    """The shared session the runner sends through: aiohttp, ``concurrency`` connections.

    At hundreds of requests per second httpx's request and response models
    cost about 0.2 ms of CPU per request over aiohttp's own (measured with
    ``make bench``), which is most of the client's budget; the session is
    driven directly and httpx stays the interface for tests and embedders.
    Per-attempt timeouts are the Client's (a cancel scope), not the session's.
    """
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=15.0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30.0)
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
class _Attempts:
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


class Client:
    """POST ``{base_url}/chat/completions`` through a shared HTTP client.

    ``http`` is an ``aiohttp.ClientSession`` (``make_session``: what runs use)
    or an ``httpx.AsyncClient`` (tests pass ``httpx.MockTransport``).  Both
    go through the same parsing, classification and retries.
    """

    def __init__(
        self,
        http: Http,
        *,
        base_url: str,
        api_key: str | None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        timeout: float | None = None,
        pacer: Pacer | None = None,
        unreachable_after: float = 10.0,
    ) -> None:
        self._http = http
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
        self._aiohttp_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=30.0)
        self._retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(retry.max_attempts) | stop_before_delay(retry.max_elapsed),
            wait=_WaitServerOrBackoff(
                wait_exponential_jitter(
                    multiplier=retry.initial, max=retry.maximum, jitter=retry.jitter
                ),
                cap=self._unreachable_wait,
            ),
            sleep=sleep,
            reraise=True,
        )

    async def complete(self, body: dict[str, Any], *, est_tokens: int = 0) -> Outcome:
        """Send ``body`` until it succeeds, fails for good, or the policy gives up.

        ``est_tokens`` (prompt + completion) books the attempt on the pacer's token schedule.
        """
        attempts = _Attempts()
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
        attempts: _Attempts,
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
        self, body: dict[str, Any], attempts: _Attempts, est_tokens: int
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
        """Before any success, retry a refused connection no later than the deadline."""
        if self._succeeded or exc.reason != "connection" or self._first_attempt is None:
            return None
        left = self._first_attempt + self._unreachable_after - time.monotonic()
        return max(left, 0.0)

    def _check_reachable(self, exc: RequestError) -> None:
        """Stop the run when the endpoint has never answered and keeps refusing connections.

        After a first success a lost connection is retried as before (a blip).
        """
        if self._succeeded or exc.reason != "connection" or self._first_attempt is None:
            return
        if time.monotonic() - self._first_attempt < self._unreachable_after:
            return
        raise ProviderConfigError(
            self.clean(f"cannot reach {self._host}: {_cause(exc.__cause__)}; check --base-url")
        ) from None

    def _slot(self, est_tokens: int) -> AbstractAsyncContextManager[Slot | None]:
        return nullcontext() if self._pacer is None else self._pacer.slot(est_tokens)

    async def complete_once(self, body: dict[str, Any]) -> Completion:
        """One attempt: a usable Completion, or a RequestError / ProviderConfigError."""
        try:
            if isinstance(self._http, aiohttp.ClientSession):  # aiohttp's timer is cheaper
                return await self._post(body)
            with anyio.fail_after(self._timeout):
                return await self._post(body)
        except TimeoutError as exc:
            limit = f" within {self._timeout} s" if self._timeout is not None else ""
            raise TransientError("timeout", f"no answer{limit}") from exc
        except _transport_errors() as exc:  # evaluated only when something was raised
            reason = "timeout" if _timed_out(exc) else "connection"
            raise TransientError(reason, self.clean(f"{type(exc).__name__}: {exc}")) from exc

    async def _post(self, body: dict[str, Any]) -> Completion:
        headers: Mapping[str, str]
        data = json.dumps(body, ensure_ascii=False).encode()
        stream = bool(body.get("stream"))
        model = str(body.get("model", ""))
        if isinstance(self._http, aiohttp.ClientSession):
            post = self._http.post(
                self._url, data=data, headers=self._headers, timeout=self._aiohttp_timeout
            )
            async with post as reply:
                if stream and reply.status < 300 and not _json_type(reply.headers):
                    return await self._read_stream(_aiohttp_lines(reply), model)
                status, headers, raw = reply.status, reply.headers, await reply.read()
        else:
            import httpx

            timeout = httpx.USE_CLIENT_DEFAULT if self._timeout is None else self._timeout
            request = self._http.stream(
                "POST", self._url, content=data, headers=self._headers, timeout=timeout
            )
            async with request as response:
                if stream and response.is_success and not _json_type(response.headers):
                    return await self._read_stream(response.aiter_lines(), model)
                status, headers, raw = (
                    response.status_code,
                    response.headers,
                    await response.aread(),
                )
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
                raise TransientError("invalid_json", self._invalid(raw)) from None
        if not ok:
            raise classify(
                status,
                payload if payload is not None else raw.decode("utf-8", "replace"),
                headers,
                api_key=self._api_key,
                model=model or None,
            )
        return self._answer(payload)

    def _answer(self, payload: Any) -> Completion:
        usage = usage_of(payload.get("usage")) if isinstance(payload, dict) else None
        choice = first_choice(payload)
        message = choice.get("message") if choice else None
        content = message.get("content") if isinstance(message, dict) else None
        finish = choice.get("finish_reason") if choice else None
        if not isinstance(content, str):
            raise self._no_content(payload, usage)
        return accept(content, finish, usage)

    async def _read_stream(self, lines: AsyncIterator[str], model: str) -> Completion:
        whole = model_info(model).streams_whole_text
        known = model in MODELS
        text: str | None = None
        finish: str | None = None
        usage: Usage | None = None
        async for line in lines:
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise TransientError("invalid_json", self._invalid(data.encode())) from None
            if not isinstance(chunk, dict) or chunk.get("error"):
                raise self._no_content(chunk, usage)
            usage = usage_of(chunk.get("usage")) or usage
            choice = first_choice(chunk)
            if choice is None:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str):
                replace = whole or (not known and bool(text) and piece.startswith(text or ""))
                text = piece if replace or text is None else text + piece
            finish = choice.get("finish_reason") or finish
        if text is None:
            raise self._no_content({}, usage)
        return accept(text, finish, usage)

    def _no_content(self, payload: Any, usage: Usage | None) -> RequestError:
        code, message = error_fields(payload)
        detail = ": ".join(filter(None, (code, message)))
        if code.lower() in ("data_inspection_failed", "datainspectionfailed"):
            text = f"the provider's content moderation rejected the text ({detail})"
            return PermanentError("moderation", self.clean(text), usage=usage)
        said = f" ({detail})" if detail else ""
        text = f"the provider answered without a translation (no message content){said}"
        return TransientError("no_content", self.clean(text), usage=usage)

    def _invalid(self, raw: bytes) -> str:
        # redact before cutting short, so no part of the key can survive the cut
        start = self.clean(raw[:4096].decode("utf-8", "replace"))[:120]
        return f"the provider answered with a body that is not JSON: {start!r}"

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


def _cause(exc: BaseException | None) -> str:
    """Why a connection failed, in a few words: refused, name not found, TLS."""
    if exc is not None and not isinstance(exc, aiohttp.ClientError):
        exc = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not accepted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "host name not found"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return exc.os_error.strerror or "connection failed"
    text = str(exc).splitlines()[0][:120] if exc is not None and str(exc) else ""
    return f"connection failed ({text})" if text else "connection failed"


def _json_type(headers: Mapping[str, str]) -> bool:
    return "json" in headers.get("content-type", "")


async def _aiohttp_lines(reply: aiohttp.ClientResponse) -> AsyncIterator[str]:
    async for raw in reply.content:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a lost connection raises: aiohttp's errors, and httpx's when httpx is in use."""
    httpx = sys.modules.get("httpx")
    return (aiohttp.ClientError,) if httpx is None else (aiohttp.ClientError, httpx.TransportError)


def _timed_out(exc: BaseException) -> bool:
    """An httpx timeout, unless httpx-aiohttp disguised a refused or reset connection as one."""
    httpx = sys.modules.get("httpx")
    if httpx is None or not isinstance(exc, httpx.TimeoutException):
        return False
    cause = exc.__cause__
    return not (isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError))
