"""The translation cache: good unit results shared by every output and job of a user.

    cache = Cache(path, endpoint=base_url)   # nothing read or created yet
    cache.lookup(keys)    -> the cached results of those keys (RESULT_SCHEMA frame)
    cache.put(results)    -> keep the good ones (done, not QA-flagged); failures never
    fill(cache, keys, into=checkpoint)       -> the keys found, their results put there

A second ``store.ResultStore`` beside the checkpoint, keyed by the same unit
keys (which hash model, settings, language and text), so the same input
written to CSV and then to Parquet, or two jobs sharing strings, pay for a
text once.  The checkpoint stays the record of one output: a cache hit is
put there as a result of 0 tokens and 0 attempts (attempt id ``cache``), so
the output's token columns keep summing to what was billed in its runs.

Entries are kept per endpoint (a digest of the base URL, or of ``sim`` for the
in-process simulator), so a simulator's pseudo-translations never answer a
run against the real API.  Only results that passed QA enter: a run with
``--qa off`` reads the cache but does not fill it (the runner's choice).

One SQLite file (WAL, a busy timeout) is safe for several processes at
once: each put is one short ``BEGIN IMMEDIATE`` transaction and the first
translation stored for a key stays.  The file is created by the first put,
like the checkpoint.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from . import sqlitedb
from .errors import CheckpointError
from .models import Result, Status, Usage
from .store import RESULT_SCHEMA, ResultStore

__all__ = ["CACHE_ATTEMPT", "Cache", "Filling", "fill"]

CACHE_ATTEMPT = "cache"  # the attempt id of a cache hit put into a checkpoint
SCHEMA_VERSION = "1"
_BUSY_MS = 30_000  # another process's write waits at most this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS translations (
    endpoint TEXT NOT NULL,
    key TEXT NOT NULL,
    translation TEXT NOT NULL,
    model TEXT NOT NULL,
    lang TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (endpoint, key)
) WITHOUT ROWID;
"""

_INSERT = """
INSERT INTO translations (endpoint, key, translation, model, lang, created)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint, key) DO NOTHING
"""


class Cache:
    """The cache file at ``path``, the entries of ``endpoint``; a ResultStore.

    Not thread-safe: one task uses it at a time (the run's writer task puts).
    """

    def __init__(self, path: Path, *, endpoint: str) -> None:
        self.path = path
        # a digest: a base URL may carry credentials (user:password@, ?key=), never stored
        self.endpoint = hashlib.blake2b(endpoint.encode(), digest_size=16).hexdigest()
        self._db: sqlite3.Connection | None = None
        if path.exists():
            self._open()

    def _error(self, exc: Exception, doing: str) -> CheckpointError:
        return CheckpointError(
            f"{self.path}: cannot {doing} the translation cache ({exc}); "
            "pass --no-cache, or --cache with another path, or move the file away"
        )

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlitedb.connect(self.path, timeout=_BUSY_MS / 1000, check_same_thread=False)
            try:
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                self._check_version(db)
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc, "open") from exc
        self._db = db
        return db

    def _check_version(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        (version,) = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"cache schema {version} is not {SCHEMA_VERSION}")

    def put(self, results: Sequence[Result]) -> None:
        """Keep the good results (done, no QA flag) in one transaction; others are dropped."""
        now = time.time()
        rows = [
            (self.endpoint, r.key, r.translation, r.model, r.lang, now)
            for r in results
            if r.status is Status.DONE and r.translation is not None and not r.flags
        ]
        if not rows:
            return
        try:
            db = self._db or self._open()
            db.execute("BEGIN IMMEDIATE")
            with db:  # commits, or rolls back on an error
                db.executemany(_INSERT, rows)
        except sqlite3.Error as exc:
            raise self._error(exc, "write") from exc

    def lookup(
        self, keys: pl.Series, *, columns: Sequence[str] = tuple(RESULT_SCHEMA)
    ) -> pl.DataFrame:
        """The cached results of ``keys``: status done, 0 tokens and attempts, no flags."""
        wanted = keys.drop_nulls().unique().to_list()
        found: list[tuple[str, str]] = []
        if self._db is not None and wanted:
            block = min(10_000, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1)
            for i in range(0, len(wanted), block):
                chunk = wanted[i : i + block]
                query = (
                    "SELECT key, translation FROM translations "
                    f"WHERE endpoint = ? AND key IN ({','.join('?' * len(chunk))})"
                )
                try:
                    found += self._db.execute(query, (self.endpoint, *chunk)).fetchall()
                except sqlite3.Error as exc:
                    raise self._error(exc, "read") from exc
        frame = pl.DataFrame(
            found, schema={"key": pl.String, "translation": pl.String}, orient="row"
        )
        frame = frame.with_columns(
            status=pl.lit(Status.DONE.value),
            prompt_tokens=pl.lit(0, pl.Int64),
            completion_tokens=pl.lit(0, pl.Int64),
            attempts=pl.lit(0, pl.Int64),
            error=pl.lit(None, pl.String),
            message=pl.lit(None, pl.String),
            flags=pl.lit(""),
        )
        names = dict.fromkeys(("key", *columns))
        return frame.select(pl.col(name).cast(RESULT_SCHEMA[name]) for name in names)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def fill(
    cache: ResultStore, keys: Iterable[pl.Series], *, into: ResultStore | None, model: str = ""
) -> pl.Series:
    """The keys of ``keys`` (blocks of unit keys) that ``cache`` holds; with ``into``, their
    results are put there too (0 tokens, 0 attempts, attempt id ``cache``), block by block."""
    hits = [pl.Series("key", [], dtype=pl.String)]
    for block in keys:
        found = cache.lookup(block, columns=("translation",))
        if not found.height:
            continue
        if into is not None:
            into.put(
                [
                    Result(key, Status.DONE, text, Usage(), 0, model=model, attempt=CACHE_ATTEMPT)
                    for key, text in found.iter_rows()
                ]
            )
        hits.append(found["key"])
    return pl.concat(hits)


class Filling:
    """A ResultStore that puts into ``store`` and then into ``cache`` (which keeps the good
    results): what the run's writer task writes through.  Lookups read ``store``."""

    def __init__(self, store: ResultStore, cache: ResultStore) -> None:
        self.store = store
        self.cache = cache

    def lookup(
        self, keys: pl.Series, *, columns: Sequence[str] = tuple(RESULT_SCHEMA)
    ) -> pl.DataFrame:
        return self.store.lookup(keys, columns=columns)

    def put(self, results: Sequence[Result]) -> None:
        self.store.put(results)
        self.cache.put(results)
