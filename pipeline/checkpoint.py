"""The checkpoint: the SQLite result store (see store.py), one file per output.

Rows are keyed by unit key (a hash of settings, target language and source
text), never by row position.  One task writes (``store.record``), in
batched transactions; WAL mode lets readers look on.  A killed run loses at
most the batch that was still open.  The file is created by the first
``put``: a run that stores nothing (refused, or nothing to send) leaves none.
The run lock is ``runlock.RunLock``, taken by the runner, not here;
``summary.py`` reads what ``mtpipe status`` shows.

Each row keeps the attempt ids it was built from (``attempt_ids``): a put
whose attempt id the row already lists changes nothing, a new one replaces
the outcome and adds what it billed and tried, so the token totals equal
what the provider billed even when a block of results is put twice.
Schema 2 files (before attempt ids) are read as they are and gain the
column on their first write.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from . import sqlitedb
from .errors import CheckpointError
from .models import Result, Status, Usage
from .store import RESULT_SCHEMA, done_status, record
from .summary import Failure, Summary, summarize

__all__ = ["RESULT_SCHEMA", "Checkpoint", "Failure", "Summary", "done_status", "record"]

SCHEMA_VERSION = "3"
_BUSY_S = 5.0  # another process's write (or its switch to WAL) waits at most this long
_READABLE = ("2", SCHEMA_VERSION)  # 2: no attempt_ids column yet, added on the first write

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
    updated REAL NOT NULL,
    attempt_ids TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
"""

# A later attempt replaces the outcome but adds to what was billed and tried;
# an attempt the row already lists (a replay) is skipped.  '' = no id: always new.
_UPSERT = """
INSERT INTO results (key, status, translation, prompt_tokens, completion_tokens,
                     attempts, error, message, flags, model, lang, source, updated,
                     attempt_ids)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
    updated = excluded.updated,
    attempt_ids = CASE WHEN results.attempt_ids = '' THEN excluded.attempt_ids
                       WHEN excluded.attempt_ids = '' THEN results.attempt_ids
                       ELSE results.attempt_ids || ',' || excluded.attempt_ids END
WHERE excluded.attempt_ids = ''
   OR instr(',' || results.attempt_ids || ',', ',' || excluded.attempt_ids || ',') = 0
"""

_PIECE_COLUMNS = "key, translation, prompt_tokens, completion_tokens, attempts"


