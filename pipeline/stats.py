"""What each stage of a run counted: frozen values that add with ``+``.

    Counted   the counting stage: rows and cells, what the store and cache already
              hold, what is left to send and how much deduplication saved
    Planned   the plan stage (what an estimate shows): requests and estimated tokens
    Sent      the translate stage: requests, billed tokens, retries, why it stopped
    Written   the output stage: cells that failed (by reason) and QA flags

Blocks and shards add their counts; the report is built once from the sums
(``Report.of``, report.py), so no stage writes into another's figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import Request

__all__ = ["Counted", "Planned", "Sent", "Written"]


@dataclass(frozen=True, slots=True)
class Counted:
    rows: int = 0
    cells: int = 0
    blank_cells: int = 0
    units: int = 0  # distinct texts to have translated, per language
    reused: int = 0  # cells done in the checkpoint
    cached: int = 0  # cells answered by the translation cache
    to_translate: int = 0  # cells still to send
    deduplicated: int = 0  # cells that share a request with another cell

    def __add__(self, other: Counted) -> Counted:
        return Counted(
            self.rows + other.rows,
            self.cells + other.cells,
            self.blank_cells + other.blank_cells,
            self.units + other.units,
            self.reused + other.reused,
            self.cached + other.cached,
            self.to_translate + other.to_translate,
            self.deduplicated + other.deduplicated,
        )


@dataclass(frozen=True, slots=True)
class Planned:
    requests: int = 0
    prompt_tokens: int = 0  # estimated
    completion_tokens: int = 0  # estimated

    @classmethod
    def of(cls, requests: Iterable[Request]) -> Planned:
        count = prompt = completion = 0
        for request in requests:
            count, prompt = count + 1, prompt + request.est_prompt_tokens
            completion += request.est_completion_tokens
        return cls(count, prompt, completion)

    def __add__(self, other: Planned) -> Planned:
        return Planned(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class Sent:
    """Requests, billed tokens, why requests were tried again; and why sending stopped
    early ("budget", "interrupted"), if it did."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None

    def __add__(self, other: Sent) -> Sent:
        return Sent(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.retries + other.retries if other.retries else self.retries,
            self.stopped or other.stopped,
        )


@dataclass(frozen=True, slots=True)
class Written:
    failed: int = 0  # cells without a translation, never-sent ones included
    failures: Counter[str] = field(default_factory=Counter)  # by reason
    flags: Counter[str] = field(default_factory=Counter)  # QA flags, by kind

    def __add__(self, other: Written) -> Written:
        return Written(
            self.failed + other.failed,
            self.failures + other.failures,
            self.flags + other.flags,
        )
