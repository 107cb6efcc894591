"""Ray scenario: the local engine against Ray Data at 1, 2 and 4 actors, and one cluster quota.

    python -m bench ray            (or python -m bench.ray [--cells N])

Against the simulator (its own process) at 100 ms latency and no quota: cells/s
of ``mtpipe translate`` (the local engine, one process) and of
``translate_dataset`` on a local Ray instance (this process its driver, 4
logical CPUs) with 1, 2 and 4 actors; Ray's start-up cost (``ray.init`` and
the first one-row dataset through one actor); the local engine's CPU seconds
per request.  Then quota-bound: 4 actors against a simulator limited to 600
requests a minute with its per-second and burst limits, paced through the
cluster's one QuotaStore actor: share of the quota used, share answered 429.
Figures are printed, never asserted.  Needs the ``ray`` extra.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import polars as pl

from bench.__main__ import PACK_OFF, Figure, run_child, start_sim, translate_argv, write_cells

LATENCY = 0.1
CELLS = 1000
CONCURRENCY = 16
RPM, QUOTA_CELLS, QUOTA_LATENCY = 600, 900, 0.2


def _stats(base: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(base.removesuffix("/v1") + "/_sim/stats", timeout=10).json()
    return stats


def _stop(sim: Any) -> None:
    sim.terminate()
    sim.wait()
    if sim.stdout is not None:
        sim.stdout.close()


def _collect(ds: Any) -> pl.DataFrame:
    import ray

    frames = [pl.from_arrow(t) for t in ray.get(ds.to_arrow_refs())]
    return pl.concat([f for f in frames if isinstance(f, pl.DataFrame)])


class _Watch:
    """Polls the simulator's request count: when the first request came and the last one."""

    def __init__(self, base: str) -> None:
        self._base, self._stop = base, threading.Event()
        self.first = self.last = 0.0
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        seen = 0
        while not self._stop.wait(0.2):
            count = _stats(self._base)["requests"]
            now = time.perf_counter()
            if count and not seen:
                self.first = now
            if count != seen:
                self.last, seen = now, count

    @property
    def sending(self) -> float:
        return max(0.2, self.last - self.first)


def _through_ray(
    table: pl.DataFrame, base: str, actors: int, state: Path, **extra: Any
) -> tuple[float, float]:
    """Wall seconds of ``table`` through translate_dataset (blocks of 1/8 of the rows), and
    the seconds from its first request to its last (the simulator's count, polled)."""
    import ray.data

    from pipeline.ray import translate_dataset

    size = max(1, len(table) // 8)
    ds = ray.data.from_arrow([table.slice(i, size).to_arrow() for i in range(0, len(table), size)])
    options = {"base_url": base, "to": ["de"], "pack": "off", "cache": False} | extra
    started = time.perf_counter()
    with _Watch(base) as watch:
        out = _collect(translate_dataset(ds, state=state, actors=actors, **options))
    wall = time.perf_counter() - started
    assert out.height == len(table)
    return wall, watch.sending


def ray_scenario(tmp: Path, cells: int = CELLS) -> list[Figure]:
    import ray

    os.environ.setdefault("ROUTESCOPE_API_KEY", "bench")  # the local instance's workers inherit it
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    figures: list[Figure] = []
    sim, base = start_sim("--latency", str(LATENCY))
    try:
        src = tmp / "ray-bench.csv"
        write_cells(src, cells)
        wall, cpu, _, code = run_child(  # the local engine, 16 in flight
            [*translate_argv(src, tmp / "local.out.csv", base), *PACK_OFF, "--no-cache"]
        )
        name = f"ray {cells} cells, {LATENCY * 1000:.0f} ms, no quota"
        figures += [
            Figure(name, "local engine", round(cells / wall, 1), "cells/s", f"exit {code}"),
            Figure(name, "local CPU per request", round(1000 * cpu / cells, 2), "ms", ""),
        ]
        table = pl.read_csv(src, infer_schema=False)
        started = time.perf_counter()
        ray.init(
            num_cpus=4, logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False
        )
        _through_ray(table.head(1), base, 1, tmp / "warm")
        figures.append(
            Figure(name, "Ray start-up", round(time.perf_counter() - started, 1), "s", "")
        )
        figures.append(Figure(name, "QuotaStore actor call", _store_call(), "ms", "round trip"))
        for actors in (1, 2, 4):
            httpx.post(base.removesuffix("/v1") + "/_sim/reset", timeout=10)
            wall, sending = _through_ray(table, base, actors, tmp / f"state{actors}")
            rate = f"{cells / sending:.1f} while sending; {CONCURRENCY} in flight per actor"
            figures.append(
                Figure(name, f"Ray {actors} actors", round(cells / wall, 1), "cells/s", rate)
            )
    finally:
        _stop(sim)
    figures += _quota(tmp)
    ray.shutdown()
    return figures


def _store_call(calls: int = 500) -> float:
    """Milliseconds per call of the cluster's QuotaStore actor (reserve, one at a time)."""
    from pipeline.quota import Booking, Quota
    from pipeline.ray.quota import cluster_store

    store = cluster_store("mtpipe-bench-calls")

    async def calls_in_a_row() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await store.reserve(Booking(time.time(), 10, Quota(rpm=1e9)))
        return time.perf_counter() - started

    return round(1000 * anyio.run(calls_in_a_row) / calls, 3)


def _quota(tmp: Path) -> list[Figure]:
    sim, base = start_sim("--rpm", str(RPM), "--burst", "--latency", str(QUOTA_LATENCY))
    try:
        texts = [f"Quota bench line {i}" for i in range(QUOTA_CELLS)]
        table = pl.DataFrame({"id": range(QUOTA_CELLS), "text": texts})
        wall, sending = _through_ray(
            table, base, 4, tmp / "quota", rpm=RPM, concurrency=CONCURRENCY
        )
        stats = _stats(base)
    finally:
        _stop(sim)
    throttled = sum(stats["throttled"].values())
    accepted = stats["requests"] - throttled
    name = f"ray quota {QUOTA_CELLS} cells, 4 actors, --rpm {RPM}"
    return [
        Figure(name, "quota used", round(100 * accepted / (RPM * sending / 60), 1), "%", ">= 95"),
        Figure(
            name, "quota used end to end", round(100 * accepted / (RPM * wall / 60), 1), "%", ""
        ),
        Figure(
            name, "answered 429", round(100 * throttled / max(1, stats["requests"]), 2), "%", "< 1"
        ),
        Figure(name, "wall time", round(wall, 1), "s", f"ideal {60 * accepted / RPM:.1f}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ray")
    parser.add_argument("--cells", type=int, default=CELLS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for f in ray_scenario(Path(tmp), args.cells):
            print(f"{f.scenario} / {f.metric}: {f.value} {f.unit} {f.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
