"""The worker pool: a fixed number of workers taking items from one iterator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

import anyio

__all__ = ["run_pool"]

T = TypeVar("T")


async def run_pool(
    items: Iterable[T],
    work: Callable[[T], Awaitable[None]],
    *,
    workers: int,
    stopping: anyio.Event,
) -> None:
    """``work`` on every item, ``workers`` at a time, in one task group.

    Items are pulled lazily (planning runs block by block).  The workers
    share one iterator: the planner is a synchronous generator and each
    ``next()`` runs to completion between awaits, so no queue or producer task
    is needed.  Once ``stopping`` is set no worker takes a new item; the items
    in hand finish.  An exception from ``work`` stops the whole pool.
    """
    feed = iter(items)
    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(_work, feed, work, stopping)


async def _work(
    feed: Iterator[T], work: Callable[[T], Awaitable[None]], stopping: anyio.Event
) -> None:
    for item in feed:
        await work(item)
        if stopping.is_set():
            return
