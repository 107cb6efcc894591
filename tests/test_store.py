"""The result store seam (SQLite checkpoint) and the run lock, through their public methods."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.checkpoint import Checkpoint
from pipeline.errors import CheckpointError, LockedError
from pipeline.models import Result, Status, Usage
from pipeline.runlock import RunLock, lock_path
from pipeline.store import ResultStore, record
from tests.conftest import Sim, mtpipe


def _result(key: str, attempt: str, tokens: int = 10, status: Status = Status.DONE) -> Result:
    text = f"t-{key}-{attempt}" if status is not Status.FAILED_TRANSIENT else None
    return Result(key, status, text, Usage(tokens, tokens // 2), 1, attempt=attempt)


def _tokens(store: ResultStore, key: str) -> tuple[int, int]:
    row = store.lookup(pl.Series([key])).row(0, named=True)
    return row["prompt_tokens"], row["attempts"]


def test_a_replayed_block_counts_its_tokens_once(tmp_path: Path) -> None:
    block = [_result("a", "r1.0"), _result("b", "r1.0"), _result("c", "r1.1")]
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put(block)
        store.put(block)  # replayed: nothing changes
        store.put(block[1:2])
        assert [_tokens(store, k) for k in "abc"] == [(10, 1)] * 3


def test_a_new_attempt_adds_and_replaces_an_old_one_replayed_changes_nothing(
    tmp_path: Path,
) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put([_result("a", "r1.0", 10, Status.FAILED_TRANSIENT)])
        store.put([_result("a", "r2.0", 20)])
        store.put([_result("a", "r1.0", 10, Status.FAILED_TRANSIENT)])  # an old shard merged late
        row = store.lookup(pl.Series(["a"])).row(0, named=True)
        assert (row["status"], row["translation"]) == ("done", "t-a-r2.0")
        assert (row["prompt_tokens"], row["completion_tokens"], row["attempts"]) == (30, 15, 2)


def test_a_result_without_attempt_id_always_adds(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put([_result("a", "")])
        store.put([_result("a", "")])
        assert _tokens(store, "a") == (20, 2)


def test_lookup_gives_the_columns_asked_for_the_keys_asked(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put([_result(f"k{i}", "x") for i in range(30)])
        few = store.lookup(pl.Series(["k1", None, "k2", "k1", "nope"]), columns=("status",))
        assert few.columns == ["key", "status"] and sorted(few["key"]) == ["k1", "k2"]
        most = store.lookup(pl.Series([f"k{i}" for i in range(25)]), columns=("translation",))
        assert most.height == 25 and set(most["translation"]) == {f"t-k{i}-x" for i in range(25)}
        assert store.lookup(pl.Series([], dtype=pl.String)).height == 0


def test_nothing_is_created_until_the_first_put(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "c.sqlite"
    with Checkpoint(path) as store:
        assert store.lookup(pl.Series(["a"])).height == 0
        assert store.pieces(["a"]) == {} and store.counts() == {}
        assert not path.exists() and not path.parent.exists()
        store.put([_result("a", "x")])
    assert path.exists()
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Checkpoint(tmp_path / "missing.sqlite", must_exist=True)


def test_pieces_of_the_units_asked_only(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put(
            [
                Result("u1/0", Status.PIECE, "p0", Usage(3, 2), 1),
                Result("u1/1", Status.PIECE, "p1", Usage(3, 2), 1),
                Result("u10/0", Status.PIECE, "other", Usage(1, 1), 1),
                Result("u1", Status.FAILED_TRANSIENT, None, Usage(), 1),
            ]
        )
        assert sorted(store.pieces(["u1"])) == ["u1/0", "u1/1"]
        assert store.pieces(["u1"])["u1/1"].translation == "p1"
        assert store.pieces(["nope"]) == {}


def _schema_2(path: Path) -> None:
    """A checkpoint as mtpipe wrote it before attempt ids."""
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema', '2');
            CREATE TABLE results (key TEXT PRIMARY KEY, status TEXT NOT NULL, translation TEXT,
                prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                attempts INTEGER NOT NULL, error TEXT, message TEXT,
                flags TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',
                lang TEXT NOT NULL DEFAULT '', source TEXT, updated REAL NOT NULL) WITHOUT ROWID;
            INSERT INTO results VALUES ('old', 'done', 'alt', 5, 2, 1, NULL, NULL, '', 'm',
                'German', NULL, 0);
            """
        )
    db.close()


