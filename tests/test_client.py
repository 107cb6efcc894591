from __future__ import annotations

import email.utils
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import httpx
import pytest

from pipeline.client import Client, RetryPolicy
from pipeline.errors import (
    PermanentError,
    ProviderConfigError,
    RequestError,
    TransientError,
    TransportError,
)
from pipeline.models import Completion, Outcome, Settings, Usage
from pipeline.pacing import Pacer, Quota
from pipeline.prompts import build_body
from pipeline.replies import classify, retry_after

KEY = "sk-SECRET-test-123"
BASE = "https://relay.test/v1/"
NO_JITTER = RetryPolicy(max_attempts=3, initial=1.0, maximum=60.0, jitter=0.0)


Handler = Callable[[httpx.Request], Any]


class FakeTransport:
    """The fake at the transport seam (pipeline/transport.py), the only one these tests use.

    Each POST reaches ``handler`` as an ``httpx.Request`` (httpx's models are only the
    vocabulary of the scripts); the ``httpx.Response`` it returns, or awaits, is the
    Reply, and a ``TransportError`` it raises is what the transport raises.  Like the
    real transport, no answer within ``timeout`` is a TransportError("timeout").
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def post(
        self, url: str, data: bytes, *, headers: Mapping[str, str], timeout: float | None
    ) -> FakeExchange:
        request = httpx.Request("POST", url, content=data, headers=headers)
        return FakeExchange(self.handler, request, timeout)


class FakeExchange:
    def __init__(self, handler: Handler, request: httpx.Request, timeout: float | None) -> None:
        self.handler, self.request, self.timeout = handler, request, timeout
        self.status = 0
        self.headers: Mapping[str, str] = httpx.Headers()
        self.body = b""

    async def __aenter__(self) -> FakeExchange:
        try:
            with anyio.fail_after(self.timeout):
                reply = self.handler(self.request)
                if inspect.isawaitable(reply):
                    reply = await reply
        except TimeoutError as exc:
            raise TransportError("timeout", f"no answer within {self.timeout} s") from exc
        self.status, self.headers, self.body = reply.status_code, reply.headers, reply.content
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def read(self) -> bytes:
        return self.body

    async def lines(self) -> AsyncIterator[str]:
        for line in self.body.decode().splitlines():
            yield line


def lost(said: str, cause: str = "connection refused") -> TransportError:
    """What the transport raises for a lost connection."""
    return TransportError("connection", f"ClientConnectorError: {said}", cause=cause)


def answer(
    text: str = "Hallo", finish: str = "stop", usage: tuple[int, int] = (10, 5)
) -> httpx.Response:
    payload = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }
    return httpx.Response(200, json=payload)


def error(status: int, code: str = "", message: str = "", **headers: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "error", "param": None, "code": code}}
    return httpx.Response(
        status, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


class Server:
    """Replies from a script, one entry per request; records what was sent."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def calls(self) -> int:
        return len(self.requests)


