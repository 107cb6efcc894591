"""What each stage of a run reads: small frozen values, built in one place from a ``Job``.

    specs = Specs.of(job)
    specs.read       what to read: the input, its format and reading options
    specs.translate  what to translate and how: model, languages, prompt, QA, pieces, packs
    specs.send       transport: base URL, key, timeout, attempts, connections, workers
    specs.limits     budget and quota: max cost, prices, the pace and where it is shared
    specs.stores     where results are kept: checkpoint, cache, what counts as done
    specs.write      what to write: output, layout, formulas, failed cells, report
    specs.ui         what the operator sees: job name, bar, log format, progress period

``Job`` (config.py) stays the user-facing bag that ``build_job`` resolves from the
options table and the environment; the runner turns it into specs at its entry, and
each stage is handed only its own.  ``concurrency`` is sized here alone: the
connection pool, the workers, the result buffer and the quota's start and ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Job, Language, model_info
from .formats import ReadOptions
from .models import Chunking
from .quota import Quota
from .quotafile import shared_path

__all__ = [
    "LimitsSpec",
    "PackSpec",
    "ReadSpec",
    "SendSpec",
    "Specs",
    "StoreSpec",
    "TranslateSpec",
    "UiSpec",
    "WriteSpec",
]

BUFFER_PER_WORKER = 4  # result batches in flight to the writer, per worker
QUOTA_START = 4  # a paced run starts at this concurrency (or below) and ramps up


@dataclass(frozen=True, slots=True)
class ReadSpec:
    path: Path
    format: str | None
    options: ReadOptions


@dataclass(frozen=True, slots=True)
class PackSpec:
    """--pack: on, off, or auto (on for qwen-mt models; the size adapts per language)."""

    enabled: bool
    auto: bool
    max_segments: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class TranslateSpec:
    model: str
    targets: tuple[Language, ...]
    source_lang: str
    style: str
    template: Path | None
    context: tuple[str, ...]  # without a template: columns sent as a context note, keyed
    params: tuple[tuple[str, Any], ...]
    extra: tuple[tuple[str, Any], ...]
    glossary: Path | None
    memory: Path | None
    domain: str
    qa: str
    chunking: Chunking
    packing: PackSpec


@dataclass(frozen=True, slots=True)
class SendSpec:
    base_url: str
    api_key: str | None = field(repr=False)
    timeout: float
    max_attempts: int
    connections: int  # the HTTP pool
    workers: int  # requests in flight at most
    buffer: int  # result batches queued for the writer


@dataclass(frozen=True, slots=True)
class LimitsSpec:
    model: str
    max_cost: float | None
    prices: tuple[float, float] | None
    quota: Quota | None  # None: not paced
    shared: Path | None  # the state file shared with other processes on this key and model


@dataclass(frozen=True, slots=True)
class StoreSpec:
    checkpoint: Path
    cache: Path | None
    cache_endpoint: str  # what the cache's entries are kept apart by
    retry_failed: bool


@dataclass(frozen=True, slots=True)
class WriteSpec:
    input: Path
    output: Path
    format: str | None
    escape_formulas: bool
    layout: str
    failed_out: Path | None
    report: Path


@dataclass(frozen=True, slots=True)
class UiSpec:
    name: str
    progress: bool
    log_format: str
    progress_seconds: float


@dataclass(frozen=True, slots=True)
class Specs:
    read: ReadSpec
    translate: TranslateSpec
    send: SendSpec
    limits: LimitsSpec
    stores: StoreSpec
    write: WriteSpec
    ui: UiSpec

    @classmethod
    def of(cls, job: Job) -> Specs:
        return cls(
            read=_read(job),
            translate=_translate(job),
            send=_send(job),
            limits=_limits(job),
            stores=StoreSpec(
                checkpoint=job.checkpoint,
                cache=job.cache,
                cache_endpoint="sim" if job.sim else job.base_url,
                retry_failed=job.retry_failed,
            ),
            write=WriteSpec(
                input=job.input,
                output=job.output,
                format=job.output_format,
                escape_formulas=job.escape_formulas,
                layout=job.layout,
                failed_out=job.failed_out,
                report=job.report,
            ),
            ui=UiSpec(job.name, job.progress, job.log_format, job.progress_seconds),
        )


def _read(job: Job) -> ReadSpec:
    options = ReadOptions(
        columns=tuple(job.columns),
        ids=job.id_columns,
        delimiter=job.delimiter,
        encoding=job.encoding,
        skip_bad_lines=job.skip_bad_lines,
        rejects=job.rejects if job.skip_bad_lines else None,
    )
    return ReadSpec(job.input, job.input_format, options)


def _translate(job: Job) -> TranslateSpec:
    packing = PackSpec(
        enabled=job.pack if job.pack is not None else model_info(job.model).family == "mt",
        auto=job.pack is None,
        max_segments=job.pack_segments,
        max_tokens=job.pack_tokens,
    )
    return TranslateSpec(
        model=job.model,
        targets=job.targets,
        source_lang=job.source_lang,
        style=job.style,
        template=job.template,
        context=job.context,
        params=job.params,
        extra=job.extra,
        glossary=job.glossary,
        memory=job.memory,
        domain=job.domain,
        qa=job.qa,
        chunking=Chunking(job.chunk_chars),
        packing=packing,
    )


def _send(job: Job) -> SendSpec:
    return SendSpec(
        base_url=job.base_url,
        api_key=job.api_key,
        timeout=job.timeout,
        max_attempts=job.max_attempts,
        connections=job.concurrency,
        workers=job.concurrency,
        buffer=job.concurrency * BUFFER_PER_WORKER,
    )


def _limits(job: Job) -> LimitsSpec:
    """Pacing only when a quota is given: unpaced runs start at full concurrency."""
    if job.rpm is None and job.tpm is None:
        quota = None
    else:
        start = min(QUOTA_START, job.concurrency)
        quota = Quota(job.rpm, job.tpm, max_concurrency=job.concurrency, start_concurrency=start)
    shared = quota is not None and job.shared_quota
    return LimitsSpec(
        model=job.model,
        max_cost=job.max_cost,
        prices=job.prices,
        quota=quota,
        shared=shared_path(job.base_url, job.model, job.api_key) if shared else None,
    )