def test_a_schema_2_checkpoint_is_read_then_upgraded_on_its_first_write(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _schema_2(path)
    with Checkpoint(path) as store:
        assert store.lookup(pl.Series(["old"]))["translation"].to_list() == ["alt"]
        store.put([_result("old", "r1"), _result("new", "r1")])
        store.put([_result("old", "r1")])
        assert _tokens(store, "old") == (15, 2)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchone() == ("3",)
    db.close()


def test_an_unknown_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with Checkpoint(path) as store:
        store.put([_result("a", "x")])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '9'")
    db.close()
    with pytest.raises(CheckpointError, match=r"schema 9 is not 3 .*new --checkpoint"):
        Checkpoint(path)


@pytest.mark.anyio
async def test_record_keeps_what_is_buffered_when_cancelled_and_puts_each_batch_once(
    tmp_path: Path,
) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        send, receive = anyio.create_memory_object_stream[list[Result]](10)
        async with send, anyio.create_task_group() as tg:
            tg.start_soon(lambda: record(store, receive, batch_size=2))
            await send.send([_result("a", "x", 7)])
            await send.send([_result("b", "", 7)])  # fills the batch: a commit
            await send.send([_result("c", "", 7)])
            await anyio.sleep(0)
            tg.cancel_scope.cancel()
        assert sorted(store.results()["key"]) == ["a", "b", "c"]
        assert [_tokens(store, k) for k in "abc"] == [(7, 1)] * 3


class _SlowStore:
    """A store whose first put waits until the test lets it go (a commit that takes time)."""

    def __init__(self) -> None:
        self.puts: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def put(self, results: list[Result]) -> None:
        if not self.puts:
            self.entered.set()
            self.release.wait(10)
        self.puts.append([r.key for r in results])


@pytest.mark.anyio
async def test_what_arrives_during_the_final_commit_is_committed_too() -> None:
    """Cancelled (an error elsewhere) while a stage still hands answers on: what arrives
    while the final commit runs is committed after it, not dropped."""
    store = _SlowStore()
    send, receive = anyio.create_memory_object_stream[list[Result]](10)
    recording = anyio.CancelScope()

    async def recorder() -> None:
        with recording:
            await record(store, receive, interval=60)  # type: ignore[arg-type]

    async with send, anyio.create_task_group() as tg:
        tg.start_soon(recorder)
        await send.send([_result("a", "x")])
        await anyio.wait_all_tasks_blocked()
        recording.cancel()  # the recorder commits "a" in its shielded final flush
        await anyio.to_thread.run_sync(store.entered.wait, 10)
        send.send_nowait([_result("b", "y")])  # an answer handed on meanwhile
        store.release.set()
    assert store.puts == [["a"], ["b"]]


def test_the_run_lock_refuses_a_second_holder_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with RunLock(path):
        assert lock_path(path).exists()
        with pytest.raises(LockedError, match=r"c\.sqlite: in use by pid \d+ on "):
            RunLock(path).acquire()
    assert not lock_path(path).exists()
    with RunLock(path):  # free again
        pass


def test_a_lock_file_removed_under_a_waiting_opener_is_not_shared(tmp_path: Path) -> None:
    """A stale inode (its file removed by the holder's release) is never taken as the lock."""
    path = tmp_path / "c.sqlite"
    first = RunLock(path)
    first.acquire()
    stale = lock_path(path).open("rb")  # opened before the release, like a racing run
    first.release()
    second = RunLock(path)
    second.acquire()
    try:
        with pytest.raises(LockedError):
            RunLock(path).acquire()
        assert lock_path(path).stat().st_ino != os.fstat(stale.fileno()).st_ino
    finally:
        stale.close()
        second.release()


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "{tmp}/out.xyz"),  # unsupported output extension
        ("-o", "{tmp}/out.csv", "--model", "qwen-sim-missing"),  # 404 from the endpoint
        ("-o", "{tmp}/out.csv", "--column", "nosuch"),  # bad option
    ],
    ids=["extension", "model-404", "column"],
)
def test_a_refused_run_leaves_no_checkpoint_and_no_lock(
    sim_factory: Callable[..., Sim], tmp_path: Path, args: tuple[str, ...]
) -> None:
    sim = sim_factory()
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,Hello world\n2,Good morning\n", encoding="utf-8")
    argv = [a.format(tmp=tmp_path) for a in args]
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url, *argv)
    assert run.code != 0 and "Traceback" not in run.stderr, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"], run.stderr


# --- put is idempotent by attempt id: any sequence of blocks, replays and merged shards ----

_KEYS = ("a", "b", "c", "d")
_ATTEMPTS = ("", "r1.0", "r1.1", "r2.0", "shard-0:a", "shard-1:a")
_STATUSES = (Status.DONE, Status.FAILED_TRANSIENT, Status.FAILED_PERMANENT)
_puts = st.lists(
    st.tuples(st.sampled_from(_KEYS), st.sampled_from(_ATTEMPTS), st.integers(0, 50)),
    min_size=1,
    max_size=8,
)