@asynccontextmanager
async def fake(
    handler: Handler, *, api_key: str | None = KEY, **kw: Any
) -> AsyncIterator[tuple[Client, list[float]]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kw.setdefault("retry", NO_JITTER)
    yield Client(FakeTransport(handler), base_url=BASE, api_key=api_key, sleep=sleep, **kw), sleeps


BODY: dict[str, Any] = {"model": "qwen-mt-turbo", "messages": [{"role": "user", "content": "x"}]}


# --- one attempt -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_request_shape_matches_build_body() -> None:
    server = Server(answer("Hallo Welt"))
    settings = Settings("qwen-mt-turbo", "prompt", "", "English", (("temperature", 0.1),))
    body = build_body(settings, "Hello {world} %s", "German")
    async with fake(server) as (client, _):
        completion = await client.complete_once(body)
    assert completion == Completion("Hallo Welt", "stop", Usage(10, 5))
    [request] = server.requests
    assert request.method == "POST"
    assert str(request.url) == "https://relay.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == body


@pytest.mark.anyio
async def test_no_key_no_authorization_header() -> None:
    server = Server(answer())
    async with fake(server, api_key=None) as (client, _):
        await client.complete_once(BODY)
    assert "authorization" not in server.requests[0].headers


@pytest.mark.anyio
async def test_usage_falls_back_to_input_output_tokens() -> None:
    payload = {
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }
    async with fake(Server(httpx.Response(200, json=payload))) as (client, _):
        assert (await client.complete_once(BODY)).usage == Usage(7, 3)


@pytest.mark.parametrize(
    ("reply", "reason", "in_message"),
    [
        (httpx.Response(200, content=b"<html>busy</html>"), "invalid_json", "not JSON"),
        (
            httpx.Response(
                200,
                json={
                    "error": {"code": "InternalError", "message": "busy now"},
                    "message": "failed",
                },
            ),
            "no_content",
            "busy now",
        ),
        (httpx.Response(200, json={"error": None, "message": "success"}), "no_content", "success"),
        (httpx.Response(200, json={"choices": []}), "no_content", "without a translation"),
        (httpx.Response(200, json={"choices": [{"message": {"content": None}}]}), "no_content", ""),
        (httpx.Response(200, json=[1, 2]), "no_content", ""),
        (answer(finish="length"), "truncated", "max_tokens"),
    ],
)
@pytest.mark.anyio
async def test_unusable_200(reply: httpx.Response, reason: str, in_message: str) -> None:
    async with fake(Server(reply)) as (client, _):
        with pytest.raises(TransientError) as info:
            await client.complete_once(BODY)
    assert info.value.reason == reason
    assert in_message in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.anyio
async def test_moderation_in_a_200_envelope_is_permanent() -> None:
    body = {"error": {"code": "data_inspection_failed", "message": "inappropriate"}}
    async with fake(Server(httpx.Response(200, json=body))) as (client, _):
        with pytest.raises(PermanentError) as info:
            await client.complete_once(BODY)
    assert info.value.reason == "moderation"


@pytest.mark.anyio
async def test_timeout_per_attempt() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return answer()

    async with fake(slow, timeout=0.05) as (client, _):
        with pytest.raises(TransientError) as info:
            await client.complete_once(BODY)
    assert info.value.reason == "timeout"


# --- classification ---------------------------------------------------------------------------

ARREARS = "Access denied, please make sure your account is in good standing."


@pytest.mark.parametrize(
    ("status", "code", "message", "kind", "reason"),
    [
        (
            400,
            "data_inspection_failed",
            "Input data may contain inappropriate content.",
            PermanentError,
            "moderation",
        ),
        (
            400,
            "invalid_parameter_error",
            "Range of input length should be [1, 8192]",
            PermanentError,
            "invalid_parameter",
        ),
        (400, "", "bad", PermanentError, "invalid_parameter"),
        (422, "", "unprocessable", PermanentError, "invalid_parameter"),
        (400, "Arrearage", ARREARS, ProviderConfigError, None),
        (401, "invalid_api_key", "Incorrect API key provided.", ProviderConfigError, None),
        (403, "AccessDenied", "Access denied.", ProviderConfigError, None),
        (404, "model_not_found", "The model does not exist.", ProviderConfigError, None),
        (
            429,
            "limit_requests",
            "Requests rate limit exceeded",
            TransientError,
            "rate_limit_requests",
        ),
        (
            429,
            "limit_burst_rate",
            "Request rate increased too quickly",
            TransientError,
            "rate_limit_burst",
        ),
        (
            429,
            "Throttling",
            "Requests throttling triggered.",
            TransientError,
            "rate_limit_requests",
        ),
        (
            429,
            "Throttling.RateQuota",
            "Requests rate limit exceeded",
            TransientError,
            "rate_limit_requests",
        ),
        (
            429,
            "insufficient_quota",
            "Allocated quota exceeded, please increase your quota limit.",
            TransientError,
            "rate_limit_tokens",
        ),
        (429, "insufficient_quota", "Free allocated quota exceeded.", ProviderConfigError, None),
        (429, "Arrearage", ARREARS, ProviderConfigError, None),
        (
            429,
            "insufficient_quota",
            "You exceeded your current quota, check your billing details",
            ProviderConfigError,
            None,
        ),
        (429, "", "", TransientError, "http_429"),
        (429, "", "Rate limit reached for requests", TransientError, "rate_limit_requests"),
        (
            429,
            "rate_limit_exceeded",
            "Rate limit reached on tokens per min (TPM)",
            TransientError,
            "rate_limit_tokens",
        ),
        (429, "", "upstream load balancer busy", TransientError, "http_429"),
        (
            429,
            "AllocationQuota.FreeTierOnly",
            "The free tier quota is used up",
            ProviderConfigError,
            None,
        ),
        (403, "Arrearage", ARREARS, ProviderConfigError, None),
        (500, "InternalError", "Role must be in [user, assistant]", PermanentError, "request_bug"),
        (500, "InternalError", "An internal error has occured", TransientError, "http_500"),
        (502, "", "", TransientError, "http_502"),
        (503, "ModelUnavailable", "overloaded", TransientError, "http_503"),
        (504, "", "", TransientError, "http_504"),
        (408, "", "", TransientError, "http_408"),
        (409, "", "", TransientError, "http_409"),
        (501, "", "", TransientError, "http_501"),
        (418, "", "teapot", PermanentError, "http_418"),
    ],
)
def test_classify(
    status: int, code: str, message: str, kind: type[Exception], reason: str | None
) -> None:
    payload = {"error": {"message": message, "type": "x", "param": None, "code": code}}
    exc = classify(status, payload, httpx.Headers(), api_key=KEY, model="qwen-mt-turbo")
    assert type(exc) is kind
    if reason is not None:
        assert isinstance(exc, RequestError)
        assert exc.reason == reason
        assert exc.status == status
    assert "\n" not in str(exc)


def test_classify_messages() -> None:
    headers = httpx.Headers()
    key = classify(401, {"error": {"message": "bad key"}}, headers, api_key=KEY)
    assert str(key) == (
        "the provider rejected the API key (HTTP 401: bad key): check ROUTESCOPE_API_KEY and "
        "that the key belongs to this base URL's region"
    )
    model = classify(404, {}, headers, api_key=KEY, model="qwen-mt-tubro")
    assert "model 'qwen-mt-tubro' was not found" in str(model)
    text = classify(502, "<html>\n<b>Bad gateway</b>\n</html>", headers, api_key=KEY)
    assert str(text) == "HTTP 502: <html> <b>Bad gateway</b> </html>"
    native = classify(400, {"code": "InvalidParameter", "message": "x"}, headers, api_key=None)
    assert "InvalidParameter: x" in str(native)


def test_retry_after_headers() -> None:
    assert retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after(httpx.Headers({"retry-after": "7"})) == 7.0
    assert retry_after(httpx.Headers({"retry-after": "2.5", "retry-after-ms": "800"})) == 0.8
    soon = email.utils.formatdate(time.time() + 120, usegmt=True)
    delay = retry_after(httpx.Headers({"retry-after": soon}))
    assert delay is not None and 115 <= delay <= 120
    past = email.utils.formatdate(time.time() - 120, usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": past})) == 0.0
    for bad in ("soon", "", "nan", "-5"):
        assert retry_after(httpx.Headers({"retry-after": bad})) in (None, 0.0)
    assert retry_after(httpx.Headers()) is None
    rate = classify(429, {}, httpx.Headers({"retry-after": "9"}), api_key=None)
    assert isinstance(rate, TransientError) and rate.retry_after == 9.0


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"retry-after": "30"}, 30.0),
        ({"retry-after-ms": "2500"}, 2.5),
        ({"retry-after": "HTTP-DATE in 600 s"}, 590.0),
    ],
)
@pytest.mark.anyio
async def test_retry_after_is_honoured(headers: dict[str, str], at_least: float) -> None:
    if headers.get("retry-after") == "HTTP-DATE in 600 s":  # made now, not at collection
        headers = {"retry-after": email.utils.formatdate(time.time() + 600, usegmt=True)}
    throttled = httpx.Response(429, json={"error": {"code": "limit_requests"}}, headers=headers)
    server = Server(throttled, answer())
    async with fake(server) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert outcome.ok
    assert outcome.retries == ("rate_limit_requests",)
    assert len(sleeps) == 1 and sleeps[0] >= at_least


