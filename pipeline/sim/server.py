"""An offline stand-in for the Qwen MT Chat Completions API, served on loopback.

``POST /v1/chat/completions`` behaves like the real service (UPSTREAM_API.md):
the qwen-mt one-user-message rule, prompt-template and ``translation_options``
styles, billed usage with the hidden per-request overhead, ``max_tokens``
truncation, streaming (whole text so far for qwen-mt-plus/turbo, increments
otherwise) and faults drawn from ``random.Random(seed)`` in arrival order.
Test hooks: ``[[sim:moderation]]`` in a text always gets the moderation 400,
``[[sim:flaky]]`` a 500 the first time that exact text arrives; ``GET
/_sim/stats`` counts requests, faults, 429s by code, texts and corrupted
answers, ``POST /_sim/reset`` zeroes those counts (the flaky and breakph
memories, the fault draw sequence and the rate windows go on).

Glossary terms (``translation_options.terms``, or the sentence ``Translate
these terms exactly so: A -> B; C -> D.`` of the prompt's instruction
paragraph or of the system message) are put into the answer verbatim.

QA faults (``placeholders``, ``echo``, ``dropterms``, ``script``; their
probabilities add up to at most 1, apart from the request faults) corrupt
successful answers per segment: each numbered line of a pack (``[1] ...``,
numbers kept) or else the whole text.  A segment's draw hashes the seed, the
segment, its target and how often it was answered before, so a run corrupts
the same segments in any arrival order and a resend draws again; a segment
that cannot show the fault drawn (no placeholder, no word) is answered right
(``pseudo.corrupt``).  Markers force one: ``[[sim:echo]]`` echoes the
segment, ``[[sim:breakph]]`` breaks its first placeholder the first time it
is answered (``[[sim:breakph-always]]`` every time), ``[[sim:latin]]``
answers a non-Latin target in Latin script.

Pack faults (``prefix``, ``preamble``, ``renumber``, ``blank``, ``merge``,
``drop``, ``note``, ``never``; ``sim/packs.py``; their probabilities add up to
at most 1) change the format of a whole pack answer, drawn like the QA faults
(hashed per pack text and answer count) and counted under ``packs`` in
``/_sim/stats``.

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

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from .api import (
    FAULT_REPLIES,
    INVALID_KEY,
    LIMIT_REPLIES,
    Job,
    Limits,
    Reject,
    completion,
    dumps,
    invalid,
    parse,
    response,
    stream,
)
from .packs import PACK_FAULTS, deviate
from .pseudo import corrupt, pseudo_translate

__all__ = [
    "SimConfig",
    "SimThread",
    "main",
    "make_app",
    "parse_faults",
    "pseudo_translate",
    "serve",
]

_FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "reset", "hang", "badjson", "length")
_FAULT_KINDS += ("envelope", "moderation", "billing")
_ANSWER_FAULTS: tuple[str, ...] = ("placeholders", "echo", "dropterms", "script")  # per segment
_GROUPS = (_FAULT_KINDS, _ANSWER_FAULTS, PACK_FAULTS)  # per request, segment, pack answer
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SimConfig:
    latency: float = 0.0  # seconds added to every response
    seed: int = 0  # request faults: random.Random(seed) in arrival order; QA faults: hashed
    faults: tuple[tuple[str, float], ...] = ()  # (kind, probability); see _check_faults
    hang_seconds: float = 3600.0  # how long a "hang" fault sleeps before answering
    overhead_tokens: int = 45  # hidden prompt tokens billed per request
    rpm: float | None = None  # requests per sliding minute; None = unlimited
    tpm: float | None = None  # billed tokens per sliding minute; None = unlimited
    per_second: bool = True  # with rpm: also at most ceil(rpm/60) per sliding second
    burst: bool = False  # with rpm: the burst limit (see the module docstring)

    def __post_init__(self) -> None:
        if min(self.latency, self.hang_seconds, self.overhead_tokens) < 0:
            raise ValueError("latency, hang_seconds and overhead_tokens must be >= 0")
        for name, rate in (("rpm", self.rpm), ("tpm", self.tpm)):
            if rate is not None and not rate > 0:
                raise ValueError(f"{name} must be > 0, not {rate}")
        if self.burst and self.rpm is None:
            raise ValueError("the burst limit needs rpm")
        _check_faults(self.faults)


def _check_faults(faults: tuple[tuple[str, float], ...]) -> None:
    """Known kinds, each once, within 0..1; request faults (per request) and answer
    faults (per segment of a successful answer) each add up to at most 1."""
    kinds = [kind for kind, _ in faults]
    known = (*_FAULT_KINDS, *_ANSWER_FAULTS, *PACK_FAULTS)
    for kind, probability in faults:
        if kind not in known:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(known)}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {kind}: probability {probability} is not within 0..1")
        if kinds.count(kind) > 1:
            raise ValueError(f"fault {kind} is given twice")
    for group in _GROUPS:
        chosen = tuple((kind, p) for kind, p in faults if kind in group)
        if sum(p for _, p in chosen) > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to more than 1: {chosen}")


def parse_faults(spec: str) -> tuple[tuple[str, float], ...]:
    """``"429=0.1,500=0.05,reset=0.02"`` -> ``(("429", 0.1), ...)``; ValueError if malformed."""
    faults: list[tuple[str, float]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, value = item.partition("=")
        try:
            faults.append((kind.strip(), float(value)))
        except ValueError:
            raise ValueError(
                f"bad fault {item!r} in {spec!r}: expected KIND=PROBABILITY such as 429=0.1"
            ) from None
    _check_faults(tuple(faults))
    return tuple(faults)


# --- the server ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    ok: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # 400/401/404/500 request errors
    texts: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)  # 429s of the quota mode, by code
    corrupted: Counter[str] = field(default_factory=Counter)  # QA faults applied, by kind
    packs: Counter[str] = field(default_factory=Counter)  # pack deviations applied, by kind


class _Simulator:
    """The server's state: configuration, fault draws, counters, flaky texts already seen."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.thresholds = _thresholds(config.faults, _FAULT_KINDS)  # per request
        self.answer_thresholds = _thresholds(config.faults, _ANSWER_FAULTS)  # per segment
        self.pack_thresholds = _thresholds(config.faults, PACK_FAULTS)  # per pack answer
        self.stats = _Stats()
        self.limits = Limits(config)
        self.flaky_seen: set[str] = set()
        self.broken_seen: set[tuple[str, str]] = set()  # (target, segment) of [[sim:breakph]]
        self.answers: Counter[tuple[str, str]] = Counter()  # (target, segment) answered
        self.answered = 0

    def _draw(self) -> str | None:
        u = self.rng.random() if self.thresholds else 1.0
        return next((kind for limit, kind in self.thresholds if u < limit), None)

    def _answer(self, job: Job, *, faulty: bool) -> str:
        """The answer's text: each segment translated, or corrupted when a QA fault hits it."""
        segments = _segments(job.text)
        lines = [prefix + self._segment(job, segment, faulty) for prefix, segment in segments]
        if len(segments) > 1 and not faulty and self.pack_thresholds:
            u, pick = self._hashed("pack", job.target, job.text)
            kind = next((kind for limit, kind in self.pack_thresholds if u < limit), None)
            if kind is not None:
                self.stats.packs[kind] += 1
                return deviate(lines, kind, target=job.target, pick=pick)
        return "\n".join(lines)

    def _hashed(self, group: str, target: str, text: str) -> tuple[float, int]:
        """A draw in [0, 1) and a pick for ``text``: the seed, the text, its target and how
        often it was drawn for before, so any arrival order draws alike and a resend anew."""
        seen = self.answers[group + target, text]
        self.answers[group + target, text] += 1
        key = f"{self.config.seed}\x1f{group}\x1f{seen}\x1f{target}\x1f{text}".encode()
        digest = hashlib.blake2b(key, digest_size=16).digest()
        return int.from_bytes(digest[:8]) / 2**64, int.from_bytes(digest[8:])

    def _segment(self, job: Job, segment: str, faulty: bool) -> str:
        fault, pick = (None, 0) if faulty else self._answer_fault(job.target, segment)
        if fault is not None:
            if fault == "echo" and "[[sim:echo]]" in segment:  # echoed, words or not
                right = pseudo_translate(segment, job.target, terms=job.terms)
                wrong = segment if segment != right else None
            else:
                wrong = corrupt(segment, job.target, fault, terms=job.terms, pick=pick)
            if wrong is not None:
                self.stats.corrupted["script" if fault == "latin" else fault] += 1
                return wrong
        return pseudo_translate(segment, job.target, terms=job.terms)

    def _answer_fault(self, target: str, segment: str) -> tuple[str | None, int]:
        """(QA fault, which placeholder) for one segment: its marker, else a hashed draw."""
        if "[[sim:" in segment and (marked := self._marker(target, segment)) is not None:
            return marked, 0
        if not self.answer_thresholds:
            return None, 0
        seen = self.answers[target, segment]
        self.answers[target, segment] += 1
        key = f"{self.config.seed}\x1f{seen}\x1f{target}\x1f{segment}".encode()
        digest = hashlib.blake2b(key, digest_size=16).digest()
        u = int.from_bytes(digest[:8]) / 2**64
        fault = next((kind for limit, kind in self.answer_thresholds if u < limit), None)
        return fault, int.from_bytes(digest[8:])

    def _marker(self, target: str, segment: str) -> str | None:
        if "[[sim:echo]]" in segment:
            return "echo"
        if "[[sim:latin]]" in segment:
            return "latin"
        if "[[sim:breakph-always]]" in segment:
            return "placeholders"
        if "[[sim:breakph]]" in segment and (target, segment) not in self.broken_seen:
            self.broken_seen.add((target, segment))
            return "placeholders"
        return None

    def _trigger(self, text: str) -> str | None:
        if "[[sim:moderation]]" in text:
            return "moderation"
        if "[[sim:flaky]]" in text and text not in self.flaky_seen:
            self.flaky_seen.add(text)
            return "flaky"
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        self.stats.requests += 1
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
        fault = (self._trigger(job.text) if "[[sim:" in job.text else None) or fault
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
                "corrupted": stats.corrupted,
                "packs": stats.packs,
            }
        )

    async def reset_view(self, request: web.Request) -> web.Response:
        self.stats = _Stats()
        return web.json_response({"reset": True})


