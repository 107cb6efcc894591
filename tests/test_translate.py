"""The translate stage through its seams: planned requests in, unit results in the store.

A real table is read, keyed and counted as the runner does; the stage sends to the
in-process simulator over loopback and records into a real checkpoint.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import polars as pl

from pipeline.checkpoint import Checkpoint
from pipeline.formats import source_for
from pipeline.keying import key
from pipeline.models import Request, Status
from pipeline.options import build_job
from pipeline.pending import count, open_stores
from pipeline.report import Events
from pipeline.sim import SimConfig, SimThread
from pipeline.specs import Specs
from pipeline.stats import Sent
from pipeline.store import ResultStore, record
from pipeline.translate import Hooks, Work, translate

TEXTS = [f"Item number {i}" for i in range(12)]


def _same(request: Request) -> Request:
    return request


def _specs(tmp_path: Path, url: str, **values: object) -> Specs:
    source = tmp_path / "in.csv"
    pl.DataFrame({"text": TEXTS}).write_csv(source)
    given = {"input": str(source), "to": ["de", "ja"], "base_url": url, "cache": False}
    return Specs.of(build_job(given | values, env={"ROUTESCOPE_API_KEY": "k"}))


def _send(
    specs: Specs, pulled: list[Request] | None = None, mangle: Callable[[Request], Request] = _same
) -> tuple[Sent, int]:
    """Plan what is left and translate it; the number of planned requests beside."""
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
        sent = anyio.run(_translated, feed(), work, specs, stores.checkpoint)
    return sent, len(planned)


async def _translated(
    requests: Iterator[Request], work: Work, specs: Specs, store: ResultStore
) -> Sent:
    hooks = Hooks(Events(bar=False, stream=io.StringIO()))
    async with translate(
        requests, work, send=specs.send, limits=specs.limits, hooks=hooks
    ) as translation:
        await record(store, translation.results)
    return translation.sent


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
