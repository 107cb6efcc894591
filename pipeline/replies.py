"""What an error reply means: HTTP status, body and headers -> the error to raise.

    classify(status, payload, headers)   the RequestError (or ProviderConfigError)
                                         for an error reply, by status, code and message
    error_fields(payload)                (code, message) of an error body
    retry_after(headers)                 Retry-After / retry-after-ms, in seconds
    quota_reset(headers)                 seconds until a spent x-ratelimit window resets
    clean(message, api_key)              one line, the key redacted

Pure functions over parsed replies (UPSTREAM_API.md, "Errors: what to retry"):
no I/O, and no message ever contains the API key.  A 200's body or stream is
read by answers.py.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from .errors import PermanentError, ProviderConfigError, RequestError, TransientError

__all__ = [
    "classify",
    "clean",
    "error_fields",
    "quota_reset",
    "retry_after",
]

_RETRY_STATUSES = frozenset({408, 409, 500, 502, 503, 504})
_MAX_MESSAGE = 300


def clean(message: str, api_key: str | None) -> str:
    """One line, the key replaced by ``***``, at most a few hundred characters."""
    if api_key:
        message = message.replace(api_key, "***")
    line = " ".join(message.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def error_fields(payload: Any) -> tuple[str, str]:
    """(code, message) from ``{"error": {...}}``, ``{"code", "message"}`` or plain text."""
    if isinstance(payload, str):
        return "", payload
    if not isinstance(payload, dict):
        return "", ""
    error = payload.get("error")
    code: Any = None
    message: Any = None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = error.get("message")
    elif isinstance(error, str):
        message = error
    return str(code or payload.get("code") or ""), str(message or payload.get("message") or "")


def classify(
    status: int,
    payload: Any,
    headers: Mapping[str, str],
    *,
    api_key: str | None,
    model: str | None = None,
) -> RequestError | ProviderConfigError:
    """The error for an HTTP ``status`` with ``payload`` (parsed JSON or text)."""
    code, message = error_fields(payload)
    head = f"HTTP {status} {code}" if code else f"HTTP {status}"
    detail = clean(f"{head}: {message}" if message else head, api_key)
    lowered = f"{code} {message}".lower()
    if status == 429 or code.lower() == "arrearage":
        return _classify_quota(status, lowered, detail, retry_after(headers))
    if status in (401, 403):
        return ProviderConfigError(
            f"the provider rejected the API key ({detail}): check ROUTESCOPE_API_KEY and that "
            "the key belongs to this base URL's region"
        )
    if status == 404:
        name = f"model {model!r}" if model else "the model"
        return ProviderConfigError(
            f"{name} was not found ({detail}): check the model name and the base URL"
        )
    return _classify_request(status, code.lower(), lowered, detail, headers)


def _classify_request(
    status: int, code: str, lowered: str, detail: str, headers: Mapping[str, str]
) -> RequestError:
    """A request's own failure: moderation, bad parameters, a request bug, a retryable status."""
    if status == 400 and code in ("data_inspection_failed", "datainspectionfailed"):
        return PermanentError(
            "moderation",
            f"the provider's content moderation rejected the text ({detail})",
            status=400,
        )
    if status in (400, 422):
        return PermanentError(
            "invalid_parameter",
            f"the provider rejected the request ({detail}); if the text is too long, split it",
            status=status,
        )
    if status == 500 and "role must be in" in lowered:
        return PermanentError(
            "request_bug", f"the request is malformed for this model ({detail})", status=500
        )
    if status in _RETRY_STATUSES or status >= 500:
        return TransientError(
            f"http_{status}", detail, retry_after=retry_after(headers), status=status
        )
    return PermanentError(f"http_{status}", detail, status=status)


_BILLING = (
    "free allocated quota",
    "free tier",
    "freetier",
    "arrear",
    "billing",
    "good standing",
    "overdue",
    "insufficient balance",
)


def _classify_quota(
    status: int, lowered: str, detail: str, delay: float | None
) -> RequestError | ProviderConfigError:
    quota = "allocated quota exceeded" in lowered or "allocationquota" in lowered
    if any(word in lowered for word in _BILLING) or ("insufficient_quota" in lowered and not quota):
        return ProviderConfigError(
            f"the provider refused the request for billing reasons ({detail}): check the "
            "account's balance, free quota and billing status"
        )
    if "burst" in lowered:
        reason = "rate_limit_burst"
    elif quota or "tokens per min" in lowered:
        reason = "rate_limit_tokens"
    elif any(word in lowered for word in ("limit_requests", "throttl", "ratequota", "rate limit")):
        reason = "rate_limit_requests"
    else:
        reason = "http_429"
    return TransientError(reason, detail, retry_after=delay, status=status)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, ``retry-after`` seconds or date."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    seconds = _number(value)
    if seconds is not None or not value:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC without a zone
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def quota_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until a used-up window resets, from a relay's ``x-ratelimit-*`` headers.

    ``x-ratelimit-remaining-requests: 0`` (or ``-tokens: 0``) with
    ``x-ratelimit-reset-requests: 6m0s`` / ``1.5s`` / ``20ms`` / ``2`` ->
    seconds; None while anything remains.
    """
    longest = None
    for kind in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0":
            wait = _duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if wait is not None:
                longest = max(longest or 0.0, wait)
    return longest


def _duration(value: str) -> float | None:
    value = value.strip()
    plain = _number(value)
    if plain is not None:
        return plain
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, number) if number is not None and math.isfinite(number) else None