@pytest.mark.anyio
async def test_backoff_wins_when_larger_than_retry_after() -> None:
    throttled = error(429, "limit_requests", retry_after="0.5")
    policy = RetryPolicy(initial=10.0, jitter=0.0)
    async with fake(Server(throttled, answer()), retry=policy) as (client, sleeps):
        await client.complete(BODY)
    assert sleeps == [10.0]


@pytest.mark.anyio
async def test_retries_stop_at_max_attempts() -> None:
    server = Server(error(503, "ServiceUnavailable", "overloaded"))
    async with fake(server) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert server.calls == 3
    assert sleeps == [1.0, 2.0]
    assert outcome == Outcome(
        None,
        3,
        Usage(),
        ("http_503", "http_503"),
        "http_503",
        "HTTP 503 ServiceUnavailable: overloaded",
        permanent=False,
    )
    assert not outcome.ok


@pytest.mark.anyio
async def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=6, initial=1.0, maximum=5.0, jitter=0.5)
    async with fake(Server(error(500)), retry=policy) as (client, sleeps):
        await client.complete(BODY)
    assert len(sleeps) == 5
    assert all(
        low <= s <= high
        for s, low, high in zip(sleeps, [1, 2, 4, 5, 5], [1.5, 2.5, 4.5, 5, 5], strict=True)
    )


