"""Opening one new SQLite file from several processes at the same moment."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, mtpipe_env

ROUNDS = 40
OPENERS = 3

# each opener waits for round N's go file, then opens (and writes the schema of) file N
_OPENER = """
import sys, time
from pathlib import Path
from pipeline.sqlitedb import connect
who, here, rounds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
failed = 0
for n in range(rounds):
    (here / f"ready-{n}-{who}").touch()
    while not (here / f"go-{n}").exists():
        time.sleep(0.0001)
    try:
        db = connect(here / f"{n}.sqlite", timeout=30)
        db.executescript("CREATE TABLE IF NOT EXISTS t (a TEXT PRIMARY KEY);")
        db.execute("INSERT OR IGNORE INTO t VALUES (?)", (who,))
        db.close()
    except Exception as exc:
        failed += 1
        print(n, exc, file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def test_processes_opening_a_new_file_at_once_all_get_it(tmp_path: Path) -> None:
    """The switch to WAL answers 'database is locked' at once to one of two openers
    (SQLite's deadlock avoidance, no busy wait); connect waits and retries instead."""
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(who), str(tmp_path), str(ROUNDS)],
            cwd=ROOT,
            env=mtpipe_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in range(OPENERS)
    ]
    for n in range(ROUNDS):
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob(f"ready-{n}-*"))) < OPENERS and time.monotonic() < deadline:
            time.sleep(0.001)
        (tmp_path / f"go-{n}").touch()
    errors = [opener.communicate(timeout=120)[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0] * OPENERS, errors
    for n in range(ROUNDS):
        db = sqlite3.connect(tmp_path / f"{n}.sqlite")
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM t").fetchone() == (OPENERS,)
        db.close()
