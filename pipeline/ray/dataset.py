"""``translate_dataset``: a Ray Dataset in, the same rows with their translations out.

    ds -> map_batches(_Blocks, one whole block per call, ``actors`` actors)
       -> per block: endpoint.run on a Parquet copy of the block (the local
          engine's own path: key -> plan -> translate -> store -> merge)

The job is built and checked on the driver (``build_job``, as the command
line does), then shipped to the actors without the API key (each worker reads
its own).  The cluster's pacing and budget stores are named actors
(``quota.py``); which block shows a unit's usage is in ``owners.sqlite``
(``owners.py``).  Each actor holds one result shard
under ``state`` (``shard-K.sqlite``, K the first slot no live actor holds),
so a later run over the same ``state`` finds what its slot paid for, and a
shard has one writer at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import ray.data

from .. import endpoint, runner
from ..checkpoint import Checkpoint
from ..config import Job
from ..errors import LockedError, UsageError
from ..models import Result, Status, Usage
from ..options import _api_key, build_job
from ..quota import QuotaStore
from ..report import Events
from ..runlock import RunLock
from ..store import done_status
from .owners import Claims, Owners
from .quota import cluster_store, pacing_name
from .reports import as_local, save

__all__ = ["translate_dataset", "translate_job"]

_NOT_HERE = ("input", "output", "input_format", "output_format", "checkpoint", "report")
_BLOCK = "block.parquet"
_POLL = 0.2  # seconds between looks at the claims a block waits for
Stores = tuple[QuotaStore | None, QuotaStore | None]  # (pacing, budget): shared by the actors


def translate_dataset(
    ds: ray.data.Dataset,
    *,
    to: str | Sequence[str],
    columns: str | Sequence[str] = ("text",),
    state: str | Path | None = None,
    actors: int = 1,
    **options: Any,
) -> ray.data.Dataset:
    """``ds`` with a ``{column}_{lang}`` column per text column and language, and the token,
    error and flag columns of ``mtpipe translate``; lazy, like any Ray Data transform.

    ``state``: a folder every worker can reach (a shared filesystem on a cluster) that
    holds the result shards; pass the same one to resume and to reuse what an earlier
    run paid for (default: a new temporary folder).  ``actors``: how many block
    translators run at once.  ``options`` are the job-file keys (``model=``,
    ``base_url=``, ``concurrency=``, ``sim=True``, ...), checked here, on the driver.
    """
    given = sorted(set(options) & set(_NOT_HERE))
    if given:
        raise UsageError(f"translate_dataset: {', '.join(given)} is the dataset's; leave it out")
    if actors < 1:
        raise UsageError(f"translate_dataset: actors={actors}; pass 1 or more")
    folder = Path(state) if state is not None else Path(tempfile.mkdtemp(prefix="mtpipe-ray-"))
    values = {"input": _BLOCK, "output": f"out-{_BLOCK}", "to": to, "progress": False}
    values |= {"columns": [columns] if isinstance(columns, str) else list(columns)}
    job = build_job(values | options, env=os.environ)
    return translate_job(ds, job, state=folder, actors=actors, key_file=options.get("api_key_file"))


def translate_job(
    ds: ray.data.Dataset,
    job: Job,
    *,
    state: Path,
    actors: int,
    key_file: str | Path | None = None,
    reports: Path | None = None,
) -> ray.data.Dataset:
    """``ds`` through ``job`` (checked on the driver; its input and output are the blocks'):
    the stage ``translate_dataset`` and ``--engine ray`` add.  ``reports``: a folder where
    each block leaves its run report (``reports.py``), for the driver to add up."""
    block_job = dataclasses.replace(
        job,
        api_key=None,  # each worker reads its own: never in the pickled job nor Ray's task args
        input_format=None,
        output_format=None,
        delimiter=None,
        encoding=None,
        failed_out=None,
        progress=False,
    )
    shipped: dict[str, Any] = {"job": block_job, "key_file": key_file}
    shipped |= {"state": str(state.resolve()), "stores": _stores(job)}
    shipped |= {"reports": str(reports.resolve()) if reports else None, "since": time.time()}
    return ds.map_batches(
        _Blocks,
        batch_size=None,  # one whole block per call: the block is the unit of retry
        batch_format="pyarrow",
        fn_constructor_kwargs=shipped,
        # one block at a time per actor: a block queued behind a busy actor waits idle
        compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
    )


def _stores(job: Job) -> Stores:
    """The cluster's pacing store (one per key and model) and this run's budget store."""
    pacing = None
    if job.rpm is not None or job.tpm is not None:
        pacing = cluster_store(pacing_name(job.base_url, job.model, job.api_key))
    budget = None
    if job.max_cost is not None:
        budget = cluster_store(f"mtpipe-budget-{uuid.uuid4().hex}")
    return pacing, budget


def _worker_key(job: Job, key_file: str | Path | None) -> str | None:
    """The API key as this worker reads it: from its own environment (or ``key_file``), so
    it never travels in the pickled job nor shows in Ray's task arguments or logs."""
    if job.sim:
        return None
    try:
        return _api_key(Path(key_file) if key_file else None, os.environ, sim=False)
    except UsageError as exc:
        raise UsageError(f"on Ray worker {socket.gethostname()}: {exc}") from None


class _Blocks:
    """One actor: translates each block it is handed through the local engine."""

    def __init__(
        self,
        *,
        job: Job,
        state: str,
        stores: Stores,
        key_file: str | Path | None,
        reports: str | None,
        since: float,
    ) -> None:
        self._job = dataclasses.replace(job, api_key=_worker_key(job, key_file))
        self._stores = stores
        self._owners = Owners(Path(state))
        self._claims = Claims(Path(state), uuid.uuid4().hex)
        self._slot, self._shard = _claim_slot(Path(state))
        self._reports = Path(reports) if reports else None
        self._since = since  # the run's start: what a shard held before it is reused

    def __call__(self, block: pa.Table) -> pa.Table:
        frame = pl.from_arrow(block)
        assert isinstance(frame, pl.DataFrame)  # a Table converts to a frame, never a Series
        with tempfile.TemporaryDirectory(prefix="mtpipe-block-") as folder:
            source, output = Path(folder) / _BLOCK, Path(folder) / f"out-{_BLOCK}"
            frame.write_parquet(source)
            job = dataclasses.replace(
                self._job,
                input=source,
                output=output,
                checkpoint=self._shard,
                report=Path(folder) / "report.json",
            )
            block_id = hashlib.blake2b(frame.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()

            def owns(keys: pl.Series) -> pl.Series:
                return pl.Series(self._owners.claim(block_id, keys.to_list()), dtype=pl.Boolean)

            def peers(keys: pl.Series) -> list[Result]:
                return self._peers(block_id, keys)

            try:
                with endpoint.serving(job) as served:
                    events = Events(bar=False, stream=io.StringIO())
                    pacing, budget = self._stores
                    report = runner.run(
                        served, events=events, owns=owns, peers=peers, quota=pacing, budget=budget
                    )
            finally:  # its results are stored: the blocks waiting for them may go on
                self._claims.release(block_id)
            if self._reports is not None:
                shards = sorted(self._shard.parent.glob("shard-*.sqlite"))
                save(as_local(report, job, shards, self._since), self._reports, block_id)
            return pl.read_parquet(output).to_arrow()

    def _peers(self, block: str, keys: pl.Series) -> list[Result]:
        """What the other shards under ``state`` hold for ``keys`` (none done here), once
        the running blocks that claimed some of the rest have stored them: a unit another
        block of the run is sending is waited for, not sent again (``Claims``)."""
        found = self._stored(keys)
        rest = keys.filter(
            ~keys.is_in(pl.Series([r.key for r in found], dtype=pl.String).implode())
        )
        others = waited = self._claims.take(block, rest.to_list())
        while others:
            time.sleep(_POLL)
            others = self._claims.waiting(others)
        return found + self._stored(pl.Series(waited, dtype=pl.String)) if waited else found

    def _stored(self, keys: pl.Series) -> list[Result]:
        """What the other shards hold for ``keys``.  Without ``retry_failed`` their
        failures count too, unless this shard has its own."""
        wanted = done_status(self._job.retry_failed)
        with Checkpoint(self._shard) as own:
            here = own.lookup(keys, columns=("status",))["key"].implode()
        found: dict[str, Result] = {}
        for shard in sorted(self._shard.parent.glob("shard-*.sqlite")):
            if shard == self._shard:
                continue
            with Checkpoint(shard, must_exist=True) as peer:
                rows = peer.lookup(keys).filter(pl.col("status").is_in(wanted))
            done = pl.col("status") == Status.DONE.value
            rows = rows.filter(done | ~pl.col("key").is_in(here))
            for row in rows.iter_rows(named=True):
                result = _result(row, origin=shard.stem)
                if result.status is Status.DONE or row["key"] not in found:
                    found[row["key"]] = result
        return list(found.values())

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: the kernel drops it anyway
            self._slot.release()
            self._claims.close()


def _result(row: dict[str, Any], *, origin: str) -> Result:
    """A stored row as a Result; its attempt id names the shard it came from, so copying
    it again (a retried block) changes nothing."""
    flags = tuple(f for f in (row["flags"] or "").split(",") if f)
    return Result(
        key=row["key"],
        status=Status(row["status"]),
        translation=row["translation"],
        usage=Usage(row["prompt_tokens"], row["completion_tokens"]),
        attempts=row["attempts"],
        flags=flags,
        attempt=f"{origin}:{row['key']}",
    )


def _claim_slot(state: Path, most: int = 4096) -> tuple[RunLock, Path]:
    """The first shard slot under ``state`` that no live actor holds: (its lock, its shard)."""
    for k in range(most):
        slot = RunLock(state / f"shard-{k}.slot")
        try:
            slot.acquire()
        except LockedError:
            continue
        return slot, state / f"shard-{k}.sqlite"
    raise LockedError(f"{state}: {most} actors hold a shard already; pass fewer actors")