def _thresholds(
    faults: tuple[tuple[str, float], ...], group: tuple[str, ...]
) -> list[tuple[float, str]]:
    """(cumulative probability, kind) of the faults of ``group``: one draw picks at most one."""
    chosen = [(kind, p) for kind, p in faults if kind in group]
    limits = itertools.accumulate(p for _, p in chosen)
    return list(zip(limits, (kind for kind, _ in chosen), strict=True))


def _segments(text: str) -> list[tuple[str, str]]:
    """A pack's numbered lines as (``"[n] "``, segment); any other text is one segment."""
    lines = text.split("\n")
    prefixes = [f"[{n}] " for n in range(1, len(lines) + 1)]
    if len(lines) > 1 and all(map(str.startswith, lines, prefixes)):
        return [(prefix, line[len(prefix) :]) for prefix, line in zip(prefixes, lines, strict=True)]
    return [("", text)]


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


def _new_loop() -> asyncio.AbstractEventLoop:
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
        self._loop = _new_loop()
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


_LISTENING = "mtpipe simulator listening on "


async def _serve_until_signal(config: SimConfig, host: str, port: int) -> None:
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(config, host=host, port=port) as url:
        print(f"{_LISTENING}{url}", flush=True)
        await stop.wait()


def spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m pipeline.sim --port 0 ARGS`` in a process of its own (tests, benchmarks):
    the process and its base URL, once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if _LISTENING not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, line.split(_LISTENING, 1)[1].strip()