@pytest.mark.anyio
async def test_max_elapsed_stops_retries() -> None:
    server = Server(error(503))
    async with fake(server, retry=RetryPolicy(max_elapsed=0.0)) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert server.calls == 1 and sleeps == []
    assert outcome.attempts == 1 and outcome.retries == () and not outcome.permanent


@pytest.mark.anyio
async def test_max_elapsed_counts_the_first_attempt() -> None:
    """The first attempt runs before tenacity takes over: its time still counts."""
    server = Server(error(503), answer())

    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.3 if server.calls == 0 else 0)
        return server(request)

    # 0.3 s spent + a 1 s backoff > 1.2 s: stop after the first attempt.
    policy = RetryPolicy(max_elapsed=1.2, initial=1.0, jitter=0.0)
    async with fake(slow, retry=policy) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert server.calls == 1 and sleeps == [] and outcome.error_reason == "http_503"
    # With room for the backoff the replayed failure is retried after it, once.
    server = Server(error(503), answer())
    async with fake(slow, retry=replace(policy, max_elapsed=5.0)) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert server.calls == 2 and sleeps == [1.0] and outcome.retries == ("http_503",)


@pytest.mark.anyio
async def test_permanent_errors_are_not_retried() -> None:
    server = Server(error(400, "invalid_parameter_error", "Range of input length"))
    async with fake(server) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert server.calls == 1 and sleeps == []
    assert outcome.permanent and outcome.error_reason == "invalid_parameter"
    assert outcome.attempts == 1 and outcome.retries == ()


@pytest.mark.anyio
async def test_transient_then_permanent() -> None:
    server = Server(error(503), error(400, "data_inspection_failed", "inappropriate"))
    async with fake(server) as (client, _):
        outcome = await client.complete(BODY)
    assert outcome.retries == ("http_503",)
    assert outcome.error_reason == "moderation" and outcome.permanent
    assert outcome.attempts == 2


