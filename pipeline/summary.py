"""What ``mtpipe status`` shows of a checkpoint: counts, tokens billed, failures.

Pieces of long units are not units: they are neither counted among the units
nor listed as failures; the pieces of a long unit not finished yet are counted
apart (what a resume keeps).

``summarize`` reads an open checkpoint database (``checkpoint.Checkpoint``
owns the connection) into one frozen ``Summary``: units by status, the
tokens billed per model (a finished long unit's pieces counted once) and the
failures grouped by status and reason, with a few examples each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["Failure", "Summary", "summarize"]

# a piece row is part of a long unit, not a unit: its unit is the key before the '/'
_OPEN_PIECE = (
    "status = 'piece' AND substr(key, 1, instr(key, '/') - 1) NOT IN "
    "(SELECT key FROM results WHERE status = 'done')"
)
_STATUSES = "SELECT status, count(*) FROM results WHERE status != 'piece' GROUP BY status"
_OPEN_PIECES = f"SELECT count(*) FROM results WHERE {_OPEN_PIECE}"
# a finished long unit's usage includes its pieces' rows: count them once
_TOKENS = (
    "SELECT model, sum(prompt_tokens), sum(completion_tokens) FROM results "
    f"WHERE status != 'piece' OR ({_OPEN_PIECE}) GROUP BY model"
)
_FAILURES = (
    "SELECT status, coalesce(error, '?'), count(*) FROM results "
    "WHERE status NOT IN ('done', 'piece') GROUP BY status, error ORDER BY count(*) DESC"
)
_EXAMPLES = (
    "SELECT lang, coalesce(source, ''), coalesce(message, '') FROM results "
    "WHERE status = ? AND coalesce(error, '?') = ? LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Failure:
    status: str
    reason: str
    units: int
    examples: tuple[tuple[str, str, str], ...]  # (language, source text, message)


@dataclass(frozen=True, slots=True)
class Summary:
    statuses: dict[str, int]  # units by status
    tokens: dict[str, tuple[int, int]]  # model -> (prompt, completion) billed
    failures: tuple[Failure, ...]
    pieces: int = 0  # finished pieces of long units not finished yet, kept for the resume


def summarize(db: sqlite3.Connection, *, examples: int = 3) -> Summary:
    """Counts by status, tokens billed per model, failures by reason with examples."""
    statuses = dict(db.execute(_STATUSES))
    tokens = {model: (int(p), int(c)) for model, p, c in db.execute(_TOKENS)}
    failures = tuple(
        Failure(status, error, n, tuple(db.execute(_EXAMPLES, (status, error, examples))))
        for status, error, n in db.execute(_FAILURES).fetchall()
    )
    return Summary(statuses, tokens, failures, db.execute(_OPEN_PIECES).fetchone()[0])
