"""The runner: the only module that knows every stage.

read table -> plan cells -> skip what the checkpoint has -> translate
concurrently -> record in the checkpoint -> merge into the output + report
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import anyio
import polars as pl
from anyio.streams.memory import MemoryObjectSendStream

from . import qa
from .budget import Budget
from .cache import Cache, Filling, fill
from .cells import CellPlan, TermsFor, fingerprint, plan_cells
from .checkpoint import Checkpoint
from .client import Client, RetryPolicy, make_session
from .config import MODELS, Job, cost_usd, model_info
from .errors import OutputError, UsageError
from .formats import ReadOptions, Table, sink_for, source_for
from .glossary import load_glossary, load_memory
from .models import Outcome, Request, Result, Settings, Status
from .output import Owns, write_outputs
from .pacing import Pacer, Quota
from .packsize import PackSizer
from .planner import Chunking, Packing, plan_requests
from .prompts import check_template, context_columns, load_template
from .quota import QuotaStore
from .quotafile import FileQuotaStore, shared_path
from .report import Events, Report, write_report
from .review import Reviewer
from .runlock import RunLock
from .store import ResultStore, done_status, record
from .worker import Handler, run_pool

__all__ = ["Peers", "Report", "estimate", "run"]

# The results other stores hold for these unit keys (the Ray engine's other shards).
Peers = Callable[[pl.Series], Sequence[Result]]


def run(
    job: Job,
    *,
    handle_signals: bool = False,
    events: Events | None = None,
    owns: Owns | None = None,
    peers: Peers | None = None,
    quota: QuotaStore | None = None,
    budget: QuotaStore | None = None,
) -> Report:
    """Run ``job`` to the end and return its report (also written to ``job.report``).

    ``owns``: for a table that is one block of a dataset (the Ray engine), which units'
    billed usage its token columns show; by default every unit's, on its first row.
    ``peers``: the results other stores already hold for these keys (the Ray engine's
    other shards), copied into this run's store before it counts what to send.
    ``quota``, ``budget``: where the pacer's and the budget's state live when other
    processes share them (the Ray engine's cluster actor); else chosen from ``job``."""
    with _few_collections():
        return anyio.run(
            _run,
            job,
            handle_signals,
            events or Events(bar=job.progress),
            owns,
            peers,
            (quota, budget),
            backend_options={"use_uvloop": _has_uvloop()},
        )


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Fewer cyclic-GC passes while requests fly: each response allocates hundreds of
    short-lived objects, and the default threshold (700) made the collector about a
    tenth of the client's CPU.  Long-lived objects (modules, the table) are frozen out
    of the scans."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _has_uvloop() -> bool:
    """uvloop (Linux and macOS) makes the event loop about a third cheaper per request."""
    return importlib.util.find_spec("uvloop") is not None


async def _run(
    job: Job,
    handle_signals: bool,
    events: Events,
    owns: Owns | None,
    peers: Peers | None,
    stores: tuple[QuotaStore | None, QuotaStore | None] = (None, None),
) -> Report:
    started = time.monotonic()
    report = Report(input=str(job.input), output=str(job.output), model=job.model)
    _check_output_dir(job.output, job.output_format)
    table = _read(job)
    report.rejected, report.rejected_lines = len(table.rejected), list(table.rejected)
    settings, context = _settings(job, table)
    terms_for = _terms_for(job)
    plan = _plan(job, table, settings, context, terms_for)
    # the lock only now, about to send: a run refused earlier leaves no file behind
    with RunLock(job.checkpoint), Checkpoint(job.checkpoint) as checkpoint, _cache(job) as cache:
        if peers is not None:
            _adopt(plan, checkpoint, peers)
        pending = _count(plan, checkpoint, job, report, cache=cache, fill_into=checkpoint)
        events.start(job=job.name, report=report)
        if report.to_translate:
            stored = checkpoint.pieces(_long_units(plan, pending, job.chunk_chars))
            packing = _packing(job)
            requests = plan_requests(
                plan.units(pending),
                settings,
                chunking=Chunking(job.chunk_chars),
                packing=packing,
                terms_for=terms_for,
                stored_pieces=stored.keys(),
            )
            store: ResultStore = checkpoint
            if cache is not None and job.qa != "off":  # only translations QA passed fill it
                store = Filling(checkpoint, cache)
            await _translate(
                job, settings, requests, store, report, events, handle_signals, stored,
                packing.sizer, stores,
            )  # fmt: skip
            if packing.sizer is not None:
                report.packing = {k: v.as_dict() for k, v in packing.sizer.languages.items()}
        write_outputs(job, table, plan, checkpoint, report, terms_for, owns=owns)
        report.wall_seconds = time.monotonic() - started
        report.cost_usd = cost_usd(
            job.model, report.prompt_tokens, report.completion_tokens, prices=job.prices
        )
        report.settle()
        write_report(report, job.report)  # under the checkpoint's lock, like the output
        events.finish(report)
    return report


def _read(job: Job) -> Table:
    options = ReadOptions(
        columns=tuple(job.columns),
        ids=job.id_columns,
        delimiter=job.delimiter,
        encoding=job.encoding,
        skip_bad_lines=job.skip_bad_lines,
        rejects=job.rejects if job.skip_bad_lines else None,
    )
    return source_for(job.input, job.input_format).read(job.input, options)


def _check_output_dir(output: Path, output_format: str | None) -> None:
    """Fail before spending anything when the output cannot be written."""
    sink_for(output, output_format)  # an output format mtpipe cannot write: refused now
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"{output}: folder {output.parent} is not writable; pass another -o")


