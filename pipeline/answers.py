"""What a successful reply says: a 200's JSON body or its event stream -> a Completion.

    read_answer(payload)                 a 200's parsed body -> Completion, or the error
                                         for a body without a usable translation
    await read_stream(lines, whole=)     server-sent events -> Completion; ``whole``: the
                                         model repeats the whole text in every chunk
                                         (None: unknown, told by the chunks themselves)
    accept(text, finish_reason, usage)   a Completion, unless the answer was truncated
    invalid_json(raw)                    the error for a body that is not JSON

A 200 is not a translation until ``choices[0].message.content`` says so
(UPSTREAM_API.md, "Response"); moderation in a 200 envelope fails at once.
No message ever contains the API key.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

from .errors import PermanentError, RequestError, TransientError
from .models import Completion, Usage
from .replies import clean, error_fields

__all__ = ["accept", "invalid_json", "read_answer", "read_stream"]


def accept(text: str, finish: Any, usage: Usage | None) -> Completion:
    if finish == "length":
        raise TransientError(
            "truncated",
            "the answer was cut at max_tokens (finish_reason=length); raise max_tokens "
            "or send shorter pieces",
            usage=usage,
        )
    return Completion(text, str(finish or "stop"), usage or Usage())


def read_answer(payload: Any, *, api_key: str | None) -> Completion:
    usage = usage_of(payload.get("usage")) if isinstance(payload, dict) else None
    choice = first_choice(payload)
    message = choice.get("message") if choice else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise _no_content(payload, usage, api_key)
    return accept(content, choice.get("finish_reason") if choice else None, usage)


async def read_stream(
    lines: AsyncIterator[str], *, whole: bool | None, api_key: str | None
) -> Completion:
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
            raise invalid_json(data.encode(), api_key) from None
        if not isinstance(chunk, dict) or chunk.get("error"):
            raise _no_content(chunk, usage, api_key)
        usage = usage_of(chunk.get("usage")) or usage
        choice = first_choice(chunk)
        if choice is None:
            continue
        delta = choice.get("delta") or choice.get("message") or {}
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(piece, str):
            replace = whole or (whole is None and bool(text) and piece.startswith(text or ""))
            text = piece if replace or text is None else text + piece
        finish = choice.get("finish_reason") or finish
    if text is None:
        raise _no_content({}, usage, api_key)
    return accept(text, finish, usage)


def _no_content(payload: Any, usage: Usage | None, api_key: str | None) -> RequestError:
    code, message = error_fields(payload)
    detail = ": ".join(filter(None, (code, message)))
    if code.lower() in ("data_inspection_failed", "datainspectionfailed"):
        text = f"the provider's content moderation rejected the text ({detail})"
        return PermanentError("moderation", clean(text, api_key), usage=usage)
    said = f" ({detail})" if detail else ""
    text = f"the provider answered without a translation (no message content){said}"
    return TransientError("no_content", clean(text, api_key), usage=usage)


def invalid_json(raw: bytes, api_key: str | None) -> TransientError:
    # redact before cutting short, so no part of the key can survive the cut
    start = clean(raw[:4096].decode("utf-8", "replace"), api_key)[:120]
    return TransientError(
        "invalid_json", f"the provider answered with a body that is not JSON: {start!r}"
    )


def first_choice(payload: Any) -> dict[str, Any] | None:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def usage_of(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens", raw.get("input_tokens"))
    completion = raw.get("completion_tokens", raw.get("output_tokens"))
    return Usage(_count(prompt), _count(completion))


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else 0