@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.anyio
async def test_fatal_errors_raise_at_once(status: int) -> None:
    server = Server(error(status, "x", f"no access for key {KEY}"))
    async with fake(server) as (client, sleeps):
        with pytest.raises(ProviderConfigError) as info:
            await client.complete(BODY)
    assert server.calls == 1 and sleeps == []
    assert KEY not in str(info.value) and "***" in str(info.value)


@pytest.mark.anyio
async def test_billing_429_raises() -> None:
    server = Server(error(429, "Arrearage", ARREARS))
    async with fake(server) as (client, _):
        with pytest.raises(ProviderConfigError, match="billing"):
            await client.complete(BODY)
    assert server.calls == 1


@pytest.mark.anyio
async def test_truncated_answer_is_retried_and_billed() -> None:
    server = Server(answer("Hal", "length", (10, 100)), answer("Hallo", "stop", (10, 50)))
    async with fake(server) as (client, _):
        outcome = await client.complete(BODY)
    assert outcome.completion == Completion("Hallo", "stop", Usage(10, 50))
    assert outcome.billed == Usage(20, 150)
    assert outcome.retries == ("truncated",) and outcome.attempts == 2


@pytest.mark.anyio
async def test_billed_counts_every_rejected_attempt() -> None:
    server = Server(answer("x", "length", (5, 9)))
    async with fake(server) as (client, _):
        outcome = await client.complete(BODY)
    assert outcome.billed == Usage(15, 27)
    assert outcome.error_reason == "truncated" and not outcome.permanent


@pytest.mark.anyio
async def test_the_key_never_leaks() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        said = f"bad request from {request.headers['authorization']}\nkey={KEY}"
        return error(next(statuses), "echo", said)

    statuses = iter([503, 429, 400, 500, 200, 200, 401])
    async with fake(echo) as (client, _):
        failed = await client.complete(BODY)
        enveloped = await client.complete(BODY)
        with pytest.raises(ProviderConfigError) as info:
            await client.complete(BODY)
    for text in (repr(failed), repr(enveloped), str(info.value)):
        assert KEY not in text and "SECRET" not in text
    assert failed.error_message is not None and "***" in failed.error_message


# --- streaming -------------------------------------------------------------------------------


def sse(*chunks: dict[str, Any] | str) -> httpx.Response:
    lines = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(lines).encode()
    )


def delta(content: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


USAGE_CHUNK = {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4}}


@pytest.mark.parametrize(
    ("model", "pieces"),
    [
        ("qwen-mt-plus", ["Hal", "Hallo", "Hallo Welt"]),
        ("qwen-mt-turbo", ["Hallo", "Hallo", "Hallo Welt"]),
        ("qwen-mt-flash", ["Hal", "lo", " Welt"]),
        ("qwen-mt-lite", ["Hallo", " Welt"]),
        ("some-relay-model", ["Hal", "Hallo", "Hallo Welt"]),
        ("some-relay-model", ["Hal", "lo", " Welt"]),
    ],
)
@pytest.mark.anyio
async def test_streaming(model: str, pieces: list[str]) -> None:
    chunks: list[dict[str, Any] | str] = [delta(p) for p in pieces[:-1]]
    chunks += [delta(pieces[-1], "stop"), USAGE_CHUNK, "[DONE]"]
    body = {**BODY, "model": model, "stream": True, "stream_options": {"include_usage": True}}
    async with fake(Server(sse(*chunks))) as (client, _):
        completion = await client.complete_once(body)
    assert completion == Completion("Hallo Welt", "stop", Usage(12, 4))


