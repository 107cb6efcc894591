"""The translate stage: requests -> unit results in the store, and what sending cost.

    sent = await translate(requests, settings=..., spec=..., send=..., limits=..., store=...)

It owns everything between a planned request and a recorded result: the HTTP
session and client, pacing, the budget, review (packs split by number, halves of
a refused pack, pieces joined, QA) and the resends review asks for, which the
same worker slot sends before it takes new work: the pool only ever sees the
planned requests.  Each unit result is stamped with its outcome's attempt id
and written by one writer task, so the store puts it once.  With
``handle_signals``, a first SIGINT/SIGTERM starts no new request, a second
stops sending; no signal ends the process before every received result is
recorded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .budget import Budget
from .client import Client, RetryPolicy, make_session
from .errors import ProviderConfigError
from .models import Outcome, Request, Result, Settings, Status, Usage
from .pacing import Pacer
from .packsize import PackSizer
from .quota import QuotaStore
from .quotafile import FileQuotaStore
from .report import Events
from .review import Reviewer
from .specs import LimitsSpec, SendSpec, TranslateSpec
from .stats import Sent
from .store import ResultStore, record
from .worker import run_pool

__all__ = ["translate"]

_NO_RETRIES: Counter[str] = Counter()


async def translate(
    requests: Iterator[Request],
    *,
    settings: Settings,
    spec: TranslateSpec,
    send: SendSpec,
    limits: LimitsSpec,
    store: ResultStore,
    events: Events,
    total: int = 0,
    stored: Mapping[str, Result] | None = None,
    sizer: PackSizer | None = None,
    progress_seconds: float = 10.0,
    handle_signals: bool = False,
    quota_store: QuotaStore | None = None,
    budget_store: QuotaStore | None = None,
) -> Sent:
    """Send ``requests`` (``total`` cells) and record their unit results in ``store``.

    ``stored``: the finished pieces of long units, joined with the new ones;
    ``sizer``: the per-language pack size that review adapts (--pack auto);
    ``quota_store``, ``budget_store``: where the pacer's and the budget's state live when
    other processes share them (the Ray engine's cluster actor); else from ``limits``."""
    review = Reviewer(settings, chunking=spec.chunking, qa_mode=spec.qa, stored=stored, sizer=sizer)
    budget = Budget(limits.max_cost, limits.model, prices=limits.prices, store=budget_store)
    stage = _Stage(review, budget, events)
    sending = anyio.CancelScope()  # what a second signal cancels: never the writer
    stage.pacer = _pacer(limits, quota_store)
    async with _connected(send, stage.pacer) as stage.client, anyio.create_task_group() as watching:
        if handle_signals:  # from before the first request until the last result is committed
            watching.start_soon(_watch_signals, stage.stopping, sending)
        await _recorded(stage, requests, store, send, sending, (total, progress_seconds))
        watching.cancel_scope.cancel()  # every result received is committed
    return stage.sent + Sent(stopped=stage.why_stopped())


async def _recorded(
    stage: _Stage,
    requests: Iterator[Request],
    store: ResultStore,
    send: SendSpec,
    sending: anyio.CancelScope,
    progress: tuple[int, float],
) -> None:
    """Send every request through the pool while one writer task records the results;
    ``sending`` (a second signal) cancels the pool, never the writer's last commit."""
    results, receive = anyio.create_memory_object_stream[Sequence[Result]](send.buffer)
    async with anyio.create_task_group() as writing:
        writing.start_soon(record, store, receive)
        with sending, results:
            stage.results = results
            async with anyio.create_task_group() as pool:
                pool.start_soon(stage.heartbeat, *progress)
                await run_pool(requests, stage.one, workers=send.workers, stopping=stage.stopping)
                pool.cancel_scope.cancel()  # the heartbeat


class _Stage:
    """One run's sending state: the client, budget and reviewer, and the live counts."""

    def __init__(self, reviewer: Reviewer, budget: Budget, events: Events) -> None:
        self.reviewer, self.budget, self.events = reviewer, budget, events
        self.stopping = anyio.Event()
        self.sent = Sent()
        self.client: Client
        self.pacer: Pacer | None = None
        self.results: MemoryObjectSendStream[Sequence[Result]]
        self._run = os.urandom(6).hex()
        self._attempts = itertools.count()

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
        """Count the outcome, review it, record its unit results (stamped with the
        outcome's own attempt id, so the store puts them once); return the resends."""
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
            with anyio.CancelScope(shield=True):  # a received answer is always recorded
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
