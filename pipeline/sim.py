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
import bisect
import contextlib
import hashlib
import importlib
import itertools
import json
import math
import random
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from .pseudo import corrupt, language_name, pseudo_translate

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
    known = (*_FAULT_KINDS, *_ANSWER_FAULTS)
    for kind, probability in faults:
        if kind not in known:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(known)}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {kind}: probability {probability} is not within 0..1")
        if kinds.count(kind) > 1:
            raise ValueError(f"fault {kind} is given twice")
    for group in (_FAULT_KINDS, _ANSWER_FAULTS):
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

_TARGET_RE = re.compile(r"\binto ([A-Z][A-Za-z ]*?)[.:]")
_TERMS_RE = re.compile(  # prompts.requirements: the glossary sentence, up to the next one
    r"(?:^|\s)Translate these terms exactly so: (.+?)\.(?= Domain and style: "
    r"| Follow these example translations: | Each line starts with its number|\s*$)",
    re.DOTALL,
)
_WHOLE_TEXT_STREAMS = frozenset({"qwen-mt-plus", "qwen-mt-turbo"})
_Reply = tuple[int, bytes]  # HTTP status, JSON body


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _error(status: int, code: str, message: str, kind: str = "") -> _Reply:
    error = {"message": message, "type": kind or code, "param": None, "code": code}
    return status, json.dumps({"error": error}).encode()


_ROLE_ERROR = "<400> InternalError.Algo.InvalidParameter: Role must be in [user, assistant]"
_ROLE = 500, json.dumps({"error": {"message": _ROLE_ERROR, "type": "InternalError",
                                   "code": "InternalError"}}).encode()  # fmt: skip
_INVALID_KEY = _error(
    401, "invalid_api_key", "Incorrect API key provided.", "invalid_request_error"
)
_ENVELOPE = {"error": {"message": "Service busy", "code": "ServiceBusy"}, "message": "failed"}
_FAULT_REPLIES: dict[str, _Reply] = {
    "429": _error(429, "limit_requests", "Requests rate limit exceeded, please try again later."),
    "500": _error(500, "InternalError", "An internal error has occured, please try again later"
                  " or contact service support."),
    "503": _error(503, "ServiceUnavailable", "The model is overloaded, please try again later."),
    "moderation": _error(400, "data_inspection_failed",
                         "Input data may contain inappropriate content."),
    "billing": _error(429, "Arrearage",
                      "Access denied, please make sure your account is in good standing."),
    "badjson": (200, b'{"id": "chatcmpl-'),
    "envelope": (200, json.dumps(_ENVELOPE).encode()),
}  # fmt: skip
_FAULT_REPLIES["flaky"] = _FAULT_REPLIES["500"]


def _response(
    reply: _Reply, fault: str | None = None, *, retry_after: str | None = None
) -> web.Response:
    retry_after = "1" if fault == "429" else retry_after
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.Response(status=reply[0], body=reply[1], content_type="application/json",
                        headers=headers)  # fmt: skip


