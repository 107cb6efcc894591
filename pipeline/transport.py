"""The transport seam: send one chat request, get its status, headers and body or lines.

    Transport.post(url, data, headers=, timeout=)   an async context manager of a Reply
    Reply.status, Reply.headers                     read on entry
    await Reply.read() -> bytes                     the whole body
    Reply.lines() -> AsyncIterator[str]             the body line by line (server-sent events)
    TransportError(reason, detail, cause=)          raised instead of the stack's own errors:
                                                    "connection" or "timeout"

One production implementation, `AiohttpTransport` (`make_session`): runs and tests'
real-socket cases send through it; unit tests put their fake at this seam and
nowhere else.  aiohttp was chosen over httpx (on httpx-aiohttp's transport) by
`python -m bench throughput`: 0.52-0.62 ms against 1.04-1.38 ms client CPU per
request on the same machine at the same time (bench/NOTES.md).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol

import aiohttp

from .errors import TransportError, UsageError

__all__ = ["AiohttpTransport", "Reply", "Transport", "failure", "make_session"]


class Reply(Protocol):
    """The answer to one POST, open until its context exits."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def lines(self) -> AsyncIterator[str]: ...


class Transport(Protocol):
    """Sends one POST; raises `TransportError` when the connection fails or times out."""

    def post(
        self, url: str, data: bytes, *, headers: Mapping[str, str], timeout: float | None
    ) -> AbstractAsyncContextManager[Reply]: ...


class AiohttpTransport:
    """One aiohttp session with ``concurrency`` connections; close it with ``aclose()``.

    Per-request timeouts are aiohttp's own timer (cheaper than a cancel scope):
    ``timeout`` seconds for the whole exchange, 30 s to connect.
    """

    def __init__(self, *, concurrency: int) -> None:
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        _quiet_abandoned_attempts(asyncio.get_running_loop())
        connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=15.0)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30.0)
        )
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}

    def post(
        self, url: str, data: bytes, *, headers: Mapping[str, str], timeout: float | None
    ) -> _Exchange:
        limit = self._timeouts.get(timeout)
        if limit is None:
            limit = self._timeouts[timeout] = aiohttp.ClientTimeout(
                total=timeout, sock_connect=30.0
            )
        request = self.session.post(url, data=data, headers=headers, timeout=limit)
        return _Exchange(request, timeout)

    async def aclose(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _quiet_abandoned_attempts(loop: asyncio.AbstractEventLoop) -> None:
    """Keep asyncio from printing the error of a connection attempt nobody awaits any more
    ("Future exception was never retrieved": an SSL or socket error of an attempt left
    behind when the run stopped, say on an endpoint that fails its TLS handshake): the
    run has already said what failed, in one line.  Any other report goes on as before."""
    previous = loop.get_exception_handler()
    if getattr(previous, "quiet_abandoned", False):
        return  # installed already in this loop (a session per block of a Ray actor)

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        abandoned = context.get("message") == "Future exception was never retrieved"
        if abandoned and isinstance(context.get("exception"), OSError):  # ssl.SSLError too
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.quiet_abandoned = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def make_session(*, concurrency: int) -> AiohttpTransport:
    """The transport runs send through: aiohttp, ``concurrency`` connections."""
    return AiohttpTransport(concurrency=concurrency)


class _Exchange:
    """One POST and its reply (the Reply itself, to spare an object per request);
    aiohttp's errors, raised on entry or while reading, leave as TransportError."""

    __slots__ = ("_request", "_response", "_timeout", "headers", "status")

    def __init__(
        self, request: AbstractAsyncContextManager[aiohttp.ClientResponse], timeout: float | None
    ) -> None:
        self._request = request
        self._timeout = timeout

    async def __aenter__(self) -> _Exchange:
        try:
            response = await self._request.__aenter__()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise failure(exc, self._timeout) from exc
        self._response = response
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._request.__aexit__(kind, exc, tb)  # releases the connection
        except (TimeoutError, aiohttp.ClientError) as lost:
            raise failure(lost, self._timeout) from lost
        if isinstance(exc, TimeoutError | aiohttp.ClientError):
            raise failure(exc, self._timeout) from exc

    async def read(self) -> bytes:
        return await self._response.read()

    async def lines(self) -> AsyncIterator[str]:
        async for raw in self._response.content:
            yield raw.decode("utf-8", "replace").rstrip("\r\n")


def failure(exc: BaseException, timeout: float | None) -> TransportError:
    """aiohttp's error (or the timer's) as a TransportError: timeouts, else a lost connection."""
    if isinstance(exc, TimeoutError):
        limit = f" within {timeout} s" if timeout is not None else ""
        return TransportError("timeout", f"no answer{limit}", cause="timed out")
    return TransportError("connection", f"{type(exc).__name__}: {exc}", cause=_cause(exc))


def _cause(exc: BaseException) -> str:
    """Why a connection failed, in a few words: refused, name not found, TLS."""
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
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"connection failed ({text})" if text else "connection failed"
