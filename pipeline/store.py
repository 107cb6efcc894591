"""The result store seam: unit results by key, and the one task that writes them.

    store.lookup(keys)   -> the stored results of those keys (RESULT_SCHEMA frame)
    store.put(results)   -> store them, in one transaction

A store is content-addressed (keys hash settings, language and source text),
so resume, incremental runs and ``--retry-failed`` are "look the keys up,
send what is missing".  ``put`` is idempotent by ``Result.attempt``: a
result whose attempt id the store already holds for its key changes nothing,
so a replayed block or a merged shard counts its tokens and attempts once,
while a later attempt adds what it billed to the key's total.  Lookups are
per block of keys; nothing asks a store for every key it holds.

The SQLite store is ``checkpoint.Checkpoint``; a sharded or remote store
(one per Ray worker, merged at the end) is one more class with these two
methods.  ``record`` is the writer task: one per run, batched commits, a
final flush that survives cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import anyio
import polars as pl
from anyio.streams.memory import MemoryObjectReceiveStream

from .models import Result, Status

__all__ = ["RESULT_SCHEMA", "ResultStore", "done_status", "record"]

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


class ResultStore(Protocol):
    def lookup(self, keys: pl.Series, *, columns: Sequence[str] = ...) -> pl.DataFrame:
        """The stored results of ``keys`` (nulls and unknown keys ignored), ``columns`` of
        RESULT_SCHEMA (all by default), one row per stored key, in no set order."""
        ...

    def put(self, results: Sequence[Result]) -> None:
        """Store ``results`` at once; a (key, attempt) already stored is left as it is."""
        ...


def done_status(retry_failed: bool) -> tuple[str, ...]:
    """Statuses whose keys a run must not request again."""
    if retry_failed:
        return (Status.DONE.value,)
    return (Status.DONE.value, Status.FAILED_PERMANENT.value)


async def record(
    store: ResultStore,
    results: MemoryObjectReceiveStream[Sequence[Result]],
    *,
    batch_size: int = 1000,
    interval: float = 0.1,
) -> None:
    """Write every result received (in lists: one per request) to ``store`` in batches.

    A batch is committed when it holds ``batch_size`` results or when its
    oldest result has waited ``interval`` seconds, in a worker thread so the
    event loop keeps sending meanwhile (what arrives during a commit forms the
    next batch, so batches grow with the rate while a ``kill -9`` loses only
    about ``interval`` seconds of answers); the final flush is shielded from
    cancellation and takes what is still buffered in the stream, so Ctrl-C,
    SIGTERM and an error elsewhere in the run keep every result received.
    """
    pending: list[Result] = []
    deadline = math.inf
    async with results:
        try:
            while True:
                with anyio.move_on_after(deadline - anyio.current_time()):
                    try:
                        received = await results.receive()
                    except anyio.EndOfStream:
                        break
                    if not pending:
                        deadline = anyio.current_time() + interval
                    pending.extend(received)
                    pending.extend(_drain(results))  # what queued meanwhile: no wait each
                    if len(pending) < batch_size:
                        continue
                batch, pending, deadline = pending, [], math.inf
                await anyio.to_thread.run_sync(store.put, batch)
        finally:
            pending.extend(_drain(results))  # what is still buffered when cancelled
            with anyio.CancelScope(shield=True):
                while pending:  # and what a stage still hands on during that commit
                    await anyio.to_thread.run_sync(store.put, pending)
                    pending = _drain(results)


def _drain(results: MemoryObjectReceiveStream[Sequence[Result]]) -> list[Result]:
    drained: list[Result] = []
    while True:
        try:
            drained.extend(results.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            return drained