class _Reject(Exception):
    """Raised while reading a request that gets an error answer instead of a translation."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply[0])
        self.reply = reply


def _invalid(message: str) -> _Reject:
    return _Reject(_error(400, "invalid_parameter_error", message, "invalid_request_error"))


@dataclass(frozen=True, slots=True)
class _Job:
    """One valid chat request, reduced to what the simulator needs."""

    model: str
    text: str
    target: str
    terms: tuple[tuple[str, str], ...]  # glossary (source, target) pairs
    prompt_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not isinstance(message.get("role"), str):
        raise _invalid("each message needs a string 'role' and 'content'")
    return content


_Terms = tuple[tuple[str, str], ...]


def _option_terms(options: dict[str, Any]) -> _Terms:
    terms = options.get("terms", [])
    if not isinstance(terms, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("source"), str)
        and isinstance(t.get("target"), str)
        for t in terms
    ):
        raise _invalid("translation_options.terms must be a list of {source, target} objects")
    return tuple((t["source"], t["target"]) for t in terms)


def _prompt_terms(instruction: str) -> _Terms:
    """``... Translate these terms exactly so: page -> Seite; tree -> Baum. ...`` -> pairs."""
    found = _TERMS_RE.search(instruction)
    pairs = (pair.partition(" -> ") for pair in found.group(1).split("; ")) if found else ()
    return tuple((source, target) for source, arrow, target in pairs if arrow)


def _source_and_target(
    roles: list[str], contents: list[str], options: Any
) -> tuple[str, str, _Terms]:
    """(text to translate, target language name, glossary terms), by the three styles."""
    user = [c for r, c in zip(roles, contents, strict=True) if r == "user"]
    text = user[-1] if user else contents[-1]
    if options is not None:
        target = options.get("target_lang") if isinstance(options, dict) else None
        if not isinstance(target, str) or not target.strip():
            raise _invalid("translation_options.target_lang must be a language name or code")
        return text, language_name(target), _option_terms(options)
    if "system" in roles:
        system = contents[roles.index("system")]
        found = _TARGET_RE.search(system)
        return text, found.group(1) if found else "German", _prompt_terms(system)
    head, sep, rest = text.partition("\n\n")
    found = _TARGET_RE.search(head) if sep and head.startswith("Translate") else None
    return (rest, found.group(1), _prompt_terms(head)) if found else (text, "German", ())


def _parse(body: Any, overhead: int) -> _Job:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise _invalid("the body must be a JSON object with 'model' and 'messages'")
    model, messages = body["model"], body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("'messages' must be a non-empty list")
    if model == "qwen-sim-missing":
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise _Reject(_error(404, "model_not_found", message, "invalid_request_error"))
    contents = [_content(m) for m in messages]
    roles = [m["role"] for m in messages]
    if model.startswith("qwen-mt") and roles != ["user"]:
        if "system" in roles:
            raise _Reject(_ROLE)
        raise _invalid(f"{model} accepts exactly one message, with role 'user'")
    max_tokens, options = body.get("max_tokens"), body.get("translation_options")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise _invalid("max_tokens must be an integer >= 1")
    text, target, terms = _source_and_target(roles, contents, options)
    prompt = overhead + math.ceil(sum(map(len, contents)) / 4)
    if options is not None:
        prompt += math.ceil(len(json.dumps(options)) / 4)
    stream_options = body.get("stream_options")
    usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    stream = bool(body.get("stream"))
    return _Job(model, text, target, terms, prompt, max_tokens, stream, usage)


def _completion(job: _Job, answer: str, number: int, *, cut: bool) -> dict[str, Any]:
    """The ``chat.completion`` body: ``answer``, cut and billed as asked."""
    finish = "stop"
    if cut:
        answer, finish = answer[: len(answer) // 2], "length"
    tokens = max(1, math.ceil(len(answer) / 4))
    if job.max_tokens is not None and tokens > job.max_tokens:
        answer, tokens, finish = answer[: job.max_tokens * 4], job.max_tokens, "length"
    prompt = job.prompt_tokens
    message = {"role": "assistant", "content": answer}
    return {"id": f"chatcmpl-sim-{number}", "object": "chat.completion",
            "created": int(time.time()), "model": job.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": tokens,
                      "total_tokens": prompt + tokens, "input_tokens": prompt,
                      "output_tokens": tokens}}  # fmt: skip


async def _stream(request: web.Request, body: dict[str, Any], job: _Job) -> web.StreamResponse:
    """``body`` as server-sent events: ~4 content chunks, usage if asked for, ``[DONE]``."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    answer, finish = body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]
    step, whole = max(1, math.ceil(len(answer) / 4)), job.model in _WHOLE_TEXT_STREAMS
    ends = [*range(step, len(answer), step), len(answer)]
    chunk = {**body, "object": "chat.completion.chunk"}
    del chunk["usage"]
    for start, end in zip([0, *ends], ends, strict=False):
        delta = {"role": "assistant"} if start == 0 else {}
        delta["content"] = answer[0 if whole else start : end]
        last = finish if end == len(answer) else None
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": last}]
        await response.write(f"data: {_dumps(chunk)}\n\n".encode())
    if job.include_usage:
        chunk["choices"], chunk["usage"] = [], body["usage"]
        await response.write(f"data: {_dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    ok: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # 400/401/404/500 request errors
    texts: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)  # 429s of the quota mode, by code
    corrupted: Counter[str] = field(default_factory=Counter)  # QA faults applied, by kind


