"""The checkpoint: a content-addressed SQLite store of unit results.

Rows are keyed by unit key (a hash of settings, target language and source
text), never by row position, so resume, incremental runs, deduplication
across runs and ``--retry-failed`` are all "compute the keys, look them up,
send what is missing".  One task writes (``record``), in batched
transactions; WAL mode lets readers look on.  A killed run loses at most
the batch that was still open.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import polars as pl
from anyio.streams.memory import MemoryObjectReceiveStream

from .errors import CheckpointError, LockedError
from .models import Result, Status, Usage

__all__ = ["Checkpoint", "Failure", "Summary", "record"]

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    translation TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    message TEXT,
    flags TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    source TEXT,
    updated REAL NOT NULL
) WITHOUT ROWID;
"""

# A later attempt replaces the outcome but adds to what was billed and tried,
# so the checkpoint's token totals always equal what the provider billed.
_UPSERT = """
INSERT INTO results (key, status, translation, prompt_tokens, completion_tokens,
                     attempts, error, message, flags, model, lang, source, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status,
    translation = excluded.translation,
    prompt_tokens = results.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = results.completion_tokens + excluded.completion_tokens,
    attempts = results.attempts + excluded.attempts,
    error = excluded.error,
    message = excluded.message,
    flags = excluded.flags,
    model = excluded.model,
    lang = excluded.lang,
    source = excluded.source,
    updated = excluded.updated
"""

EMPTY_STATUSES = pl.DataFrame(schema={"key": pl.String, "status": pl.String})

RESULT_SCHEMA = {
    "key": pl.String,
    "status": pl.String,
    "translation": pl.String,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
    "attempts": pl.Int64,
    "error": pl.String,
    "message": pl.String,
    "flags": pl.String,
}
_RESULT_COLUMNS = ", ".join(RESULT_SCHEMA)