def _settings(job: Job, table: Table) -> tuple[Settings, tuple[str, ...]]:
    template_text, context = "", tuple[str, ...]()
    memory = load_memory(job.memory) if job.memory is not None else ()
    if job.template is not None:
        template = load_template(job.template)
        check_template(template, table.frame.columns, origin=str(job.template))
        template_text, context = template.text, tuple(sorted(context_columns(template)))
        guided = job.glossary is not None or memory or job.domain
        if guided and job.style == "prompt" and "requirements" not in template.variables:
            raise UsageError(
                f"{job.template}: a glossary, memory or domain is given but the template "
                "has no {requirements} variable to carry it; add {requirements}"
            )
    settings = Settings(
        model=job.model,
        style=job.style,
        template=template_text,
        source_lang=job.source_lang,
        params=job.params,
        extra=job.extra,
        domain=job.domain,
        memory=memory,
    )
    return settings, context


def _terms_for(job: Job) -> TermsFor | None:
    """The glossary entries found in a text's translatable prose (never inside a placeholder:
    ``title`` in ``%(title)s`` is not a term to translate)."""
    if job.glossary is None:
        return None
    glossary = load_glossary(job.glossary)
    return lambda text, lang: glossary.for_text(qa.prose(text), lang)


def _plan(
    job: Job,
    table: Table,
    settings: Settings,
    context: tuple[str, ...],
    terms_for: TermsFor | None,
) -> CellPlan:
    contexts = None
    if context:
        values = pl.DataFrame([table.texts(c).fill_null("").alias(c) for c in context])
        contexts = pl.Series(
            [json.dumps(dict(zip(context, row, strict=True))) for row in values.iter_rows()],
            dtype=pl.String,
        )
    texts = {column: table.texts(column) for column in table.columns}
    targets = [(lang.code, lang.name) for lang in job.targets]
    return plan_cells(
        texts, targets, fp=fingerprint(settings), contexts=contexts, terms_for=terms_for
    )


def _cache(job: Job) -> contextlib.AbstractContextManager[Cache | None]:
    """The translation cache of ``job`` (its simulator's entries apart), or None when off."""
    if job.cache is None:
        return contextlib.nullcontext()
    return Cache(job.cache, endpoint="sim" if job.sim else job.base_url)


def _count(
    plan: CellPlan,
    store: ResultStore,
    job: Job,
    report: Report,
    *,
    cache: ResultStore | None = None,
    fill_into: ResultStore | None = None,
) -> tuple[pl.Series, ...]:
    """Fill the report's cell counts; return, per pair, the cells still to translate.

    Cells the checkpoint lacks are looked up in ``cache``: hits are put into
    ``fill_into`` (none for an estimate) and counted as ``cached``, not sent."""
    statuses = _statuses(plan, store)
    skip = statuses.filter(pl.col("status").is_in(done_status(job.retry_failed)))["key"]
    done = statuses.filter(pl.col("status") == Status.DONE.value)["key"].implode()
    del statuses
    report.rows = plan.rows
    report.cells = sum(int(k.is_not_null().sum()) for k in plan.keys)
    report.blank_cells = report.rows * len(plan.keys) - report.cells
    report.units = sum(int(f.sum()) for f in plan.first)
    report.reused = sum(int(k.is_in(done).sum()) for k in plan.keys)
    pending = plan.pending(skip)
    if cache is not None:
        pending, report.cached = _from_cache(plan, pending, cache, fill_into, job.model)
    report.to_translate = sum(int(p.sum()) for p in pending)
    sending = sum(int((f & p).sum()) for f, p in zip(plan.first, pending, strict=True))
    report.new = report.to_translate
    report.deduplicated = report.to_translate - sending
    return pending


