"""Which block shows each unit's billed usage: one SQLite table beside the result shards.

    owners = Owners(state)                 # state/owners.sqlite
    owners.claim(block, keys) -> [bool]    # True where ``block`` is (or now becomes) the owner

The first block to claim a unit owns it, for this run and later ones over the
same ``state``: a block is named by a digest of its rows, so a retried block
(a worker killed mid-run) and a re-run over the same data claim their own
units again and show their usage once, as the local engine shows a reused
unit's stored usage on its first row.  Each call reads and writes one
block's keys (no process holds every key of the run); WAL and a busy timeout
let the actors of one machine claim at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Owners"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS owners (key TEXT PRIMARY KEY, block TEXT NOT NULL) WITHOUT ROWID"
)
_CHUNK = 500  # keys per SELECT (below SQLite's 999 host parameters)


class Owners:
    def __init__(self, state: Path) -> None:
        self.path = state / "owners.sqlite"

    def claim(self, block: str, keys: Sequence[str]) -> list[bool]:
        db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR IGNORE INTO owners (key, block) VALUES (?, ?)",
                ((key, block) for key in keys),
            )
            owner: dict[str, str] = {}
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, block FROM owners WHERE key IN ({marks})", chunk)
                owner.update(rows.fetchall())
            db.execute("COMMIT")
        finally:
            db.close()
        return [owner.get(key) == block for key in keys]
