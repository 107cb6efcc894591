"""The runner: the only module that knows every stage.

read table -> plan cells -> skip what the checkpoint has -> translate
concurrently -> record in the checkpoint -> merge into the output + report
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import polars as pl
from anyio.streams.memory import MemoryObjectSendStream

from . import checkpoint as ckpt
from .client import Client, RetryPolicy, make_http_client
from .config import Job, cost_usd, model_info
from .errors import OutputError
from .merge import merge_results
from .models import Outcome, Request, Result, Settings, Status
from .planner import (
    CellPlan,
    Chunking,
    Packing,
    fingerprint,
    make_request,
    plan_cells,
    plan_requests,
)
from .prompts import check_template, context_columns, load_template
from .reader import Table, read_table
from .splitter import Joiner, halves, piece_results
from .worker import Handler, run_pool
from .writer import write_table

__all__ = ["Report", "run"]


@dataclass(slots=True)
class Report:
    """What one run did; written as JSON beside the output."""

    input: str
    output: str
    rows: int = 0
    cells: int = 0
    blank_cells: int = 0
    units: int = 0
    translated: int = 0
    reused: int = 0
    failed: int = 0
    to_translate: int = 0
    requests: int = 0
    deduplicated: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    wall_seconds: float = 0.0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["retries"] = dict(self.retries)
        data["failures"] = dict(self.failures)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["wall_seconds"] = round(self.wall_seconds, 3)
        return data

    def summary(self) -> str:
        return (
            f"mtpipe: {self.translated}/{self.cells} cells translated "
            f"({self.reused} reused, {self.failed} failed) in {self.requests} requests; "
            f"{self.prompt_tokens}+{self.completion_tokens} tokens billed "
            f"(~${self.cost_usd:.4f}); {self.wall_seconds:.1f}s -> {self.output}"
        )


def run(job: Job, *, handle_signals: bool = False) -> Report:
    """Run ``job`` to the end and return its report (also written to ``job.report``)."""
    return anyio.run(_run, job, handle_signals)


async def _run(job: Job, handle_signals: bool) -> Report:
    started = time.monotonic()
    report = Report(input=str(job.input), output=str(job.output))
    table = read_table(
        job.input,
        format=job.input_format,
        columns=job.columns,
        delimiter=job.delimiter,
        encoding=job.encoding,
    )
    settings, context = _settings(job, table)
    plan = _plan(job, table, settings, context)
    with ckpt.Checkpoint(job.checkpoint) as checkpoint:
        todo = _todo(plan, checkpoint, job, report)
        if todo.height:
            await _translate(job, settings, todo, checkpoint, report, handle_signals)
        results = checkpoint.results(plan.units["key"].to_list())
    sources = [table.texts(column) for column, _ in plan.pairs]
    added = merge_results(plan.pairs, plan.keys, sources, results)
    _count_outcomes(plan, results, report)
    escape = [name for name in added.columns if not name.startswith("mt_")]
    write_table(
        table,
        added,
        job.output,
        format=job.output_format,
        escape_formulas=job.escape_formulas,
        escape_columns=escape,
    )
    report.wall_seconds = time.monotonic() - started
    report.cost_usd = cost_usd(job.model, report.prompt_tokens, report.completion_tokens)
    _write_report(job, report)
    return report


def _settings(job: Job, table: Table) -> tuple[Settings, tuple[str, ...]]:
    template_text, context = "", tuple[str, ...]()
    if job.template is not None:
        template = load_template(job.template)
        check_template(template, table.frame.columns, origin=str(job.template))
        template_text, context = template.text, tuple(sorted(context_columns(template)))
    settings = Settings(
        model=job.model,
        style=job.style,
        template=template_text,
        source_lang=job.source_lang,
        params=job.params,
        extra=job.extra,
    )
    return settings, context


def _plan(job: Job, table: Table, settings: Settings, context: tuple[str, ...]) -> CellPlan:
    contexts = None
    if context:
        values = pl.DataFrame([table.texts(c).fill_null("").alias(c) for c in context])
        contexts = pl.Series(
            [json.dumps(dict(zip(context, row, strict=True))) for row in values.iter_rows()],
            dtype=pl.String,
        )
    texts = {column: table.texts(column) for column in table.columns}
    targets = [(lang.code, lang.name) for lang in job.targets]
    return plan_cells(texts, targets, fp=fingerprint(settings), contexts=contexts)


def _todo(plan: CellPlan, checkpoint: ckpt.Checkpoint, job: Job, report: Report) -> pl.DataFrame:
    statuses = checkpoint.statuses()
    skip = statuses.filter(pl.col("status").is_in(ckpt.done_status(job.retry_failed)))
    done = statuses.filter(pl.col("status") == Status.DONE.value)["key"]
    todo = plan.units.join(skip, on="key", how="anti", maintain_order="left")
    report.rows = len(plan.keys[0]) if plan.keys else 0
    report.cells = sum(int(k.is_not_null().sum()) for k in plan.keys)
    report.blank_cells = report.rows * len(plan.keys) - report.cells
    report.units = plan.units.height
    report.reused = sum(int(k.is_in(done.implode()).sum()) for k in plan.keys) if done.len() else 0
    report.to_translate = int(todo["cells"].sum()) if todo.height else 0
    report.deduplicated = report.to_translate - todo.height
    return todo


def _count_outcomes(plan: CellPlan, results: pl.DataFrame, report: Report) -> None:
    status = results.select("key", "status", "error")
    for keys in plan.keys:
        joined = keys.alias("key").to_frame().join(status, on="key", how="left")
        joined = joined.filter(pl.col("key").is_not_null())
        report.translated += int((joined["status"] == "done").sum())
        failed = joined.filter(pl.col("status").fill_null("") != "done")
        report.failed += failed.height
        for reason in failed["error"].fill_null("not translated").to_list():
            report.failures[reason] += 1


async def _translate(
    job: Job,
    settings: Settings,
    todo: pl.DataFrame,
    checkpoint: ckpt.Checkpoint,
    report: Report,
    handle_signals: bool,
) -> None:
    packing = Packing(
        enabled=job.pack if job.pack is not None else model_info(job.model).family == "mt",
        max_segments=job.pack_segments,
        max_tokens=job.pack_tokens,
    )
    requests = plan_requests(todo, settings, chunking=Chunking(job.chunk_chars), packing=packing)
    stopping = anyio.Event()
    send, receive = anyio.create_memory_object_stream[Result](job.concurrency * 4)
    with _progress(job, report.to_translate) as bar:
        handle = _handler(settings, report, bar, send)
        async with (
            make_http_client(concurrency=job.concurrency, timeout=job.timeout) as http,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(ckpt.record, checkpoint, receive)
            client = Client(
                http,
                base_url=job.base_url,
                api_key=job.api_key,
                retry=RetryPolicy(max_attempts=job.max_attempts),
                timeout=job.timeout,
            )
            async with send, anyio.create_task_group() as pool:
                if handle_signals:
                    pool.start_soon(_watch_signals, stopping, pool.cancel_scope)
                await run_pool(
                    requests, handle, client=client, concurrency=job.concurrency, stopping=stopping
                )
                pool.cancel_scope.cancel()  # the signal watcher
    report.interrupted = stopping.is_set()


def _handler(
    settings: Settings, report: Report, bar: _Bar, send: MemoryObjectSendStream[Result]
) -> Handler:
    """What happens to each outcome: count it, join pieces, send unit results to the checkpoint."""
    joiner = Joiner()

    async def handle(request: Request, outcome: Outcome) -> Sequence[Request]:
        report.requests += 1
        report.retries.update(outcome.retries)
        report.prompt_tokens += outcome.billed.prompt_tokens
        report.completion_tokens += outcome.billed.completion_tokens
        pieces = piece_results(request, outcome)
        if pieces is None:  # a pack that did not align or was refused: resend in halves
            joiner.reject(request, outcome)
            report.retries[f"pack_{outcome.error_reason or 'misaligned'}"] += 1
            return [make_request(half, settings) for half in halves(request.pieces)]
        for piece in pieces:
            result = joiner.add(piece)
            if result is not None:
                await send.send(result)
                bar.update(piece.piece.unit.cells, failed=result.status is not Status.DONE)
        return ()

    return handle


async def _watch_signals(stopping: anyio.Event, pool: anyio.CancelScope) -> None:
    """First SIGINT/SIGTERM: start no new request, finish those in flight. Second: stop now."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stopping.is_set():
                pool.cancel()
                return
            print(
                "mtpipe: stopping after the requests in flight (again to stop now)", file=sys.stderr
            )
            stopping.set()


class _Bar:
    """A tqdm bar on stderr, or nothing when stderr is not a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.failed = 0
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="cell", file=sys.stderr, dynamic_ncols=True)

    def update(self, n: int, *, failed: bool) -> None:
        self.failed += n if failed else 0
        if self._bar is not None:
            self._bar.update(n)
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def _progress(job: Job, total: int) -> Iterator[_Bar]:
    bar = _Bar(total, job.progress)
    try:
        yield bar
    finally:
        bar.close()


def _write_report(job: Job, report: Report) -> None:
    try:
        job.report.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.report.with_name(f".{job.report.name}.tmp")
        tmp.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(job.report)
    except OSError as exc:
        raise OutputError(f"{job.report}: cannot write the report ({exc.strerror})") from exc