def _from_cache(
    plan: CellPlan,
    pending: tuple[pl.Series, ...],
    cache: ResultStore,
    into: ResultStore | None,
    model: str,
    block: int = 100_000,
) -> tuple[tuple[pl.Series, ...], int]:
    """The cells still to send once the cache is asked, and how many cells it answered."""
    units = [k.filter(f & p) for k, f, p in zip(plan.keys, plan.first, pending, strict=True)]
    blocks = (u.slice(start, block) for u in units for start in range(0, len(u), block))
    hits = fill(cache, blocks, into=into, model=model)
    if not len(hits):
        return pending, 0
    found = hits.implode()
    cached = [k.is_in(found).fill_null(False) & p for k, p in zip(plan.keys, pending, strict=True)]
    left = tuple(p & ~c for p, c in zip(pending, cached, strict=True))
    return left, sum(int(c.sum()) for c in cached)


def _statuses(plan: CellPlan, store: ResultStore, block: int = 200_000) -> pl.DataFrame:
    """The stored status of the plan's keys (``key``, ``status``), looked up block by block."""
    frames = [
        store.lookup(keys.slice(start, block).unique(), columns=("status",))
        for keys in plan.keys
        for start in range(0, len(keys), block)
    ]
    frame = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={"key": pl.String, "status": pl.String})
    )
    return frame.unique("key") if len(plan.keys) > 1 else frame


def _adopt(plan: CellPlan, store: ResultStore, peers: Peers) -> None:
    """Copy into ``store`` what ``peers`` hold of the plan's units that it has not done."""
    keys = (
        pl.concat(plan.keys).drop_nulls().unique() if plan.keys else pl.Series([], dtype=pl.String)
    )
    held = store.lookup(keys, columns=("status",)).filter(pl.col("status") == Status.DONE.value)
    missing = keys.filter(~keys.is_in(held["key"].implode()))
    if len(missing):
        store.put(peers(missing))


def _long_units(plan: CellPlan, pending: Sequence[pl.Series], max_chars: int) -> list[str]:
    """Keys of the units still to send that are long enough to be sent in pieces."""
    long = pl.col("text").str.len_chars() > max_chars
    return [k for units in plan.units(pending) for k in units.filter(long)["key"].to_list()]


async def _translate(
    job: Job,
    settings: Settings,
    requests: Iterator[Request],
    checkpoint: ResultStore,
    report: Report,
    events: Events,
    handle_signals: bool,
    stored: Mapping[str, Result],
    sizer: PackSizer | None = None,
    stores: tuple[QuotaStore | None, QuotaStore | None] = (None, None),
) -> None:
    stopping = anyio.Event()
    budget = Budget(job.max_cost, job.model, prices=job.prices, store=stores[1])
    send, receive = anyio.create_memory_object_stream[Sequence[Result]](job.concurrency * 4)
    chunking = Chunking(job.chunk_chars)
    reviewer = Reviewer(settings, chunking=chunking, qa_mode=job.qa, stored=stored, sizer=sizer)
    handle = _handler(reviewer, report, events, send, budget)
    sending = anyio.CancelScope()  # what a second signal cancels: never the writer
    async with (
        make_session(concurrency=job.concurrency) as http,
        anyio.create_task_group() as watching,
    ):
        if handle_signals:  # from before the first request until the last result is committed
            watching.start_soon(_watch_signals, stopping, sending)
        async with anyio.create_task_group() as tg:
            tg.start_soon(record, checkpoint, receive)
            pacer = _pacer(job, stores[0])
            client = Client(
                http,
                base_url=job.base_url,
                api_key=job.api_key,
                retry=RetryPolicy(max_attempts=job.max_attempts),
                timeout=job.timeout,
                pacer=pacer,
            )
            with sending:
                async with send, anyio.create_task_group() as pool:
                    pool.start_soon(_heartbeat, events, report, job.progress_seconds, pacer, client)
                    await run_pool(
                        requests,
                        handle,
                        client=client,
                        concurrency=job.concurrency,
                        stopping=stopping,
                        admit=budget.admit,
                    )
                    pool.cancel_scope.cancel()  # the heartbeat
        watching.cancel_scope.cancel()  # every result received is committed
    if budget.exhausted:
        report.stopped = "budget"
    elif stopping.is_set():
        report.stopped = "interrupted"


