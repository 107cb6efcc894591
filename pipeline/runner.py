"""The runner: the data path of one run, and the only module that knows every stage.

    read -> key -> count what the stores hold -> plan -> translate -> store; then write

    async with translate(requests, work, ...) as translation:  # sends, yields results
        await record(store, translation.results)                # the one writer

Each stage gets its own spec (specs.py) and returns its own counts (stats.py);
the report is built once, at the end, from them.  ``estimate`` is the same
path without translate.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from .config import Job
from .errors import OutputError
from .formats import Table, sink_for, source_for
from .keying import key, pack_sizer
from .merge import NOT_TRANSLATED
from .output import Owns, write_outputs
from .pending import Peers, adopt, count, open_stores
from .quota import QuotaStore
from .report import Events, Report, estimate_figures, write_report
from .runlock import RunLock
from .specs import ReadSpec, Specs, WriteSpec
from .stats import Planned, Sent
from .store import record
from .translate import Hooks, Work, translate

__all__ = ["Peers", "Report", "estimate", "run"]


@dataclass(frozen=True, slots=True)
class _Hooks:
    """What the caller adds to a run: the translate stage's hooks (the operator's view,
    signals, shared quota stores), and the Ray engine's.

    ``owns``: for a table that is one block of a dataset, which units' billed usage its
    token columns show; by default every unit's, on its first row.  ``peers``: the
    results other stores already hold for these keys (the other shards), copied into
    this run's store before it counts what to send."""

    sending: Hooks
    owns: Owns | None = None
    peers: Peers | None = None

    @property
    def events(self) -> Events:
        return self.sending.events


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
    """Run ``job`` to the end and return its report (also written to ``job.report``)."""
    specs = Specs.of(job)
    shown = events or Events(bar=specs.ui.progress)
    sending = Hooks(shown, specs.ui.progress_seconds, handle_signals, quota, budget)
    hooks = _Hooks(sending, owns, peers)
    with _few_collections():
        return anyio.run(_run, specs, hooks, backend_options={"use_uvloop": _has_uvloop()})


async def _run(specs: Specs, hooks: _Hooks) -> Report:
    started, spec = time.monotonic(), specs.translate
    table = _read(specs.read, specs.write)
    keyed = key(spec, table)
    where = (str(specs.write.input), str(specs.write.output), spec.model)
    # the lock only now, about to send: a run refused earlier leaves no file behind
    with RunLock(specs.stores.checkpoint), open_stores(specs.stores) as stores:
        if hooks.peers is not None:
            adopt(keyed.plan, stores.checkpoint, hooks.peers)
        counted, pending = count(keyed.plan, stores, spec=specs.stores, model=spec.model, fill=True)
        hooks.events.start(job=specs.ui.name, where=where, counted=counted)
        sizer, sent = pack_sizer(spec, sending=counted.to_translate - counted.deduplicated), Sent()
        if counted.to_translate:
            stored = stores.pieces(keyed.plan, pending, spec.chunking)
            requests = keyed.requests(pending, spec, sizer, stored=stored.keys())
            work = Work(keyed.settings, spec.chunking, spec.qa, counted.to_translate, stored, sizer)
            async with translate(
                requests, work, send=specs.send, limits=specs.limits, hooks=hooks.sending
            ) as translation:
                await record(stores.results(spec.qa), translation.results)
            sent = translation.sent
        written = write_outputs(
            specs.write, table, keyed.plan, stores.checkpoint,
            missing=sent.stopped or NOT_TRANSLATED, owns=hooks.owns,
        )  # fmt: skip
        report = Report.of(
            where, counted, sent, written, prices=specs.limits.prices,
            wall_seconds=time.monotonic() - started, rejected_lines=table.rejected,
            packing={k: v.as_dict() for k, v in sizer.languages.items()} if sizer else None,
        )  # fmt: skip
        write_report(report, specs.write.report)  # under the checkpoint's lock, like the output
        hooks.events.finish(report)
    return report


def estimate(job: Job) -> dict[str, object]:
    """What ``job`` would send, from the table and the checkpoint alone: no request is made."""
    specs = Specs.of(job)
    spec = specs.translate
    table = _read(specs.read)
    keyed = key(spec, table)
    # read only: no lock, no file created; cache hits are counted, not copied
    with open_stores(specs.stores) as stores:
        counted, pending = count(
            keyed.plan, stores, spec=specs.stores, model=spec.model, fill=False
        )
    sizer = pack_sizer(spec, sending=counted.to_translate - counted.deduplicated)
    planned = Planned.of(keyed.requests(pending, spec, sizer))
    return estimate_figures(counted, planned, model=spec.model, prices=specs.limits.prices)


def _read(spec: ReadSpec, write: WriteSpec | None = None) -> Table:
    """The input table; with ``write``, the output is checked first: a run fails before
    spending anything when its output cannot be written."""
    if write is not None:
        _check_output_dir(write.output, write.format)
    return source_for(spec.path, spec.format).read(spec.path, spec.options)


def _check_output_dir(output: Path, output_format: str | None) -> None:
    sink_for(output, output_format)  # an output format mtpipe cannot write: refused now
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"{output}: folder {output.parent} is not writable; pass another -o")


# Each response allocates hundreds of short-lived objects, and the default GC threshold
# (700) made the collector about a tenth of the client's CPU.  Long-lived objects
# (modules, the table) are frozen out of the scans.
@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Fewer cyclic-GC passes while requests fly (see the comment above)."""
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
