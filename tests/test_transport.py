"""The one production transport (aiohttp) over real loopback sockets, driven through the Client."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from pipeline.client import Client, make_session
from pipeline.errors import ProviderConfigError, TransientError, UsageError
from pipeline.models import Completion, Outcome, Usage
from pipeline.transport import AiohttpTransport, failure

KEY = "sk-SECRET-test-123"
BODY: dict[str, Any] = {"model": "qwen-mt-turbo", "messages": [{"role": "user", "content": "x"}]}
USAGE_CHUNK = {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4}}


def delta(content: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


@asynccontextmanager
async def loopback(handler: Callable[[web.Request], Any]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(reply: bytes) -> AsyncIterator[str]:
    """A TCP server that reads a request's first bytes, writes ``reply`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_make_session_handles_200_concurrent_requests() -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(request.headers["Authorization"])
        await anyio.sleep(0.02)
        text = body["messages"][0]["content"].upper()
        return web.json_response(
            {
                "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            }
        )

    results: dict[int, Outcome] = {}
    async with loopback(handle) as base_url, make_session(concurrency=64) as transport:
        client = Client(transport, base_url=base_url, api_key=KEY, timeout=10.0)

        async def one(i: int) -> None:
            body = {**BODY, "messages": [{"role": "user", "content": f"text {i}"}]}
            results[i] = await client.complete(body)

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one, i)
    assert len(seen) == 200 and set(seen) == {f"Bearer {KEY}"}
    assert all(
        results[i].completion == Completion(f"TEXT {i}", "stop", Usage(3, 1)) for i in range(200)
    )


@pytest.mark.anyio
async def test_real_transport_timeout_and_stream() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for chunk in (delta("Hal"), delta("lo", "stop"), USAGE_CHUNK):
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            return response
        await release.wait()  # until the client has given up
        return web.json_response({})

    release = anyio.Event()

    async with loopback(handle) as base_url, make_session(concurrency=4) as transport:
        client = Client(transport, base_url=base_url, api_key=KEY, timeout=0.2)
        with pytest.raises(TransientError) as info:
            await client.complete_once(BODY)
        assert info.value.reason == "timeout"
        assert info.value.message == "no answer within 0.2 s"
        release.set()
        streamed = await client.complete_once({**BODY, "model": "qwen-mt-flash", "stream": True})
        assert streamed == Completion("Hallo", "stop", Usage(12, 4))


@pytest.mark.anyio
async def test_real_transport_connection_refused() -> None:
    async with make_session(concurrency=2) as transport:
        client = Client(transport, base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key=KEY)
        with pytest.raises(TransientError) as info:
            await client.complete_once(BODY)
    assert info.value.reason == "connection"
    assert KEY not in info.value.message


def test_an_abandoned_attempts_error_is_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    """The SSL or socket error of a connection attempt nobody awaits (the run stopped) is not
    reported by asyncio; any other unretrieved error still is (seen: a TLS-failure run that
    printed "Future exception was never retrieved ... SSLError" after its one line)."""

    async def main() -> None:
        async with make_session(concurrency=1), make_session(concurrency=1):
            loop = asyncio.get_running_loop()
            for error in (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]"), ValueError("a bug")):
                loop.create_future().set_exception(error)  # dropped at once: never retrieved
                gc.collect()

    asyncio.run(main())
    reported = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert len(reported) == 1 and "ValueError('a bug')" in reported[0], reported
    assert "WRONG_VERSION_NUMBER" not in caplog.text


@pytest.mark.anyio
async def test_refused_before_any_success_names_the_cause() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    async with make_session(concurrency=2) as transport:
        client = Client(transport, base_url=url, api_key=KEY, unreachable_after=0.0)
        with pytest.raises(ProviderConfigError) as info:
            await client.complete(BODY)
    assert str(info.value).startswith("cannot reach 127.0.0.1:")
    assert "connection refused; check --base-url" in str(info.value)


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # reset: the server hangs up without an answer
        b"NOT HTTP AT ALL\r\n\r\n",  # a protocol error
        b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"choices"',  # cut short
    ],
    ids=["reset", "protocol", "cut-short"],
)
@pytest.mark.anyio
async def test_lost_connections_are_connection_errors(reply: bytes) -> None:
    async with raw_server(reply) as base_url, make_session(concurrency=2) as transport:
        client = Client(transport, base_url=base_url, api_key=KEY)
        with pytest.raises(TransientError) as info:
            await client.complete_once(BODY)
    assert info.value.reason == "connection"
    assert isinstance(info.value.__cause__, Exception)


@pytest.mark.anyio
async def test_a_stream_cut_short_is_a_connection_error() -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(f"data: {json.dumps(delta('Hal'))}\n\n".encode())
        assert request.transport is not None
        request.transport.close()  # mid-stream
        return response

    async with loopback(handle) as base_url, make_session(concurrency=2) as transport:
        client = Client(transport, base_url=base_url, api_key=KEY)
        with pytest.raises(TransientError) as info:
            await client.complete_once({**BODY, "model": "qwen-mt-flash", "stream": True})
    assert info.value.reason == "connection"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "timeout"),  # aiohttp's total timer
        (aiohttp.ServerTimeoutError("slow read"), "timeout"),
        (aiohttp.ConnectionTimeoutError("slow connect"), "timeout"),
        (aiohttp.ServerDisconnectedError(), "connection"),
        (aiohttp.ClientPayloadError("reset by peer"), "connection"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "connection"),
    ],
)
def test_failure_kinds(exc: Exception, reason: str) -> None:
    assert failure(exc, 5.0).reason == reason


@pytest.mark.anyio
async def test_make_session_sizes_its_pool() -> None:
    async with make_session(concurrency=256) as transport:
        assert isinstance(transport, AiohttpTransport)
        connector = transport.session.connector
        assert connector is not None and connector.limit == 256
    assert transport.session.closed
    with pytest.raises(UsageError, match="concurrency must be at least 1"):
        make_session(concurrency=0)
