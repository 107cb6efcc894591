"""A job run to the end, whatever its input, against the configured API or the simulator.

``run`` is what the command line, ``pipeline.run`` and ``translate_frame`` call,
and ``estimate`` what ``mtpipe estimate`` and ``pipeline.estimate`` call, so a
job means the same everywhere: a table goes through ``runner``, a localization
catalog through ``catalogs`` (a run per target language, the targets written in
the format's layout).  With ``sim``, an in-process simulator serves on loopback
for the length of the run and no key is needed.  Called where an
event loop already runs in the thread (a Jupyter cell), the run gets a thread
of its own: a second loop cannot start in the first one's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
from collections.abc import Iterator

from . import catalogs, runner
from .config import Job
from .options import unpriced
from .report import Events, Report

__all__ = ["estimate", "run", "serving"]


def run(job: Job, *, handle_signals: bool = False, events: Events | None = None) -> Report:
    """Run ``job`` to the end (against the simulator when ``job.sim``) and return its report:
    a table's, or a catalog's over all its targets."""
    events = events or Events(bar=job.progress)
    warning = unpriced(job)
    if warning:
        events.warn(warning)
    through = catalogs.run if catalogs.is_catalog(job) else runner.run
    with serving(job) as job:
        if not _loop_running():
            return through(job, handle_signals=handle_signals, events=events)
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mtpipe") as pool:
            return pool.submit(through, job, events=events).result()  # no signals off main


def estimate(job: Job) -> dict[str, object]:
    """What running ``job`` would send and cost, from what the stores hold; no request."""
    return catalogs.estimate(job) if catalogs.is_catalog(job) else runner.estimate(job)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def serving(job: Job) -> Iterator[Job]:
    """The job as given, or pointed at an in-process simulator when ``job.sim``."""
    if not job.sim:
        yield job
        return
    from .sim import SimConfig, SimThread

    with SimThread(SimConfig()) as base_url:
        yield dataclasses.replace(job, base_url=base_url, api_key="sim")
