from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import polars as pl
import pytest

from pipeline.checkpoint import Checkpoint, done_status, record
from pipeline.errors import CheckpointError
from pipeline.models import Result, Status, Usage


def _result(key: str, status: Status = Status.DONE, tokens: int = 10) -> Result:
    text = f"t-{key}" if status is Status.DONE else None
    return Result(key, status, text, Usage(tokens, tokens // 2), 1, None if text else "http_500")


def test_put_and_read_back(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        cp.put([_result("a"), _result("b", Status.FAILED_PERMANENT)])
        frame = cp.results()
        assert sorted(frame["key"].to_list()) == ["a", "b"]
        assert cp.counts() == {"done": 1, "failed_permanent": 1}
        assert cp.results(pl.Series(["a"]))["translation"].to_list() == ["t-a"]
        assert cp.integrity_check() == "ok"
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_results_by_key_scan_or_lookup_agree(tmp_path: Path) -> None:
    """A few keys are looked up one by one, most of the table is read in one scan:
    the same rows either way, nulls and unknown keys ignored, and a write in
    between is seen (the stored count is not stale)."""
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        cp.put(
            [_result(f"k{i}", Status.DONE if i % 3 else Status.FAILED_PERMANENT) for i in range(50)]
        )
        few = pl.Series(["k1", "k3", None, "nope", "k3"])  # 2 of 50 known: looked up
        many = pl.Series([f"k{i}" for i in range(40)] + [None, "nope"])  # 40 of 50: a scan
        for keys in (few, many):
            got = cp.results(keys).sort("key")
            every = cp.results().filter(pl.col("key").is_in(keys.drop_nulls().implode()))
            assert got.equals(every.sort("key"))
        assert cp.results(few).height == 2 and cp.results(many).height == 40
        cp.put([_result("k999")])
        assert cp.results(pl.Series(["k999"]))["translation"].to_list() == ["t-k999"]


def test_retry_adds_billed_usage_and_attempts(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        cp.put([_result("a", Status.FAILED_TRANSIENT, tokens=10)])
        cp.put([_result("a", Status.DONE, tokens=20)])
        row = cp.results().row(0, named=True)
        assert row["status"] == "done"
        assert row["prompt_tokens"] == 30 and row["attempts"] == 2


def test_done_status_respects_retry_failed() -> None:
    assert done_status(False) == ("done", "failed_permanent")
    assert done_status(True) == ("done",)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CheckpointError, match="cannot open the checkpoint"):
        Checkpoint(bad)


@pytest.mark.anyio
async def test_record_batches_and_flushes_on_close(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        send, receive = anyio.create_memory_object_stream[list[Result]](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: record(cp, receive, batch_size=3, interval=60))
            async with send:
                for key in "abcde":
                    await send.send([_result(key)])
                await anyio.sleep(0.05)
                # a full batch of 3 is committed; the other 2 wait for the batch or the end
                assert cp.counts() == {"done": 3}
        assert cp.counts() == {"done": 5}


@pytest.mark.anyio
async def test_record_flushes_an_idle_batch(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        send, receive = anyio.create_memory_object_stream[list[Result]](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: record(cp, receive, batch_size=100, interval=0.05))
            async with send:
                await send.send([_result("a")])
                await anyio.sleep(0.3)
                assert cp.counts() == {"done": 1}


@pytest.mark.anyio
async def test_record_final_flush_survives_cancellation(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        send, receive = anyio.create_memory_object_stream[list[Result]](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: record(cp, receive, batch_size=100, interval=60))
            await send.send([_result("a")])
            await send.send([_result("b")])
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        send.close()
        assert cp.counts() == {"done": 2}


@pytest.mark.anyio
async def test_record_commits_a_busy_stream_every_interval(tmp_path: Path) -> None:
    """Results arriving faster than the interval still reach disk on time."""
    with Checkpoint(tmp_path / "c.sqlite") as cp:
        send, receive = anyio.create_memory_object_stream[list[Result]](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: record(cp, receive, batch_size=10_000, interval=0.2))
            async with send:
                for i in range(40):
                    await send.send([_result(str(i))])
                    await anyio.sleep(0.01)
                assert cp.counts().get("done", 0) >= 10
