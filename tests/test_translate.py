"""The translate stage through its seams: planned requests in, unit results in the store.

A real table is read, keyed and counted as the runner does; the stage sends to the
in-process simulator over loopback and records into a real checkpoint.
"""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import polars as pl
import pytest

from pipeline.checkpoint import Checkpoint
from pipeline.errors import ProviderConfigError
from pipeline.formats import source_for
from pipeline.keying import key
from pipeline.models import Request, Result, Status
from pipeline.options import build_job
from pipeline.pending import count, open_stores
from pipeline.report import Events
from pipeline.sim import SimConfig, SimThread
from pipeline.specs import Specs
from pipeline.stats import Sent
from pipeline.store import ResultStore, record
from pipeline.translate import Hooks, Translation, Work, translate

TEXTS = [f"Item number {i}" for i in range(12)]


def _same(request: Request) -> Request:
    return request


def _specs(tmp_path: Path, url: str, **values: object) -> Specs:
    source = tmp_path / "in.csv"
    pl.DataFrame({"text": TEXTS}).write_csv(source)
    given = {"input": str(source), "to": ["de", "ja"], "base_url": url, "cache": False}
    return Specs.of(build_job(given | values, env={"ROUTESCOPE_API_KEY": "k"}))


async def _recorded(translation: Translation, store: ResultStore) -> None:
    await record(store, translation.results)  # the store stage, as the runner composes it


def _send(
    specs: Specs,
    pulled: list[Request] | None = None,
    mangle: Callable[[Request], Request] = _same,
    *,
    body: Callable[[Translation, ResultStore], Awaitable[None]] = _recorded,
    signals: bool = False,
) -> tuple[Sent, int]:
    """Plan what is left and translate it, ``body`` reading the results (by default into
    the checkpoint); the number of planned requests beside.  ``pulled``: the requests the
    pool took, as it takes them."""
    spec = specs.translate
    table = source_for(specs.read.path, None).read(specs.read.path, specs.read.options)
    keyed = key(spec, table)
    with open_stores(specs.stores) as stores:
        counted, pending = count(keyed.plan, stores, spec=specs.stores, model=spec.model, fill=True)
        planned = [mangle(r) for r in keyed.requests(pending, spec, None)]

        def feed() -> Iterator[Request]:
            for request in planned:
                if pulled is not None:
                    pulled.append(request)
                yield request

        work = Work(keyed.settings, spec.chunking, spec.qa, total=counted.to_translate)
        hooks = Hooks(Events(bar=False, stream=io.StringIO()), handle_signals=signals)

        async def stage() -> Sent:
            limits = specs.limits
            async with translate(feed(), work, send=specs.send, limits=limits, hooks=hooks) as t:
                await body(t, stores.checkpoint)
            return t.sent

        sent = anyio.run(stage)
    return sent, len(planned)


def _statuses(specs: Specs) -> list[str]:
    with Checkpoint(specs.stores.checkpoint) as checkpoint:
        frame = checkpoint.lookup(_all_keys(specs), columns=("status",))
    return frame["status"].to_list()


def _all_keys(specs: Specs) -> pl.Series:
    table = source_for(specs.read.path, None).read(specs.read.path, specs.read.options)
    return pl.concat(key(specs.translate, table).plan.keys).unique()


def test_every_unit_is_recorded_and_counted(tmp_path: Path) -> None:
    with SimThread(SimConfig()) as url:
        specs = _specs(tmp_path, url, pack="off")
        sent, planned = _send(specs)
    assert sent.requests == planned == 2 * len(TEXTS)
    assert sent.stopped is None and sent.prompt_tokens > 0 and sent.completion_tokens > 0
    assert _statuses(specs) == [Status.DONE.value] * planned
    again, nothing = _send(specs)  # everything is in the store: nothing is planned
    assert (again, nothing) == (Sent(), 0)


def test_resends_stay_inside_the_stage(tmp_path: Path) -> None:
    """A pack that never aligns is sent again one by one; the pool sees only the packs."""
    with SimThread(SimConfig(faults=(("never", 1.0),))) as url:
        specs = _specs(tmp_path, url, pack="on")
        pulled: list[Request] = []
        sent, planned = _send(specs, pulled)
    assert planned == 2 and len(pulled) == planned  # one pack per language
    assert sent.requests == planned + 2 * len(TEXTS)  # each pack, then each of its lines
    assert sent.retries["pack_misaligned"] == planned
    assert _statuses(specs) == [Status.DONE.value] * 2 * len(TEXTS)


def test_a_budget_stops_new_requests(tmp_path: Path) -> None:
    with SimThread(SimConfig()) as url:
        specs = _specs(tmp_path, url, pack="off", max_cost=0.000_1, concurrency=1)
        sent, planned = _send(specs)
    assert sent.stopped == "budget"
    assert 0 < sent.requests < planned
    assert len(_statuses(specs)) == sent.requests  # what was sent is recorded, no more