@pytest.mark.anyio
async def test_streaming_truncated_and_empty() -> None:
    body = {**BODY, "stream": True}
    truncated = sse(delta("Hal", "length"), USAGE_CHUNK, "[DONE]")
    async with fake(Server(truncated, sse("[DONE]"), sse("{oops"))) as (client, _):
        with pytest.raises(TransientError) as info:
            await client.complete_once(body)
        assert info.value.reason == "truncated" and info.value.usage == Usage(12, 4)
        with pytest.raises(TransientError, match="without a translation"):
            await client.complete_once(body)
        with pytest.raises(TransientError) as bad:
            await client.complete_once(body)
        assert bad.value.reason == "invalid_json"


@pytest.mark.anyio
async def test_streaming_error_chunk_and_json_answer() -> None:
    body = {**BODY, "stream": True}
    moderated = sse(delta("Hal"), {"error": {"code": "data_inspection_failed", "message": "no"}})
    async with fake(Server(moderated, answer("plain"))) as (client, _):
        with pytest.raises(PermanentError, match="moderation"):
            await client.complete_once(body)
        assert (await client.complete_once(body)).text == "plain"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, content=("x" * 100 + KEY + " <html>").encode()),
        httpx.Response(502, content=f"<html>\n{'y' * 290} {KEY}\n</html>".encode()),
        httpx.Response(200, json={"error": {"code": "E", "message": f"key {KEY} is odd"}}),
        sse(delta("Hal"), {"error": {"code": "E", "message": f"{KEY}"}}),
    ],
)
@pytest.mark.anyio
async def test_the_key_never_leaks_from_bodies(reply: httpx.Response) -> None:
    async with fake(Server(reply)) as (client, _):
        outcome = await client.complete({**BODY, "stream": True})
    assert outcome.error_message is not None
    assert "SECRET" not in repr(outcome) and "sk-SEC" not in repr(outcome)


# --- the pacer hook --------------------------------------------------------------------------


