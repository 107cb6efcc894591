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
from .config import MODELS, Job, cost_usd
from .errors import OutputError, UsageError
from .formats import Table, sink_for, source_for
from .glossary import load_glossary, load_memory
from .models import Outcome, Request, Result, Settings, Status
from .output import Owns, write_outputs
from .pacing import Pacer
from .packsize import PackSizer
from .planner import Packing, plan_requests
from .prompts import check_template, context_columns, load_template
from .quotafile import FileQuotaStore
from .report import Events, Report, write_report
from .review import Reviewer
from .runlock import RunLock
from .specs import LimitsSpec, ReadSpec, Specs, StoreSpec, TranslateSpec
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
) -> Report:
    """Run ``job`` to the end and return its report (also written to ``job.report``).

    ``owns``: for a table that is one block of a dataset (the Ray engine), which units'
    billed usage its token columns show; by default every unit's, on its first row.
    ``peers``: the results other stores already hold for these keys (the Ray engine's
    other shards), copied into this run's store before it counts what to send."""
    specs = Specs.of(job)
    with _few_collections():
        return anyio.run(
            _run,
            specs,
            handle_signals,
            events or Events(bar=specs.ui.progress),
            owns,
            peers,
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
    specs: Specs, handle_signals: bool, events: Events, owns: Owns | None, peers: Peers | None
) -> Report:
    started = time.monotonic()
    spec, write = specs.translate, specs.write
    report = Report(input=str(write.input), output=str(write.output), model=spec.model)
    _check_output_dir(write.output, write.format)
    table = _read(specs.read)
    report.rejected, report.rejected_lines = len(table.rejected), list(table.rejected)
    settings, context = _settings(spec, table)
    terms_for = _terms_for(spec)
    plan = _plan(spec, table, settings, context, terms_for)
    checkpoint_path = specs.stores.checkpoint
    # the lock only now, about to send: a run refused earlier leaves no file behind
    with (
        RunLock(checkpoint_path),
        Checkpoint(checkpoint_path) as checkpoint,
        _cache(specs.stores) as cache,
    ):
        if peers is not None:
            _adopt(plan, checkpoint, peers)
        pending = _count(
            plan, checkpoint, specs.stores, report, model=spec.model, cache=cache,
            fill_into=checkpoint,
        )  # fmt: skip
        events.start(job=specs.ui.name, report=report)
        if report.to_translate:
            stored = checkpoint.pieces(_long_units(plan, pending, spec.chunking.max_chars))
            packing = _packing(spec)
            requests = plan_requests(
                plan.units(pending),
                settings,
                chunking=spec.chunking,
                packing=packing,
                terms_for=terms_for,
                stored_pieces=stored.keys(),
            )
            store: ResultStore = checkpoint
            if cache is not None and spec.qa != "off":  # only translations QA passed fill it
                store = Filling(checkpoint, cache)
            await _translate(
                specs, settings, requests, store, report, events, handle_signals, stored,
                packing.sizer,
            )  # fmt: skip
            if packing.sizer is not None:
                report.packing = {k: v.as_dict() for k, v in packing.sizer.languages.items()}
        write_outputs(write, table, plan, checkpoint, report, terms_for, owns=owns)
        report.wall_seconds = time.monotonic() - started
        report.cost_usd = cost_usd(
            spec.model, report.prompt_tokens, report.completion_tokens, prices=specs.limits.prices
        )
        report.settle()
        write_report(report, write.report)  # under the checkpoint's lock, like the output
        events.finish(report)
    return report


def _read(spec: ReadSpec) -> Table:
    return source_for(spec.path, spec.format).read(spec.path, spec.options)


def _check_output_dir(output: Path, output_format: str | None) -> None:
    """Fail before spending anything when the output cannot be written."""
    sink_for(output, output_format)  # an output format mtpipe cannot write: refused now
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"{output}: folder {output.parent} is not writable; pass another -o")


def _settings(job: TranslateSpec, table: Table) -> tuple[Settings, tuple[str, ...]]:
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


def _terms_for(job: TranslateSpec) -> TermsFor | None:
    """The glossary entries found in a text's translatable prose (never inside a placeholder:
    ``title`` in ``%(title)s`` is not a term to translate)."""
    if job.glossary is None:
        return None
    glossary = load_glossary(job.glossary)
    return lambda text, lang: glossary.for_text(qa.prose(text), lang)


