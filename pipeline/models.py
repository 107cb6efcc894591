"""Values that cross stage boundaries: usage, settings, units, pieces, requests, results.

The one-way path (see README, "Architecture"):

    reader  -> cells (row, column, lang, text)
    planner -> Unit (deduplicated by key) -> Piece -> Request
    translate -> Outcome per Request -> PieceResult -> Result per Unit -> store
    output  -> the table with its added columns
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Chunking",
    "Completion",
    "Outcome",
    "Piece",
    "Request",
    "Result",
    "Settings",
    "Status",
    "Unit",
    "Usage",
    "piece_key",
]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens the provider billed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Chunking:
    """How long one piece of a long text may be, in characters."""

    max_chars: int = 6000


class Status(enum.StrEnum):
    DONE = "done"
    FAILED_TRANSIENT = "failed_transient"  # retried automatically on the next run
    FAILED_PERMANENT = "failed_permanent"  # kept until --retry-failed
    PIECE = "piece"  # one finished piece of a long unit (key: piece_key), never paid twice


def piece_key(unit_key: str, index: int) -> str:
    """The checkpoint key of piece ``index`` of a long unit."""
    return f"{unit_key}/{index}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything about a run that changes the translation (and so the unit key).

    ``params`` holds request parameters that change output (temperature,
    top_p, enable_thinking, response_format ...) as sorted (name, value)
    pairs; transport-only parameters (max_tokens, stream, user) live in
    ``extra`` and are not part of the key.
    """

    model: str
    style: str  # "prompt" | "options"
    template: str  # user-message template text ("" = built-in for the model)
    source_lang: str  # English name, or "auto"
    params: tuple[tuple[str, Any], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()
    domain: str = ""  # --domain: free text on domain and style
    memory: tuple[tuple[str, str], ...] = ()  # --tm: example (source, target) pairs


@dataclass(frozen=True, slots=True)
class Unit:
    """What is actually translated: one source text into one language.

    Many cells share one unit. ``context`` holds the values of the extra
    template variables (other columns of the row), or without a template a
    catalog message's context note, and is part of the key.
    """

    key: str
    text: str
    target_lang: str  # English name
    context: tuple[tuple[str, str], ...] = ()
    cells: int = field(default=1, compare=False)  # how many cells share it (progress only)
    terms: tuple[tuple[str, str], ...] = ()  # glossary entries found in the text


@dataclass(frozen=True, slots=True)
class Piece:
    """A unit's text, or one chunk of it when it is too long for one request.

    ``text`` is what is sent, without surrounding white space; ``lead`` and
    ``trail`` are the white space (paragraph breaks, spaces) around it in
    the unit, put back when the pieces' translations are joined.
    """

    unit: Unit
    index: int
    count: int
    text: str
    lead: str = ""
    trail: str = ""


@dataclass(frozen=True, slots=True)
class Request:
    """One API call: one piece, or several short pieces packed together."""

    pieces: tuple[Piece, ...]
    body: dict[str, Any] = field(hash=False, compare=False)
    est_prompt_tokens: int = 0
    est_completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    """A usable answer from the API."""

    text: str
    finish_reason: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one API request came to after retries: a completion, or the last error.

    ``billed`` sums the usage of every attempt, rejected ones (truncated ...)
    included; ``retries`` lists the reason codes of the attempts that failed
    and were tried again.  A failed outcome is ``permanent`` when the last
    error was a PermanentError, not when transient retries ran out.
    """

    completion: Completion | None
    attempts: int
    billed: Usage
    retries: tuple[str, ...] = ()
    error_reason: str | None = None
    error_message: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.completion is not None


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome for one unit, as stored in the checkpoint.

    ``source`` is kept for failed units only, so ``mtpipe status`` can show
    examples without the checkpoint holding every source text twice.
    """

    key: str
    status: Status
    translation: str | None
    usage: Usage  # everything billed for this unit, rejected attempts included
    attempts: int
    error: str | None = None  # short reason code: moderation, http_429, truncated ...
    message: str | None = None
    flags: tuple[str, ...] = ()
    model: str = ""
    lang: str = ""
    source: str | None = None
    attempt: str = ""  # id of the request outcome it came from: the store puts it once
