"""The translate stage: planned requests in, unit results out, and what sending cost.

    async with translate(requests, work, send=..., limits=..., hooks=...) as translation:
        await record(store, translation.results)  # the store stage: the run's one writer
    sent = translation.sent

It owns everything between a planned request and its unit results: the HTTP
session and client, pacing, the budget, review (packs split by number, halves of
a refused pack, pieces joined, QA) and the resends review asks for, which the
same worker slot sends before it takes new work: the pool only ever sees the
planned requests.  ``translation.results`` yields the unit results in lists, one
per answered request, each stamped with its outcome's attempt id (so a store puts
it once); it ends when sending has ended.  The caller reads it to its end (the
stage waits for room in its buffer) and reads ``translation.sent`` once the
``async with`` has ended.  With ``hooks.handle_signals``, a first SIGINT/SIGTERM
starts no new request, a second stops sending (never the reader of ``results``);
no signal ends the process before the ``async with`` has ended, so every result
received is recorded first.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .budget import Budget
from .client import Client, RetryPolicy, make_session
from .errors import ProviderConfigError
from .models import Chunking, Outcome, Request, Result, Settings, Status, Usage
from .pacing import Pacer
from .packsize import PackSizer
from .quota import QuotaStore
from .quotafile import FileQuotaStore
from .report import Events
from .review import Reviewer
from .specs import LimitsSpec, SendSpec
from .stats import Sent
from .worker import run_pool

__all__ = ["Hooks", "Translation", "Work", "translate"]

_NO_RETRIES: Counter[str] = Counter()


@dataclass(frozen=True, slots=True)
class Work:
    """What the runner planned, beside the requests: how their answers are reviewed.

    ``settings``: what resends are planned with; ``chunking``, ``qa``: how long units
    were split and how answers are checked; ``total``: the cells the requests hold (the
    progress events' total); ``stored``: the finished pieces of long units, joined with
    the new ones; ``sizer``: the per-language pack size that review adapts (--pack auto)."""

    settings: Settings
    chunking: Chunking
    qa: str = "warn"
    total: int = 0
    stored: Mapping[str, Result] | None = None
    sizer: PackSizer | None = None


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the caller adds around sending: where events go (and how often progress),
    signals, and where the pacer's and the budget's state live when other processes
    share them (the Ray engine's cluster actor); by default chosen from ``limits``."""

    events: Events
    progress_seconds: float = 10.0
    handle_signals: bool = False
    quota: QuotaStore | None = None
    budget: QuotaStore | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """The stage while it runs: ``results`` to store; ``sent`` once it has ended."""

    results: MemoryObjectReceiveStream[Sequence[Result]]
    _stage: _Stage

    @property
    def sent(self) -> Sent:
        """What sending counted (requests, tokens, retries, why it stopped early)."""
        return self._stage.sent + Sent(stopped=self._stage.why_stopped())


@contextlib.asynccontextmanager
async def translate(
    requests: Iterator[Request], work: Work, *, send: SendSpec, limits: LimitsSpec, hooks: Hooks
) -> AsyncIterator[Translation]:
    """Send ``requests`` while the body reads their results from the yielded value."""
    results, receive = anyio.create_memory_object_stream[Sequence[Result]](send.buffer)
    stage = _Stage(_reviewer(work), _budget(limits, hooks.budget), hooks.events, results)
    stage.pacer = _pacer(limits, hooks.quota)
    sending = anyio.CancelScope()  # what a second signal cancels: never the body
    async with _connected(send, stage.pacer) as stage.client, anyio.create_task_group() as watching:
        if hooks.handle_signals:  # from before the first request until the body has ended
            watching.start_soon(_watch_signals, stage.stopping, sending)
        async with anyio.create_task_group() as pool:
            progress = (work.total, hooks.progress_seconds)
            pool.start_soon(stage.send_all, requests, sending, send.workers, progress)
            with receive:  # a body that stops reading early breaks the stage, never hangs it
                yield Translation(receive, stage)
        watching.cancel_scope.cancel()  # the body has recorded every result received


def _reviewer(work: Work) -> Reviewer:
    return Reviewer(
        work.settings, chunking=work.chunking, qa_mode=work.qa, stored=work.stored, sizer=work.sizer
    )


def _budget(limits: LimitsSpec, store: QuotaStore | None) -> Budget:
    return Budget(limits.max_cost, limits.model, prices=limits.prices, store=store)


class _Stage:
    """One run's sending state: the client, budget and reviewer, and the live counts."""

    def __init__(
        self,
        reviewer: Reviewer,
        budget: Budget,
        events: Events,
        results: MemoryObjectSendStream[Sequence[Result]],
    ) -> None:
        self.reviewer, self.budget, self.events = reviewer, budget, events
        self.results = results
        self.stopping = anyio.Event()
        self.sent = Sent()
        self.client: Client
        self.pacer: Pacer | None = None
        self._run = os.urandom(6).hex()
        self._attempts = itertools.count()

    async def send_all(
        self,
        requests: Iterator[Request],
        sending: anyio.CancelScope,
        workers: int,
        progress: tuple[int, float],
    ) -> None:
        """Every request through the pool, with progress events; then end ``results``.
        ``sending`` (a second signal) cancels the pool, never the reader of the results."""
        with sending, self.results:
            async with anyio.create_task_group() as pool:
                pool.start_soon(self.heartbeat, *progress)
                await run_pool(requests, self.one, workers=workers, stopping=self.stopping)
                pool.cancel_scope.cancel()  # the heartbeat

    async def one(self, request: Request) -> None:
        """Send ``request`` and whatever review asks to send instead, until none is left."""
        todo = [request]
        while todo and not self.stopping.is_set():
            current = todo.pop()
            if not await self.budget.admit(current):
                self.stopping.set()
                return
            outcome = await _send(self.client, current)
            todo += reversed(await self._handle(current, outcome))

    async def _handle(self, request: Request, outcome: Outcome) -> list[Request]:
        """Count the outcome, review it, hand its unit results on (stamped with the
        outcome's own attempt id, so a store puts them once); return the resends."""
        await self.budget.settle(request, outcome)
        reviewed = self.reviewer.review(request, outcome)
        billed = outcome.billed
        why = (*outcome.retries, *reviewed.retries)
        retries = Counter(why) if why else _NO_RETRIES  # Sent adds, never updates, it
        self.sent += Sent(1, billed.prompt_tokens, billed.completion_tokens, retries)
        for note in reviewed.notes:
            self.events.warn(note)
        if reviewed.results:
            attempt = f"{self._run}.{next(self._attempts)}"
            stamped = [replace(result, attempt=attempt) for result, _ in reviewed.results]
            try:
                self.results.send_nowait(stamped)  # the common case: room in the buffer
            except anyio.WouldBlock:
                with anyio.CancelScope(shield=True):  # a received answer is always handed on
                    await self.results.send(stamped)
        for result, cells in reviewed.results:
            self.events.advance(cells, failed=result.status is not Status.DONE)
        return reviewed.resend

    def why_stopped(self) -> str | None:
        if self.budget.exhausted:
            return "budget"
        return "interrupted" if self.stopping.is_set() else None

    async def heartbeat(self, total: int, seconds: float) -> None:
        pacer = self.pacer
        while True:
            await anyio.sleep(seconds)
            live: dict[str, object] = {}
            if pacer is not None:
                stats = pacer.statistics()
                live = {
                    "concurrency": stats.concurrency,
                    "rpm": round(stats.rpm_limit, 1) if stats.rpm_limit else None,
                    "throttled": sum(stats.throttled.values()),
                }
            if self.client.last_error:
                live["error"] = self.client.last_error
            self.events.progress(self.sent, total=total, **live)


@contextlib.asynccontextmanager
async def _connected(send: SendSpec, pacer: Pacer | None) -> AsyncIterator[Client]:
    """A client over one HTTP session of ``send.connections`` connections."""
    async with make_session(concurrency=send.connections) as http:
        yield Client(
            http,
            base_url=send.base_url,
            api_key=send.api_key,
            retry=RetryPolicy(max_attempts=send.max_attempts),
            timeout=send.timeout,
            pacer=pacer,
        )


def _pacer(limits: LimitsSpec, store: QuotaStore | None) -> Pacer | None:
    """Pacing only when a quota is given: unpaced runs start at full concurrency."""
    if limits.quota is None:
        return None
    if store is None and limits.shared is not None:
        store = FileQuotaStore(limits.shared)
    return Pacer(limits.quota, store=store)


async def _send(client: Client, request: Request) -> Outcome:
    try:
        est = request.est_prompt_tokens + request.est_completion_tokens
        return await client.complete(request.body, est_tokens=est)
    except ProviderConfigError:
        raise
    except Exception as exc:  # the per-item boundary: one bad item never stops the run
        return Outcome(
            completion=None,
            attempts=1,
            billed=Usage(),
            error_reason="internal",
            error_message=f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
            permanent=False,
        )


async def _watch_signals(stopping: anyio.Event, sending: anyio.CancelScope) -> None:
    """First SIGINT/SIGTERM: start no new request, finish those in flight. Second: stop
    sending now.  Until it is cancelled (once the writer has committed every result
    received) no signal ends the process: one arriving during the final commit waits."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stopping.is_set():
                sending.cancel()
            stopping.set()
