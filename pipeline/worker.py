"""The worker pool: requests -> outcomes, concurrently, in one task group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

import anyio

from .client import Client
from .errors import ProviderConfigError
from .models import Outcome, Request, Usage

__all__ = ["Handler", "run_pool"]

# Takes an outcome; returns the requests to send instead (the halves of a pack
# that did not align), which the same worker sends before taking new work.
Handler = Callable[[Request, Outcome], Awaitable[Sequence[Request]]]


async def run_pool(
    requests: Iterable[Request],
    handle: Handler,
    *,
    client: Client,
    concurrency: int,
    stopping: anyio.Event,
    admit: Callable[[Request], Awaitable[bool]] | None = None,
) -> None:
    """Send every request with at most ``concurrency`` in flight; ``handle`` each outcome.

    Requests are pulled lazily from ``requests`` (planning runs block by
    block).  The workers share one iterator: the planner is a synchronous
    generator and each ``next()`` runs to completion between awaits, so no
    queue or producer task is needed.  Once ``stopping`` is set no new request
    starts; those in flight finish and are handled.  A request ``admit``
    refuses (the budget) sets ``stopping``.  A ProviderConfigError stops the
    whole pool.
    """
    feed = iter(requests)
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(_work, feed, handle, client, stopping, admit)


async def _work(
    feed: Iterator[Request],
    handle: Handler,
    client: Client,
    stopping: anyio.Event,
    admit: Callable[[Request], Awaitable[bool]] | None,
) -> None:
    for request in feed:
        todo = [request]
        while todo and not stopping.is_set():
            current = todo.pop()
            if admit is not None and not await admit(current):
                stopping.set()
                break
            outcome = await _send(client, current)
            todo += reversed(await handle(current, outcome))
        if stopping.is_set():
            return


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
            error_message=_describe(exc),
            permanent=False,
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