def main(argv: list[str] | None = None, *, prog: str = "python -m pipeline.sim") -> int:
    """``python -m pipeline.sim`` (or ``prog``): serve until SIGINT or SIGTERM, then exit 0."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Offline OpenAI-compatible simulator of the Qwen MT Chat Completions API.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to bind (default 8000; 0 picks a free one)")
    add("--latency", type=float, default=0.0, help="seconds added to every response")
    add(
        "--faults",
        default="",
        help=f"KIND=P,... such as 429=0.1,echo=0.03,merge=0.2; per request: "
        f"{', '.join(_FAULT_KINDS)}; per answer segment: {', '.join(_ANSWER_FAULTS)}; "
        f"per pack answer: {', '.join(PACK_FAULTS)}",
    )
    add("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    add("--hang-seconds", type=float, default=3600.0, help="how long a hang fault lasts")
    add("--overhead-tokens", type=int, default=45, help="hidden prompt tokens per request")
    add("--rpm", type=float, help="requests per minute, then HTTP 429 limit_requests")
    add("--tpm", type=float, help="billed tokens per minute, then HTTP 429 insufficient_quota")
    add("--burst", action="store_true", help="with --rpm: 429 limit_burst_rate on a fast ramp")
    add(
        "--no-per-second",
        dest="per_second",
        action="store_false",
        help="with --rpm: do not also limit each second to rpm/60",
    )
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
        config = SimConfig(
            args.latency,
            args.seed,
            faults,
            args.hang_seconds,
            args.overhead_tokens,
            rpm=args.rpm,
            tpm=args.tpm,
            per_second=args.per_second,
            burst=args.burst,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(_serve_until_signal(config, args.host, args.port))
    except OSError as exc:
        print(f"mtpipe simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
