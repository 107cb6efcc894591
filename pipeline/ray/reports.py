"""The run report of ``--engine ray``: each block's report, added up on the driver.

    block:  save(report, folder, block)     # folder/<block>.json, replaced by a retry
    driver: merged(folder, job, seconds)    # one Report, as the local engine writes it

Each block translator writes the report of its block under the run's own
folder, named by the block's digest, so a block Ray retried (its worker
killed) replaces its earlier report instead of counting twice.  The driver
adds the counts, tokens, retries, failures and flags, prices the tokens as
the local engine does, and takes the exit code from the sums, so the JSON
report and the summary line have the local engine's fields and meaning.  A
cell another block of the same run translated counts as ``reused`` in the
block that copied it; ``units`` adds each block's distinct texts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..config import Job
from ..config import cost_usd as priced
from ..report import Report

__all__ = ["merged", "save"]

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
