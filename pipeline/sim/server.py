"""An offline stand-in for the Qwen MT Chat Completions API, served on loopback.

``POST /v1/chat/completions`` behaves like the real service (UPSTREAM_API.md):
the qwen-mt one-user-message rule, prompt-template and ``translation_options``
styles, billed usage with the hidden per-request overhead, ``max_tokens``
truncation, streaming (whole text so far for qwen-mt-plus/turbo, increments
otherwise) and faults drawn from ``random.Random(seed)`` in arrival order.
Test hooks: ``[[sim:moderation]]`` in a text always gets the moderation 400,
``[[sim:flaky]]`` a 500 the first time that exact text arrives; ``GET
/_sim/stats`` counts requests, faults, 429s by code, texts, the context notes
read (``contexts``), corrupted answers and the peak of requests in flight
(``peak_in_flight``), ``POST /_sim/reset`` zeroes those counts (the flaky and
breakph memories, the fault draw sequence and the rate windows go on).

Glossary terms (``translation_options.terms``, or the sentence ``Translate
these terms exactly so: A -> B; C -> D.`` of the prompt's instruction
paragraph or of the system message) are put into the answer verbatim.

QA faults (``placeholders``, ``echo``, ``dropterms``, ``script``) corrupt a
successful answer per segment, pack faults (``prefix`` ... ``never``,
``packs.py``) the format of a whole pack answer: both drawn by hashing, so a
run corrupts the same segments in any arrival order (``answers.py``), and
counted under ``corrupted`` and ``packs`` in ``/_sim/stats``.  Each group's
probabilities add up to at most 1 (``settings.py``: ``SimConfig``, the fault
table); ``command.py`` is the ``python -m pipeline.sim`` command.

Quota mode (``rpm``, ``tpm``, ``per_second``, ``burst``) answers HTTP 429 with
the provider's own code and message and a ``Retry-After`` (whole seconds
until the window frees, at least 1), checked on arrival before any latency:

    limit_requests      rpm requests accepted in the last 60 s, or (per_second)
                        ceil(rpm/60) in the last second
    limit_burst_rate    (burst) the last second, this request included, holds more than
                        rpm/60 requests AND more than twice the average per second of
                        the 10 s before it: a rate that ramped up too fast
    insufficient_quota  the tokens billed in the last 60 s have reached tpm (a request's
                        tokens count when it is answered)

Windows slide over accepted requests (a refused one does not count); a
request that gets a fault or an error was accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from .answers import Answerer
from .api import (
    FAULT_REPLIES,
    INVALID_KEY,
    Job,
    Reject,
    completion,
    dumps,
    invalid,
    parse,
    response,
    stream,
)
from .limits import LIMIT_REPLIES, Limits
from .settings import FAULT_KINDS, SimConfig, thresholds

__all__ = ["SimThread", "make_app", "new_loop", "serve"]

_T = TypeVar("_T")


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    ok: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # 400/401/404/500 request errors
    texts: Counter[str] = field(default_factory=Counter)
    contexts: Counter[str] = field(default_factory=Counter)  # context notes read, by note
    throttled: Counter[str] = field(default_factory=Counter)  # 429s of the quota mode, by code
    corrupted: Counter[str] = field(default_factory=Counter)  # QA faults applied, by kind
    packs: Counter[str] = field(default_factory=Counter)  # pack deviations applied, by kind
    first: float | None = None  # arrival of the first request (time.monotonic)
    last: float | None = None  # arrival of the latest request
    in_flight: int = 0  # requests being answered now
    peak_in_flight: int = 0  # the most at once: what a client's concurrency limit allowed


class _Simulator:
    """The server's state: configuration, fault draws, counters, flaky texts already seen."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.thresholds = thresholds(config.faults, FAULT_KINDS)  # per request
        self.answerer = Answerer(config)
        self.stats = _Stats()
        self.limits = Limits(config)
        self.flaky_seen: set[str] = set()
        self.answered = 0

    def _draw(self) -> str | None:
        u = self.rng.random() if self.thresholds else 1.0
        return next((kind for limit, kind in self.thresholds if u < limit), None)

    def _answer(self, job: Job, *, faulty: bool) -> str:
        """The answer's text, its QA and pack faults counted."""
        answer = self.answerer.answer(job, faulty=faulty)
        self.stats.corrupted.update(answer.corrupted)
        if answer.pack is not None:
            self.stats.packs[answer.pack] += 1
        return answer.text

    def _trigger(self, text: str) -> str | None:
        if "[[sim:moderation]]" in text:
            return "moderation"
        if "[[sim:flaky]]" in text and text not in self.flaky_seen:
            self.flaky_seen.add(text)
            return "flaky"
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats  # a reset meanwhile starts new counts
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            return await self._chat(request)
        finally:
            stats.in_flight -= 1

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        self._arrived(arrival)
        fault = self._draw()  # before any await: arrival order
        refused = self.limits.admit(arrival)
        if refused is not None:
            code, wait = refused
            self.stats.throttled[code] += 1
            return response(LIMIT_REPLIES[code], retry_after=wait)
        try:
            job = await self._read(request)
        except Reject as exc:
            self.stats.errors[str(exc.reply[0])] += 1
            await self._latency(arrival)
            return response(exc.reply)
        self.stats.texts[job.text] += 1
        if job.context:
            self.stats.contexts[job.context] += 1
        fault = (self._trigger(job.text) if "[[sim:" in job.text else None) or fault
        return await self._reply(request, job, fault, arrival)

    def _arrived(self, arrival: float) -> None:
        self.stats.requests += 1
        self.stats.first = arrival if self.stats.first is None else self.stats.first
        self.stats.last = arrival

    async def _reply(
        self, request: web.Request, job: Job, fault: str | None, arrival: float
    ) -> web.StreamResponse:
        """The answer to an admitted, well-formed request: a fault's reply or a completion."""
        if fault is None:
            self.stats.ok += 1
        else:
            self.stats.faults[fault] += 1
        if fault in FAULT_REPLIES:
            await self._latency(arrival)
            return response(FAULT_REPLIES[fault], fault)
        if fault == "reset" and request.transport is not None:
            await self._latency(arrival)
            request.transport.abort()
            return web.Response()  # never sent: aiohttp finds the transport closed
        if fault == "hang":
            await asyncio.sleep(self.config.hang_seconds)
        self.answered += 1
        answer = self._answer(job, faulty=fault is not None)
        body = completion(job, answer, self.answered, cut=fault == "length")
        self.limits.bill(time.monotonic(), body["usage"]["total_tokens"])
        await self._latency(arrival)
        if job.stream:
            return await stream(request, body, job)
        return web.json_response(body, dumps=dumps)

    async def _latency(self, arrival: float) -> None:
        """Answer ``latency`` seconds after the request arrived, the work done meanwhile:
        like a real server, whose latency includes its own work, so the simulator's CPU
        does not add to every answer's delay."""
        if self.config.latency:
            remaining = arrival + self.config.latency - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)

    async def _read(self, request: web.Request) -> Job:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() in ("", "sk-invalid"):
            raise Reject(INVALID_KEY)
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise invalid(f"the request body is not valid JSON: {exc}") from exc
        return parse(body, self.config.overhead_tokens)

    async def stats_view(self, request: web.Request) -> web.Response:
        stats = self.stats
        return web.json_response(
            {
                "requests": stats.requests,
                "ok": stats.ok,
                "faults": stats.faults,
                "errors": stats.errors,
                "throttled": stats.throttled,
                "texts": stats.texts,
                "contexts": stats.contexts,
                "corrupted": stats.corrupted,
                "packs": stats.packs,
                # seconds from the first request's arrival to the latest's: the span a
                # quota was used over, without the clients' start-up and output writing
                "span": (stats.last or 0.0) - (stats.first or 0.0),
                "peak_in_flight": stats.peak_in_flight,
            }
        )

    async def reset_view(self, request: web.Request) -> web.Response:
        self.stats = _Stats()
        return web.json_response({"reset": True})


def make_app(config: SimConfig) -> web.Application:
    """The simulator as an aiohttp application; each app has its own counters and fault draws."""
    sim = _Simulator(config)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", sim.chat)
    app.router.add_get("/_sim/stats", sim.stats_view)
    app.router.add_post("/_sim/reset", sim.reset_view)
    return app


@contextlib.asynccontextmanager
async def serve(config: SimConfig, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the simulator while the context is open; yields ``http://HOST:PORT/v1``."""
    # handler_cancellation: the handler of a request whose client left (timeout, hang) stops
    runner = web.AppRunner(
        make_app(config), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=1024).start()
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else asyncio's default."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class SimThread:
    """The simulator on its own event loop in a daemon thread: ``with SimThread(c) as url:``."""

    def __init__(self, config: SimConfig) -> None:
        self._config = config

    def __enter__(self) -> str:
        self._loop = new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim", daemon=True)
        self._thread.start()
        self._server = serve(self._config)
        try:
            return self._call(self._server.__aenter__())
        except BaseException:
            self._stop_loop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._call(self._server.__aexit__(None, None, None))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