class Checkpoint:
    """A checkpoint file, a ResultStore.  Not thread-safe: one task uses it at a time.

    Opening reads nothing but the schema version; a missing file is created
    by the first ``put`` (``must_exist=True``: refuse it, as ``mtpipe status`` does).
    """

    def __init__(self, path: Path, *, must_exist: bool = False) -> None:
        self.path = path
        self._stored: int | None = None  # results stored, once counted
        self._db: sqlite3.Connection | None = None
        self._version = SCHEMA_VERSION
        if path.exists():
            self._open()
        elif must_exist:
            raise CheckpointError(f"{path}: no such checkpoint; run the job first")

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # record() commits from a worker thread, one call at a time
            db = sqlitedb.connect(self.path, timeout=_BUSY_S, check_same_thread=False)
            try:
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                self._version = self._check_version(db)
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise CheckpointError(
                f"{self.path}: cannot open the checkpoint ({exc}); "
                "pass --checkpoint with another path or move the file away"
            ) from exc
        self._db = db
        return db

    def _check_version(self, db: sqlite3.Connection) -> str:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            return SCHEMA_VERSION
        if row[0] not in _READABLE:
            raise CheckpointError(
                f"{self.path}: checkpoint schema {row[0]} is not {SCHEMA_VERSION} "
                "(written by another mtpipe version); use a new --checkpoint path"
            )
        return str(row[0])

    def put(self, results: Sequence[Result]) -> None:
        """Store ``results`` in one transaction; a (key, attempt) already stored is skipped."""
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
                r.attempt,
            )
            for r in results
        ]
        self._stored = None
        try:
            db = self._db or self._open()
            db.execute("BEGIN IMMEDIATE")
            with db:  # commits, or rolls back on an error
                if self._version != SCHEMA_VERSION:
                    self._upgrade(db)
                db.executemany(_UPSERT, rows)
        except sqlite3.Error as exc:
            raise CheckpointError(f"{self.path}: cannot write the checkpoint ({exc})") from exc

    def _upgrade(self, db: sqlite3.Connection) -> None:
        """Schema 2 -> 3: the attempt ids column (empty for the rows already there)."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
        if "attempt_ids" not in columns:
            db.execute("ALTER TABLE results ADD COLUMN attempt_ids TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (SCHEMA_VERSION,))
        self._version = SCHEMA_VERSION

    def lookup(
        self, keys: pl.Series, *, columns: Sequence[str] = tuple(RESULT_SCHEMA)
    ) -> pl.DataFrame:
        """The stored results of ``keys``: see ``store.ResultStore``.

        Read block by block into columnar frames, so many results never sit
        in memory as Python tuples.  Keys are looked up one by one, unless
        they are most of the checkpoint: then one scan is about twice as fast.
        """
        schema = {name: RESULT_SCHEMA[name] for name in ("key", *columns)}
        wanted = keys.drop_nulls().unique().alias("key")
        if self._db is None or not len(wanted):
            return pl.DataFrame(schema=schema)
        if 2 * len(wanted) < self._count():
            frames = self._lookup(self._db, wanted.to_list(), schema)
        else:  # a scan reads every row: keep the wanted ones
            wanted_frame = wanted.to_frame()
            frames = [
                f.join(wanted_frame, on="key", how="semi") for f in self._scan(self._db, schema)
            ]
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def results(self, keys: pl.Series | None = None) -> pl.DataFrame:
        """Stored results of ``keys`` (``lookup``), or of every key (tests and tools)."""
        if keys is not None:
            return self.lookup(keys)
        if self._db is None:
            return pl.DataFrame(schema=RESULT_SCHEMA)
        frames = self._scan(self._db, RESULT_SCHEMA)
        return pl.concat(frames) if frames else pl.DataFrame(schema=RESULT_SCHEMA)

    @staticmethod
    def _scan(
        db: sqlite3.Connection, schema: Mapping[str, type[pl.DataType]]
    ) -> list[pl.DataFrame]:
        cursor = db.execute(f"SELECT {', '.join(schema)} FROM results")
        blocks = iter(lambda: cursor.fetchmany(10_000), [])
        return [pl.DataFrame(rows, schema=schema, orient="row") for rows in blocks]

    @staticmethod
    def _lookup(
        db: sqlite3.Connection,
        keys: list[str],
        schema: Mapping[str, type[pl.DataType]],
    ) -> list[pl.DataFrame]:
        block = min(10_000, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        frames = []
        for i in range(0, len(keys), block):
            chunk = keys[i : i + block]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {', '.join(schema)} FROM results WHERE key IN ({marks})"
            rows = db.execute(query, chunk).fetchall()
            frames.append(pl.DataFrame(rows, schema=schema, orient="row"))
        return frames

    def _count(self) -> int:
        """How many results are stored (counted once between writes)."""
        if self._stored is None:
            assert self._db is not None
            self._stored = int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])
        return self._stored

    def pieces(self, units: Sequence[str]) -> dict[str, Result]:
        """Finished pieces (``Status.PIECE``) of the long units ``units``, by piece key."""
        if self._db is None:
            return {}
        query = (
            f"SELECT {_PIECE_COLUMNS} FROM results WHERE key > ? AND key < ? AND status = 'piece'"
        )
        found = {}
        for unit in units:  # a piece key is UNIT/INDEX; '0' sorts right after '/'
            for key, text, prompt, completion, attempts in self._db.execute(
                query, (unit + "/", unit + "0")
            ):
                found[key] = Result(key, Status.PIECE, text, Usage(prompt, completion), attempts)
        return found

    def counts(self) -> dict[str, int]:
        if self._db is None:
            return {}
        rows = self._db.execute("SELECT status, count(*) FROM results GROUP BY status")
        return {status: n for status, n in rows}

    def summary(self, *, examples: int = 3) -> Summary:
        """Counts by status, tokens billed per model, failures by reason with examples."""
        return Summary({}, {}, ()) if self._db is None else summarize(self._db, examples=examples)

    def integrity_check(self) -> str:
        if self._db is None:
            return "ok"
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