def test_a_broken_item_fails_alone(tmp_path: Path) -> None:
    """The per-item boundary: a request the client cannot even encode is a failed result,
    and the others go on."""

    def unencodable(request: Request) -> Request:
        if "Item number 3" not in str(request.body):
            return request
        return replace(request, body=request.body | {"seed": object()})

    with SimThread(SimConfig()) as url:
        specs = _specs(tmp_path, url, pack="off", max_attempts=1)
        sent, planned = _send(specs, mangle=unencodable)
    assert sent.requests == planned and sent.stopped is None
    with Checkpoint(specs.stores.checkpoint) as checkpoint:
        frame = checkpoint.lookup(_all_keys(specs), columns=("status", "error"))
    failed = frame.filter(pl.col("status") != Status.DONE.value)
    assert failed["status"].to_list() == [Status.FAILED_TRANSIENT.value] * 2  # de and ja
    assert failed["error"].to_list() == ["internal"] * 2
    assert len(frame) == planned


def test_results_come_in_lists_one_per_answer(tmp_path: Path) -> None:
    """No store: the body reads the stage's results itself; they end when sending has
    ended, one list per answered request, each list stamped with its own attempt id."""
    batches: list[list[Result]] = []

    async def read(translation: Translation, _: ResultStore) -> None:
        async for batch in translation.results:
            batches.append(list(batch))

    with SimThread(SimConfig()) as url:
        specs = _specs(tmp_path, url, pack="on")
        sent, planned = _send(specs, body=read)
    assert sent.requests == planned == len(batches) == 2  # one pack per language
    assert [len(batch) for batch in batches] == [len(TEXTS)] * 2
    attempts = [{result.attempt for result in batch} for batch in batches]
    assert all(len(ids) == 1 and None not in ids for ids in attempts)
    assert attempts[0] != attempts[1]
    assert _statuses(specs) == []  # the stage itself stores nothing


def test_a_first_signal_starts_no_new_request(tmp_path: Path) -> None:
    """SIGINT while the pool takes its third request: the requests in hand finish and
    are recorded, no other starts."""
    pulled: list[Request] = []

    async def record_and_interrupt(translation: Translation, store: ResultStore) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_interrupt_at, pulled, 3, 1)
            await record(store, translation.results)
            tg.cancel_scope.cancel()

    with SimThread(SimConfig(latency=0.05)) as url:
        specs = _specs(tmp_path, url, pack="off", concurrency=1)
        sent, planned = _send(specs, pulled, body=record_and_interrupt, signals=True)
    assert sent.stopped == "interrupted"
    assert 3 <= sent.requests < planned
    assert len(_statuses(specs)) == sent.requests  # every answer received is recorded


def test_a_second_signal_stops_sending_never_the_reader(tmp_path: Path) -> None:
    """Two signals: the requests in flight are dropped, yet the body reads the results
    to their end and records every answer that came back."""
    pulled: list[Request] = []
    read_to_the_end: list[bool] = []

    async def record_and_interrupt(translation: Translation, store: ResultStore) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_interrupt_at, pulled, 6, 2)
            await record(store, translation.results)
            read_to_the_end.append(True)  # not cancelled by the second signal
            tg.cancel_scope.cancel()

    with SimThread(SimConfig(latency=0.2)) as url:
        specs = _specs(tmp_path, url, pack="off", concurrency=4)
        sent, planned = _send(specs, pulled, body=record_and_interrupt, signals=True)
    assert read_to_the_end == [True]
    assert sent.stopped == "interrupted"
    assert sent.requests < len(pulled) < planned  # those in flight never answered
    assert len(_statuses(specs)) == sent.requests


def test_a_provider_error_stops_the_run_after_recording_what_came_back(tmp_path: Path) -> None:
    """The simulator refuses the fifth request for billing (seed 6, in arrival order):
    the error ends the stage, and the four answers before it are in the store."""
    got: list[Result] = []

    async def keep(translation: Translation, store: ResultStore) -> None:
        async for batch in translation.results:
            got.extend(batch)
            store.put(batch)

    with SimThread(SimConfig(faults=(("billing", 0.25),), seed=6)) as url:
        specs = _specs(tmp_path, url, pack="off", concurrency=1)
        with pytest.raises(BaseExceptionGroup) as raised:
            _send(specs, body=keep)
    assert [type(e) for e in _leaves(raised.value)] == [ProviderConfigError]
    assert len(got) == len(_statuses(specs)) == 4


async def _interrupt_at(pulled: list[Request], n: int, signals: int) -> None:
    """Once the pool has taken ``n`` requests, send this process ``signals`` SIGINTs."""
    while len(pulled) < n:
        await anyio.sleep(0.005)
    for _ in range(signals):
        os.kill(os.getpid(), signal.SIGINT)


def _leaves(group: BaseException) -> list[BaseException]:
    if not isinstance(group, BaseExceptionGroup):
        return [group]
    return [leaf for e in group.exceptions for leaf in _leaves(e)]