_LIMIT_REPLIES: dict[str, _Reply] = {
    code: _error(429, code, message)
    for code, message in (
        ("limit_requests", "Requests rate limit exceeded, please try again later."),
        ("limit_burst_rate", "Request rate increased too quickly. To ensure system stability, "
         "please adjust your client logic to scale requests more smoothly over time."),
        ("insufficient_quota", "Allocated quota exceeded, please increase your quota limit."),
    )
}  # fmt: skip


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class _Limits:
    """Sliding 60 s windows of accepted request times and billed tokens (monotonic seconds)."""

    def __init__(self, config: SimConfig) -> None:
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


class _Simulator:
    """The server's state: configuration, fault draws, counters, flaky texts already seen."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.thresholds = _thresholds(config.faults, _FAULT_KINDS)  # per request
        self.answer_thresholds = _thresholds(config.faults, _ANSWER_FAULTS)  # per segment
        self.stats = _Stats()
        self.limits = _Limits(config)
        self.flaky_seen: set[str] = set()
        self.broken_seen: set[tuple[str, str]] = set()  # (target, segment) of [[sim:breakph]]
        self.answers: Counter[tuple[str, str]] = Counter()  # (target, segment) answered
        self.answered = 0

    def _draw(self) -> str | None:
        u = self.rng.random() if self.thresholds else 1.0
        return next((kind for limit, kind in self.thresholds if u < limit), None)

    def _answer(self, job: _Job, *, faulty: bool) -> str:
        """The answer's text: each segment translated, or corrupted when a QA fault hits it."""
        return "\n".join(
            prefix + self._segment(job, segment, faulty) for prefix, segment in _segments(job.text)
        )

    def _segment(self, job: _Job, segment: str, faulty: bool) -> str:
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
            return _response(_LIMIT_REPLIES[code], retry_after=wait)
        try:
            job = await self._read(request)
        except _Reject as exc:
            self.stats.errors[str(exc.reply[0])] += 1
            await self._latency(arrival)
            return _response(exc.reply)
        self.stats.texts[job.text] += 1
        fault = (self._trigger(job.text) if "[[sim:" in job.text else None) or fault
        if fault is None:
            self.stats.ok += 1
        else:
            self.stats.faults[fault] += 1
        if fault in _FAULT_REPLIES:
            await self._latency(arrival)
            return _response(_FAULT_REPLIES[fault], fault)
        if fault == "reset" and request.transport is not None:
            await self._latency(arrival)
            request.transport.abort()
            return web.Response()  # never sent: aiohttp finds the transport closed
        if fault == "hang":
            await asyncio.sleep(self.config.hang_seconds)
        self.answered += 1
        answer = self._answer(job, faulty=fault is not None)
        body = _completion(job, answer, self.answered, cut=fault == "length")
        self.limits.bill(time.monotonic(), body["usage"]["total_tokens"])
        await self._latency(arrival)
        if job.stream:
            return await _stream(request, body, job)
        return web.json_response(body, dumps=_dumps)

    async def _latency(self, arrival: float) -> None:
        """Answer ``latency`` seconds after the request arrived, the work done meanwhile:
        like a real server, whose latency includes its own work, so the simulator's CPU
        does not add to every answer's delay."""
        if self.config.latency:
            remaining = arrival + self.config.latency - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)

    async def _read(self, request: web.Request) -> _Job:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() in ("", "sk-invalid"):
            raise _Reject(_INVALID_KEY)
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise _invalid(f"the request body is not valid JSON: {exc}") from exc
        return _parse(body, self.config.overhead_tokens)

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


async def _serve_until_signal(config: SimConfig, host: str, port: int) -> None:
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(config, host=host, port=port) as url:
        print(f"mtpipe simulator listening on {url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.sim``: serve until SIGINT or SIGTERM, then exit 0."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.sim",
        description="Offline OpenAI-compatible simulator of the Qwen MT Chat Completions API.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to bind (default 8000; 0 picks a free one)")
    add("--latency", type=float, default=0.0, help="seconds added to every response")
    add(
        "--faults",
        default="",
        help="KIND=P,... e.g. 429=0.1,500=0.05,reset=0.02,hang=0.01 (per request) or "
        "placeholders=0.05,echo=0.03,dropterms=0.1,script=0.03 (per answer segment)",
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


if __name__ == "__main__":
    sys.exit(main())
