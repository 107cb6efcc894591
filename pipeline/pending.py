"""What is left to send: the plan's cells asked of the result store and the cache.

    with open_stores(spec) as stores:          # the checkpoint, and the cache unless off
        counted, pending = count(plan, stores, spec=spec, model=model, fill=True)
        stored = stores.pieces(plan, pending, chunking)   # finished pieces of long units

Keys are looked up block by block, never "load every key".  ``adopt`` copies in
what other stores (the Ray engine's other shards) already hold.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from .cache import Cache, Filling, fill
from .cells import CellPlan
from .checkpoint import Checkpoint
from .models import Chunking, Result, Status
from .specs import StoreSpec
from .stats import Counted
from .store import ResultStore, done_status

__all__ = ["Peers", "Stores", "adopt", "count", "open_stores"]

# The results other stores hold for these unit keys (the Ray engine's other shards).
Peers = Callable[[pl.Series], Sequence[Result]]


@dataclass(frozen=True, slots=True)
class Stores:
    checkpoint: Checkpoint
    cache: Cache | None

    def results(self, qa: str) -> ResultStore:
        """Where results go: the checkpoint, and the cache when QA passed them (not off)."""
        if self.cache is None or qa == "off":
            return self.checkpoint
        return Filling(self.checkpoint, self.cache)

    def pieces(
        self, plan: CellPlan, pending: Sequence[pl.Series], chunking: Chunking
    ) -> dict[str, Result]:
        """The finished pieces of the units still to send that are sent in pieces."""
        long = pl.col("text").str.len_chars() > chunking.max_chars
        units = [k for u in plan.units(pending) for k in u.filter(long)["key"].to_list()]
        return self.checkpoint.pieces(units)


@contextlib.contextmanager
def open_stores(spec: StoreSpec) -> Iterator[Stores]:
    """The checkpoint, and the translation cache (its simulator's entries apart) unless off."""
    with contextlib.ExitStack() as stack:
        checkpoint = stack.enter_context(Checkpoint(spec.checkpoint))
        cache = None
        if spec.cache is not None:
            cache = stack.enter_context(Cache(spec.cache, endpoint=spec.cache_endpoint))
        yield Stores(checkpoint, cache)


def count(
    plan: CellPlan, stores: Stores, *, spec: StoreSpec, model: str, fill: bool
) -> tuple[Counted, tuple[pl.Series, ...]]:
    """The plan's cell counts and, per pair, the cells still to translate.

    Cells the checkpoint lacks are looked up in the cache: with ``fill`` (not for an
    estimate) hits are put into the checkpoint; they are counted as ``cached``, not sent."""
    statuses = _statuses(plan, stores.checkpoint)
    skip = statuses.filter(pl.col("status").is_in(done_status(spec.retry_failed)))["key"]
    done = statuses.filter(pl.col("status") == Status.DONE.value)["key"].implode()
    del statuses
    cells = sum(int(k.is_not_null().sum()) for k in plan.keys)
    pending, cached = plan.pending(skip), 0
    if stores.cache is not None:
        into = stores.checkpoint if fill else None
        pending, cached = _from_cache(plan, pending, stores.cache, into, model)
    to_translate = sum(int(p.sum()) for p in pending)
    sending = sum(int((f & p).sum()) for f, p in zip(plan.first, pending, strict=True))
    counted = Counted(
        rows=plan.rows,
        cells=cells,
        blank_cells=plan.rows * len(plan.keys) - cells,
        units=sum(int(f.sum()) for f in plan.first),
        reused=sum(int(k.is_in(done).sum()) for k in plan.keys),
        cached=cached,
        to_translate=to_translate,
        deduplicated=to_translate - sending,
    )
    return counted, pending


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


def adopt(plan: CellPlan, store: ResultStore, peers: Peers) -> None:
    """Copy into ``store`` what ``peers`` hold of the plan's units that it has not done."""
    keys = (
        pl.concat(plan.keys).drop_nulls().unique() if plan.keys else pl.Series([], dtype=pl.String)
    )
    held = store.lookup(keys, columns=("status",)).filter(pl.col("status") == Status.DONE.value)
    missing = keys.filter(~keys.is_in(held["key"].implode()))
    if len(missing):
        store.put(peers(missing))
