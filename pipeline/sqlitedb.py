"""Open a SQLite file in WAL mode, also while another process opens it.

    db = connect(path, timeout=30)   # autocommit, WAL, a busy timeout of 30 s

Switching a file to WAL takes an exclusive lock.  When two processes open
the same new file at once, each can hold a shared lock and want the
exclusive one; SQLite then answers one of them "database is locked" at once,
without waiting out the busy timeout (it would be a deadlock).  ``connect``
retries the switch until the timeout, so opening a file behaves like every
other statement: it waits for the other process, then goes on.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["connect"]

_FIRST_WAIT = 0.001  # seconds; doubles up to _LONGEST_WAIT between tries
_LONGEST_WAIT = 0.05


def connect(
    path: Path | str, *, timeout: float, check_same_thread: bool = True
) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode; sqlite3.Error if it cannot be had."""
    db = sqlite3.connect(
        path, isolation_level=None, timeout=timeout, check_same_thread=check_same_thread
    )
    try:
        _switch_to_wal(db, deadline=time.monotonic() + timeout)
    except BaseException:
        db.close()
        raise
    return db


def _switch_to_wal(db: sqlite3.Connection, *, deadline: float) -> None:
    wait = _FIRST_WAIT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + wait > deadline:
                raise
        time.sleep(wait)
        wait = min(2 * wait, _LONGEST_WAIT)


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
