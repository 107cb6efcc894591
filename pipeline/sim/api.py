"""The simulated provider's side of one request: parse it, answer it, limit it.

Used by ``sim.py`` (the server).  ``parse`` turns a Chat Completions body
into a ``Job`` (text, target language, terms, stream, max_tokens; the
qwen-mt one-user-message rule and its 500), ``completion`` and ``stream``
build the answers, the ``*_REPLIES`` tables hold the provider's own error
bodies, and ``Limits`` keeps the sliding quota windows (see ``sim.py``).
"""

from __future__ import annotations

import bisect
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from .pseudo import language_name

__all__ = [
    "FAULT_REPLIES",
    "INVALID_KEY",
    "LIMIT_REPLIES",
    "Job",
    "Limits",
    "Reject",
    "completion",
    "dumps",
    "invalid",
    "parse",
    "response",
    "stream",
]


_TARGET_RE = re.compile(r"\binto ([A-Z][A-Za-z ]*?)[.:]")
_TERMS_RE = re.compile(  # prompts.requirements: the glossary sentence, up to the next one
    r"(?:^|\s)Translate these terms exactly so: (.+?)\.(?= Domain and style: "
    r"| Follow these example translations: | Each line starts with its number|\s*$)",
    re.DOTALL,
)
_WHOLE_TEXT_STREAMS = frozenset({"qwen-mt-plus", "qwen-mt-turbo"})
_Reply = tuple[int, bytes]  # HTTP status, JSON body


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _error(status: int, code: str, message: str, kind: str = "") -> _Reply:
    error = {"message": message, "type": kind or code, "param": None, "code": code}
    return status, json.dumps({"error": error}).encode()


_ROLE_ERROR = "<400> InternalError.Algo.InvalidParameter: Role must be in [user, assistant]"
_ROLE = 500, json.dumps({"error": {"message": _ROLE_ERROR, "type": "InternalError",
                                   "code": "InternalError"}}).encode()  # fmt: skip
INVALID_KEY = _error(401, "invalid_api_key", "Incorrect API key provided.", "invalid_request_error")
_ENVELOPE = {"error": {"message": "Service busy", "code": "ServiceBusy"}, "message": "failed"}
FAULT_REPLIES: dict[str, _Reply] = {
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
FAULT_REPLIES["flaky"] = FAULT_REPLIES["500"]


def response(
    reply: _Reply, fault: str | None = None, *, retry_after: str | None = None
) -> web.Response:
    retry_after = "1" if fault == "429" else retry_after
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.Response(status=reply[0], body=reply[1], content_type="application/json",
                        headers=headers)  # fmt: skip


class Reject(Exception):
    """Raised while reading a request that gets an error answer instead of a translation."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply[0])
        self.reply = reply


def invalid(message: str) -> Reject:
    return Reject(_error(400, "invalid_parameter_error", message, "invalid_request_error"))


@dataclass(frozen=True, slots=True)
class Job:
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
        raise invalid("each message needs a string 'role' and 'content'")
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
        raise invalid("translation_options.terms must be a list of {source, target} objects")
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
            raise invalid("translation_options.target_lang must be a language name or code")
        return text, language_name(target), _option_terms(options)
    if "system" in roles:
        system = contents[roles.index("system")]
        found = _TARGET_RE.search(system)
        return text, found.group(1) if found else "German", _prompt_terms(system)
    head, sep, rest = text.partition("\n\n")
    found = _TARGET_RE.search(head) if sep and head.startswith("Translate") else None
    return (rest, found.group(1), _prompt_terms(head)) if found else (text, "German", ())


def parse(body: Any, overhead: int) -> Job:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise invalid("the body must be a JSON object with 'model' and 'messages'")
    model, messages = body["model"], body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty list")
    if model == "qwen-sim-missing":
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise Reject(_error(404, "model_not_found", message, "invalid_request_error"))
    contents = [_content(m) for m in messages]
    roles = [m["role"] for m in messages]
    if model.startswith("qwen-mt") and roles != ["user"]:
        if "system" in roles:
            raise Reject(_ROLE)
        raise invalid(f"{model} accepts exactly one message, with role 'user'")
    max_tokens, options = body.get("max_tokens"), body.get("translation_options")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise invalid("max_tokens must be an integer >= 1")
    text, target, terms = _source_and_target(roles, contents, options)
    prompt = overhead + math.ceil(sum(map(len, contents)) / 4)
    if options is not None:
        prompt += math.ceil(len(json.dumps(options)) / 4)
    stream_options = body.get("stream_options")
    usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    stream = bool(body.get("stream"))
    return Job(model, text, target, terms, prompt, max_tokens, stream, usage)


def completion(job: Job, answer: str, number: int, *, cut: bool) -> dict[str, Any]:
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


async def stream(request: web.Request, body: dict[str, Any], job: Job) -> web.StreamResponse:
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
        await response.write(f"data: {dumps(chunk)}\n\n".encode())
    if job.include_usage:
        chunk["choices"], chunk["usage"] = [], body["usage"]
        await response.write(f"data: {dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


LIMIT_REPLIES: dict[str, _Reply] = {
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