def _stored(block: tuple[str, str, int], status: Status) -> Result:
    key, attempt, tokens = block
    text = f"t-{key}-{attempt}-{tokens}" if status is Status.DONE else None
    return Result(key, status, text, Usage(tokens, tokens // 2), 1, attempt=attempt)


def _expected(blocks: list[list[Result]]) -> dict[str, tuple[int, int, int, str | None]]:
    """What the store holds after ``blocks``: per key (prompt, completion, attempts, text),
    each (key, attempt id) counted once, a result without an id every time, the outcome
    of the last put that counted."""
    seen: set[tuple[str, str]] = set()
    held: dict[str, tuple[int, int, int, str | None]] = {}
    for block in blocks:
        for r in block:
            if r.attempt and (r.key, r.attempt) in seen:
                continue
            seen.add((r.key, r.attempt))
            prompt, completion, attempts, _ = held.get(r.key, (0, 0, 0, None))
            usage = r.usage
            held[r.key] = (
                prompt + usage.prompt_tokens,
                completion + usage.completion_tokens,
                attempts + r.attempts,
                r.translation,
            )
    return held


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    blocks=st.lists(st.tuples(_puts, st.sampled_from(_STATUSES)), min_size=1, max_size=6),
    replays=st.lists(st.integers(0, 5), max_size=4),
)
def test_any_blocks_replayed_in_any_order_count_each_attempt_once(
    tmp_path_factory: pytest.TempPathFactory,
    blocks: list[tuple[list[tuple[str, str, int]], Status]],
    replays: list[int],
) -> None:
    """Blocks put, some put again later (a replayed block after a crash, a retried Ray
    task): the tokens and attempts of each (key, attempt id) are counted once."""
    made = [[_stored(put, status) for put in puts] for puts, status in blocks]
    sequence = made + [made[i % len(made)] for i in replays]
    path = tmp_path_factory.mktemp("store") / "c.sqlite"
    with Checkpoint(path) as store:
        for block in sequence:
            store.put(block)
        got = store.lookup(pl.Series(_KEYS))
    rows = {
        row["key"]: (
            row["prompt_tokens"],
            row["completion_tokens"],
            row["attempts"],
            row["translation"],
        )
        for row in got.iter_rows(named=True)
    }
    assert rows == _expected(sequence)


def _as_copies(frame: pl.DataFrame, origin: str) -> list[Result]:
    """A shard's rows as results to merge, each attempt id naming the shard and the key
    (as the Ray engine copies a peer's results), so a second merge changes nothing."""
    return [
        Result(
            row["key"],
            Status(row["status"]),
            row["translation"],
            Usage(row["prompt_tokens"], row["completion_tokens"]),
            row["attempts"],
            attempt=f"{origin}:{row['key']}",
        )
        for row in frame.iter_rows(named=True)
    ]


@pytest.mark.parametrize("order", ["0 then 1", "1 then 0"])
def test_merged_shards_count_their_tokens_once_however_often_merged(
    tmp_path: Path, order: str
) -> None:
    shards = [tmp_path / "shard-0.sqlite", tmp_path / "shard-1.sqlite"]
    with Checkpoint(shards[0]) as zero, Checkpoint(shards[1]) as one:
        zero.put([_result("a", "r1.0", 10), _result("b", "r1.0", 20)])
        one.put([_result("c", "r2.0", 30)])
        one.put([_result("c", "r2.0", 30)])  # a replayed block inside the shard
    first, second = shards if order == "0 then 1" else shards[::-1]
    with Checkpoint(tmp_path / "merged.sqlite") as merged:
        for shard in (first, second, first, second):  # each shard merged twice
            with Checkpoint(shard, must_exist=True) as source:
                merged.put(_as_copies(source.results(), shard.stem))
        rows = merged.results().sort("key")
        assert rows["key"].to_list() == ["a", "b", "c"]
        assert rows["prompt_tokens"].to_list() == [10, 20, 30]
        assert rows["attempts"].to_list() == [1, 1, 1]
        assert merged.summary().tokens == {"": (60, 30)}


def test_lookups_block_by_block_give_what_one_read_of_everything_gives(tmp_path: Path) -> None:
    """Per-block lookups (the data path never loads every key) agree with a full read,
    whether a block is a few keys (looked up) or most of the store (one scan)."""
    keys = [f"k{i:03}" for i in range(120)]
    with Checkpoint(tmp_path / "c.sqlite") as store:
        for start in range(0, len(keys), 7):
            store.put([_result(k, f"r.{start}", len(k) + start) for k in keys[start : start + 7]])
        every = store.results().sort("key")
        for size in (1, 5, 40, 100, 120):
            blocks = [keys[i : i + size] for i in range(0, len(keys), size)]
            parts = [store.lookup(pl.Series(block)) for block in blocks]
            assert pl.concat(parts).sort("key").equals(every), size