def _packing(job: Job) -> Packing:
    """--pack auto adapts the pack size per language (packsize.py); --pack on keeps it."""
    auto = job.pack is None
    return Packing(
        enabled=job.pack if job.pack is not None else model_info(job.model).family == "mt",
        max_segments=job.pack_segments,
        max_tokens=job.pack_tokens,
        sizer=PackSizer(ceiling=job.pack_segments, model=job.model) if auto else None,
    )


def _handler(
    reviewer: Reviewer,
    report: Report,
    events: Events,
    send: MemoryObjectSendStream[Sequence[Result]],
    budget: Budget,
) -> Handler:
    """What happens to each outcome: count it, review it, record unit results
    (stamped with the outcome's own attempt id, so the store puts them once)."""
    run = os.urandom(6).hex()
    attempts = itertools.count()

    async def handle(request: Request, outcome: Outcome) -> Sequence[Request]:
        await budget.settle(request, outcome)
        report.requests += 1
        report.retries.update(outcome.retries)
        report.prompt_tokens += outcome.billed.prompt_tokens
        report.completion_tokens += outcome.billed.completion_tokens
        reviewed = reviewer.review(request, outcome)
        report.retries.update(reviewed.retries)
        for note in reviewed.notes:
            events.warn(note)
        if reviewed.results:
            attempt = f"{run}.{next(attempts)}"
            with anyio.CancelScope(shield=True):  # a received answer is always recorded
                await send.send(
                    [replace(result, attempt=attempt) for result, _ in reviewed.results]
                )
        for result, cells in reviewed.results:
            events.advance(cells, failed=result.status is not Status.DONE)
        return reviewed.resend

    return handle


async def _heartbeat(
    events: Events, report: Report, seconds: float, pacer: Pacer | None, client: Client
) -> None:
    while True:
        await anyio.sleep(seconds)
        error = {"error": client.last_error} if client.last_error else {}
        if pacer is None:
            events.progress(report, **error)
            continue
        stats = pacer.statistics()
        events.progress(
            report,
            concurrency=stats.concurrency,
            rpm=round(stats.rpm_limit, 1) if stats.rpm_limit else None,
            throttled=sum(stats.throttled.values()),
            **error,
        )


def _pacer(job: Job, store: QuotaStore | None = None) -> Pacer | None:
    """Pacing only when a quota is given: unpaced runs start at full concurrency."""
    if job.rpm is None and job.tpm is None:
        return None
    quota = Quota(
        rpm=job.rpm,
        tpm=job.tpm,
        max_concurrency=job.concurrency,
        start_concurrency=min(4, job.concurrency),
    )
    if store is None and job.shared_quota:
        store = FileQuotaStore(shared_path(job.base_url, job.model, job.api_key))
    return Pacer(quota, store=store)


async def _watch_signals(stopping: anyio.Event, sending: anyio.CancelScope) -> None:
    """First SIGINT/SIGTERM: start no new request, finish those in flight. Second: stop
    sending now.  Until it is cancelled (once the writer has committed every result
    received) no signal ends the process: one arriving during the final commit waits."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stopping.is_set():
                sending.cancel()
            stopping.set()


def estimate(job: Job) -> dict[str, object]:
    """What ``job`` would send, from the table and the checkpoint alone: no request is made."""
    table = _read(job)
    settings, context = _settings(job, table)
    terms_for = _terms_for(job)
    plan = _plan(job, table, settings, context, terms_for)
    report = Report(input=str(job.input), output=str(job.output), model=job.model)
    # read only: no lock, no file created; cache hits are counted, not copied
    with Checkpoint(job.checkpoint) as checkpoint, _cache(job) as cache:
        pending = _count(plan, checkpoint, job, report, cache=cache)
    requests = prompt = completion = 0
    for request in plan_requests(
        plan.units(pending),
        settings,
        chunking=Chunking(job.chunk_chars),
        packing=_packing(job),
        terms_for=terms_for,
    ):
        requests += 1
        prompt += request.est_prompt_tokens
        completion += request.est_completion_tokens
    return {
        "rows": report.rows,
        "cells": report.cells,
        "unique_cells": report.units,
        "done_in_checkpoint": report.reused,
        "in_cache": report.cached,
        "to_translate": report.to_translate,
        "requests": requests,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": {m: round(cost_usd(m, prompt, completion), 6) for m in MODELS}
        | {job.model: round(cost_usd(job.model, prompt, completion, prices=job.prices), 6)},
        "model": job.model,
    }
