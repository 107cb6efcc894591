"""Which block shows each unit's billed usage, and which running block is sending it:
two SQLite tables beside the result shards.

    owners = Owners(state)                 # state/owners.sqlite
    owners.claim(block, keys) -> [bool]    # True where ``block`` is (or now becomes) the owner
    claims = Claims(state, claimant)       # the units being sent now (see ``Claims``)

The first block to claim a unit owns it, for this run and later ones over the
same ``state``: a block is named by a digest of its rows, so a retried block
(a worker killed mid-run) and a re-run over the same data claim their own
units again and show their usage once, as the local engine shows a reused
unit's stored usage on its first row.  Each call reads and writes one
block's keys (no process holds every key of the run); WAL and a busy timeout
let the actors of one machine claim at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from .. import sqlitedb
from ..errors import LockedError
from ..runlock import RunLock

__all__ = ["Claims", "Owners"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS owners (key TEXT PRIMARY KEY, block TEXT NOT NULL) WITHOUT ROWID"
)
_BUSY_S = 120  # the actors of a machine claim at once; a claim waits at most this long
_CHUNK = 500  # keys per SELECT (below SQLite's 999 host parameters)


class Owners:
    def __init__(self, state: Path) -> None:
        self.path = state / "owners.sqlite"

    def claim(self, block: str, keys: Sequence[str]) -> list[bool]:
        db = sqlitedb.connect(self.path, timeout=_BUSY_S)
        try:
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


_CLAIMS = (
    "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, block TEXT NOT NULL,"
    " claimant TEXT NOT NULL) WITHOUT ROWID"
)


class Claims:
    """Which running block is sending each unit now (``claims`` in ``owners.sqlite``).

        claims = Claims(state, claimant)        # claimant: one actor's id, its lock held
        others = claims.take(block, keys)       # the keys a live block claimed before
        claims.waiting(others)                  # those still claimed (poll until empty)
        claims.release(block)                   # after the block's results are stored

    A block claims what it will send in one transaction and then waits only for
    claims taken in earlier transactions, so no two blocks wait for each other.
    A claimant is live while it holds ``live/<claimant>``'s lock (the kernel drops
    it when the process dies): a dead one's claims are taken over.
    """

    def __init__(self, state: Path, claimant: str) -> None:
        self.path = state / "owners.sqlite"
        self.claimant = claimant
        self._live = RunLock(state / "live" / claimant)
        self._live.acquire()

    def take(self, block: str, keys: Sequence[str]) -> list[str]:
        alive: dict[str, bool] = {self.claimant: True}
        others: list[str] = []
        with self._transaction() as db:
            for key, held in self._holders(db, keys).items():
                if held is None or held[0] == block or not _live(self.path.parent, held[1], alive):
                    db.execute(
                        "INSERT OR REPLACE INTO claims (key, block, claimant) VALUES (?, ?, ?)",
                        (key, block, self.claimant),
                    )
                elif held[1] != self.claimant:
                    others.append(key)
        return others

    def waiting(self, keys: Sequence[str]) -> list[str]:
        alive: dict[str, bool] = {}
        with self._transaction() as db:
            held = self._holders(db, keys)
        return [k for k, h in held.items() if h and _live(self.path.parent, h[1], alive)]

    def release(self, block: str) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM claims WHERE block = ? AND claimant = ?", (block, self.claimant)
            )

    def close(self) -> None:
        self._live.release()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlitedb.connect(self.path, timeout=_BUSY_S)
        try:
            db.execute(_CLAIMS)
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def _holders(db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, tuple[str, str] | None]:
        held: dict[str, tuple[str, str] | None] = dict.fromkeys(keys)
        unique = list(held)
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, block, claimant FROM claims WHERE key IN ({marks})"
            for key, block, claimant in db.execute(query, chunk):
                held[key] = (block, claimant)
        return held


def _live(state: Path, claimant: str, seen: dict[str, bool]) -> bool:
    """Whether ``claimant`` still holds its lock (remembered in ``seen`` for one call)."""
    if claimant not in seen:
        probe = RunLock(state / "live" / claimant)
        try:
            probe.acquire()
        except LockedError:
            seen[claimant] = True
        else:
            probe.release()
            seen[claimant] = False
    return seen[claimant]