class PacerTime:
    """The pacer's own fake clock: it moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced(time_: PacerTime, **quota: Any) -> Pacer:
    quota.setdefault("headroom", 0.0)
    return Pacer(Quota(**quota), clock=time_.clock, sleep=time_.sleep)


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("limit_requests", "Requests rate limit exceeded, please try again later.", "requests"),
        ("limit_burst_rate", "Request rate increased too quickly.", "burst"),
        (
            "insufficient_quota",
            "Allocated quota exceeded, please increase your quota limit.",
            "tokens",
        ),
        ("", "", "other"),
    ],
)
@pytest.mark.anyio
async def test_a_rate_limit_reaches_the_pacer_by_kind(code: str, message: str, kind: str) -> None:
    clock = PacerTime()
    pacer = paced(clock, rpm=60, start_concurrency=4)
    server = Server(error(429, code, message, retry_after="3"), answer())
    async with fake(server, pacer=pacer) as (client, _):
        outcome = await client.complete(BODY)
    assert outcome.ok and server.calls == 2
    stats = pacer.statistics()
    assert stats.throttled == {kind: 1}
    assert stats.concurrency == (4 if kind == "tokens" else 2)
    assert clock.sleeps == [3.0]  # the retry waited in the pacer for the server's Retry-After


@pytest.mark.anyio
async def test_every_attempt_takes_a_slot_and_only_successes_ramp_up() -> None:
    clock = PacerTime()
    pacer = paced(clock, rpm=60, start_concurrency=1, max_concurrency=4)
    server = Server(error(503), error(503), answer())
    async with fake(server, pacer=pacer) as (client, _):
        outcome = await client.complete(BODY)
    assert outcome.ok and outcome.attempts == 3
    assert clock.sleeps == [1.0, 1.0]  # three starts on the 60 rpm schedule
    stats = pacer.statistics()
    assert (stats.concurrency, stats.in_flight, stats.throttled) == (2, 0, {})


@pytest.mark.anyio
async def test_billed_tokens_correct_the_estimate() -> None:
    clock = PacerTime()
    pacer = paced(clock, tpm=6000)  # 100 tokens a second
    server = Server(answer(usage=(10, 5)), answer("x", "length", usage=(50, 250)), answer())
    async with fake(server, pacer=pacer) as (client, _):
        await client.complete(BODY, est_tokens=100)  # billed 15: 0.85 s given back
        assert clock.sleeps == []
        await client.complete(BODY, est_tokens=100)  # truncated (300 billed), then 15
    assert clock.sleeps == pytest.approx([0.15, 3.0])
    async with pacer.slot(0):
        assert clock.now - 1_000_000.0 == pytest.approx(3.15 + 0.15)


@pytest.mark.anyio
async def test_a_configuration_error_leaves_the_slot() -> None:
    pacer = Pacer(Quota(start_concurrency=1, max_concurrency=1))
    async with fake(Server(error(401, "invalid_api_key")), pacer=pacer) as (client, _):
        with pytest.raises(ProviderConfigError):
            await client.complete(BODY)
    stats = pacer.statistics()
    assert (stats.concurrency, stats.in_flight, stats.throttled) == (1, 0, {})


def test_quota_reset_reads_relay_headers() -> None:
    from pipeline.replies import quota_reset

    assert quota_reset(httpx.Headers({"x-ratelimit-remaining-requests": "3"})) is None
    spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
    assert quota_reset(httpx.Headers(spent)) == 360.0
    tokens = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1.5s"}
    assert quota_reset(httpx.Headers(tokens)) == 1.5
    both = {**spent, **tokens, "x-ratelimit-reset-requests": "20ms"}
    assert quota_reset(httpx.Headers(both)) == 1.5
    assert quota_reset(httpx.Headers({**spent, "x-ratelimit-reset-requests": "soon"})) is None


@pytest.mark.anyio
async def test_a_spent_window_holds_the_pacer() -> None:
    from pipeline.pacing import Pacer, Quota

    clock = [1000.0]
    pacer = Pacer(Quota(rpm=6000, max_concurrency=4), clock=lambda: clock[0])
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s"}
    ok = answer()
    reply = httpx.Response(
        200, content=ok.content, headers={**headers, "content-type": "application/json"}
    )
    transport = FakeTransport(lambda request: reply)
    client = Client(transport, base_url="http://sim/v1", api_key="k", pacer=pacer)
    assert (await client.complete(BODY)).ok
    assert pacer.statistics().paused_until >= 1007.0


@pytest.mark.anyio
async def test_unreachable_before_any_success_stops_the_run() -> None:
    server = Server(lost("refused"))
    async with fake(server, unreachable_after=0.0) as (client, sleeps):
        with pytest.raises(ProviderConfigError) as info:
            await client.complete(BODY)
    assert server.calls == 1 and sleeps == []
    assert "cannot reach relay.test" in str(info.value) and "--base-url" in str(info.value)


@pytest.mark.anyio
async def test_unreachable_before_the_deadline_is_retried() -> None:
    server = Server(lost("refused"), answer("Hallo"))
    async with fake(server) as (client, sleeps):
        outcome = await client.complete(BODY)
    assert outcome.completion is not None and outcome.retries == ("connection",)
    assert len(sleeps) == 1


@pytest.mark.anyio
async def test_connection_lost_after_a_success_keeps_retrying() -> None:
    server = Server(answer("Hallo"), lost("reset"), answer("Welt"))
    async with fake(server, unreachable_after=0.0) as (client, sleeps):
        await client.complete(BODY)
        outcome = await client.complete(BODY)
    assert outcome.completion is not None and outcome.retries == ("connection",)
    assert len(sleeps) == 1


@pytest.mark.anyio
async def test_last_error_names_the_reason_and_host_until_a_success() -> None:
    server = Server(answer("Hallo"), lost("reset"), answer("Welt"))
    async with fake(server, retry=RetryPolicy(max_attempts=1)) as (client, _):
        await client.complete(BODY)
        assert client.last_error is None
        await client.complete(BODY)
        assert client.last_error == "connection (relay.test)"
        await client.complete(BODY)
        assert client.last_error is None