def _plan(
    job: TranslateSpec,
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


def _cache(spec: StoreSpec) -> contextlib.AbstractContextManager[Cache | None]:
    """The translation cache (its simulator's entries apart), or None when off."""
    if spec.cache is None:
        return contextlib.nullcontext()
    return Cache(spec.cache, endpoint=spec.cache_endpoint)


def _count(
    plan: CellPlan,
    store: ResultStore,
    spec: StoreSpec,
    report: Report,
    *,
    model: str,
    cache: ResultStore | None = None,
    fill_into: ResultStore | None = None,
) -> tuple[pl.Series, ...]:
    """Fill the report's cell counts; return, per pair, the cells still to translate.

    Cells the checkpoint lacks are looked up in ``cache``: hits are put into
    ``fill_into`` (none for an estimate) and counted as ``cached``, not sent."""
    statuses = _statuses(plan, store)
    skip = statuses.filter(pl.col("status").is_in(done_status(spec.retry_failed)))["key"]
    done = statuses.filter(pl.col("status") == Status.DONE.value)["key"].implode()
    del statuses
    report.rows = plan.rows
    report.cells = sum(int(k.is_not_null().sum()) for k in plan.keys)
    report.blank_cells = report.rows * len(plan.keys) - report.cells
    report.units = sum(int(f.sum()) for f in plan.first)
    report.reused = sum(int(k.is_in(done).sum()) for k in plan.keys)
    pending = plan.pending(skip)
    if cache is not None:
        pending, report.cached = _from_cache(plan, pending, cache, fill_into, model)
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
    specs: Specs,
    settings: Settings,
    requests: Iterator[Request],
    checkpoint: ResultStore,
    report: Report,
    events: Events,
    handle_signals: bool,
    stored: Mapping[str, Result],
    sizer: PackSizer | None = None,
) -> None:
    stopping = anyio.Event()
    transport, limits, spec = specs.send, specs.limits, specs.translate
    budget = Budget(limits.max_cost, limits.model, prices=limits.prices)
    send, receive = anyio.create_memory_object_stream[Sequence[Result]](transport.buffer)
    reviewer = Reviewer(
        settings, chunking=spec.chunking, qa_mode=spec.qa, stored=stored, sizer=sizer
    )
    handle = _handler(reviewer, report, events, send, budget)
    sending = anyio.CancelScope()  # what a second signal cancels: never the writer
    async with (
        make_session(concurrency=transport.connections) as http,
        anyio.create_task_group() as watching,
    ):
        if handle_signals:  # from before the first request until the last result is committed
            watching.start_soon(_watch_signals, stopping, sending)
        async with anyio.create_task_group() as tg:
            tg.start_soon(record, checkpoint, receive)
            pacer = _pacer(limits)
            client = Client(
                http,
                base_url=transport.base_url,
                api_key=transport.api_key,
                retry=RetryPolicy(max_attempts=transport.max_attempts),
                timeout=transport.timeout,
                pacer=pacer,
            )
            with sending:
                async with send, anyio.create_task_group() as pool:
                    pool.start_soon(
                        _heartbeat, events, report, specs.ui.progress_seconds, pacer, client
                    )
                    await run_pool(
                        requests,
                        handle,
                        client=client,
                        concurrency=transport.workers,
                        stopping=stopping,
                        admit=budget.admit,
                    )
                    pool.cancel_scope.cancel()  # the heartbeat
        watching.cancel_scope.cancel()  # every result received is committed
    if budget.exhausted:
        report.stopped = "budget"
    elif stopping.is_set():
        report.stopped = "interrupted"


def _packing(spec: TranslateSpec) -> Packing:
    """--pack auto adapts the pack size per language (packsize.py); --pack on keeps it."""
    pack = spec.packing
    return Packing(
        enabled=pack.enabled,
        max_segments=pack.max_segments,
        max_tokens=pack.max_tokens,
        sizer=PackSizer(ceiling=pack.max_segments, model=spec.model) if pack.auto else None,
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


def _pacer(spec: LimitsSpec) -> Pacer | None:
    """Pacing only when a quota is given: unpaced runs start at full concurrency."""
    if spec.quota is None:
        return None
    store = FileQuotaStore(spec.shared) if spec.shared is not None else None
    return Pacer(spec.quota, store=store)


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
    specs = Specs.of(job)
    spec = specs.translate
    table = _read(specs.read)
    settings, context = _settings(spec, table)
    terms_for = _terms_for(spec)
    plan = _plan(spec, table, settings, context, terms_for)
    report = Report(input=str(job.input), output=str(job.output), model=spec.model)
    # read only: no lock, no file created; cache hits are counted, not copied
    with Checkpoint(specs.stores.checkpoint) as checkpoint, _cache(specs.stores) as cache:
        pending = _count(plan, checkpoint, specs.stores, report, model=spec.model, cache=cache)
    requests = prompt = completion = 0
    for request in plan_requests(
        plan.units(pending),
        settings,
        chunking=spec.chunking,
        packing=_packing(spec),
        terms_for=terms_for,
    ):
        requests += 1
        prompt += request.est_prompt_tokens
        completion += request.est_completion_tokens
    prices = specs.limits.prices
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
        | {spec.model: round(cost_usd(spec.model, prompt, completion, prices=prices), 6)},
        "model": spec.model,
    }
