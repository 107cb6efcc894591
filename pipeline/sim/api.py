"""The simulated provider's side of one request: parse it and answer it.

Used by ``server.py``.  ``parse`` turns a Chat Completions body into a
``Job`` (text, target language, terms, stream, max_tokens; the qwen-mt
one-user-message rule and its 500), ``completion`` and ``stream`` build the
answers, ``FAULT_REPLIES`` holds the provider's own error bodies (``error``
builds one; ``limits.py`` keeps the quota windows and their 429s).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .pseudo import language_name

__all__ = [
    "FAULT_REPLIES",
    "INVALID_KEY",
    "Job",
    "Reject",
    "Reply",
    "completion",
    "dumps",
    "error",
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
_CONTEXT_RE = re.compile(  # prompts.CONTEXT_NOTE: read, never translated
    r"(?:^|\s)Context of the text, not to be translated: (.+?)\.(?= Translate these terms "
    r"| Domain and style: | Follow these example translations: | Each line starts|\s*$)",
    re.DOTALL,
)
_WHOLE_TEXT_STREAMS = frozenset({"qwen-mt-plus", "qwen-mt-turbo"})
Reply = tuple[int, bytes]  # HTTP status, JSON body


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def error(status: int, code: str, message: str, kind: str = "") -> Reply:
    error = {"message": message, "type": kind or code, "param": None, "code": code}
    return status, json.dumps({"error": error}).encode()


_ROLE_ERROR = "<400> InternalError.Algo.InvalidParameter: Role must be in [user, assistant]"
_ROLE = 500, json.dumps({"error": {"message": _ROLE_ERROR, "type": "InternalError",
                                   "code": "InternalError"}}).encode()  # fmt: skip
INVALID_KEY = error(401, "invalid_api_key", "Incorrect API key provided.", "invalid_request_error")
_ENVELOPE = {"error": {"message": "Service busy", "code": "ServiceBusy"}, "message": "failed"}
FAULT_REPLIES: dict[str, Reply] = {
    "429": error(429, "limit_requests", "Requests rate limit exceeded, please try again later."),
    "500": error(500, "InternalError", "An internal error has occured, please try again later"
                  " or contact service support."),
    "503": error(503, "ServiceUnavailable", "The model is overloaded, please try again later."),
    "moderation": error(400, "data_inspection_failed",
                         "Input data may contain inappropriate content."),
    "billing": error(429, "Arrearage",
                      "Access denied, please make sure your account is in good standing."),
    "badjson": (200, b'{"id": "chatcmpl-'),
    "envelope": (200, json.dumps(_ENVELOPE).encode()),
}  # fmt: skip
FAULT_REPLIES["flaky"] = FAULT_REPLIES["500"]


def response(
    reply: Reply, fault: str | None = None, *, retry_after: str | None = None
) -> web.Response:
    retry_after = "1" if fault == "429" else retry_after
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.Response(status=reply[0], body=reply[1], content_type="application/json",
                        headers=headers)  # fmt: skip


class Reject(Exception):
    """Raised while reading a request that gets an error answer instead of a translation."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply[0])
        self.reply = reply


def invalid(message: str) -> Reject:
    return Reject(error(400, "invalid_parameter_error", message, "invalid_request_error"))


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
    context: str = ""  # the prompt's context note (prompts.CONTEXT_NOTE), if any


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
) -> tuple[str, str, _Terms, str]:
    """(text to translate, target language name, glossary terms, the instruction), by the
    three styles (options style: its ``domains`` stand for the instruction)."""
    user = [c for r, c in zip(roles, contents, strict=True) if r == "user"]
    text = user[-1] if user else contents[-1]
    if options is not None:
        target = options.get("target_lang") if isinstance(options, dict) else None
        if not isinstance(target, str) or not target.strip():
            raise invalid("translation_options.target_lang must be a language name or code")
        domains = options.get("domains")
        hint = domains if isinstance(domains, str) else ""
        return text, language_name(target), _option_terms(options), hint
    if "system" in roles:
        system = contents[roles.index("system")]
        found = _TARGET_RE.search(system)
        return text, found.group(1) if found else "German", _prompt_terms(system), system
    head, sep, rest = text.partition("\n\n")
    found = _TARGET_RE.search(head) if sep and head.startswith("Translate") else None
    return (rest, found.group(1), _prompt_terms(head), head) if found else (text, "German", (), "")


def parse(body: Any, overhead: int) -> Job:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise invalid("the body must be a JSON object with 'model' and 'messages'")
    model, messages = body["model"], body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty list")
    if model == "qwen-sim-missing":
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise Reject(error(404, "model_not_found", message, "invalid_request_error"))
    contents = [_content(m) for m in messages]
    roles = [m["role"] for m in messages]
    if model.startswith("qwen-mt") and roles != ["user"]:
        if "system" in roles:
            raise Reject(_ROLE)
        raise invalid(f"{model} accepts exactly one message, with role 'user'")
    max_tokens, options = body.get("max_tokens"), body.get("translation_options")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise invalid("max_tokens must be an integer >= 1")
    text, target, terms, instruction = _source_and_target(roles, contents, options)
    found = _CONTEXT_RE.search(instruction)
    prompt = overhead + math.ceil(sum(map(len, contents)) / 4)
    if options is not None:
        prompt += math.ceil(len(json.dumps(options)) / 4)
    stream_options = body.get("stream_options")
    usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    stream = bool(body.get("stream"))
    context = found.group(1) if found else ""
    return Job(model, text, target, terms, prompt, max_tokens, stream, usage, context)


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