class Checkpoint:
    """An open checkpoint file.  Not thread-safe: one task uses it.

    A writer (``lock=True``) holds ``PATH.lock`` for as long as it is open:
    a second run on the same checkpoint fails at once with LockedError,
    naming the holder.  The lock is an ``flock``, so the kernel releases it
    when its process dies, ``kill -9`` included: nothing stale to clean up.
    ``lock=False`` opens it to read (``mtpipe status``).
    """

    def __init__(self, path: Path, *, lock: bool = True) -> None:
        self.path = path
        self._stored: int | None = None  # results stored, once counted
        self._lock = _Lock(path.with_name(path.name + ".lock")) if lock else None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not lock and not path.exists():
                raise CheckpointError(f"{path}: no such checkpoint; run the job first")
            if self._lock is not None:
                self._lock.acquire()
            # record() commits from a worker thread, one call at a time
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except (sqlite3.Error, OSError) as exc:
            self._release()
            raise CheckpointError(
                f"{path}: cannot open the checkpoint ({exc}); "
                "pass --checkpoint with another path or move the file away"
            ) from exc
        except CheckpointError:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise CheckpointError(
                f"{self.path}: checkpoint schema {row[0]} is not {SCHEMA_VERSION}; "
                "use a new --checkpoint path"
            )

    def put(self, results: Sequence[Result]) -> None:
        """Store ``results`` in one transaction."""
        now = time.time()
        rows = [
            (
                r.key,
                r.status.value,
                r.translation,
                r.usage.prompt_tokens,
                r.usage.completion_tokens,
                r.attempts,
                r.error,
                r.message,
                ",".join(r.flags),
                r.model,
                r.lang,
                r.source,
                now,
            )
            for r in results
        ]
        self._stored = None
        try:
            with self._transaction():
                self._db.executemany(_UPSERT, rows)
        except sqlite3.Error as exc:
            raise CheckpointError(f"{self.path}: cannot write the checkpoint ({exc})") from exc

    def _transaction(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db  # the connection's context manager commits or rolls back

    def statuses(self, *, block_rows: int = 200_000) -> pl.DataFrame:
        """Every stored key with its status: columns ``key``, ``status``."""
        cursor = self._db.execute("SELECT key, status FROM results")
        frames = [
            pl.DataFrame(rows, schema=EMPTY_STATUSES.schema, orient="row")
            for rows in iter(lambda: cursor.fetchmany(block_rows), [])
        ]
        return pl.concat(frames) if frames else EMPTY_STATUSES

    def results(self, keys: pl.Series | None = None, *, block_rows: int = 10_000) -> pl.DataFrame:
        """Stored results (all, or those whose key is in ``keys``) as a RESULT_SCHEMA frame.

        Read block by block into columnar frames, so a million results never
        sit in memory as Python tuples.  ``keys`` are looked up by key, unless
        they are most of the checkpoint: then one scan is about twice as fast.
        """
        wanted = None if keys is None else keys.drop_nulls().unique().alias("key")
        if wanted is not None and 2 * len(wanted) < self._count():
            frames = self._lookup(wanted.to_list(), block_rows)
        else:
            frames = self._scan(block_rows)
            if wanted is not None:  # a scan reads every row: keep the wanted ones
                frames = [f.join(wanted.to_frame(), on="key", how="semi") for f in frames]
        return pl.concat(frames) if frames else pl.DataFrame(schema=RESULT_SCHEMA)

    def _scan(self, block_rows: int) -> list[pl.DataFrame]:
        cursor = self._db.execute(f"SELECT {_RESULT_COLUMNS} FROM results")
        blocks = iter(lambda: cursor.fetchmany(block_rows), [])
        return [pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row") for rows in blocks]

    def _lookup(self, keys: list[str], block_rows: int) -> list[pl.DataFrame]:
        block_rows = min(block_rows, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        frames = []
        for i in range(0, len(keys), block_rows):
            chunk = keys[i : i + block_rows]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {_RESULT_COLUMNS} FROM results WHERE key IN ({marks})"
            rows = self._db.execute(query, chunk).fetchall()
            frames.append(pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row"))
        return frames

    def _count(self) -> int:
        """How many results are stored (counted once between writes)."""
        if self._stored is None:
            self._stored = int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])
        return self._stored

    def pieces(self) -> dict[str, Result]:
        """Finished pieces of long units (``Status.PIECE``), by piece key."""
        rows = self._db.execute(
            "SELECT key, translation, prompt_tokens, completion_tokens, attempts FROM results "
            "WHERE status = 'piece'"
        )
        return {
            key: Result(key, Status.PIECE, text, Usage(prompt, completion), attempts)
            for key, text, prompt, completion, attempts in rows
        }

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, count(*) FROM results GROUP BY status")
        return {status: n for status, n in rows}

    def summary(self, *, examples: int = 3) -> Summary:
        """Counts by status, tokens billed per model, failures by reason with examples."""
        db = self._db
        statuses = dict(db.execute("SELECT status, count(*) FROM results GROUP BY status"))
        tokens = {
            model: (int(p), int(c))
            for model, p, c in db.execute(
                # a finished long unit's usage includes its pieces' rows: count them once
                "SELECT model, sum(prompt_tokens), sum(completion_tokens) FROM results "
                "WHERE status != 'piece' OR substr(key, 1, instr(key, '/') - 1) NOT IN "
                "(SELECT key FROM results WHERE status = 'done') GROUP BY model"
            )
        }
        failures = []
        for status, error, n in db.execute(
            "SELECT status, coalesce(error, '?'), count(*) FROM results WHERE status != 'done' "
            "GROUP BY status, error ORDER BY count(*) DESC"
        ).fetchall():
            rows = db.execute(
                "SELECT lang, coalesce(source, ''), coalesce(message, '') FROM results "
                "WHERE status = ? AND coalesce(error, '?') = ? LIMIT ?",
                (status, error, examples),
            ).fetchall()
            failures.append(Failure(status, error, n, tuple(rows)))
        return Summary(statuses, tokens, tuple(failures))

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._db.close()
        self._release()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def record(
    checkpoint: Checkpoint,
    results: MemoryObjectReceiveStream[Sequence[Result]],
    *,
    batch_size: int = 1000,
    interval: float = 0.5,
) -> None:
    """Write every result received (in lists: one per request) to ``checkpoint`` in batches.

    A batch is committed when it holds ``batch_size`` results or when its
    oldest result has waited ``interval`` seconds, in a worker thread so the
    event loop keeps sending meanwhile; the final flush is shielded from
    cancellation, so Ctrl-C and SIGTERM keep what was received.
    """
    pending: list[Result] = []
    deadline = math.inf
    try:
        async with results:
            while True:
                with anyio.move_on_after(deadline - anyio.current_time()):
                    try:
                        received = await results.receive()
                    except anyio.EndOfStream:
                        break
                    if not pending:
                        deadline = anyio.current_time() + interval
                    pending.extend(received)
                    if len(pending) < batch_size:
                        continue
                await anyio.to_thread.run_sync(checkpoint.put, pending)
                pending, deadline = [], math.inf
    finally:
        with anyio.CancelScope(shield=True):
            if pending:
                await anyio.to_thread.run_sync(checkpoint.put, pending)


def done_status(retry_failed: bool) -> tuple[str, ...]:
    """Statuses whose keys a run must not request again."""
    if retry_failed:
        return (Status.DONE.value,)
    return (Status.DONE.value, Status.FAILED_PERMANENT.value)


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


class _Lock:
    """An exclusive ``flock`` on a small file that says who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace")
            os.close(fd)
            raise LockedError(
                f"{self.path.with_suffix('')}: in use by {_holder(holder)}; "
                "wait for that run to finish (it exits on its own)"
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
        os.write(fd, json.dumps(info).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _holder(raw: str) -> str:
    try:
        info = json.loads(raw)
        return f"pid {info['pid']} on {info['host']} since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "another process"
