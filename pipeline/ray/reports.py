"""The run report of ``--engine ray``: each block's report, added up on the driver.

    block:  save(report, folder, block)     # folder/<block>.json, replaced by a retry
    driver: merged(folder, job, seconds)    # one Report, as the local engine writes it

Each block translator writes the report of its block under the run's own
folder, named by the block's digest, so a block Ray retried (its worker
killed) replaces its earlier report instead of counting twice.  The driver
adds the counts, tokens, retries, failures and flags, prices the tokens as
the local engine does, and takes the exit code from the sums, so the JSON
report and the summary line have the local engine's fields and meaning.
``reused`` is the local engine's too (``as_local``): the cells whose unit an
earlier run had done (stored in some shard before the run started); a cell
another block of the same run translated counts as ``new``.  ``units`` adds
each block's distinct texts.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from ..config import Job
from ..config import cost_usd as priced
from ..formats import source_for
from ..keying import key
from ..models import Status
from ..report import Report
from ..specs import Specs

__all__ = ["as_local", "merged", "save"]

_ADDED = (
    "rows", "cells", "blank_cells", "units", "translated", "reused", "cached", "new",
    "failed", "to_translate", "requests", "deduplicated", "prompt_tokens",
    "completion_tokens", "not_sent",
)  # fmt: skip
_COUNTERS = ("retries", "failures", "flags")


def save(report: Report, folder: Path, block: str) -> None:
    """``report`` as ``folder/<block>.json`` (written whole, then renamed into place)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{block}.json.tmp"
    tmp.write_text(json.dumps(report.as_dict()), encoding="utf-8")
    tmp.replace(folder / f"{block}.json")


def as_local(report: Report, job: Job, shards: Sequence[Path], since: float) -> Report:
    """The block's ``report`` with ``reused`` as the local engine counts it: its cells whose
    unit a shard held done before ``since`` (the run's start, a clock time); the cells it
    copied from what this run stored (another block's units, or this actor's earlier
    block's) move to ``new`` and ``to_translate``, and count as ``deduplicated`` (sent
    once, for another cell).  ``job`` is the block's: its input is the block's rows."""
    specs = Specs.of(job)
    table = source_for(job.input, "parquet").read(job.input, specs.read.options)
    plan = key(specs.translate, table).plan
    if not plan.keys:
        return report
    keys = json.dumps(pl.concat(plan.keys).drop_nulls().unique().to_list())
    found: set[str] = set()
    for shard in shards:
        found |= _done_before(shard, keys, since)
    held = pl.Series(sorted(found), dtype=pl.String).implode()
    moved = report.reused - sum(int(k.is_in(held).sum()) for k in plan.keys)
    return replace(
        report,
        reused=report.reused - moved,
        new=report.new + moved,
        to_translate=report.to_translate + moved,
        deduplicated=report.deduplicated + moved,  # their units were sent by other blocks
    )


def _done_before(shard: Path, keys: str, since: float) -> set[str]:
    """Which of ``keys`` (a JSON list) ``shard`` holds done since before ``since`` (the
    checkpoint's ``updated`` column, which ``lookup`` does not return)."""
    query = (
        "SELECT key FROM results WHERE status = ? AND updated < ?"
        " AND key IN (SELECT value FROM json_each(?))"
    )
    db = sqlite3.connect(f"{shard.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return {row[0] for row in db.execute(query, (Status.DONE.value, since, keys))}
    except sqlite3.OperationalError as exc:  # a shard a starting actor has not set up yet
        if "no such table" in str(exc):
            return set()
        raise
    finally:
        db.close()


def merged(folder: Path, job: Job, *, wall_seconds: float) -> Report:
    """The run's report from its blocks' reports under ``folder``."""
    blocks = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    sums: dict[str, Any] = {name: sum(int(b[name]) for b in blocks) for name in _ADDED}
    for name in _COUNTERS:
        sums[name] = sum((Counter(b[name]) for b in blocks), Counter())
    stops = {b["stopped"] for b in blocks if b["stopped"]}
    stopped = "interrupted" if "interrupted" in stops else min(stops, default=None)
    exit_code = 0 if sums["failed"] == sums["not_sent"] == 0 else 3
    cost = priced(job.model, sums["prompt_tokens"], sums["completion_tokens"], prices=job.prices)
    return Report(
        input=str(job.input),
        output=str(job.output),
        model=job.model,
        **sums,
        cost_usd=cost,
        wall_seconds=wall_seconds,
        stopped=stopped,
        exit_code=130 if stopped == "interrupted" else exit_code,
    )
